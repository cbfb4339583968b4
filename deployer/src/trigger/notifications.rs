//! The S3 trigger on the user's trail bucket, done by SDK calls because the
//! bucket is not ours (CloudFormation can only configure buckets it made):
//!
//! 1. `lambda:AddPermission` letting `s3.amazonaws.com` invoke the ingest
//!    function for this bucket and account. Idempotent: an existing
//!    statement with our id is left alone (or replaced if it names another
//!    bucket); AWS's ResourceConflictException for a duplicate is success.
//! 2. The bucket's notification configuration is read, our entries (ids
//!    starting with `tracker.<stack>.`) are replaced, every other entry —
//!    Lambda, SQS, SNS or EventBridge — is written back unchanged.
//!    `PutBucketNotificationConfiguration` replaces the whole
//!    configuration, so writing only ours would delete everyone else's.
//!
//! Our entries fire on `s3:ObjectCreated:*` under
//! `<prefix><account>/CloudTrail/` with the suffix `.json.gz`: log files of
//! each configured account, never `CloudTrail-Digest/` or
//! `CloudTrail-Insight/` files.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_bucket_notification_configuration::{
    GetBucketNotificationConfigurationError, GetBucketNotificationConfigurationOutput,
};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};
use serde_json::Value;

use crate::clients::Aws;
use crate::errors;

/// The S3 event our entries fire on.
pub const EVENT: &str = "s3:ObjectCreated:*";
/// The suffix of CloudTrail log files.
pub const SUFFIX: &str = ".json.gz";

/// What [`ensure_permission`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionChange {
    Added,
    /// The statement named another bucket (`trail.bucket` changed), if
    /// its ARN was readable.
    Replaced {
        previous_bucket: Option<String>,
    },
    Unchanged,
}

/// Lets S3 (this bucket, this account) invoke `function`.
pub async fn ensure_permission(
    aws: &Aws,
    function: &str,
    statement_id: &str,
    bucket: &str,
) -> anyhow::Result<PermissionChange> {
    let bucket_arn = aws.bucket_arn(bucket);
    let mut change = PermissionChange::Added;
    if let Some(statement) = find_statement(aws, function, statement_id).await? {
        if statement_matches(&statement, &bucket_arn, &aws.account) {
            return Ok(PermissionChange::Unchanged);
        }
        remove_permission(aws, function, statement_id).await?;
        change = PermissionChange::Replaced {
            previous_bucket: statement_bucket(&statement),
        };
    }
    let mut attempts = 0;
    loop {
        let result = aws
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal("s3.amazonaws.com")
            .source_arn(&bucket_arn)
            .source_account(&aws.account)
            .send()
            .await;
        match result {
            Ok(_) => return Ok(change),
            // Someone (a concurrent deploy) added it since we looked: fine.
            Err(e) if errors::is_permission_conflict(&e) => return Ok(PermissionChange::Unchanged),
            // The function is still being updated by the stack: retry shortly.
            Err(e) if errors::is_update_in_progress(&e) && attempts < 10 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            Err(e) => {
                return Err(errors::explain(
                    e,
                    &format!(
                        "cannot let S3 bucket `{bucket}` invoke Lambda function `{function}` (lambda:AddPermission)"
                    ),
                ));
            }
        }
    }
}

/// Removes our statement; false when it was not there (or the function is gone).
pub async fn remove_permission(
    aws: &Aws,
    function: &str,
    statement_id: &str,
) -> anyhow::Result<bool> {
    match aws
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(statement_id)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if errors::is_not_found(&e) => Ok(false),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot remove permission `{statement_id}` from Lambda function `{function}`"),
        )),
    }
}

/// Our statement in the function's resource policy, if any.
pub async fn find_statement(
    aws: &Aws,
    function: &str,
    statement_id: &str,
) -> anyhow::Result<Option<Value>> {
    let policy = match aws.lambda.get_policy().function_name(function).send().await {
        Ok(output) => output.policy().unwrap_or_default().to_owned(),
        Err(e) if errors::is_not_found(&e) => return Ok(None),
        Err(e) => {
            return Err(errors::explain(
                e,
                &format!("cannot read the permissions of Lambda function `{function}`"),
            ));
        }
    };
    Ok(statements(&policy)
        .into_iter()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some(statement_id)))
}

/// The statements of a resource policy document (empty if unreadable).
pub fn statements(policy: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(policy)
        .ok()
        .and_then(|p| p.get("Statement").cloned())
        .map(|s| match s {
            Value::Array(list) => list,
            one => vec![one],
        })
        .unwrap_or_default()
}

/// The bucket a statement lets S3 invoke for (`arn:aws:s3:::NAME` → NAME).
pub fn statement_bucket(statement: &Value) -> Option<String> {
    statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        .as_str()
        .and_then(|arn| arn.rsplit_once(":::"))
        .map(|(_, bucket)| bucket.to_owned())
        .filter(|b| !b.is_empty())
}

/// Whether a statement grants S3 this bucket and account.
fn statement_matches(statement: &Value, bucket_arn: &str, account: &str) -> bool {
    let condition = &statement["Condition"];
    condition["ArnLike"]["AWS:SourceArn"].as_str() == Some(bucket_arn)
        && condition["StringEquals"]["AWS:SourceAccount"].as_str() == Some(account)
}

/// Our notification entries: one per account, for the ingest function.
pub fn our_configurations(
    id_of: impl Fn(&str) -> String,
    prefix_of: impl Fn(&str) -> String,
    accounts: &[String],
    function_arn: &str,
) -> anyhow::Result<Vec<LambdaFunctionConfiguration>> {
    accounts
        .iter()
        .map(|account| {
            Ok(LambdaFunctionConfiguration::builder()
                .id(id_of(account))
                .lambda_function_arn(function_arn)
                .events(Event::from(EVENT))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(
                            S3KeyFilter::builder()
                                .filter_rules(
                                    FilterRule::builder()
                                        .name(FilterRuleName::Prefix)
                                        .value(prefix_of(account))
                                        .build(),
                                )
                                .filter_rules(
                                    FilterRule::builder()
                                        .name(FilterRuleName::Suffix)
                                        .value(SUFFIX)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()?)
        })
        .collect()
}

/// The bucket's Lambda entries with ours replaced by `ours`.
pub fn merge(
    existing: &[LambdaFunctionConfiguration],
    ours: &[LambdaFunctionConfiguration],
    our_prefix: &str,
) -> Vec<LambdaFunctionConfiguration> {
    existing
        .iter()
        .filter(|c| !is_ours(c, our_prefix))
        .chain(ours)
        .cloned()
        .collect()
}

fn is_ours(configuration: &LambdaFunctionConfiguration, our_prefix: &str) -> bool {
    configuration
        .id()
        .is_some_and(|id| id.starts_with(our_prefix))
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

/// What [`apply_notifications`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationChange {
    /// Entries of others kept as they were (all kinds).
    pub kept: usize,
    /// Whether the configuration was written.
    pub written: bool,
}

/// Reads the bucket's notification configuration, replaces our Lambda
/// entries with `ours` (an empty `ours` removes them) and writes it back if
/// that changes anything.
pub async fn apply_notifications(
    aws: &Aws,
    bucket: &str,
    ours: &[LambdaFunctionConfiguration],
    our_prefix: &str,
) -> anyhow::Result<NotificationChange> {
    let current = read_configuration(aws, bucket).await.map_err(|e| {
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
    })?;
    let existing = current.lambda_function_configurations();
    let merged = merge(existing, ours, our_prefix);
    let kept = existing.iter().filter(|c| !is_ours(c, our_prefix)).count()
        + current.queue_configurations().len()
        + current.topic_configurations().len()
        + usize::from(current.event_bridge_configuration().is_some());
    let before: Vec<_> = existing.iter().map(normalised).collect();
    let after: Vec<_> = merged.iter().map(normalised).collect();
    if before == after {
        return Ok(NotificationChange {
            kept,
            written: false,
        });
    }
    let configuration = NotificationConfiguration::builder()
        .set_lambda_function_configurations(Some(merged))
        .set_queue_configurations(Some(current.queue_configurations().to_vec()))
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
        .build();
    // S3 checks every destination when the configuration is written; a
    // permission added a moment ago may take a few seconds to be seen.
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
    written.map_err(|e| {
            let text = errors::message(&e).to_owned();
            let advice = if text.contains("overlap") {
                " — another notification on this bucket already fires on the same prefix and suffix; \
                 S3 allows only one per object: narrow or remove that one, or change `trail.accounts`"
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
        })?;
    Ok(NotificationChange {
        kept,
        written: true,
    })
}

/// The bucket's notification configuration (an emulator's unparsable
/// answer for "none" is read as none).
async fn read_configuration(
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
    match read_configuration(aws, bucket).await {
        Ok(current) => Ok(current
            .lambda_function_configurations()
            .iter()
            .filter(|c| is_ours(c, our_prefix))
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
        our_configurations(
            |_| id.to_owned(),
            |_| prefix.to_owned(),
            &["123456789012".to_owned()],
            "arn:aws:lambda:us-east-1:123456789012:function:f",
        )
        .unwrap()
        .remove(0)
    }

    #[test]
    fn merge_replaces_only_ours() {
        let foreign = entry("someone-else", "other/");
        let old_ours = entry("tracker.t.111111111111", "AWSLogs/111111111111/CloudTrail/");
        let new_ours = entry("tracker.t.123456789012", "AWSLogs/123456789012/CloudTrail/");
        let merged = merge(
            &[foreign.clone(), old_ours],
            std::slice::from_ref(&new_ours),
            "tracker.t.",
        );
        assert_eq!(merged, vec![foreign.clone(), new_ours]);
        // Removing ours keeps the others.
        assert_eq!(merge(&merged, &[], "tracker.t."), vec![foreign]);
        // Another stack whose name starts like ours is not ours.
        let other_stack = entry("tracker.t-2.123456789012", "x/");
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

    #[test]
    fn reads_policy_statements() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"x","Condition":{
            "ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"},"StringEquals":{"AWS:SourceAccount":"1"}}}]}"#;
        let list = statements(policy);
        assert_eq!(list.len(), 1);
        assert!(statement_matches(&list[0], "arn:aws:s3:::b", "1"));
        assert!(!statement_matches(&list[0], "arn:aws:s3:::c", "1"));
        assert!(statements("not json").is_empty());
    }
}
