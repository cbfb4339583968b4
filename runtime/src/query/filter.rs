//! Which events match a query's filters: lookup terms on the event's
//! attributes (`eventName`, `errorCode`, `sourceIPAddress`, ... see
//! [`Attribute`]) and `param`/`value` pairs on the record itself. Parameters
//! address any key of the record: a dotted name is a path
//! (`requestParameters.instanceType`, `userIdentity.type`); a bare name is a
//! top-level field if the record has one, else `requestParameters.<name>`,
//! else `responseElements.<name>`.

use serde_json::Value;

pub use crate::attribute::{Term, Wanted};
use crate::event::{CorruptRecord, EventItem};

/// The filters of a query; all of them must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Lookup terms, ANDed, in a canonical order (by attribute).
    pub terms: Vec<Term>,
    /// Every `(name, value)` pair, on the record.
    pub params: Vec<(String, String)>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.params.is_empty()
    }

    /// Whether `event` passes every filter. Only parameter filters need the
    /// record itself, so only they pay for decompressing it.
    pub fn matches(&self, event: &EventItem) -> Result<bool, CorruptRecord> {
        if !self.terms.iter().all(|t| t.matches(event)) {
            return Ok(false);
        }
        self.params_match(event)
    }

    /// Whether the record passes the `param`/`value` pairs.
    pub fn params_match(&self, event: &EventItem) -> Result<bool, CorruptRecord> {
        if self.params.is_empty() {
            return Ok(true);
        }
        let text = event.record_json()?;
        let record: Value = serde_json::from_str(&text).map_err(|e| CorruptRecord {
            event_id: event.event_id.clone(),
            reason: e.to_string(),
        })?;
        Ok(self
            .params
            .iter()
            .all(|(name, wanted)| lookup(&record, name).is_some_and(|v| value_matches(v, wanted))))
    }
}

/// Finds a parameter in a record (see the module documentation).
pub fn lookup<'r>(record: &'r Value, name: &str) -> Option<&'r Value> {
    if name.contains('.') {
        return name
            .split('.')
            .try_fold(record, |current, step| match current {
                Value::Object(map) => map.get(step),
                Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            });
    }
    [
        record.get(name),
        record.get("requestParameters").and_then(|p| p.get(name)),
        record.get("responseElements").and_then(|p| p.get(name)),
    ]
    .into_iter()
    .flatten()
    .find(|v| !v.is_null())
}

/// A value matches when its text equals `wanted`: strings as they are,
/// numbers and booleans as JSON writes them (`true`, `42`), objects as compact
/// JSON; an array matches when any element does.
// `Value == str` would only ever match JSON strings; the JSON text is what is compared.
#[allow(clippy::cmp_owned)]
pub fn value_matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => s == wanted,
        Value::Bool(_) | Value::Number(_) | Value::Object(_) => value.to_string() == wanted,
        Value::Array(items) => {
            items.iter().any(|item| value_matches(item, wanted)) || value.to_string() == wanted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_names_fall_back_to_request_then_response() {
        let r = json!({"eventName": "X", "readOnly": false, "requestParameters": {"instanceType": "t2.micro", "eventName": "shadowed"},
                       "responseElements": {"ConsoleLogin": "Success"}, "errorCode": null});
        assert_eq!(lookup(&r, "instanceType"), Some(&json!("t2.micro")));
        assert_eq!(lookup(&r, "eventName"), Some(&json!("X")));
        assert_eq!(lookup(&r, "ConsoleLogin"), Some(&json!("Success")));
        assert_eq!(
            lookup(&r, "requestParameters.eventName"),
            Some(&json!("shadowed"))
        );
        assert_eq!(lookup(&r, "errorCode"), None);
        assert!(value_matches(lookup(&r, "readOnly").unwrap(), "false"));
    }

    #[test]
    fn paths_and_arrays() {
        let r = json!({"userIdentity": {"type": "Root"}, "requestParameters": {"ids": ["a", "b"], "items": [{"id": 1}]}});
        assert!(value_matches(
            lookup(&r, "userIdentity.type").unwrap(),
            "Root"
        ));
        assert!(value_matches(
            lookup(&r, "requestParameters.ids").unwrap(),
            "b"
        ));
        assert!(value_matches(
            lookup(&r, "requestParameters.items.0.id").unwrap(),
            "1"
        ));
        assert!(lookup(&r, "userIdentity.type.deeper").is_none());
    }
}
