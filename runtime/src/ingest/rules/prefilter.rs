//! Which rules a record can match, known from its `eventName` and
//! `eventSource` alone, so that most records skip most rules.
//!
//! A rule whose condition cannot hold unless `eventName` is one of a few
//! plain values (a selection it needs names them, without wildcards) is
//! indexed by those values, lowercased; else by `eventSource` the same way;
//! else it is tried on every record. The index only ever leaves out rules
//! that could not match: evaluation decides the rest.

use std::collections::BTreeSet;

use foldhash::HashMap;

use serde_json::Value;

use super::compile::{CompiledRule, FieldTest, ValueTest};
use super::condition::Condition;
use super::pattern::Pattern;

const NAME: &str = "eventName";
const SOURCE: &str = "eventSource";

#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    by_name: HashMap<String, Vec<usize>>,
    by_source: HashMap<String, Vec<usize>>,
    always: Vec<usize>,
}

/// A top-level field as the index sees it.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// Absent or `null`: a rule that needs a value there cannot match.
    Missing,
    Text(&'a str),
    /// Anything else (an object, a number…): no rule is left out for it.
    Other,
}

impl<'a> Key<'a> {
    pub fn of(value: Option<&'a Value>) -> Key<'a> {
        match value {
            None | Some(Value::Null) => Key::Missing,
            Some(Value::String(text)) => Key::Text(text),
            Some(_) => Key::Other,
        }
    }
}

impl Prefilter {
    pub fn new<'a>(rules: impl IntoIterator<Item = &'a CompiledRule>) -> Prefilter {
        let mut prefilter = Prefilter::default();
        for (index, rule) in rules.into_iter().enumerate() {
            if let Some(names) = required_values(rule, NAME) {
                for name in names {
                    prefilter.by_name.entry(name).or_default().push(index);
                }
            } else if let Some(sources) = required_values(rule, SOURCE) {
                for source in sources {
                    prefilter.by_source.entry(source).or_default().push(index);
                }
            } else {
                prefilter.always.push(index);
            }
        }
        prefilter
    }

    /// The indexes of the rules worth evaluating, in load order; `None`
    /// means every rule.
    pub fn candidates(&self, name: Key, source: Key) -> Option<Vec<usize>> {
        let mut out = self.indexed(name, source)?;
        out.extend_from_slice(&self.always);
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// The rules the index leaves for these keys, without those it tries on
    /// every record ([`Prefilter::always`]); unsorted. `None` means every
    /// rule.
    pub fn indexed(&self, name: Key, source: Key) -> Option<Vec<usize>> {
        let mut out = Vec::new();
        for (key, index) in [(name, &self.by_name), (source, &self.by_source)] {
            match key {
                Key::Other => return None,
                Key::Missing => {}
                Key::Text(text) => {
                    // Lowercased on the stack: event names and sources are
                    // short ASCII.
                    let mut buffer = [0u8; 64];
                    let found = if text.len() <= buffer.len() && text.is_ascii() {
                        let lower = &mut buffer[..text.len()];
                        lower.copy_from_slice(text.as_bytes());
                        lower.make_ascii_lowercase();
                        std::str::from_utf8(lower).ok().and_then(|l| index.get(l))
                    } else {
                        index.get(&text.to_lowercase())
                    };
                    out.extend(found.into_iter().flatten());
                }
            }
        }
        Some(out)
    }

    /// The rules tried on every record, whatever its keys; sorted.
    pub fn always(&self) -> &[usize] {
        &self.always
    }
}

/// The lowercased values top-level `field` must equal for `rule` to match,
/// when the condition implies such a list.
fn required_values(rule: &CompiledRule, field: &str) -> Option<BTreeSet<String>> {
    required_by(&rule.condition, rule, field)
}

fn required_by(
    condition: &Condition,
    rule: &CompiledRule,
    field: &str,
) -> Option<BTreeSet<String>> {
    match condition {
        Condition::Selection(index) => {
            let mut union = BTreeSet::new();
            for fields in &rule.selections[*index].alternatives {
                let values = fields
                    .iter()
                    .filter(|f| f.path.0.len() == 1 && f.path.0[0] == field)
                    .find_map(|f| exact_values(&f.test))?;
                union.extend(values);
            }
            Some(union)
        }
        Condition::Not(_) => None,
        Condition::And(all) => all
            .iter()
            .filter_map(|c| required_by(c, rule, field))
            .reduce(|a, b| a.intersection(&b).cloned().collect()),
        Condition::Or(any) => {
            let mut union = BTreeSet::new();
            for c in any {
                union.extend(required_by(c, rule, field)?);
            }
            Some(union)
        }
    }
}

/// The lowercased values of a test that only plain whole values satisfy.
fn exact_values(test: &FieldTest) -> Option<BTreeSet<String>> {
    let FieldTest::Values { values, .. } = test else {
        return None;
    };
    values
        .iter()
        .map(|value| match value {
            ValueTest::Leaf(Pattern::Text(text)) => text.exact_folded(),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::compile::compile_rule;
    use super::super::parse::parse_rule;
    use super::*;

    fn rule(detection: &str) -> CompiledRule {
        compile_rule(&parse_rule(&format!("title: T\ndetection:\n{detection}")).unwrap()).unwrap()
    }

    #[test]
    fn indexes_by_event_name_then_source_else_always() {
        let rules = vec![
            rule("  s:\n    eventName: [CreateUser, DeleteUser]\n    x: y\n  condition: s\n"),
            rule(
                "  s:\n    eventSource: iam.amazonaws.com\n    eventName|startswith: Put\n  condition: s\n",
            ),
            rule("  s:\n    userIdentity.type: Root\n  condition: s\n"),
            rule(
                "  a:\n    eventName: A\n  b:\n    eventName: B\n  f:\n    eventName: C\n  condition: 1 of a* or b and not f\n",
            ),
            rule("  a:\n    eventName: A*\n  condition: a\n"),
            rule("  a:\n    - eventName: A\n    - eventSource: s\n  condition: a\n"),
        ];
        let prefilter = Prefilter::new(&rules);
        let all = |name, source| prefilter.candidates(name, source).unwrap();
        assert_eq!(all(Key::Text("createuser"), Key::Missing), vec![0, 2, 4, 5]);
        assert_eq!(all(Key::Text("DeleteUSER"), Key::Missing), vec![0, 2, 4, 5]);
        assert_eq!(
            all(Key::Text("b"), Key::Text("IAM.amazonaws.com")),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(all(Key::Text("C"), Key::Missing), vec![2, 4, 5]);
        assert_eq!(all(Key::Missing, Key::Missing), vec![2, 4, 5]);
        assert!(prefilter.candidates(Key::Other, Key::Missing).is_none());
    }
}
