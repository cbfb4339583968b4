//! Alert messages through a real (moto) SNS topic: a queue subscribed to the
//! topic receives exactly one message per rule per log file, with the rule's
//! title, level, author and references, and the events' IDs; a log file
//! delivered again alerts no more, and a failed publish is announced on the
//! file's retry.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde_json::Value;
use tracker_runtime::ingest::notify::{
    Message, NoticeEvent, PublishError, Publisher, SnsPublisher, notices, publish_notices,
};
use tracker_runtime::ingest::rules::{RuleInfo, RuleSet, RulesOptions};
use tracker_runtime::ingest::s3_event::handle_s3_event;
use tracker_runtime::ingest::{IngestDeps, Ingestor, Pipeline};
use tracker_runtime::store::EventStore;

use crate::support::{new_bucket, new_dynamo_store, s3_client, s3_put_event, sdk_config, unique};

/// A topic with one SQS queue subscribed to it (the envelope kept, so the
/// subject can be read back): the clients, the topic's ARN and the queue's URL.
async fn subscribed_queue(
    sdk: &aws_config::SdkConfig,
) -> (aws_sdk_sns::Client, aws_sdk_sqs::Client, String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic = sns
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("alerts-inbox"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    (sns, sqs, topic, queue_url)
}

/// Every SNS envelope waiting in the queue (subject and message), drained.
async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for message in messages {
            let envelope: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            out.push((
                envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                envelope["Message"].as_str().unwrap().to_owned(),
            ));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn rule(id: &str, title: &str, author: &str) -> RuleInfo {
    RuleInfo {
        id: id.into(),
        title: title.into(),
        level: "high".into(),
        author: author.into(),
        description: String::new(),
        references: vec![format!("https://example.com/rules/{id}")],
        source: format!("builtin:{id}.yml"),
    }
}

fn event(id: &str) -> NoticeEvent {
    NoticeEvent {
        event_id: id.into(),
        event_time: "2024-08-01T12:00:00Z".into(),
        event_name: "ConsoleLogin".into(),
        principal: "root".into(),
        source_ip: "198.51.100.7".into(),
    }
}

#[tokio::test]
async fn one_message_per_rule_per_file_reaches_a_subscriber() {
    let sdk = sdk_config().await;
    let (sns, sqs, topic, queue_url) = subscribed_queue(&sdk).await;
    let publisher = SnsPublisher {
        client: sns,
        topic_arn: topic,
    };
    let root = rule("root-use", "Root account used", "tracker");
    let trail = rule("trail-stopped", "CloudTrail stopped", "Sigma author");
    let file = "s3://trail/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/x.json.gz";
    let grouped = notices(
        file,
        [
            (&root, event("e1")),
            (&trail, event("e2")),
            (&root, event("e3")),
        ],
    );
    assert_eq!(publish_notices(&publisher, &grouped).await.unwrap(), 2);

    let received: BTreeMap<String, String> = drain(&sqs, &queue_url).await.into_iter().collect();
    assert_eq!(
        received.keys().collect::<Vec<_>>(),
        [
            "tracker high: CloudTrail stopped (1 event)",
            "tracker high: Root account used (2 events)"
        ],
        "{received:#?}"
    );
    let root_body = &received["tracker high: Root account used (2 events)"];
    for expected in [
        "(eventID e1)",
        "(eventID e3)",
        "Author: tracker",
        "Reference: https://example.com/rules/root-use",
        file,
    ] {
        assert!(root_body.contains(expected), "{expected} in {root_body}");
    }
    assert!(!root_body.contains("e2"), "{root_body}");
    assert!(
        received["tracker high: CloudTrail stopped (1 event)"].contains("Author: Sigma author")
    );
}

#[tokio::test]
async fn a_missing_topic_is_an_error_naming_it() {
    let sdk = sdk_config().await;
    let publisher = SnsPublisher {
        client: aws_sdk_sns::Client::new(&sdk),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:no-such-topic".into(),
    };
    let root = rule("root-use", "Root account used", "tracker");
    let grouped = notices("s3://b/k", [(&root, event("e1"))]);
    let (published, error) = publish_notices(&publisher, &grouped).await.unwrap_err();
    assert_eq!(published, 0);
    let text = error.to_string();
    assert!(text.contains("no-such-topic"), "{text}");
    assert!(text.contains("Root account used"), "{text}");
}

const RULE: &str = r#"
title: Instances started
id: 0b8c1f5e-1111-4c2b-9a3e-000000000001
description: Someone started EC2 instances.
author: Alert Tests
references:
    - https://example.com/rules/instances-started
level: high
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: ec2.amazonaws.com
        eventName: RunInstances
    condition: selection
"#;

fn record(id: &str, name: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventID":"{id}","eventName":"{name}","eventSource":"ec2.amazonaws.com","eventTime":"2024-05-01T10:00:00Z","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userIdentity":{{"type":"IAMUser","userName":"tester","accountId":"111122223333"}}}}"#
    )
}

/// A bucket holding one log file with two matching records and one other:
/// `(bucket, key)`.
async fn log_file(s3: &aws_sdk_s3::Client) -> (String, String) {
    let bucket = new_bucket(s3).await;
    let key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/alerts.json.gz".to_owned();
    let doc = format!(
        r#"{{"Records":[{},{},{}]}}"#,
        record("run-1", "RunInstances"),
        record("stop-1", "StopInstances"),
        record("run-2", "RunInstances")
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(doc.as_bytes()).unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(gz.finish().unwrap().into())
        .send()
        .await
        .unwrap();
    (bucket, key)
}

fn rules() -> RuleSet {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("instances_started.yml"), RULE).unwrap();
    let (rules, warnings) = RuleSet::load(&RulesOptions {
        builtin: false,
        folders: vec![dir.path().to_owned()],
        skip_invalid: false,
    })
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rules.len(), 1);
    rules
}

/// Fails its first publish (SNS throttled, say), then publishes for real.
struct FailsOnce {
    inner: SnsPublisher,
    failed: AtomicBool,
}

#[async_trait]
impl Publisher for FailsOnce {
    async fn publish(&self, message: &Message) -> Result<(), PublishError> {
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Err(PublishError {
                topic: self.inner.topic_arn.clone(),
                subject: message.subject.clone(),
                reason: "Throttling: rate exceeded".into(),
            });
        }
        self.inner.publish(message).await
    }
}

/// A log file in moto's S3, a queue subscribed to a fresh topic, and the
/// ingest handler's dependencies evaluating [`rules`] into a DynamoDB store,
/// publishing through `publisher` (given the topic's publisher).
struct Scene {
    bucket: String,
    key: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    deps: IngestDeps,
}

async fn scene(publisher: impl FnOnce(SnsPublisher) -> Arc<dyn Publisher>) -> Scene {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let (bucket, key) = log_file(&s3).await;
    let (sns, sqs, topic, queue_url) = subscribed_queue(&sdk).await;
    let store = new_dynamo_store(&sdk).await;
    let deps = IngestDeps {
        s3,
        ingestor: Ingestor::new(
            Arc::clone(&store) as Arc<dyn EventStore>,
            Pipeline {
                rules: rules(),
                ..Default::default()
            },
        ),
        publisher: Some(publisher(SnsPublisher {
            client: sns,
            topic_arn: topic,
        })),
    };
    Scene {
        bucket,
        key,
        sqs,
        queue_url,
        deps,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_alerts_once_however_often_it_is_delivered() {
    let Scene {
        bucket,
        key,
        sqs,
        queue_url,
        deps,
    } = scene(|sns| Arc::new(sns)).await;
    for delivery in 0..3 {
        let summary = handle_s3_event(&deps, s3_put_event(&bucket, &key), None)
            .await
            .unwrap();
        let new = summary.files[0].new_alerts.len();
        assert_eq!(
            new,
            if delivery == 0 { 2 } else { 0 },
            "delivery {delivery}"
        );
    }
    let received = drain(&sqs, &queue_url).await;
    assert_eq!(received.len(), 1, "{received:#?}");
    let (subject, body) = &received[0];
    assert_eq!(subject, "tracker high: Instances started (2 events)");
    for expected in [
        "(eventID run-1)",
        "(eventID run-2)",
        "Author: Alert Tests",
        "Reference: https://example.com/rules/instances-started",
        &format!("s3://{bucket}/{key}"),
    ] {
        assert!(body.contains(expected), "{expected} in {body}");
    }
    assert!(!body.contains("stop-1"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_announced_when_the_file_is_retried() {
    let Scene {
        bucket,
        key,
        sqs,
        queue_url,
        deps,
    } = scene(|sns| {
        Arc::new(FailsOnce {
            inner: sns,
            failed: AtomicBool::new(false),
        })
    })
    .await;
    let error = handle_s3_event(&deps, s3_put_event(&bucket, &key), None)
        .await
        .expect_err("a failed publish fails the file, so Lambda retries it");
    let message = error.to_string();
    assert!(
        message.contains("Throttling") && message.contains("announced when it is retried"),
        "{message}"
    );
    assert!(drain(&sqs, &queue_url).await.is_empty());

    let summary = handle_s3_event(&deps, s3_put_event(&bucket, &key), None)
        .await
        .expect("the retry publishes");
    assert_eq!(summary.files[0].new_alerts.len(), 2);
    let received = drain(&sqs, &queue_url).await;
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0].0, "tracker high: Instances started (2 events)");
}
