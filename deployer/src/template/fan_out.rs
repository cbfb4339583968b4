//! The backfill work queue of `tracker backfill --fan-out`: the CLI sends
//! batches of log-file keys to `<stack>-backfill`; Lambda's SQS event source
//! mapping hands them to the ingest function, at most
//! `lambda.backfill_concurrency` invocations at once (so a backfill of
//! millions of objects neither exhausts the account's Lambda concurrency nor
//! floods the table), one message per invocation. The function reports the
//! messages to retry (`ReportBatchItemFailures`); a message received
//! `BACKFILL_RECEIVES` times goes to `<stack>-backfill-dead`, kept 14 days
//! for `tracker backfill --from-failures`.

use serde_json::{Map, Value, json};

use super::{FAILURE_RETENTION_SECONDS, ids, queue};
use crate::names::Names;
use crate::settings::Settings;

/// Receives of a batch before it goes to the dead-letter queue: a throttled
/// or timed-out batch gets a few more chances, a broken one stops soon.
pub const BACKFILL_RECEIVES: u32 = 4;
/// Messages per invocation: one batch of keys, so that the function's time
/// budget is spent on one message's objects and a retry repeats only those.
pub const MESSAGES_PER_INVOCATION: u32 = 1;
/// How long a queued batch waits to be ingested (SQS's maximum, 14 days).
const BACKFILL_RETENTION_SECONDS: u32 = FAILURE_RETENTION_SECONDS;

/// How long a received batch stays hidden: six times the function's timeout,
/// as Lambda asks of an event source queue, so that a batch still being
/// ingested is not handed to a second invocation.
pub fn visibility_timeout(settings: &Settings) -> u32 {
    settings.lambda.timeout_seconds * 6
}

/// The work queue, its dead-letter queue, the event source mapping, and
/// the ingest role's right to read and delete the queue's messages.
pub fn resources(settings: &Settings, names: &Names) -> Map<String, Value> {
    let mut resources = Map::new();
    resources.insert(
        ids::BACKFILL_DEAD_QUEUE.into(),
        queue(&names.backfill_dead_queue, FAILURE_RETENTION_SECONDS),
    );
    let mut work = queue(&names.backfill_queue, BACKFILL_RETENTION_SECONDS);
    work["Properties"]["VisibilityTimeout"] = json!(visibility_timeout(settings));
    work["Properties"]["RedrivePolicy"] = json!({
        "deadLetterTargetArn": {"Fn::GetAtt": [ids::BACKFILL_DEAD_QUEUE, "Arn"]},
        "maxReceiveCount": BACKFILL_RECEIVES,
    });
    resources.insert(ids::BACKFILL_QUEUE.into(), work);
    resources.insert(
        ids::BACKFILL_SOURCE.into(),
        json!({
            "Type": "AWS::Lambda::EventSourceMapping",
            // The role must be allowed to read the queue before Lambda checks it.
            "DependsOn": [ids::INGEST_ROLE],
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": [ids::BACKFILL_QUEUE, "Arn"]},
                "FunctionName": {"Ref": ids::INGEST_FUNCTION},
                "BatchSize": MESSAGES_PER_INVOCATION,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": settings.lambda.backfill_concurrency},
                "Enabled": true,
            },
        }),
    );
    resources
}

/// The ingest role's statement: Lambda's poller reads and deletes the work
/// queue's messages with the function's role.
pub fn read_statement() -> Value {
    json!({
        "Sid": "BackfillQueue",
        "Effect": "Allow",
        "Action": [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ],
        "Resource": {"Fn::GetAtt": [ids::BACKFILL_QUEUE, "Arn"]},
    })
}
