//! The backfill work queue (`tracker backfill --fan-out`): the CLI lists a
//! trail's log files and sends them, a batch of keys per message, to an SQS
//! queue the stack owns; Lambda's SQS event source hands the messages to the
//! ingest function, which ingests each message's objects through the one
//! path of every event shape ([`super::s3_event::ingest_objects`]).
//!
//! The function answers with the messages to try again (SQS's partial batch
//! response, `ReportBatchItemFailures`): a message whose objects are all
//! settled (ingested, skipped, gone or corrupt — those are logged) is
//! deleted by Lambda; one with an object that may pass later (throttling,
//! the time budget running out) comes back after the queue's visibility
//! timeout, and after the queue's `maxReceiveCount` goes to its dead-letter
//! queue, which `tracker backfill --from-failures` replays. A message that
//! is not a batch goes there too: nothing is dropped silently.

use std::time::Instant;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::eventbridge::UnknownEvent;
use super::s3_event::{IngestDeps, ingest_objects};

/// The `format` of a batch message; another value is refused, not guessed at.
pub const BATCH_FORMAT: &str = "tracker-backfill-1";

/// One work-queue message: log files of one bucket, keys as S3 stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectBatch {
    pub format: String,
    pub bucket: String,
    pub keys: Vec<String>,
}

impl ObjectBatch {
    pub fn new(bucket: &str, keys: Vec<String>) -> ObjectBatch {
        ObjectBatch {
            format: BATCH_FORMAT.into(),
            bucket: bucket.into(),
            keys,
        }
    }

    /// The message body.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a message body; refuses another format or shape.
    pub fn from_body(body: &str) -> Result<ObjectBatch, UnknownEvent> {
        let batch: ObjectBatch = serde_json::from_str(body)
            .map_err(|e| UnknownEvent(format!("not a backfill batch: {e}")))?;
        if batch.format != BATCH_FORMAT {
            return Err(UnknownEvent(format!(
                "a backfill batch of format `{}` (this version reads `{BATCH_FORMAT}`): \
                 queue it again with this version's `tracker backfill --fan-out`",
                batch.format
            )));
        }
        Ok(batch)
    }

    /// The (bucket, key) pairs of the batch.
    pub fn objects(self) -> Vec<(String, String)> {
        let bucket = self.bucket;
        self.keys
            .into_iter()
            .map(|key| (bucket.clone(), key))
            .collect()
    }
}

/// The objects one message of a recovery queue names: a work-queue batch
/// (from the work queue's dead-letter queue) or Lambda's on-failure record
/// (from the ingest function's on-failure queue).
pub fn recovered_objects(body: &str) -> Result<Vec<(String, String)>, UnknownEvent> {
    let is_batch = serde_json::from_str::<Value>(body)
        .ok()
        .is_some_and(|value| {
            ["format", "bucket", "keys"]
                .iter()
                .any(|field| value.get(field).is_some())
        });
    match is_batch {
        true => Ok(ObjectBatch::from_body(body)?.objects()),
        false => super::eventbridge::failure_record_objects(body),
    }
}

/// Whether an invocation carries SQS messages (`Records[].eventSource` is
/// `aws:sqs`); S3's notifications also have `Records`.
pub fn is_queue_event(value: &Value) -> bool {
    value
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .is_some_and(|source| source == "aws:sqs")
}

/// Reads an SQS invocation.
pub fn queue_event(value: Value) -> Result<SqsEvent, UnknownEvent> {
    serde_json::from_value(value).map_err(|e| UnknownEvent(format!("a malformed SQS event: {e}")))
}

/// Ingests every message's objects; answers with the messages to retry.
pub async fn handle_queue_event(
    deps: &IngestDeps,
    event: SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.unwrap_or_default();
        let settled = match ObjectBatch::from_body(message.body.as_deref().unwrap_or_default()) {
            Ok(batch) => match ingest_objects(deps, batch.objects(), deadline).await {
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(message = %id, %error, "Batch to be retried.");
                    false
                }
            },
            Err(error) => {
                tracing::error!(message = %id, %error, "Unreadable work-queue message; it goes to the dead-letter queue after its receives.");
                false
            }
        };
        if !settled {
            response.add_failure(id);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_round_trip_and_other_formats_are_refused() {
        let batch = ObjectBatch::new("trail", vec!["AWSLogs/a.json.gz".into()]);
        assert_eq!(ObjectBatch::from_body(&batch.to_body()).unwrap(), batch);
        assert_eq!(
            batch.clone().objects(),
            [("trail".to_owned(), "AWSLogs/a.json.gz".to_owned())]
        );
        let newer = json!({"format": "tracker-backfill-2", "bucket": "b", "keys": []});
        let e = ObjectBatch::from_body(&newer.to_string()).unwrap_err();
        assert!(e.to_string().contains("tracker-backfill-2"), "{e}");
        assert!(ObjectBatch::from_body("{}").is_err());
        assert!(ObjectBatch::from_body("not json").is_err());
        assert_eq!(
            recovered_objects(&batch.to_body()).unwrap(),
            [("trail".to_owned(), "AWSLogs/a.json.gz".to_owned())]
        );
        assert!(recovered_objects(&newer.to_string()).is_err());
        assert!(
            recovered_objects("{}").is_err(),
            "neither a batch nor a failure record"
        );
    }

    #[test]
    fn tells_sqs_records_from_s3_records() {
        let sqs = json!({"Records": [{"messageId": "1", "body": "{}", "eventSource": "aws:sqs"}]});
        let s3 = json!({"Records": [{"eventSource": "aws:s3"}]});
        assert!(is_queue_event(&sqs));
        assert!(!is_queue_event(&s3));
        assert!(!is_queue_event(&json!({"detail-type": "Object Created"})));
        assert_eq!(queue_event(sqs).unwrap().records.len(), 1);
    }
}
