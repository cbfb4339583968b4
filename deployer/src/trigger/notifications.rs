//! The trail bucket's notification configuration, read and written back
//! with only tracker's part changed: our Lambda entry (id starting with
//! `tracker.<stack>.`) and, for `trail.trigger = "eventbridge"`, the
//! bucket's EventBridge delivery. Every other entry — Lambda, SQS, SNS — is
//! written back unchanged: `PutBucketNotificationConfiguration` replaces the
//! whole configuration, so writing only ours would delete everyone else's.
//!
//! Our entry fires on `s3:ObjectCreated:*` under the trigger prefix (the
//! deploying account's `CloudTrail/` folder, or the whole prefix of a trail
//! of several accounts) with the suffix `.json.gz`.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_bucket_notification_configuration::{
    GetBucketNotificationConfigurationError, GetBucketNotificationConfigurationOutput,
};
use aws_sdk_s3::types::{
    Event, EventBridgeConfiguration, FilterRule, FilterRuleName, LambdaFunctionConfiguration,
    NotificationConfiguration, NotificationConfigurationFilter, S3KeyFilter,
};

use crate::clients::Aws;
use crate::errors;

/// The S3 event our entry fires on.
pub const EVENT: &str = "s3:ObjectCreated:*";
/// The suffix of CloudTrail log files.
pub const SUFFIX: &str = ".json.gz";

/// Our notification entry: new `.json.gz` objects under `prefix` invoke the
/// ingest function.
pub fn our_configuration(
    id: &str,
    prefix: &str,
    function_arn: &str,
) -> anyhow::Result<LambdaFunctionConfiguration> {
    let rule =
        |name: FilterRuleName, value: &str| FilterRule::builder().name(name).value(value).build();
    Ok(LambdaFunctionConfiguration::builder()
        .id(id)
        .lambda_function_arn(function_arn)
        .events(Event::from(EVENT))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(rule(FilterRuleName::Prefix, prefix))
                        .filter_rules(rule(FilterRuleName::Suffix, SUFFIX))
                        .build(),
                )
                .build(),
        )
        .build()?)
}

/// The bucket's Lambda entries with ours replaced by `ours`.
pub fn merge(
    existing: &[LambdaFunctionConfiguration],
    ours: &[LambdaFunctionConfiguration],
    our_prefix: &str,
) -> Vec<LambdaFunctionConfiguration> {
    existing
        .iter()
        .filter(|c| !is_ours(c.id(), our_prefix))
        .chain(ours)
        .cloned()
        .collect()
}

/// Whether an entry id is one of this deployment's.
pub fn is_ours(id: Option<&str>, our_prefix: &str) -> bool {
    id.is_some_and(|id| id.starts_with(our_prefix))
}

/// A comparable form of an entry (S3 returns rule names capitalised
/// differently from how they were sent).
fn normalised(c: &LambdaFunctionConfiguration) -> (String, String, Vec<String>, Vec<String>) {
    let mut events: Vec<String> = c.events().iter().map(|e| e.as_str().to_owned()).collect();
    events.sort();
    let mut rules: Vec<String> = c
        .filter()
        .and_then(|f| f.key())
        .map(|k| {
            k.filter_rules()
                .iter()
                .map(|r| {
                    format!(
                        "{}={}",
                        r.name()
                            .map(|n| n.as_str())
                            .unwrap_or_default()
                            .to_lowercase(),
                        r.value().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    rules.sort();
    (
        c.id().unwrap_or_default().to_owned(),
        c.lambda_function_arn().to_owned(),
        events,
        rules,
    )
}

/// What to do with the bucket's EventBridge delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventBridgeDelivery {
    /// Leave it as it is.
    Keep,
    /// Turn it on (`trail.trigger = "eventbridge"`).
    On,
    /// Turn it off (it was turned on by tracker, which no longer needs it).
    Off,
}

/// What [`update`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationChange {
    /// Entries of others kept as they were (all kinds).
    pub kept: usize,
    /// Whether the configuration was written.
    pub written: bool,
    /// Whether the bucket's EventBridge delivery was on before.
    pub eventbridge_was_on: bool,
}

/// Reads the bucket's notification configuration, replaces our Lambda
/// entries with `ours` (an empty `ours` removes them), sets the EventBridge
/// delivery as asked, and writes the configuration back if that changes
/// anything.
pub async fn update(
    aws: &Aws,
    bucket: &str,
    ours: &[LambdaFunctionConfiguration],
    our_prefix: &str,
    eventbridge: EventBridgeDelivery,
) -> anyhow::Result<NotificationChange> {
    let current = read(aws, bucket).await?;
    let existing = current.lambda_function_configurations();
    let merged = merge(existing, ours, our_prefix);
    let eventbridge_was_on = current.event_bridge_configuration().is_some();
    let kept = existing
        .iter()
        .filter(|c| !is_ours(c.id(), our_prefix))
        .count()
        + current.queue_configurations().len()
        + current.topic_configurations().len();
    let eventbridge_after = match eventbridge {
        EventBridgeDelivery::Keep => current.event_bridge_configuration().cloned(),
        EventBridgeDelivery::On => Some(EventBridgeConfiguration::builder().build()),
        EventBridgeDelivery::Off => None,
    };
    let before: Vec<_> = existing.iter().map(normalised).collect();
    let after: Vec<_> = merged.iter().map(normalised).collect();
    if before == after && eventbridge_was_on == eventbridge_after.is_some() {
        return Ok(NotificationChange {
            kept,
            written: false,
            eventbridge_was_on,
        });
    }
    let configuration = NotificationConfiguration::builder()
        .set_lambda_function_configurations(Some(merged))
        .set_queue_configurations(Some(current.queue_configurations().to_vec()))
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .set_event_bridge_configuration(eventbridge_after)
        .build();
    write(aws, bucket, configuration).await?;
    Ok(NotificationChange {
        kept,
        written: true,
        eventbridge_was_on,
    })
}

/// Writes the whole configuration. S3 checks every destination when the
/// configuration is written; a permission added a moment ago may take a few
/// seconds to be seen, so a failed validation is retried briefly.
async fn write(
    aws: &Aws,
    bucket: &str,
    configuration: NotificationConfiguration,
) -> anyhow::Result<()> {
    let mut attempts = 0;
    let written = loop {
        let result = aws
            .s3
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .expected_bucket_owner(&aws.account)
            .notification_configuration(configuration.clone())
            .send()
            .await;
        match result {
            Err(e) if errors::message(&e).contains("validate") && attempts < 3 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            other => break other,
        }
    };
    written.map(|_| ()).map_err(|e| {
        let text = errors::message(&e).to_owned();
        let advice = if text.contains("overlap") {
            " — another notification on this bucket already fires on the same keys; S3 allows only \
             one destination per object: set `trail.trigger = \"eventbridge\"` in the settings, or \
             narrow or remove that notification"
        } else if text.contains("validate") {
            " — S3 checks every destination on the bucket when the configuration is written: \
             one of the destinations (ours or another) does not exist or does not allow S3"
        } else {
            ""
        };
        let error = errors::explain(
            e,
            &format!(
                "cannot write the notification configuration of S3 bucket `{bucket}` \
                 (s3:PutBucketNotification)"
            ),
        );
        anyhow::anyhow!("{error}{advice}")
    })
}

/// The bucket's notification configuration, with a missing bucket and a
/// foreign one explained.
pub async fn read(
    aws: &Aws,
    bucket: &str,
) -> anyhow::Result<GetBucketNotificationConfigurationOutput> {
    read_raw(aws, bucket).await.map_err(|e| {
        if errors::is_no_such_bucket(&e) {
            anyhow::anyhow!(
                "the trail bucket `{bucket}` (settings `trail.bucket`) does not exist in {}: set \
                 `trail.bucket` to the bucket your CloudTrail trail writes to",
                aws.region
            )
        } else if errors::is_access_denied(&e) {
            errors::explain(
                e,
                &format!(
                    "cannot read the notification configuration of S3 bucket `{bucket}` \
                     (s3:GetBucketNotification; the bucket must belong to account {})",
                    aws.account
                ),
            )
        } else {
            errors::explain(
                e,
                &format!("cannot read the notification configuration of S3 bucket `{bucket}`"),
            )
        }
    })
}

/// The bucket's notification configuration (an emulator's unparsable
/// answer for "none" is read as none).
async fn read_raw(
    aws: &Aws,
    bucket: &str,
) -> Result<
    GetBucketNotificationConfigurationOutput,
    SdkError<GetBucketNotificationConfigurationError, HttpResponse>,
> {
    match aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .expected_bucket_owner(&aws.account)
        .send()
        .await
    {
        Err(e) if errors::is_empty_notification_answer(&e) => {
            Ok(GetBucketNotificationConfigurationOutput::builder().build())
        }
        other => other,
    }
}

/// The ids of our entries in the bucket's notification configuration (none
/// when the bucket does not exist).
pub async fn our_entries(aws: &Aws, bucket: &str, our_prefix: &str) -> anyhow::Result<Vec<String>> {
    match read_raw(aws, bucket).await {
        Ok(current) => Ok(current
            .lambda_function_configurations()
            .iter()
            .filter(|c| is_ours(c.id(), our_prefix))
            .filter_map(|c| c.id().map(str::to_owned))
            .collect()),
        Err(e) if errors::is_no_such_bucket(&e) => Ok(Vec::new()),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot read the notification configuration of S3 bucket `{bucket}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, prefix: &str) -> LambdaFunctionConfiguration {
        our_configuration(
            id,
            prefix,
            "arn:aws:lambda:us-east-1:123456789012:function:f",
        )
        .unwrap()
    }

    #[test]
    fn merge_replaces_only_ours() {
        let foreign = entry("someone-else", "other/");
        let old_ours = entry("tracker.t.111111111111", "AWSLogs/111111111111/CloudTrail/");
        let new_ours = entry("tracker.t.cloudtrail", "AWSLogs/123456789012/CloudTrail/");
        let merged = merge(
            &[foreign.clone(), old_ours],
            std::slice::from_ref(&new_ours),
            "tracker.t.",
        );
        assert_eq!(merged, vec![foreign.clone(), new_ours]);
        // Removing ours keeps the others.
        assert_eq!(merge(&merged, &[], "tracker.t."), vec![foreign]);
        // Another stack whose name starts like ours is not ours.
        let other_stack = entry("tracker.t-2.cloudtrail", "x/");
        assert_eq!(
            merge(std::slice::from_ref(&other_stack), &[], "tracker.t."),
            vec![other_stack]
        );
    }

    #[test]
    fn entries_compare_whatever_the_rule_name_case() {
        let a = entry("tracker.t.1", "AWSLogs/");
        let mut b = a.clone();
        if let Some(filter) = b.filter.as_mut()
            && let Some(key) = filter.key.as_mut()
            && let Some(rules) = key.filter_rules.as_mut()
        {
            rules.reverse();
        }
        assert_eq!(normalised(&a), normalised(&b));
    }
}
