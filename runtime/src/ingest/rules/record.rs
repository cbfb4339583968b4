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

use super::evaluate::{any_leaf_under, any_scalar};
use super::prefilter::Key;

/// Top-level field lookup: all the rules need from a record's root.
pub trait RecordView {
    /// The value of top-level field `key`; `None` when absent.
    fn field(&self, key: &str) -> Option<&Value>;

    /// Top-level field `key` as the rule index sees it.
    fn key(&self, key: &str) -> Key<'_> {
        Key::of(self.field(key))
    }

    /// Whether `test` holds for some scalar leaf under the dotted `path`
    /// (see [`super::evaluate`] for what the leaves are).
    fn any_leaf(&self, path: &[String], test: &mut dyn FnMut(&str) -> bool) -> bool {
        match path.split_first() {
            Some((key, rest)) => self
                .field(key)
                .is_some_and(|value| any_leaf_under(value, rest, test)),
            None => false,
        }
    }
}

impl RecordView for serde_json::Map<String, Value> {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

/// The record's text split into top-level fields, each parsed on first use.
pub struct LazyRecord<'a> {
    /// (key, the value's JSON text).
    fields: Vec<(&'a str, &'a str)>,
    parsed: Vec<OnceCell<Option<Value>>>,
}

impl<'a> LazyRecord<'a> {
    /// `None` when the text is not a JSON object whose keys need no
    /// unescaping (the caller then parses it whole). The split checks the
    /// object's structure, not every value: a value is parsed (and checked)
    /// when a rule reads it, and one that does not parse counts as absent.
    /// Records come from the log reader, which has parsed them already.
    pub fn read(text: &'a str) -> Option<LazyRecord<'a>> {
        let fields = split_object(text)?;
        let parsed = (0..fields.len()).map(|_| OnceCell::new()).collect();
        Some(LazyRecord { fields, parsed })
    }

    fn index_of(&self, key: &str) -> Option<usize> {
        // The last of duplicate keys wins, as in a parsed `Value`.
        self.fields.iter().rposition(|(name, _)| *name == key)
    }
}

impl RecordView for LazyRecord<'_> {
    fn field(&self, key: &str) -> Option<&Value> {
        let index = self.index_of(key)?;
        self.parsed[index]
            .get_or_init(|| serde_json::from_str(self.fields[index].1).ok())
            .as_ref()
    }

    /// A top-level field is parsed once (cached); deeper paths are followed
    /// through the text, so `userIdentity.arn` never builds `userIdentity`.
    fn any_leaf(&self, path: &[String], test: &mut dyn FnMut(&str) -> bool) -> bool {
        match path.split_first() {
            None => false,
            Some((key, [])) => match self.index_of(key) {
                // A plain string is tested in place; anything else is parsed once.
                Some(index) if self.fields[index].1.starts_with('"') => {
                    any_leaf_in_text(self.fields[index].1, &[], test)
                }
                Some(_) => self.field(key).is_some_and(|value| any_scalar(value, test)),
                None => false,
            },
            Some((key, rest)) => self
                .index_of(key)
                .is_some_and(|index| any_leaf_in_text(self.fields[index].1, rest, test)),
        }
    }

    /// A string without escapes is read in place, not parsed.
    fn key(&self, key: &str) -> Key<'_> {
        let Some(index) = self.index_of(key) else {
            return Key::Missing;
        };
        let raw = self.fields[index].1;
        if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"'))
            && !inner.contains(['\\', '"'])
        {
            return Key::Text(inner);
        }
        Key::of(self.field(key))
    }
}

/// [`any_leaf_under`] on a value's JSON text: objects and arrays are split,
/// not parsed, until the path ends; what it reaches is parsed then.
fn any_leaf_in_text(text: &str, path: &[String], test: &mut dyn FnMut(&str) -> bool) -> bool {
    match path.split_first() {
        None => {
            if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
                && !inner.contains(['\\', '"'])
            {
                return test(inner);
            }
            serde_json::from_str::<Value>(text).is_ok_and(|value| any_scalar(&value, test))
        }
        Some((key, rest)) => match text.as_bytes().first() {
            Some(b'{') => split_object(text).is_some_and(|members| {
                members
                    .iter()
                    .rposition(|(name, _)| name == key)
                    .is_some_and(|index| any_leaf_in_text(members[index].1, rest, test))
            }),
            Some(b'[') => split_array(text)
                .is_some_and(|items| items.iter().any(|item| any_leaf_in_text(item, path, test))),
            _ => false,
        },
    }
}

/// The elements of the JSON array `text`, as their text.
fn split_array(text: &str) -> Option<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    let mut items = Vec::new();
    if bytes.get(at) == Some(&b']') {
        at += 1;
    } else {
        loop {
            let end = value_end(bytes, at)?;
            items.push(&text[at..end]);
            at = skip_space(bytes, end);
            match bytes.get(at) {
                Some(b',') => at = skip_space(bytes, at + 1),
                Some(b']') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_space(bytes, at) == bytes.len()).then_some(items)
}

/// The members of the JSON object `text`, values as their text.
fn split_object(text: &str) -> Option<Vec<(&str, &str)>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    let mut members = Vec::with_capacity(24);
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            let key_end = string_end(bytes, at)?;
            let key = &text[at + 1..key_end - 1];
            if key.contains('\\') {
                return None;
            }
            at = skip_space(bytes, key_end);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            at = skip_space(bytes, at + 1);
            let value_end = value_end(bytes, at)?;
            members.push((key, &text[at..value_end]));
            at = skip_space(bytes, value_end);
            match bytes.get(at) {
                Some(b',') => at = skip_space(bytes, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_space(bytes, at) == bytes.len()).then_some(members)
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// `bytes[at]` is a `"`: the index after the closing one.
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut from = at + 1;
    loop {
        let found = from + memchr::memchr2(b'"', b'\\', bytes.get(from..)?)?;
        if bytes[found] == b'"' {
            return Some(found + 1);
        }
        from = found + 2;
    }
}

/// The index after the JSON value starting at `at` (nesting and strings
/// followed; scalars taken up to the next delimiter).
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let len = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - at);
            (len > 0).then_some(at + len)
        }
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
        let empty = LazyRecord::read(" { } ").unwrap();
        assert_eq!(empty.field("a"), None);
    }

    #[test]
    fn strings_with_escapes_and_nesting_are_split_right() {
        let text = r#"{"s": "a\"}b{[", "o": {"k": ["]", {"x": "}"}]}, "n": -1.5e3, "t": true, "e": "x\u0041"}"#;
        let record = LazyRecord::read(text).unwrap();
        assert_eq!(record.field("s"), Some(&Value::from("a\"}b{[")));
        assert_eq!(
            record.field("o"),
            Some(&serde_json::json!({"k": ["]", {"x": "}"}]}))
        );
        assert_eq!(record.field("n"), Some(&serde_json::json!(-1.5e3)));
        assert_eq!(record.field("t"), Some(&Value::Bool(true)));
        assert!(matches!(record.key("e"), Key::Text("xA")));
        assert!(matches!(record.key("s"), Key::Text("a\"}b{[")));
        assert!(matches!(record.key("t"), Key::Other));
        assert!(matches!(record.key("zz"), Key::Missing));
        let whole: Value = serde_json::from_str(text).unwrap();
        for (key, value) in whole.as_object().unwrap() {
            assert_eq!(record.field(key), Some(value), "{key}");
        }
    }

    #[test]
    fn other_shapes_are_not_read() {
        assert!(LazyRecord::read("[1, 2]").is_none());
        assert!(LazyRecord::read("not json").is_none());
        assert!(LazyRecord::read(r#"{"a": 1"#).is_none());
        assert!(LazyRecord::read(r#"{"a": {"b": [1}"#).is_none());
        assert!(LazyRecord::read(r#"{"a" 1}"#).is_none());
        assert!(LazyRecord::read(r#"{"a": 1,}"#).is_none());
        assert!(LazyRecord::read(r#"{"a": 1} x"#).is_none());
        assert!(LazyRecord::read(r#"{"a": "x\"#).is_none());
        // An escaped key cannot be borrowed: the caller parses the record whole.
        assert!(LazyRecord::read(r#"{"a\u0062": 1}"#).is_none());
    }
}
