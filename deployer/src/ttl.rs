//! DynamoDB time to live on the events table, set by SDK call after the
//! stack (emulators ignore the template's `TimeToLiveSpecification`, and
//! keeping it out of the template keeps the data stack unchanged when only
//! the retention changes). With `table.retention_days > 0` events carry a
//! `ttl` attribute and DynamoDB deletes them for free when it passes; with
//! 0, TTL is turned off so that events written earlier with a `ttl` stay.

use aws_sdk_dynamodb::types::{TimeToLiveSpecification, TimeToLiveStatus};
use tracker_runtime::store::dynamodb::schema;

use crate::clients::Aws;
use crate::errors;

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlChange {
    Enabled,
    Disabled,
    Unchanged,
}

/// Turns TTL on `table` on (on the `ttl` attribute) or off.
pub async fn ensure(aws: &Aws, table: &str, enabled: bool) -> anyhow::Result<TtlChange> {
    let current = aws
        .dynamodb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!("cannot read the TTL of DynamoDB table `{table}`"),
            )
        })?;
    let description = current.time_to_live_description();
    let status = description.and_then(|d| d.time_to_live_status());
    let attribute = description.and_then(|d| d.attribute_name());
    let on = matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    );
    if on == enabled && (!enabled || attribute == Some(schema::TTL)) {
        return Ok(TtlChange::Unchanged);
    }
    if enabled && on {
        anyhow::bail!(
            "DynamoDB table `{table}` expires items on attribute `{}`, but tracker writes `{}`: \
             turn that TTL off (`aws dynamodb update-time-to-live --table-name {table} \
             --time-to-live-specification Enabled=false,AttributeName={0}`) and deploy again",
            attribute.unwrap_or_default(),
            schema::TTL
        );
    }
    let specification = TimeToLiveSpecification::builder()
        .enabled(enabled)
        .attribute_name(attribute.filter(|_| !enabled).unwrap_or(schema::TTL))
        .build()?;
    aws.dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| {
            let hourly = errors::message(&e).contains("multiple times");
            let error = errors::explain(
                e,
                &format!(
                    "cannot turn {} the TTL of DynamoDB table `{table}`",
                    if enabled { "on" } else { "off" }
                ),
            );
            if hourly {
                anyhow::anyhow!(
                    "{error} — DynamoDB allows one TTL change per table per hour: deploy again later"
                )
            } else {
                error
            }
        })?;
    Ok(if enabled {
        TtlChange::Enabled
    } else {
        TtlChange::Disabled
    })
}
