//! Secrets CloudTrail copies into records (STS session tokens, secret keys,
//! key material) are replaced before anything is stored; the rest of the
//! record is kept as it was.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use serde_json::Value;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "REDACTED-BY-TRACKER";

/// Field names whose values are secrets, wherever they appear under
/// `requestParameters`, `responseElements` or `additionalEventData`
/// (compared case-insensitively).
const SECRET_FIELDS: &[&str] = &[
    "sessiontoken",
    "secretaccesskey",
    "password",
    "newpassword",
    "oldpassword",
    "keymaterial",
    "privatekey",
    "clientsecret",
];

const SECTIONS: &[&str] = &[
    "requestParameters",
    "responseElements",
    "additionalEventData",
];

/// True when `text` may hold a secret field; a cheap test (one scan, no
/// allocation) that lets most records skip the tree walk. Over-approximates,
/// never under-: a `\u` escape (which could spell a field name) counts too.
pub fn may_hold_secrets(text: &str) -> bool {
    if text.contains("\\u") {
        return true;
    }
    static SECRET_NAMES: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SECRET_FIELDS)
            .ok()
    });
    match SECRET_NAMES.as_ref() {
        Some(names) => names.is_match(text),
        // Building the matcher cannot fail for these fixed names; if it ever
        // did, fall back to the slow test rather than skip redaction.
        None => {
            let lower = text.to_ascii_lowercase();
            SECRET_FIELDS.iter().any(|f| lower.contains(f))
        }
    }
}

/// The record text with its secrets replaced, or `None` when it holds none;
/// an error when it cannot be read as JSON (then it must not be stored).
pub fn redacted_text(text: &str) -> Result<Option<String>, serde_json::Error> {
    let mut value: Value = serde_json::from_str(text)?;
    Ok(redact(&mut value).then(|| value.to_string()))
}

/// Replaces secret values in `record` in place; returns whether anything changed.
pub fn redact(record: &mut Value) -> bool {
    let Some(object) = record.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for section in SECTIONS {
        if let Some(value) = object.get_mut(*section) {
            changed |= redact_tree(value);
        }
    }
    changed
}

fn redact_tree(value: &mut Value) -> bool {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let secret = SECRET_FIELDS.iter().any(|f| key.eq_ignore_ascii_case(f));
                if secret && !child.is_null() && child.as_str() != Some(REDACTED) {
                    *child = Value::String(REDACTED.to_owned());
                    changed = true;
                } else {
                    changed |= redact_tree(child);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= redact_tree(item);
            }
        }
        _ => {}
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_sts_credentials_and_keeps_the_rest() {
        let mut r = json!({
            "eventName": "AssumeRole",
            "responseElements": {"credentials": {"accessKeyId": "ASIA1", "sessionToken": "tok", "expiration": "x"}},
            "requestParameters": {"roleSessionName": "s", "nested": [{"SecretAccessKey": "k"}]},
            "userAgent": "sessionToken in a user agent is not a secret field"
        });
        assert!(may_hold_secrets(&r.to_string()));
        assert!(may_hold_secrets(r#"{"PassWord":1}"#));
        assert!(
            may_hold_secrets(r#"{"pass\u0077ord":1}"#),
            "an escaped name"
        );
        assert!(!may_hold_secrets(r#"{"eventName":"GetObject"}"#));
        let text = r#"{"responseElements":{"credentials":{"sessionToken":"tok"}}}"#;
        assert_eq!(
            redacted_text(text).unwrap().as_deref(),
            Some(r#"{"responseElements":{"credentials":{"sessionToken":"REDACTED-BY-TRACKER"}}}"#)
        );
        assert_eq!(redacted_text(r#"{"userAgent":"password"}"#).unwrap(), None);
        assert!(redacted_text(r#"{"password":1e999}"#).is_err());
        assert!(redact(&mut r));
        assert_eq!(
            r["responseElements"]["credentials"]["sessionToken"],
            REDACTED
        );
        assert_eq!(r["responseElements"]["credentials"]["accessKeyId"], "ASIA1");
        assert_eq!(
            r["requestParameters"]["nested"][0]["SecretAccessKey"],
            REDACTED
        );
        assert_eq!(
            r["userAgent"],
            "sessionToken in a user agent is not a secret field"
        );
        assert!(!redact(&mut r), "a second pass changes nothing");
    }
}
