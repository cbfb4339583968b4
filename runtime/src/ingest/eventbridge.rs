//! The other shapes an ingest invocation can carry, beside S3's
//! notification: the EventBridge `Object Created` event of a bucket whose
//! EventBridge delivery is on (`trail.trigger = "eventbridge"`), and — for
//! `tracker backfill --from-failures` — the record Lambda sends to the
//! on-failure destination, whose `requestPayload` is the original event.
//! Each becomes (bucket, key) pairs for the one ingest path
//! ([`super::s3_event::ingest_objects`]).
//!
//! EventBridge's `detail.object.key` is the key itself (S3 notifications
//! form-encode theirs; EventBridge does not), so it is used as is.

use std::time::Instant;

use aws_lambda_events::s3::S3Event;
use serde::Deserialize;
use serde_json::Value;

use super::s3_event::{IngestDeps, IngestError, IngestSummary, ingest_objects, s3_event_objects};

/// An event the ingest function accepts.
#[derive(Debug, Clone)]
pub enum IngestEvent {
    /// S3's notification (`Records[].s3`).
    S3(S3Event),
    /// EventBridge's `Object Created` from `aws.s3`.
    ObjectCreated(ObjectCreated),
}

/// The parts of EventBridge's `Object Created` event that ingest reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectCreated {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: ObjectCreatedDetail,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ObjectCreatedDetail {
    pub bucket: NamedBucket,
    pub object: CreatedObject,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedBucket {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreatedObject {
    pub key: String,
}

/// An event of no shape ingest knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an event ingest accepts ({0}): expected an S3 notification (`Records`) or an EventBridge \
     `Object Created` event from `aws.s3`"
)]
pub struct UnknownEvent(pub String);

impl IngestEvent {
    /// Reads either shape from the invocation's JSON.
    pub fn from_value(value: Value) -> Result<IngestEvent, UnknownEvent> {
        if value.get("Records").is_some() {
            return serde_json::from_value(value)
                .map(IngestEvent::S3)
                .map_err(|e| UnknownEvent(format!("a malformed S3 notification: {e}")));
        }
        if value.get("detail-type").is_some() {
            let event: ObjectCreated = serde_json::from_value(value)
                .map_err(|e| UnknownEvent(format!("a malformed EventBridge event: {e}")))?;
            if event.source != "aws.s3" || event.detail_type != "Object Created" {
                return Err(UnknownEvent(format!(
                    "EventBridge `{}` from `{}`",
                    event.detail_type, event.source
                )));
            }
            return Ok(IngestEvent::ObjectCreated(event));
        }
        Err(UnknownEvent("neither `Records` nor `detail-type`".into()))
    }

    /// The (bucket, key) pairs the event names, keys decoded.
    pub fn objects(self) -> Vec<(String, String)> {
        match self {
            IngestEvent::S3(event) => s3_event_objects(event),
            IngestEvent::ObjectCreated(event) => {
                vec![(event.detail.bucket.name, event.detail.object.key)]
            }
        }
    }
}

/// Ingests every object an event of either shape names.
pub async fn handle_event(
    deps: &IngestDeps,
    event: IngestEvent,
    deadline: Option<Instant>,
) -> Result<IngestSummary, IngestError> {
    ingest_objects(deps, event.objects(), deadline).await
}

/// The objects named by one message of the on-failure destination: Lambda's
/// invocation record, whose `requestPayload` is the event that failed.
pub fn failure_record_objects(body: &str) -> Result<Vec<(String, String)>, UnknownEvent> {
    let record: Value = serde_json::from_str(body)
        .map_err(|e| UnknownEvent(format!("the message is not JSON: {e}")))?;
    let payload = record
        .get("requestPayload")
        .cloned()
        .ok_or_else(|| UnknownEvent("the message has no `requestPayload`".into()))?;
    Ok(IngestEvent::from_value(payload)?.objects())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object_created(key: &str) -> Value {
        json!({
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2024-08-01T12:30:05Z",
            "region": "us-east-1",
            "resources": ["arn:aws:s3:::trail"],
            "detail": {
                "version": "0",
                "bucket": {"name": "trail"},
                "object": {"key": key, "size": 1024, "etag": "d41d8cd98f00b204e9800998ecf8427e",
                           "sequencer": "0055AED6DCD90281E5"},
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": "cloudtrail.amazonaws.com",
                "reason": "PutObject"
            }
        })
    }

    #[test]
    fn reads_both_shapes() {
        let key = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/01/a+b.json.gz";
        let event = IngestEvent::from_value(object_created(key)).unwrap();
        assert_eq!(event.objects(), [("trail".to_owned(), key.to_owned())]);
        let s3 = json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-08-01T12:30:05.123Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "tracker",
                   "bucket": {"name": "trail", "ownerIdentity": {"principalId": "X"}, "arn": "arn:aws:s3:::trail"},
                   "object": {"key": "a+b.json.gz", "size": 1, "eTag": "e", "sequencer": "1"}}
        }]});
        let event = IngestEvent::from_value(s3).unwrap();
        assert_eq!(
            event.objects(),
            [("trail".to_owned(), "a b.json.gz".to_owned())],
            "S3 form-encodes its keys, EventBridge does not"
        );
    }

    #[test]
    fn refuses_other_events() {
        let mut deleted = object_created("k");
        deleted["detail-type"] = json!("Object Deleted");
        let e = IngestEvent::from_value(deleted).unwrap_err().to_string();
        assert!(e.contains("Object Deleted"), "{e}");
        assert!(IngestEvent::from_value(json!({"hello": 1})).is_err());
        assert!(IngestEvent::from_value(json!({"detail-type": "Object Created"})).is_err());
    }

    #[test]
    fn failure_records_name_the_original_objects() {
        let record = json!({
            "version": "1.0",
            "timestamp": "2024-08-01T12:33:05.123Z",
            "requestContext": {"requestId": "e4b46cbf", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:t-ingest:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": object_created("AWSLogs/x.json.gz"),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "IngestRetryNeeded", "errorMessage": "access denied"}
        });
        assert_eq!(
            failure_record_objects(&record.to_string()).unwrap(),
            [("trail".to_owned(), "AWSLogs/x.json.gz".to_owned())]
        );
        assert!(failure_record_objects("{}").is_err());
        assert!(failure_record_objects("not json").is_err());
    }
}
