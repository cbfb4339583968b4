//! A record as the rules read it: its top-level fields, each parsed into a
//! `serde_json::Value` only when a rule first asks for it.
//!
//! Most rules only look at `eventName`, `eventSource` and a field or two;
//! building the whole tree of every record (its `requestParameters` and
//! `responseElements` are most of its size) would cost more than the rules.
//! A record whose top level cannot be read this way (escaped keys, not an
//! object) is parsed whole instead.

use std::cell::OnceCell;

use serde_json::Value;
use serde_json::value::RawValue;

/// Top-level field lookup: all the rules need from a record's root.
pub trait RecordView {
    /// The value of top-level field `key`; `None` when absent.
    fn field(&self, key: &str) -> Option<&Value>;
}

impl RecordView for serde_json::Map<String, Value> {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

/// The record's text split into top-level fields, each parsed on first use.
pub struct LazyRecord<'a> {
    fields: Vec<(&'a str, &'a RawValue)>,
    parsed: Vec<OnceCell<Option<Value>>>,
}

impl<'a> LazyRecord<'a> {
    /// `None` when the text is not a JSON object whose keys need no
    /// unescaping (the caller then parses it whole).
    pub fn read(text: &'a str) -> Option<LazyRecord<'a>> {
        let fields: Vec<(&'a str, &'a RawValue)> =
            serde_json::from_str::<TopLevel<'a>>(text).ok()?.0;
        let parsed = (0..fields.len()).map(|_| OnceCell::new()).collect();
        Some(LazyRecord { fields, parsed })
    }
}

impl RecordView for LazyRecord<'_> {
    fn field(&self, key: &str) -> Option<&Value> {
        // The last of duplicate keys wins, as in a parsed `Value`.
        let index = self.fields.iter().rposition(|(name, _)| *name == key)?;
        self.parsed[index]
            .get_or_init(|| serde_json::from_str(self.fields[index].1.get()).ok())
            .as_ref()
    }
}

/// A JSON object's members in order, values left as raw text.
struct TopLevel<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(member) = map.next_entry::<&'de str, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(TopLevel(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_parsed_on_demand_and_the_last_duplicate_wins() {
        let record =
            LazyRecord::read(r#"{"a": {"b": [1, "x"]}, "n": null, "a2": "y", "a2": "z"}"#).unwrap();
        assert_eq!(record.field("a"), Some(&serde_json::json!({"b": [1, "x"]})));
        assert_eq!(record.field("n"), Some(&Value::Null));
        assert_eq!(record.field("a2"), Some(&Value::from("z")));
        assert_eq!(record.field("missing"), None);
    }

    #[test]
    fn other_shapes_are_not_read() {
        assert!(LazyRecord::read("[1, 2]").is_none());
        assert!(LazyRecord::read("not json").is_none());
        assert!(LazyRecord::read(r#"{"a": 1"#).is_none());
        // An escaped key cannot be borrowed: the caller parses the record whole.
        assert!(LazyRecord::read(r#"{"a\u0062": 1}"#).is_none());
    }
}
