//! The link from the user's trail bucket to the ingest function, made by SDK
//! calls because the bucket is not ours (CloudFormation only configures
//! buckets it made). Two kinds (`trail.trigger`):
//!
//! - `"s3"`: a permission letting S3 invoke the function ([`permission`]) and
//!   one entry in the bucket's notification configuration
//!   ([`notifications`]), merged with everyone else's. S3 refuses an entry
//!   that overlaps another, so [`check`] looks first ([`overlap`]), before
//!   anything is created;
//! - `"eventbridge"`: the bucket's EventBridge delivery turned on (and
//!   remembered, [`eventbridge`]); the rule and its permission are in the
//!   application stack.
//!
//! [`connect`] makes the chosen kind and removes the other (a changed
//! setting); [`disconnect`] removes both (teardown).

pub mod eventbridge;
pub mod notifications;
pub mod overlap;
pub mod permission;

pub use notifications::{EVENT, SUFFIX};
pub use permission::{
    PermissionChange, ensure_permission, find_statement, remove_permission, statement_bucket,
    statements,
};

use notifications::EventBridgeDelivery;

use crate::artifacts::ArtifactBucket;
use crate::clients::Aws;
use crate::console::step;
use crate::names::Names;
use crate::settings::{Settings, Trigger};
use crate::template;

/// What new log files trigger, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerInfo {
    pub kind: Trigger,
    /// `s3://bucket/prefix…suffix` (S3) or the rule's key wildcard.
    pub matches: String,
}

/// Read-only, before anything is created (and in `--dry-run`): an S3
/// trigger that S3 would refuse because another entry overlaps it.
pub async fn check(
    aws: &Aws,
    settings: &Settings,
    names: &Names,
    bucket: &str,
) -> anyhow::Result<()> {
    if settings.trail.trigger != Trigger::S3 {
        return Ok(());
    }
    let current = notifications::read(aws, bucket).await?;
    let prefix = template::trigger_prefix(settings, &aws.account);
    let overlaps = overlap::overlapping(&current, &prefix, &names.notification_id_prefix);
    if overlaps.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(overlap::explain(bucket, &prefix, &overlaps))
    }
}

/// What new log files will trigger (for plans and the summary).
pub fn describe(settings: &Settings, account: &str, bucket: &str) -> TriggerInfo {
    let kind = settings.trail.trigger;
    let matches = match kind {
        Trigger::S3 => format!(
            "s3://{bucket}/{}…{SUFFIX}",
            template::trigger_prefix(settings, account)
        ),
        Trigger::EventBridge => format!(
            "s3://{bucket}/{} (EventBridge rule)",
            template::log_file_wildcard(settings).replace("${AWS::AccountId}", account)
        ),
    };
    TriggerInfo { kind, matches }
}

/// Links the trail bucket to the ingest function as `trail.trigger` says,
/// and removes what the other kind left (a changed setting).
pub async fn connect(
    aws: &Aws,
    settings: &Settings,
    names: &Names,
    bucket: &str,
    artifacts: &ArtifactBucket,
) -> anyhow::Result<TriggerInfo> {
    match settings.trail.trigger {
        Trigger::S3 => {
            allow_s3(aws, names, bucket).await?;
            let prefix = template::trigger_prefix(settings, &aws.account);
            let ours = notifications::our_configuration(
                &names.notification_id(),
                &prefix,
                &aws.function_arn(&names.ingest_function),
            )?;
            let was_ours = eventbridge::enabled_by_tracker(aws, artifacts, names)
                .await?
                .contains(&bucket.to_owned());
            let delivery = if was_ours {
                EventBridgeDelivery::Off
            } else {
                EventBridgeDelivery::Keep
            };
            let change = notifications::update(
                aws,
                bucket,
                &[ours],
                &names.notification_id_prefix,
                delivery,
            )
            .await?;
            if was_ours {
                eventbridge::forget(aws, artifacts, names, bucket).await?;
                step(format!(
                    "s3://{bucket}: EventBridge delivery off again (tracker had turned it on)"
                ));
            }
            if change.written {
                step(format!(
                    "s3://{bucket}: new CloudTrail logs now trigger `{}` ({} other notification(s) kept)",
                    names.ingest_function, change.kept
                ));
            }
        }
        Trigger::EventBridge => {
            // A switch from "s3": our entry and S3's permission go.
            if permission::remove_permission(aws, &names.ingest_function, &names.s3_permission_sid)
                .await?
            {
                step(format!(
                    "removed the permission letting S3 invoke `{}`",
                    names.ingest_function
                ));
            }
            let current = notifications::read(aws, bucket).await?;
            let on = current.event_bridge_configuration().is_some();
            if !on {
                eventbridge::record_enabled(aws, artifacts, names, bucket).await?;
            }
            let change = notifications::update(
                aws,
                bucket,
                &[],
                &names.notification_id_prefix,
                EventBridgeDelivery::On,
            )
            .await?;
            if change.written {
                step(format!(
                    "s3://{bucket}: EventBridge delivery on; rule `{}` sends new CloudTrail logs to `{}` \
                     ({} other notification(s) kept)",
                    names.trail_rule, names.ingest_function, change.kept
                ));
            }
        }
    }
    Ok(describe(settings, &aws.account, bucket))
}

/// The S3 permission for `bucket`; when it named another bucket before
/// (`trail.bucket` changed), our entry on that bucket is removed too, since
/// it would fire a function that no longer lets that bucket invoke it.
async fn allow_s3(aws: &Aws, names: &Names, bucket: &str) -> anyhow::Result<()> {
    match ensure_permission(
        aws,
        &names.ingest_function,
        &names.s3_permission_sid,
        bucket,
    )
    .await?
    {
        PermissionChange::Added => step(format!(
            "allowed s3://{bucket} to invoke `{}`",
            names.ingest_function
        )),
        PermissionChange::Replaced { previous_bucket } => {
            step(format!(
                "allowed s3://{bucket} (instead of {}) to invoke `{}`",
                previous_bucket
                    .as_deref()
                    .map(|b| format!("s3://{b}"))
                    .unwrap_or_else(|| "another bucket".into()),
                names.ingest_function
            ));
            if let Some(old) = previous_bucket.filter(|b| b != bucket) {
                match notifications::update(
                    aws,
                    &old,
                    &[],
                    &names.notification_id_prefix,
                    EventBridgeDelivery::Keep,
                )
                .await
                {
                    Ok(change) if change.written => {
                        step(format!("removed our notification entries from s3://{old}"))
                    }
                    Ok(_) => {}
                    Err(e) => step(format!(
                        "note: could not remove our notification entries from s3://{old}: {e:#}"
                    )),
                }
            }
        }
        PermissionChange::Unchanged => {}
    }
    Ok(())
}

/// What of a trigger exists on the account (read-only, for teardown's plan).
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Our notification entries, by bucket.
    pub entries: Vec<(String, Vec<String>)>,
    /// S3's permission on the ingest function exists.
    pub permission: bool,
    /// Buckets whose EventBridge delivery deploy turned on.
    pub eventbridge: Vec<String>,
}

/// Finds our entries (on the settings' bucket and the one the permission
/// names), the permission, and the EventBridge deliveries we turned on.
pub async fn find(
    aws: &Aws,
    settings: &Settings,
    names: &Names,
    artifacts: &ArtifactBucket,
) -> anyhow::Result<Found> {
    let statement = find_statement(aws, &names.ingest_function, &names.s3_permission_sid).await?;
    let mut buckets: Vec<String> = settings.trail.bucket.iter().cloned().collect();
    if let Some(bucket) = statement.as_ref().and_then(statement_bucket)
        && !buckets.contains(&bucket)
    {
        buckets.push(bucket);
    }
    let mut entries = Vec::new();
    for bucket in buckets {
        let ids = notifications::our_entries(aws, &bucket, &names.notification_id_prefix).await?;
        if !ids.is_empty() {
            entries.push((bucket, ids));
        }
    }
    Ok(Found {
        entries,
        permission: statement.is_some(),
        eventbridge: eventbridge::enabled_by_tracker(aws, artifacts, names).await?,
    })
}

/// Removes what [`find`] found: our entries, the EventBridge deliveries we
/// turned on, and S3's permission.
pub async fn disconnect(
    aws: &Aws,
    names: &Names,
    found: &Found,
    artifacts: &ArtifactBucket,
) -> anyhow::Result<()> {
    for (bucket, _) in &found.entries {
        notifications::update(
            aws,
            bucket,
            &[],
            &names.notification_id_prefix,
            EventBridgeDelivery::Keep,
        )
        .await?;
    }
    for bucket in &found.eventbridge {
        notifications::update(
            aws,
            bucket,
            &[],
            &names.notification_id_prefix,
            EventBridgeDelivery::Off,
        )
        .await?;
        eventbridge::forget(aws, artifacts, names, bucket).await?;
    }
    if found.permission {
        remove_permission(aws, &names.ingest_function, &names.s3_permission_sid).await?;
    }
    Ok(())
}
