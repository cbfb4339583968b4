//! One CloudTrail record, reduced to what tracker indexes and filters on,
//! plus the (redacted) record text itself. Extraction is lenient: a field of
//! the wrong type counts as absent, never as an error.

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::redact;
use crate::time;

/// The principal of records that name none.
pub const NO_PRINCIPAL: &str = "(none)";

/// Why a record cannot be used at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record is not a JSON object")]
    NotAnObject,
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
    /// See [`principal_of`].
    pub principal: String,
    /// `recipientAccountId`, else `userIdentity.accountId`.
    pub account: Option<String>,
    /// The role session name of an assumed role.
    pub session_name: Option<String>,
    pub error_code: Option<String>,
    /// Names usable in `param`: the top-level fields, and
    /// `requestParameters.<key>` for each request parameter.
    pub param_names: Vec<String>,
    /// The record text to store, with secrets redacted.
    pub json: String,
}

impl Record {
    /// Extracts a record from its raw JSON text.
    pub fn from_raw(raw: &RawValue) -> Result<Record, RecordError> {
        let text = raw.get();
        let mut value: Value = serde_json::from_str(text).map_err(|_| RecordError::NotAnObject)?;
        if !value.is_object() {
            return Err(RecordError::NotAnObject);
        }
        let json = if redact::may_hold_secrets(text) && redact::redact(&mut value) {
            value.to_string()
        } else {
            text.to_owned()
        };
        let event_id = match str_at(&value, &["eventID"]) {
            Some(id) => id.to_owned(),
            None => synthetic_id(text),
        };
        let insight = |field: &str| str_at(&value, &["insightDetails", field]);
        let event_name = str_at(&value, &["eventName"]).or_else(|| insight("eventName"));
        let event_source = str_at(&value, &["eventSource"]).or_else(|| insight("eventSource"));
        let event_time = str_at(&value, &["eventTime"]);
        Ok(Record {
            event_name: event_name.map(str::to_owned),
            event_source: event_source.map(str::to_owned),
            instant: event_time.and_then(time::parse_event_time),
            event_time: event_time.map(str::to_owned),
            aws_region: str_at(&value, &["awsRegion"]).map(str::to_owned),
            principal: principal_of(&value).to_owned(),
            account: str_at(&value, &["recipientAccountId"])
                .or_else(|| str_at(&value, &["userIdentity", "accountId"]))
                .map(str::to_owned),
            session_name: session_name_of(&value).map(str::to_owned),
            error_code: str_at(&value, &["errorCode"]).map(str::to_owned),
            param_names: param_names_of(&value),
            event_id,
            json,
        })
    }
}

/// The principal ("user") of a record, exactly as the spec says:
/// `userIdentity.userName` if non-empty; else, for `AssumedRole`,
/// `sessionContext.sessionIssuer.userName`; else `arn`; else `principalId`;
/// else `invokedBy`; else `(none)`.
pub fn principal_of(record: &Value) -> &str {
    let Some(identity) = record.get("userIdentity").filter(|v| v.is_object()) else {
        return NO_PRINCIPAL;
    };
    if let Some(name) = str_at(identity, &["userName"]) {
        return name;
    }
    if str_at(identity, &["type"]) == Some("AssumedRole")
        && let Some(role) = str_at(identity, &["sessionContext", "sessionIssuer", "userName"])
    {
        return role;
    }
    ["arn", "principalId", "invokedBy"]
        .iter()
        .find_map(|field| str_at(identity, &[field]))
        .unwrap_or(NO_PRINCIPAL)
}

/// The role session name of an `AssumedRole` identity: the last segment of
/// `arn` (`…:assumed-role/ROLE/SESSION`), else what follows `:` in `principalId`.
fn session_name_of(record: &Value) -> Option<&str> {
    let identity = record.get("userIdentity")?;
    if str_at(identity, &["type"]) != Some("AssumedRole") {
        return None;
    }
    let from_arn = str_at(identity, &["arn"])
        .filter(|arn| arn.contains(":assumed-role/"))
        .and_then(|arn| arn.rsplit('/').next());
    from_arn
        .or_else(|| {
            str_at(identity, &["principalId"]).and_then(|p| p.split_once(':').map(|(_, s)| s))
        })
        .filter(|s| !s.is_empty())
}

fn param_names_of(record: &Value) -> Vec<String> {
    let mut names: Vec<String> = record
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(params) = record.get("requestParameters").and_then(Value::as_object) {
        names.extend(params.keys().map(|k| format!("requestParameters.{k}")));
    }
    names
}

/// The short service name: `ec2` for `ec2.amazonaws.com`; other sources are
/// kept whole.
pub fn service_name(event_source: &str) -> &str {
    event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(event_source)
}

/// A non-empty string at `path`, or `None` (absent, null, empty, other type).
pub fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut current = value;
    for step in path {
        current = current.get(step)?;
    }
    current.as_str().filter(|s| !s.is_empty())
}

/// A stable identity for a record without `eventID`: the same text always
/// gets the same id, so a redelivered file does not duplicate it.
fn synthetic_id(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("synthetic-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Record {
        let raw = RawValue::from_string(v.to_string()).unwrap();
        Record::from_raw(&raw).unwrap()
    }

    #[test]
    fn principal_rule_in_order() {
        let p = |ui: Value| principal_of(&json!({ "userIdentity": ui })).to_owned();
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
        assert_eq!(principal_of(&json!({"userIdentity": "oops"})), NO_PRINCIPAL);
        assert_eq!(principal_of(&json!({})), NO_PRINCIPAL);
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
