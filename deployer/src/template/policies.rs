//! What each function's role may do: one function per role builds the whole
//! list of statements ([`ingest_statements`], [`query_statements`]), so a new
//! permission is one line there, and one small function per statement says
//! what it grants and why.
//!
//! The trail is read through one grant whatever the number of accounts: the
//! deploying account's folder, or every account's `CloudTrail/` folder under
//! the prefix (an organization trail), so a role policy stays far below IAM's
//! 10,240 characters with 1,000 accounts.

use serde_json::{Value, json};

use super::{ids, trail_prefix};
use crate::names::Names;
use crate::settings::Settings;

/// The table actions of the ingest function.
const INGEST_TABLE_ACTIONS: &[&str] = &["dynamodb:BatchWriteItem"];
/// The table actions of the query function.
const QUERY_TABLE_ACTIONS: &[&str] = &[
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
];

/// Every statement of the ingest function's role.
pub fn ingest_statements(settings: &Settings, names: &Names) -> Vec<Value> {
    let mut statements = vec![
        own_logs(&names.ingest_function),
        table(&names.table, INGEST_TABLE_ACTIONS),
        trail_objects(settings),
        trail_listing(settings),
        failure_queue(),
        super::fan_out::read_statement(),
        alerts_once(&names.table),
        super::alerts::publish_statement(settings),
    ];
    statements.extend(trail_key(settings));
    statements
}

/// Every statement of the query function's role.
pub fn query_statements(_settings: &Settings, names: &Names) -> Vec<Value> {
    vec![
        own_logs(&names.query_function),
        table(&names.table, QUERY_TABLE_ACTIONS),
        rollups(&names.table),
    ]
}

/// Writing to the function's own log group (which the stack creates).
fn own_logs(function: &str) -> Value {
    json!({
        "Sid": "OwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}:*",
            Names::log_group(function)
        )},
    })
}

/// `actions` on the table and its indexes.
fn table(table: &str, actions: &[&str]) -> Value {
    let arn = format!(
        "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"
    );
    json!({
        "Sid": "EventsTable",
        "Effect": "Allow",
        "Action": actions,
        "Resource": [{"Fn::Sub": arn}, {"Fn::Sub": format!("{arn}/index/*")}],
    })
}

/// Keeping the rollups it builds (derived counts, partition keys `R#…`)
/// for the next query: the query function writes nothing else.
fn rollups(table: &str) -> Value {
    json!({
        "Sid": "RollupCache",
        "Effect": "Allow",
        "Action": "dynamodb:BatchWriteItem",
        "Resource": {"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"
        )},
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["R#*"]}},
    })
}

/// Recording each alert once (`PutItem` with `attribute_not_exists`) and
/// taking back the ones whose message could not be published
/// (`DeleteItem`): on alert items (partition keys `A#…`) only.
fn alerts_once(table: &str) -> Value {
    json!({
        "Sid": "AlertsOnce",
        "Effect": "Allow",
        "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
        "Resource": {"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"
        )},
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["A#*"]}},
    })
}

/// The keys of the trail's log files the function may read, as an IAM
/// pattern (for `Fn::Sub`): the deploying account's `CloudTrail/` folder, or
/// every account's under the prefix.
pub fn log_keys(settings: &Settings) -> String {
    let prefix = trail_prefix(settings);
    if settings.trail.accounts.is_empty() {
        format!("{prefix}${{AWS::AccountId}}/CloudTrail/*")
    } else {
        format!("{prefix}*/CloudTrail/*")
    }
}

fn trail_bucket(settings: &Settings) -> &str {
    settings.trail.bucket.as_deref().unwrap_or_default()
}

/// Reading the trail's log files (never digest or Insights files).
fn trail_objects(settings: &Settings) -> Value {
    json!({
        "Sid": "TrailLogs",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": {"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:s3:::{}/{}",
            trail_bucket(settings),
            log_keys(settings)
        )},
    })
}

/// Listing the same keys: without `s3:ListBucket` S3 answers a missing
/// object with 403 instead of 404 (`NoSuchKey`), and a deleted log file
/// would be retried as a permission problem.
fn trail_listing(settings: &Settings) -> Value {
    json!({
        "Sid": "TrailListing",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": {"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:s3:::{}",
            trail_bucket(settings)
        )},
        "Condition": {"StringLike": {"s3:prefix": [{"Fn::Sub": log_keys(settings)}]}},
    })
}

/// Decrypting SSE-KMS log files with `trail.kms_key_arn`, and only when S3
/// asks on the function's behalf.
fn trail_key(settings: &Settings) -> Option<Value> {
    let key = settings.trail.kms_key_arn.as_deref()?;
    Some(json!({
        "Sid": "TrailKey",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": key,
        "Condition": {"StringEquals": {
            "kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}
        }},
    }))
}

/// Lambda sends the failed invocations to the on-failure destination with
/// the function's own role.
fn failure_queue() -> Value {
    json!({
        "Sid": "FailureQueue",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": [ids::FAILURE_QUEUE, "Arn"]},
    })
}
