//! Ingest through the S3 handler against moto: bad input is reported with
//! its `s3://bucket/key` and loses nothing else; delivering a file twice, or
//! retrying, changes no count.

use std::io::Write;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::ingest::{FileOutcome, handle_s3_event};
use tracker_runtime::store::EventStore;

use crate::support::{
    count, get_ok, ingest_deps, new_bucket, new_dynamo_store, s3_client, s3_put_event, sdk_config,
};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

fn record(id: &str, name: &str, extra: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventID":"{id}","eventName":"{name}","eventSource":"ec2.amazonaws.com","eventTime":"2024-05-01T10:00:00Z","awsRegion":"eu-west-1","userIdentity":{{"type":"IAMUser","userName":"tester","accountId":"111122223333"}}{extra}}}"#
    )
}

const DAY: &str = "from=2024-05-01&to=2024-05-01";

/// A corpus of every kind of bad object, beside good ones.
fn bad_corpus() -> Vec<(&'static str, Vec<u8>)> {
    let good = format!(
        r#"{{"Records":[{},{}]}}"#,
        record("good-1", "RunInstances", ""),
        record("good-2", "StopInstances", "")
    );
    let mut truncated = gz(format!(
        r#"{{"Records":[{}]}}"#,
        (0..200)
            .map(|i| record(&format!("t-{i}"), "X", ""))
            .collect::<Vec<_>>()
            .join(",")
    )
    .as_bytes());
    truncated.truncate(truncated.len() / 2);
    let huge_value = "é".repeat(128 * 1024); // 256 KB of non-ASCII
    let huge = format!(
        r#"{{"Records":[{}]}}"#,
        record(
            "huge-1",
            "PutObject",
            &format!(r#","requestParameters":{{"blob":"{huge_value}"}}"#)
        )
    );
    let missing_fields = r#"{"Records":[{"eventName":"NoIdNoTime"},{"eventID":"only-id"},{},"not an object",{"eventID":"wrong-types","eventTime":5,"userIdentity":"me","eventSource":[1]}]}"#;
    let secrets = format!(
        r#"{{"Records":[{}]}}"#,
        record(
            "sts-1",
            "AssumeRole",
            r#","responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLE","sessionToken":"SECRET-TOKEN","secretAccessKey":"SECRET-KEY"}}"#
        )
    );
    vec![
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/good file.json.gz",
            gz(good.as_bytes()),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/plain.json",
            format!(
                r#"{{"Records":[{}]}}"#,
                record("plain-1", "CreateBucket", "")
            )
            .into_bytes(),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/truncated.json.gz",
            truncated,
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/empty.json.gz",
            Vec::new(),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/not-gzip.json.gz",
            b"\x00\x01binary garbage".to_vec(),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/not-json.json.gz",
            gz(b"<html>nope</html>"),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/huge.json.gz",
            gz(huge.as_bytes()),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/missing-fields.json.gz",
            gz(missing_fields.as_bytes()),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/secrets.json.gz",
            gz(secrets.as_bytes()),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/no-records.json.gz",
            gz(br#"{"something":"else"}"#),
        ),
        (
            "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/05/01/digest.json.gz",
            gz(br#"{"awsAccountId":"111122223333"}"#),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_objects_are_reported_and_the_rest_is_stored() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let bucket = new_bucket(&s3).await;
    let store = new_dynamo_store(&sdk).await;
    let deps = ingest_deps(&sdk, Arc::clone(&store) as Arc<dyn EventStore>);
    let corpus = bad_corpus();
    for (key, body) in &corpus {
        s3.put_object()
            .bucket(&bucket)
            .key(*key)
            .body(body.clone().into())
            .send()
            .await
            .expect("upload");
    }
    let mut outcomes = Vec::new();
    for (key, _) in &corpus {
        let summary = handle_s3_event(&deps, s3_put_event(&bucket, key), None)
            .await
            .unwrap_or_else(|e| {
                panic!("{key}: a bad file must not fail the invocation (no retry can fix it): {e}")
            });
        assert_eq!(summary.files.len(), 1);
        let file = &summary.files[0];
        assert_eq!(
            file.source,
            format!("s3://{bucket}/{key}"),
            "reports name the object"
        );
        outcomes.push((
            key.rsplit('/').next().unwrap_or_default().to_owned(),
            file.outcome.clone(),
            file.stored,
        ));
    }
    let outcome = |name: &str| {
        outcomes
            .iter()
            .find(|(n, _, _)| n == name)
            .cloned()
            .expect(name)
    };
    assert_eq!(
        outcome("good file.json.gz").1,
        FileOutcome::Ingested,
        "a key with a space (`+` in the event) is decoded"
    );
    assert_eq!(
        outcome("plain.json").1,
        FileOutcome::Ingested,
        "plain JSON is read too"
    );
    assert_eq!(
        outcome("no-records.json.gz").1,
        FileOutcome::Skipped {
            reason: "no `Records` array".into()
        }
    );
    for bad in [
        "truncated.json.gz",
        "empty.json.gz",
        "not-gzip.json.gz",
        "not-json.json.gz",
    ] {
        assert!(
            matches!(outcome(bad).1, FileOutcome::Failed { retry: false, .. }),
            "{bad}: {:?}",
            outcome(bad).1
        );
    }
    assert!(
        outcome("truncated.json.gz").2 > 0,
        "records before the truncation are kept"
    );
    assert_eq!(outcome("huge.json.gz").1, FileOutcome::Ingested);
    assert_eq!(outcome("missing-fields.json.gz").1, FileOutcome::Ingested);
    assert_eq!(
        outcome("missing-fields.json.gz").2,
        4,
        "4 objects stored, 1 non-object rejected"
    );
    assert!(matches!(
        outcome("no-records.json.gz").1,
        FileOutcome::Skipped { .. }
    ));
    assert!(matches!(
        outcome("digest.json.gz").1,
        FileOutcome::Skipped { .. }
    ));

    let app = router(ApiState::new(Arc::clone(&store) as Arc<dyn EventStore>));
    let stored_on_day = count(&app, &format!("/scan?{DAY}")).await;
    let truncated_kept = outcome("truncated.json.gz").2;
    assert_eq!(
        stored_on_day,
        2 + 1 + truncated_kept + 1 + 1,
        "good-1, good-2, plain-1, the truncated file's complete records, huge-1, sts-1"
    );
    let huge = get_ok(&app, "/events/huge-1").await;
    assert_eq!(
        huge["requestParameters"]["blob"]
            .as_str()
            .map(|s| s.chars().count()),
        Some(128 * 1024)
    );
    let sts = get_ok(&app, "/events/sts-1").await;
    let creds = &sts["responseElements"]["credentials"];
    assert_eq!(creds["accessKeyId"], "ASIAEXAMPLE");
    assert_ne!(creds["sessionToken"], "SECRET-TOKEN");
    assert_ne!(creds["secretAccessKey"], "SECRET-KEY");
    let wrong = get_ok(&app, "/events/wrong-types").await;
    assert_eq!(
        wrong["eventTime"], 5,
        "kept as it was, though not indexed by time"
    );

    // Delivered again (S3 is at-least-once) and retried: no count changes.
    let before = get_ok(&app, "/users").await;
    for (key, _) in &corpus {
        handle_s3_event(&deps, s3_put_event(&bucket, key), None)
            .await
            .expect("redelivery");
    }
    assert_eq!(count(&app, &format!("/scan?{DAY}")).await, stored_on_day);
    assert_eq!(get_ok(&app, "/users").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_object_is_not_retried_and_a_missing_table_is() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let bucket = new_bucket(&s3).await;
    let store = new_dynamo_store(&sdk).await;
    let deps = ingest_deps(&sdk, store as Arc<dyn EventStore>);
    let key = "AWSLogs/1/CloudTrail/us-east-1/2024/01/01/gone.json.gz";
    let summary = handle_s3_event(&deps, s3_put_event(&bucket, key), None)
        .await
        .expect("a deleted object is not retried");
    assert!(matches!(
        summary.files[0].outcome,
        FileOutcome::Failed { retry: false, .. }
    ));

    let good = format!(r#"{{"Records":[{}]}}"#, record("x-1", "RunInstances", ""));
    let key = "AWSLogs/1/CloudTrail/us-east-1/2024/01/01/good.json.gz";
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(gz(good.as_bytes()).into())
        .send()
        .await
        .expect("upload");
    let no_table = Arc::new(tracker_runtime::store::DynamoStore::new(
        crate::support::dynamodb_client(&sdk),
        "no-such-table",
    ));
    let deps = ingest_deps(&sdk, no_table as Arc<dyn EventStore>);
    let error = handle_s3_event(&deps, s3_put_event(&bucket, key), None)
        .await
        .expect_err("must fail so Lambda retries");
    let message = error.to_string();
    assert!(
        message.contains(&format!("s3://{bucket}/{key}")) && message.contains("no-such-table"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skip_list_filters_by_case_insensitive_prefix() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let bucket = new_bucket(&s3).await;
    let store = new_dynamo_store(&sdk).await;
    let pipeline = tracker_runtime::ingest::Pipeline {
        skip: tracker_runtime::ingest::SkipList::new(["describe", "GET"]),
        ..Default::default()
    };
    let deps = tracker_runtime::ingest::IngestDeps {
        s3: s3.clone(),
        ingestor: tracker_runtime::ingest::Ingestor::new(
            Arc::clone(&store) as Arc<dyn EventStore>,
            pipeline,
        ),
        publisher: None,
    };
    let doc = format!(
        r#"{{"Records":[{},{},{}]}}"#,
        record("a", "DescribeInstances", ""),
        record("b", "getObject", ""),
        record("c", "RunInstances", "")
    );
    let key = "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/f.json.gz";
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(gz(doc.as_bytes()).into())
        .send()
        .await
        .expect("upload");
    let summary = handle_s3_event(&deps, s3_put_event(&bucket, key), None)
        .await
        .expect("ingest");
    assert_eq!(
        (
            summary.totals.records,
            summary.totals.filtered,
            summary.stored
        ),
        (3, 2, 1)
    );
    let app = router(ApiState::new(store as Arc<dyn EventStore>));
    let events = get_ok(&app, &format!("/scan?{DAY}")).await;
    assert_eq!(events.as_array().map(|a| a.len()), Some(1));
    assert_eq!(events[0]["eventName"], "RunInstances");
}
