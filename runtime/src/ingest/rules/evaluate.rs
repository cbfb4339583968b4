//! A compiled rule against one parsed record.
//!
//! A field path is walked through objects; arrays fan out (any element).
//! The field's values are every scalar leaf under what is reached (an
//! object such as `requestParameters` contributes all its nested scalars):
//! strings as is, `true`/`false`, numbers as their JSON text; `null`
//! contributes nothing. A field with no leaf (absent, `null`, `{}`, `[]`) is
//! missing: every test on it is false except `field: null`.

use serde_json::Value;

use super::compile::{
    CompiledRule, CompiledSelection, FieldCondition, FieldPath, FieldTest, ValueTest,
};
use super::record::RecordView;

impl CompiledRule {
    pub fn matches(&self, record: &impl RecordView) -> bool {
        self.condition
            .holds(&mut |index| self.selections[index].holds(record))
    }
}

impl CompiledSelection {
    fn holds(&self, record: &impl RecordView) -> bool {
        self.alternatives
            .iter()
            .any(|fields| fields.iter().all(|field| field.holds(record)))
    }
}

impl FieldCondition {
    pub fn holds(&self, record: &impl RecordView) -> bool {
        let path = &self.path.0;
        match &self.test {
            FieldTest::Values { values, all: false } => {
                let mut missing_matches = false;
                let mut patterns = Vec::new();
                for value in values {
                    match value {
                        ValueTest::Missing => missing_matches = true,
                        ValueTest::Leaf(pattern) => patterns.push(pattern),
                    }
                }
                let mut present = false;
                let matched = any_leaf(record, path, &mut |leaf| {
                    present = true;
                    patterns.iter().any(|pattern| pattern.matches(leaf))
                });
                matched || (missing_matches && !present)
            }
            FieldTest::Values { values, all: true } => values.iter().all(|value| match value {
                ValueTest::Missing => !has_leaf(record, path),
                ValueTest::Leaf(pattern) => {
                    any_leaf(record, path, &mut |leaf| pattern.matches(leaf))
                }
            }),
            FieldTest::Exists(expected) => has_leaf(record, path) == *expected,
            FieldTest::FieldRef { others, all } => {
                let refers = |other: &FieldPath| {
                    let mut theirs = Vec::new();
                    any_leaf(record, &other.0, &mut |leaf| {
                        theirs.push(leaf.to_owned());
                        false
                    });
                    !theirs.is_empty()
                        && any_leaf(record, path, &mut |leaf| theirs.iter().any(|t| t == leaf))
                };
                if *all {
                    others.iter().all(refers)
                } else {
                    others.iter().any(refers)
                }
            }
        }
    }
}

fn has_leaf(record: &impl RecordView, path: &[String]) -> bool {
    any_leaf(record, path, &mut |_| true)
}

/// Whether `test` holds for some scalar leaf of the record's field `path`.
fn any_leaf(record: &impl RecordView, path: &[String], test: &mut dyn FnMut(&str) -> bool) -> bool {
    record.any_leaf(path, test)
}

/// Whether `test` holds for some scalar leaf under `path` (stops at the
/// first that does).
pub(super) fn any_leaf_under(
    value: &Value,
    path: &[String],
    test: &mut dyn FnMut(&str) -> bool,
) -> bool {
    match path.split_first() {
        None => any_scalar(value, test),
        Some((key, rest)) => match value {
            Value::Object(map) => map
                .get(key)
                .is_some_and(|inner| any_leaf_under(inner, rest, test)),
            Value::Array(items) => items.iter().any(|item| any_leaf_under(item, path, test)),
            _ => false,
        },
    }
}

pub(super) fn any_scalar(value: &Value, test: &mut dyn FnMut(&str) -> bool) -> bool {
    match value {
        Value::String(text) => test(text),
        Value::Bool(flag) => test(if *flag { "true" } else { "false" }),
        Value::Number(number) => test(&number.to_string()),
        Value::Null => false,
        Value::Array(items) => items.iter().any(|item| any_scalar(item, test)),
        Value::Object(map) => map.values().any(|item| any_scalar(item, test)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile::compile_rule;
    use super::super::parse::parse_rule;
    use super::*;
    use serde_json::json;

    fn rule(detection: &str) -> Tester {
        Tester(
            compile_rule(&parse_rule(&format!("title: T\ndetection:\n{detection}")).unwrap())
                .unwrap(),
        )
    }

    /// Evaluates on both views of a record: parsed whole, and lazily.
    struct Tester(CompiledRule);

    impl Tester {
        fn matches(&self, record: &Value) -> bool {
            let whole = self.0.matches(record.as_object().unwrap());
            let text = record.to_string();
            let lazy = self
                .0
                .matches(&super::super::record::LazyRecord::read(&text).unwrap());
            assert_eq!(whole, lazy, "{record}");
            whole
        }
    }

    fn sel(field_lines: &str) -> Tester {
        rule(&format!("  s:\n{field_lines}  condition: s\n"))
    }

    #[test]
    fn dotted_paths_arrays_and_nested_leaves() {
        let record = json!({
            "userIdentity": {"type": "Root", "sessionContext": {"attributes": {"mfa": false}}},
            "resources": [{"ARN": "arn:a"}, {"ARN": "arn:b"}],
            "requestParameters": {"deep": {"list": ["x", {"y": "Suspended"}]}, "n": 42}
        });
        assert!(sel("    userIdentity.type: root\n").matches(&record));
        assert!(sel("    userIdentity.sessionContext.attributes.mfa: 'false'\n").matches(&record));
        assert!(sel("    resources.ARN: arn:b\n").matches(&record));
        assert!(sel("    requestParameters|contains: suspended\n").matches(&record));
        assert!(sel("    requestParameters.n: 42\n").matches(&record));
        assert!(!sel("    requestParameters.n: 4\n").matches(&record));
        assert!(!sel("    userIdentity.type.x: root\n").matches(&record));
    }

    #[test]
    fn null_means_missing_and_missing_fails_everything_else() {
        let record = json!({"a": null, "b": {}, "c": [], "d": "", "e": "v"});
        for missing in ["a", "b", "c", "z"] {
            assert!(
                sel(&format!("    {missing}: null\n")).matches(&record),
                "{missing}"
            );
            assert!(
                !sel(&format!("    {missing}|contains: '*'\n")).matches(&record),
                "{missing}"
            );
            assert!(
                !sel(&format!("    {missing}|exists: true\n")).matches(&record),
                "{missing}"
            );
            assert!(
                sel(&format!("    {missing}|exists: false\n")).matches(&record),
                "{missing}"
            );
            assert!(
                !sel(&format!("    {missing}: ''\n")).matches(&record),
                "{missing}"
            );
            // `not` of a test on a missing field holds.
            assert!(
                rule(&format!("  s:\n    {missing}: x\n  condition: not s\n")).matches(&record)
            );
        }
        // An empty string is present.
        assert!(!sel("    d: null\n").matches(&record));
        assert!(sel("    d: ''\n").matches(&record));
        assert!(sel("    d|exists: true\n").matches(&record));
        assert!(sel("    e: [null, v]\n").matches(&record));
        assert!(sel("    z: [null, v]\n").matches(&record));
        assert!(!sel("    e: [null, w]\n").matches(&record));
    }

    #[test]
    fn lists_are_or_and_all_needs_every_value() {
        let record = json!({"p": {"policy": "\"Allow\" \"s3:GetObject\""}});
        assert!(sel("    p|contains: [deny, allow]\n").matches(&record));
        assert!(sel("    p|contains|all: ['\"allow\"', 's3:getobject']\n").matches(&record));
        assert!(!sel("    p|contains|all: ['\"allow\"', 'putobject']\n").matches(&record));
        // `all` may be met by different leaves.
        let two = json!({"tags": ["alpha", "beta"]});
        assert!(sel("    tags|all: [alpha, beta]\n").matches(&two));
    }

    #[test]
    fn fieldref_is_case_sensitive_equality_of_leaves() {
        let same =
            json!({"userIdentity": {"userName": "bob"}, "requestParameters": {"userName": "bob"}});
        let other =
            json!({"userIdentity": {"userName": "bob"}, "requestParameters": {"userName": "Bob"}});
        let missing = json!({"userIdentity": {}, "requestParameters": {}});
        let r = sel("    userIdentity.userName|fieldref: requestParameters.userName\n");
        assert!(r.matches(&same));
        assert!(!r.matches(&other));
        assert!(!r.matches(&missing));
    }

    #[test]
    fn cidr_re_and_booleans() {
        let record =
            json!({"sourceIPAddress": "198.51.100.9", "arn": "x:assumed-role/aws:y", "ok": true});
        assert!(sel("    sourceIPAddress|cidr: 198.51.100.0/24\n").matches(&record));
        assert!(!sel("    sourceIPAddress|cidr: '2001:db8::/32'\n").matches(&record));
        assert!(sel("    arn|re: ':assumed-role/aws:'\n").matches(&record));
        assert!(!sel("    arn|re: ':assumed-role/AWS:'\n").matches(&record));
        assert!(sel("    arn|re|i: ':assumed-role/AWS:'\n").matches(&record));
        assert!(sel("    ok: true\n").matches(&record));
        assert!(sel("    ok: 'TRUE'\n").matches(&record));
    }
}
