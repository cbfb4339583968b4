//! S3 allows one destination per object and event: it refuses a
//! notification configuration in which two entries share an event type
//! (`s3:ObjectCreated:*` and `s3:ObjectCreated:Put` do) and could both match
//! a key (one prefix starts the other, one suffix ends the other). Trail
//! buckets often have such an entry already (a SIEM's SQS queue, Security
//! Lake, another function), and S3 would refuse tracker's only after the
//! stacks exist — so deploy looks first, before creating anything (and in
//! `--dry-run`), and says what overlaps and what to do.

use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;
use aws_sdk_s3::types::{Event, FilterRuleName, NotificationConfigurationFilter};

use super::notifications::{EVENT, SUFFIX, is_ours};

/// Another notification entry that S3 would consider overlapping ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// `SQS queue`, `SNS topic`, `Lambda function`.
    pub kind: &'static str,
    pub id: String,
    pub destination: String,
    pub events: Vec<String>,
    pub prefix: String,
    pub suffix: String,
}

impl std::fmt::Display for Overlap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |text: &str| {
            if text.is_empty() {
                "(any)".to_owned()
            } else {
                format!("`{text}`")
            }
        };
        write!(
            f,
            "notification `{}` → {} {} on {} (prefix {}, suffix {})",
            self.id,
            self.kind,
            self.destination,
            self.events.join(", "),
            shown(&self.prefix),
            shown(&self.suffix)
        )
    }
}

/// The entries of `current` (other than ours) that overlap an entry for
/// `prefix` + `.json.gz` on `s3:ObjectCreated:*`.
pub fn overlapping(
    current: &GetBucketNotificationConfigurationOutput,
    prefix: &str,
    our_prefix: &str,
) -> Vec<Overlap> {
    let mut found = Vec::new();
    let mut check = |kind: &'static str,
                     id: Option<&str>,
                     destination: &str,
                     events: &[Event],
                     filter: Option<&NotificationConfigurationFilter>| {
        if is_ours(id, our_prefix) {
            return;
        }
        let (their_prefix, their_suffix) = key_filter(filter);
        let events_overlap = events.iter().any(|e| shares_event(e.as_str()));
        let keys_overlap = (prefix.starts_with(&their_prefix) || their_prefix.starts_with(prefix))
            && (SUFFIX.ends_with(&their_suffix) || their_suffix.ends_with(SUFFIX));
        if events_overlap && keys_overlap {
            found.push(Overlap {
                kind,
                id: id.unwrap_or("(no id)").to_owned(),
                destination: destination.to_owned(),
                events: events.iter().map(|e| e.as_str().to_owned()).collect(),
                prefix: their_prefix,
                suffix: their_suffix,
            });
        }
    };
    for c in current.queue_configurations() {
        check("SQS queue", c.id(), c.queue_arn(), c.events(), c.filter());
    }
    for c in current.topic_configurations() {
        check("SNS topic", c.id(), c.topic_arn(), c.events(), c.filter());
    }
    for c in current.lambda_function_configurations() {
        check(
            "Lambda function",
            c.id(),
            c.lambda_function_arn(),
            c.events(),
            c.filter(),
        );
    }
    found
}

/// Whether an event type shares a type with `s3:ObjectCreated:*`.
fn shares_event(event: &str) -> bool {
    let family = EVENT.trim_end_matches('*');
    event.starts_with(family) || event == "s3:*"
}

/// The prefix and suffix of a filter (empty when absent).
fn key_filter(filter: Option<&NotificationConfigurationFilter>) -> (String, String) {
    let rules = filter
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    let value = |wanted: &str| {
        rules
            .iter()
            .find(|r| {
                r.name()
                    .is_some_and(|n: &FilterRuleName| n.as_str().eq_ignore_ascii_case(wanted))
            })
            .and_then(|r| r.value())
            .unwrap_or_default()
            .to_owned()
    };
    (value("prefix"), value("suffix"))
}

/// The refusal: what overlaps, and the two ways out.
pub fn explain(bucket: &str, prefix: &str, overlaps: &[Overlap]) -> String {
    let list: Vec<String> = overlaps.iter().map(|o| format!("  - {o}")).collect();
    format!(
        "the trail bucket `{bucket}` already sends new objects under `{prefix}` ending in `{SUFFIX}` \
         elsewhere:\n{}\nS3 allows only one destination per object and event, so it would refuse \
         tracker's trigger (nothing was created). Either set `trail.trigger = \"eventbridge\"` in \
         the settings (the bucket's EventBridge delivery works beside any notification), or narrow \
         or remove the notification above",
        list.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::types::{
        FilterRule, LambdaFunctionConfiguration, QueueConfiguration, S3KeyFilter,
        TopicConfiguration,
    };

    fn filter(prefix: &str, suffix: &str) -> NotificationConfigurationFilter {
        let mut key = S3KeyFilter::builder();
        if !prefix.is_empty() {
            key = key.filter_rules(
                FilterRule::builder()
                    .name(FilterRuleName::Prefix)
                    .value(prefix)
                    .build(),
            );
        }
        if !suffix.is_empty() {
            key = key.filter_rules(
                FilterRule::builder()
                    .name(FilterRuleName::Suffix)
                    .value(suffix)
                    .build(),
            );
        }
        NotificationConfigurationFilter::builder()
            .key(key.build())
            .build()
    }

    fn queue(id: &str, event: &str, prefix: &str, suffix: &str) -> QueueConfiguration {
        QueueConfiguration::builder()
            .id(id)
            .queue_arn("arn:aws:sqs:us-east-1:123456789012:siem")
            .events(Event::from(event))
            .filter(filter(prefix, suffix))
            .build()
            .unwrap()
    }

    fn found(config: GetBucketNotificationConfigurationOutput, prefix: &str) -> Vec<String> {
        overlapping(&config, prefix, "tracker.t.")
            .into_iter()
            .map(|o| o.id)
            .collect()
    }

    #[test]
    fn overlaps_are_shared_events_on_keys_both_can_match() {
        let ours = "AWSLogs/123456789012/CloudTrail/";
        let config = GetBucketNotificationConfigurationOutput::builder()
            // a SIEM's queue on the whole bucket, on every new object
            .queue_configurations(queue("siem", "s3:ObjectCreated:*", "", ""))
            // the same event family, narrower: still overlaps
            .queue_configurations(queue("put", "s3:ObjectCreated:Put", "AWSLogs/", ".gz"))
            // another event type: no overlap
            .queue_configurations(queue("removed", "s3:ObjectRemoved:*", "", ""))
            // another folder: no overlap
            .queue_configurations(queue("reports", "s3:ObjectCreated:*", "reports/", ""))
            // another suffix: no overlap
            .queue_configurations(queue("digests", "s3:ObjectCreated:*", "", ".json"))
            .topic_configurations(
                TopicConfiguration::builder()
                    .id("deeper")
                    .topic_arn("arn:aws:sns:us-east-1:123456789012:t")
                    .events(Event::from("s3:ObjectCreated:Copy"))
                    .filter(filter(&format!("{ours}us-east-1/"), ""))
                    .build()
                    .unwrap(),
            )
            // ours (an earlier deploy) never counts
            .lambda_function_configurations(
                LambdaFunctionConfiguration::builder()
                    .id("tracker.t.cloudtrail")
                    .lambda_function_arn("arn:aws:lambda:us-east-1:123456789012:function:t-ingest")
                    .events(Event::from("s3:ObjectCreated:*"))
                    .filter(filter(ours, ".json.gz"))
                    .build()
                    .unwrap(),
            )
            .build();
        assert_eq!(found(config.clone(), ours), ["siem", "put", "deeper"]);
        let overlaps = overlapping(&config, ours, "tracker.t.");
        let text = explain("trail", ours, &overlaps);
        assert!(
            text.contains("trail.trigger = \"eventbridge\"")
                && text.contains(
                    "notification `siem` → SQS queue arn:aws:sqs:us-east-1:123456789012:siem"
                )
                && text.contains("prefix (any)")
                && text.contains("nothing was created"),
            "{text}"
        );
        assert!(
            found(
                GetBucketNotificationConfigurationOutput::builder().build(),
                ours
            )
            .is_empty()
        );
    }
}
