//! Alert messages through a real (moto) SNS topic: a queue subscribed to the
//! topic receives exactly one message per rule per log file, with the rule's
//! title, level, author and references, and the events' IDs.

use std::collections::BTreeMap;

use serde_json::Value;
use tracker_runtime::ingest::notify::{NoticeEvent, SnsPublisher, notices, publish_notices};
use tracker_runtime::ingest::rules::RuleInfo;

use crate::support::{sdk_config, unique};

/// A topic with one SQS queue subscribed to it (the envelope kept, so the
/// subject can be read back): `(topic ARN, queue URL)`.
pub async fn subscribed_queue(
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
pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<(String, String)> {
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
    let error = publish_notices(&publisher, &grouped).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("no-such-topic"), "{text}");
    assert!(text.contains("Root account used"), "{text}");
}
