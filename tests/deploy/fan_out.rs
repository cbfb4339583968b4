//! `tracker backfill --fan-out` against moto: the stack owns the work queue
//! (visibility six times the function's timeout, a dead-letter queue after
//! a few receives) and the event source mapping that feeds it to the ingest
//! function (one message per invocation, partial batch responses, bounded
//! concurrency); the built binary lists the trail and queues every log file
//! once, resumably; the ingest handler, called as Lambda's poller would
//! call it with SQS's event shape, stores exactly the records of the files;
//! a batch that cannot be read ends in the dead-letter queue, where the
//! fan-out reports it and `--from-failures` finds it.
//!
//! moto runs no function, so the test plays Lambda's poller: the mapping is
//! disabled once checked (moto would otherwise try to invoke the function
//! in Docker on every send), and the test receives, invokes, and deletes.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use tracker_deployer::sdk::{lambda, sqs};
use tracker_deployer::template::fan_out::{BACKFILL_RECEIVES, visibility_timeout};
use tracker_runtime::ingest::{handle_queue_event, is_queue_event, queue_event};
use tracker_runtime::store::DynamoStore;

use super::support::*;
use crate::support::corpus::{sample_files, sample_records_with_files};
use crate::support::{ingest_deps, stored_items};

/// The part of the sample uploaded: the first log files of one account.
const UPLOADED: &str = "AWSLogs/974349055189/CloudTrail/";
const FILES: usize = 60;

async fn queue_url(sqs: &sqs::Client, name: &str) -> String {
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the stack's queue `{name}`: {e:?}"))
        .queue_url
        .expect("its URL")
}

async fn attribute(sqs: &sqs::Client, url: &str, name: sqs::types::QueueAttributeName) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&name).cloned())
        .unwrap_or_default()
}

/// One message as Lambda's SQS event source delivers it (moto's shape of it).
fn sqs_event(message: &sqs::types::Message, queue_arn: &str) -> Value {
    json!({"Records": [{
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                       "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
        "messageAttributes": {},
        "md5OfBody": "098f6bcd4621d373cade4e832627b4f6",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"
    }]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fans_out_through_the_stacks_queue() {
    let Deployed {
        sdk,
        s3,
        sqs,
        dynamodb,
        trail,
        settings,
        names,
        dir,
    } = deployed().await;
    let lambda = lambda::Client::new(&sdk);

    // The stack's work queue, its dead-letter queue and the mapping.
    let url = queue_url(&sqs, &names.backfill_queue).await;
    let dead_url = queue_url(&sqs, &names.backfill_dead_queue).await;
    use sqs::types::QueueAttributeName as A;
    let queue_arn = attribute(&sqs, &url, A::QueueArn).await;
    let dead_arn = attribute(&sqs, &dead_url, A::QueueArn).await;
    assert_eq!(
        attribute(&sqs, &url, A::VisibilityTimeout).await,
        visibility_timeout(&settings).to_string()
    );
    let redrive: Value =
        serde_json::from_str(&attribute(&sqs, &url, A::RedrivePolicy).await).expect("a redrive");
    assert_eq!(redrive["deadLetterTargetArn"], dead_arn.as_str());
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        BACKFILL_RECEIVES.to_string()
    );
    let mappings = lambda
        .list_event_source_mappings()
        .function_name(&names.ingest_function)
        .send()
        .await
        .expect("event source mappings");
    let mapping = mappings
        .event_source_mappings()
        .iter()
        .find(|m| m.event_source_arn() == Some(queue_arn.as_str()))
        .expect("the work queue feeds the ingest function");
    assert_eq!(mapping.batch_size(), Some(1));
    assert_eq!(
        mapping.function_response_types(),
        [lambda::types::FunctionResponseType::ReportBatchItemFailures]
    );
    lambda
        .update_event_source_mapping()
        .uuid(mapping.uuid().expect("a mapping id"))
        .enabled(false)
        .send()
        .await
        .expect("stand in for Lambda's poller");

    // The uploaded log files and what they hold.
    let files: Vec<_> = sample_files()
        .into_iter()
        .filter(|(key, _)| key.starts_with(UPLOADED))
        .take(FILES)
        .collect();
    assert_eq!(files.len(), FILES);
    let uploaded: BTreeSet<&str> = files.iter().map(|(key, _)| key.as_str()).collect();
    for (key, path) in &files {
        s3.put_object()
            .bucket(&trail)
            .key(key)
            .body(std::fs::read(path).unwrap().into())
            .send()
            .await
            .expect("upload a log file");
    }
    let event_ids: BTreeSet<String> = sample_records_with_files()
        .into_iter()
        .filter(|(file, _)| uploaded.contains(file.as_str()))
        .filter_map(|(_, record)| record["eventID"].as_str().map(str::to_owned))
        .collect();

    // Queued once, a few keys per message; run again, nothing more.
    let bucket_args = ["backfill", "--bucket", &trail, "--fan-out"];
    let dry = tracker(dir.path(), &[&bucket_args[..], &["--dry-run"]].concat());
    assert!(dry.status.success());
    assert_eq!(
        attribute(&sqs, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
    let queued = tracker(
        dir.path(),
        &[&bucket_args[..], &["--no-wait", "--keys-per-message", "7"]].concat(),
    );
    let stderr = String::from_utf8_lossy(&queued.stderr);
    assert!(queued.status.success(), "{stderr}");
    let messages = files.len().div_ceil(7);
    assert!(
        stderr.contains(&format!(
            "{FILES} queued in {messages} message(s), 0 queued before"
        )) && stderr.contains(&format!("files: {FILES} listed")),
        "{stderr}"
    );
    let again = tracker(dir.path(), &[&bucket_args[..], &["--no-wait"]].concat());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(&format!(
            "0 queued in 0 message(s), {} queued before",
            files.len()
        )),
        "{stderr}"
    );
    assert_eq!(
        attribute(&sqs, &url, A::ApproximateNumberOfMessages).await,
        messages.to_string()
    );

    // A message that is no batch, among them.
    sqs.send_message()
        .queue_url(&url)
        .message_body("{\"keys\": \"not a batch\"}")
        .send()
        .await
        .expect("send a stray message");

    // Lambda's part: one message per invocation; settled ones are deleted.
    let store = Arc::new(DynamoStore::new(dynamodb.clone(), names.table.clone()));
    let deps = ingest_deps(&sdk, store);
    let mut invocations = 0;
    let mut retried = 0;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        let Some(message) = received.messages().first() else {
            break;
        };
        let event = sqs_event(message, &queue_arn);
        assert!(is_queue_event(&event));
        let response = handle_queue_event(&deps, queue_event(event).unwrap(), None).await;
        invocations += 1;
        if response.batch_item_failures.is_empty() {
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .expect("delete");
        } else {
            assert_eq!(
                response.batch_item_failures[0].item_identifier,
                message.message_id().unwrap()
            );
            retried += 1;
            // Back at once instead of after the visibility timeout.
            sqs.change_message_visibility()
                .queue_url(&url)
                .receipt_handle(message.receipt_handle().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .expect("make visible");
        }
    }
    assert_eq!(
        retried, BACKFILL_RECEIVES as usize,
        "the stray message only"
    );
    assert_eq!(invocations, messages + BACKFILL_RECEIVES as usize);
    assert_eq!(
        stored_items(&dynamodb, &names.table, "E#").await as usize,
        event_ids.len(),
        "every record of the queued files, once"
    );

    // The stray message is dead-lettered: the fan-out says so and fails,
    // and the replay of failures reads that queue too.
    let watched = tracker(dir.path(), &bucket_args);
    let stderr = String::from_utf8_lossy(&watched.stderr);
    assert_eq!(watched.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("0 batch(es) waiting, 0 being ingested; 1 dead-lettered")
            && stderr.contains("--from-failures"),
        "{stderr}"
    );
    let replayed = tracker(dir.path(), &["backfill", "--from-failures"]);
    let stderr = String::from_utf8_lossy(&replayed.stderr);
    assert_eq!(replayed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("in `{}`", names.backfill_dead_queue))
            && stderr.contains("not a backfill batch"),
        "{stderr}"
    );
    teardown(&settings, true).await;
}
