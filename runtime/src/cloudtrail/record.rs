//! One CloudTrail record, reduced to what tracker indexes and filters on,
//! plus the (redacted) record text itself. Extraction is lenient: a field of
//! the wrong type counts as absent, never as an error.
//!
//! The record is read in one typed pass over its text ([`fields`]): strings
//! are borrowed where they hold no escapes, fields tracker does not use are
//! skipped without being built, and no `serde_json::Value` tree is made
//! unless the record may hold a secret to redact.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::fields::{self, Fields};
use super::redact;
use crate::time;

/// The principal of records that name none.
pub const NO_PRINCIPAL: &str = "(none)";

/// Why a record cannot be used at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record is not a JSON object")]
    NotAnObject,
    /// It could not be read back once stored (nor redacted, nor filtered).
    #[error("record cannot be read as JSON ({0}); it is not stored")]
    Unreadable(String),
}

/// The facts tracker keeps about one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `eventID`, or `synthetic-<hash of the record text>` when it has none.
    pub event_id: String,
    /// `eventName` (for Insights events: `insightDetails.eventName`).
    pub event_name: Option<String>,
    /// `eventSource` (for Insights events: `insightDetails.eventSource`).
    pub event_source: Option<String>,
    /// `eventTime` as written.
    pub event_time: Option<String>,
    /// `eventTime` parsed; `None` when absent or unparsable.
    pub instant: Option<DateTime<Utc>>,
    pub aws_region: Option<String>,
    /// See [`Fields::principal`].
    pub principal: String,
    /// `recipientAccountId`, else `userIdentity.accountId`.
    pub account: Option<String>,
    /// The role session name of an assumed role.
    pub session_name: Option<String>,
    pub error_code: Option<String>,
    pub source_ip: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    pub read_only: Option<bool>,
    /// `userIdentity.sessionContext.sourceIdentity`: who is behind a role.
    pub source_identity: Option<String>,
    /// `resources[].ARN` (or `arn`), each distinct value once.
    pub resource_names: Vec<String>,
    /// `resources[].type`, each distinct value once.
    pub resource_types: Vec<String>,
    /// Names usable in `param`: the top-level fields, and
    /// `requestParameters.<key>` for each request parameter.
    pub param_names: Vec<String>,
    /// Whether `event_name` and `event_source` are exactly the record's
    /// top-level `eventName` and `eventSource` (a non-empty string each, or
    /// absent or `null`): then a reader need not look them up again.
    pub event_keys_top_level: bool,
    /// The record text to store, with secrets redacted.
    pub json: String,
}

impl Record {
    /// Extracts a record from its raw JSON text.
    pub fn from_raw(raw: &RawValue) -> Result<Record, RecordError> {
        let text = raw.get();
        let fields = fields::read(text).map_err(|e| match e {
            fields::ReadError::NotAnObject => RecordError::NotAnObject,
            fields::ReadError::Unreadable(reason) => RecordError::Unreadable(reason),
        })?;
        let json = if fields
            .secret_sections
            .iter()
            .any(|section| redact::may_hold_secrets(section.get()))
        {
            // Never store a record that may hold a secret unredacted.
            redact::redacted_text(text)
                .map_err(|e| RecordError::Unreadable(e.to_string()))?
                .unwrap_or_else(|| text.to_owned())
        } else {
            text.to_owned()
        };
        Ok(Record::from_fields(fields, text, json))
    }

    fn from_fields(mut fields: Fields<'_>, text: &str, json: String) -> Record {
        let owned = |v: &Option<Cow<'_, str>>| v.as_deref().map(str::to_owned);
        let event_time = fields.event_time.as_deref();
        Record {
            event_id: match fields.event_id.as_deref() {
                Some(id) => id.to_owned(),
                None => synthetic_id(text),
            },
            event_name: fields.event_name().map(str::to_owned),
            event_source: fields.event_source().map(str::to_owned),
            instant: event_time.and_then(time::parse_event_time),
            event_time: event_time.map(str::to_owned),
            aws_region: owned(&fields.aws_region),
            principal: fields.principal().to_owned(),
            account: fields.account().map(str::to_owned),
            session_name: fields.session_name().map(str::to_owned),
            error_code: owned(&fields.error_code),
            source_ip: owned(&fields.source_ip),
            access_key_id: owned(&fields.identity.access_key_id),
            read_only: fields.read_only,
            source_identity: owned(&fields.identity.source_identity),
            resource_names: distinct(fields.resources.iter().map(|r| &r.arn)),
            resource_types: distinct(fields.resources.iter().map(|r| &r.kind)),
            param_names: fields.take_param_names(),
            event_keys_top_level: fields.top_level_event_keys(),
            json,
        }
    }
}

/// The present values, each once, sorted.
fn distinct<'a, 'b: 'a>(values: impl Iterator<Item = &'a Option<Cow<'b, str>>>) -> Vec<String> {
    let mut out: Vec<String> = values.flatten().map(|v| v.to_string()).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The short service name: `ec2` for `ec2.amazonaws.com`; other sources are
/// kept whole.
pub fn service_name(event_source: &str) -> &str {
    event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(event_source)
}

/// A stable identity for a record without `eventID`: the same text always
/// gets the same id, so a redelivered file does not duplicate it.
fn synthetic_id(text: &str) -> String {
    format!("synthetic-{}", crate::digest::sha256_hex(text, 16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn record(v: Value) -> Record {
        let raw = RawValue::from_string(v.to_string()).unwrap();
        Record::from_raw(&raw).unwrap()
    }

    #[test]
    fn principal_rule_in_order() {
        let p = |ui: Value| record(json!({ "userIdentity": ui })).principal;
        assert_eq!(p(json!({"userName": "alice", "arn": "a"})), "alice");
        assert_eq!(p(json!({"userName": "", "arn": "arn:x"})), "arn:x");
        assert_eq!(
            p(
                json!({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/s",
                     "sessionContext": {"sessionIssuer": {"userName": "R"}}})
            ),
            "R"
        );
        assert_eq!(
            p(
                json!({"type": "Root", "arn": "arn:root", "sessionContext": {"sessionIssuer": {"userName": "R"}}})
            ),
            "arn:root"
        );
        assert_eq!(p(json!({"principalId": "P"})), "P");
        assert_eq!(
            p(json!({"invokedBy": "s3.amazonaws.com"})),
            "s3.amazonaws.com"
        );
        assert_eq!(p(json!({"userName": 5})), NO_PRINCIPAL);
        assert_eq!(p(json!("oops")), NO_PRINCIPAL);
        assert_eq!(record(json!({})).principal, NO_PRINCIPAL);
    }

    #[test]
    fn extracts_fields_and_session() {
        let r = record(json!({
            "eventID": "e1", "eventName": "RunInstances", "eventSource": "ec2.amazonaws.com",
            "eventTime": "2024-01-02T03:04:05Z", "awsRegion": "us-east-1",
            "userIdentity": {"type": "AssumedRole", "accountId": "111",
                "arn": "arn:aws:sts::111:assumed-role/Admin/alice@example.com",
                "sessionContext": {"sessionIssuer": {"userName": "Admin"}}},
            "requestParameters": {"instanceType": "t2.micro"},
        }));
        assert_eq!(r.event_id, "e1");
        assert_eq!(r.principal, "Admin");
        assert_eq!(r.session_name.as_deref(), Some("alice@example.com"));
        assert_eq!(r.account.as_deref(), Some("111"));
        assert!(
            r.param_names
                .contains(&"requestParameters.instanceType".to_owned())
        );
        assert!(r.param_names.contains(&"eventName".to_owned()));
        assert_eq!(service_name(r.event_source.as_deref().unwrap()), "ec2");
    }

    #[test]
    fn extracts_lookup_attributes() {
        let r = record(json!({
            "eventID": "e1", "sourceIPAddress": "203.0.113.9", "readOnly": false,
            "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIAEXAMPLE",
                "sessionContext": {"sourceIdentity": "alice@example.com",
                    "sessionIssuer": {"userName": "Admin"}}},
            "resources": [
                {"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"},
                {"arn": "arn:aws:s3:::b/k", "type": "AWS::S3::Object"},
                {"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"},
                {"accountId": "1"}, 7, {"ARN": ""}
            ],
        }));
        assert_eq!(r.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(r.read_only, Some(false));
        assert_eq!(r.access_key_id.as_deref(), Some("ASIAEXAMPLE"));
        assert_eq!(r.source_identity.as_deref(), Some("alice@example.com"));
        assert_eq!(r.resource_names, ["arn:aws:s3:::b", "arn:aws:s3:::b/k"]);
        assert_eq!(r.resource_types, ["AWS::S3::Bucket", "AWS::S3::Object"]);
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!("FALSE"), Some(false)),
            (json!("yes"), None),
            (json!(1), None),
            (json!(null), None),
            (json!([true]), None),
        ] {
            assert_eq!(
                record(json!({ "readOnly": value })).read_only,
                expected,
                "{value}"
            );
        }
        let bare = record(json!({"resources": {"ARN": "x"}, "sourceIPAddress": ""}));
        assert!(bare.resource_names.is_empty() && bare.source_ip.is_none());
    }

    #[test]
    fn insights_and_missing_ids() {
        let text = json!({"eventType": "AwsCloudTrailInsight",
            "insightDetails": {"eventName": "CompleteLifecycleAction", "eventSource": "autoscaling.amazonaws.com"}});
        let a = record(text.clone());
        assert_eq!(a.event_name.as_deref(), Some("CompleteLifecycleAction"));
        assert_eq!(a.event_source.as_deref(), Some("autoscaling.amazonaws.com"));
        assert!(a.event_id.starts_with("synthetic-"));
        assert_eq!(
            record(text).event_id,
            a.event_id,
            "synthetic ids are stable"
        );
        assert_eq!(a.principal, NO_PRINCIPAL);
    }

    #[test]
    fn secrets_are_redacted_in_every_section_even_when_escaped() {
        let r = record(json!({"eventID": "e",
            "requestParameters": {"password": "p1"},
            "responseElements": {"credentials": {"sessionToken": "t1"}},
            "additionalEventData": {"nested": [{"privateKey": "k1"}]},
            "userAgent": "password"}));
        for secret in ["p1", "t1", "k1"] {
            assert!(!r.json.contains(secret), "{secret} in {}", r.json);
        }
        assert!(r.json.contains(r#""userAgent":"password""#));
        let escaped = RawValue::from_string(
            r#"{"eventID":"e","requestParameters":{"pass\u0077ord":"p2"}}"#.into(),
        )
        .unwrap();
        assert!(!Record::from_raw(&escaped).unwrap().json.contains("p2"));
        let plain = r#"{"eventID":"e","userAgent":"sessionToken","requestParameters":{"a":1}}"#;
        let untouched = Record::from_raw(&RawValue::from_string(plain.into()).unwrap()).unwrap();
        assert_eq!(
            untouched.json, plain,
            "no secret: the text is kept byte for byte"
        );
    }

    #[test]
    fn wrong_types_are_absent_not_errors() {
        let r = record(
            json!({"eventID": 7, "eventTime": 12, "eventName": ["x"], "userIdentity": [], "awsRegion": null}),
        );
        assert!(r.event_id.starts_with("synthetic-"));
        assert!(r.instant.is_none() && r.event_name.is_none() && r.aws_region.is_none());
        let raw = RawValue::from_string("[1]".into()).unwrap();
        assert_eq!(Record::from_raw(&raw), Err(RecordError::NotAnObject));
    }
}
