//! A parsed rule → a compiled rule: each `field|modifiers: values` becomes a
//! [`FieldCondition`] (a field path and its test), the condition text a
//! [`Condition`] over selection indexes. Every modifier is checked here;
//! an unknown or unsupported one is refused with its name.
//!
//! Modifiers: `contains`, `startswith`, `endswith`, `all`, `re` (with `i`,
//! `m`, `s`), `cidr`, `exists`, `fieldref`, `cased`, `lt`, `lte`, `gt`,
//! `gte`. Refused: `expand` (site placeholders), and the encodings meant for
//! Windows command lines (`windash`, `base64`, `base64offset`, `utf16le`,
//! `utf16be`, `utf16`, `wide`).

use super::condition::{Condition, parse_condition};
use super::parse::{FieldSpec, SigmaRule, SigmaValue};
use super::pattern::{Anchor, Comparison, Pattern, TextPattern};

/// A rule ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub selections: Vec<CompiledSelection>,
    pub condition: Condition,
}

/// Any alternative holds; an alternative holds when all its conditions do.
#[derive(Debug, Clone)]
pub struct CompiledSelection {
    pub alternatives: Vec<Vec<FieldCondition>>,
}

/// A dotted field path, split once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(pub Vec<String>);

impl FieldPath {
    pub fn new(dotted: &str) -> FieldPath {
        FieldPath(dotted.split('.').map(str::to_owned).collect())
    }
}

#[derive(Debug, Clone)]
pub struct FieldCondition {
    pub path: FieldPath,
    pub test: FieldTest,
}

#[derive(Debug, Clone)]
pub enum FieldTest {
    /// Values: with `all`, every value must hold; else any. A value holds
    /// when some leaf matches it (or, for `null`, when the field is missing).
    Values { values: Vec<ValueTest>, all: bool },
    /// `|exists: true/false`: whether the field has any leaf.
    Exists(bool),
    /// `|fieldref`: some leaf equals (case-sensitive) some leaf of one of
    /// these fields (of every one, with `all`).
    FieldRef { others: Vec<FieldPath>, all: bool },
}

#[derive(Debug, Clone)]
pub enum ValueTest {
    Missing,
    Leaf(Pattern),
}

/// Compiles one parsed rule; the error is the reason it cannot be used.
pub fn compile_rule(rule: &SigmaRule) -> Result<CompiledRule, String> {
    let names: Vec<String> = rule.selections.iter().map(|(n, _)| n.clone()).collect();
    let mut selections = Vec::with_capacity(rule.selections.len());
    for (name, selection) in &rule.selections {
        let alternatives = selection
            .alternatives
            .iter()
            .map(|fields| {
                fields
                    .iter()
                    .map(compile_field)
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| format!("selection `{name}`: {reason}"))?;
        selections.push(CompiledSelection { alternatives });
    }
    let mut conditions = rule
        .conditions
        .iter()
        .map(|text| parse_condition(text, &names))
        .collect::<Result<Vec<_>, _>>()?;
    let condition = if conditions.len() == 1 {
        conditions.remove(0)
    } else {
        Condition::Or(conditions)
    };
    Ok(CompiledRule {
        selections,
        condition,
    })
}

/// The modifier that says what kind of test a field condition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text(Anchor),
    Regex,
    Cidr,
    Exists,
    FieldRef,
    Compare(Comparison),
}

fn compile_field(spec: &FieldSpec) -> Result<FieldCondition, String> {
    let key = std::iter::once(spec.field.as_str())
        .chain(spec.modifiers.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("|");
    let fail = |reason: String| format!("field `{key}`: {reason}");
    let mut kind: Option<Kind> = None;
    let mut all = false;
    let mut cased = false;
    let mut regex_flags = String::new();
    for modifier in &spec.modifiers {
        let next = match modifier.as_str() {
            "contains" => Some(Kind::Text(Anchor::Anywhere)),
            "startswith" => Some(Kind::Text(Anchor::Start)),
            "endswith" => Some(Kind::Text(Anchor::End)),
            "re" => Some(Kind::Regex),
            "cidr" => Some(Kind::Cidr),
            "exists" => Some(Kind::Exists),
            "fieldref" => Some(Kind::FieldRef),
            "lt" => Some(Kind::Compare(Comparison::Less)),
            "lte" => Some(Kind::Compare(Comparison::LessOrEqual)),
            "gt" => Some(Kind::Compare(Comparison::Greater)),
            "gte" => Some(Kind::Compare(Comparison::GreaterOrEqual)),
            "all" => {
                all = true;
                None
            }
            "cased" => {
                cased = true;
                None
            }
            flag @ ("i" | "m" | "s") if kind == Some(Kind::Regex) => {
                regex_flags.push_str(flag);
                None
            }
            "expand" => {
                return Err(fail(
                    "modifier `expand` needs placeholder values (`%name%`) from a SIEM's \
                     configuration; tracker has none: write the values in the rule"
                        .into(),
                ));
            }
            m @ ("windash" | "base64" | "base64offset" | "utf16le" | "utf16be" | "utf16"
            | "wide") => {
                return Err(fail(format!(
                    "modifier `{m}` is for Windows command lines and is not supported"
                )));
            }
            other => return Err(fail(format!("unknown modifier `{other}`"))),
        };
        if let Some(next) = next {
            // One kind of test per field condition.
            if let Some(previous) = kind {
                return Err(fail(format!(
                    "modifiers `{}` and `{modifier}` cannot be combined",
                    kind_name(previous)
                )));
            }
            kind = Some(next);
        }
    }
    let kind = kind.unwrap_or(Kind::Text(Anchor::Whole));
    if cased && !matches!(kind, Kind::Text(_)) {
        return Err(fail("`cased` only applies to text values".into()));
    }
    let texts = || -> Result<Vec<&str>, String> {
        spec.values
            .iter()
            .map(|value| match value {
                SigmaValue::Text(text) => Ok(text.as_str()),
                SigmaValue::Null => Err(fail(format!(
                    "`null` cannot be used with `{}`",
                    kind_name(kind)
                ))),
            })
            .collect()
    };
    let test = match kind {
        Kind::Exists => {
            let [value] = texts()?[..] else {
                return Err(fail("`exists` takes one value, true or false".into()));
            };
            match value {
                "true" => FieldTest::Exists(true),
                "false" => FieldTest::Exists(false),
                other => {
                    return Err(fail(format!("`exists` takes true or false, not `{other}`")));
                }
            }
        }
        Kind::FieldRef => FieldTest::FieldRef {
            others: texts()?.into_iter().map(FieldPath::new).collect(),
            all,
        },
        _ => {
            let mut values = Vec::with_capacity(spec.values.len());
            for value in &spec.values {
                let text = match value {
                    SigmaValue::Null => {
                        values.push(ValueTest::Missing);
                        continue;
                    }
                    SigmaValue::Text(text) => text,
                };
                let pattern = match kind {
                    Kind::Text(anchor) => Pattern::Text(TextPattern::new(text, anchor, cased)),
                    Kind::Regex => {
                        let mut builder = regex::RegexBuilder::new(text);
                        builder
                            .case_insensitive(regex_flags.contains('i'))
                            .multi_line(regex_flags.contains('m'))
                            .dot_matches_new_line(regex_flags.contains('s'));
                        Pattern::Regex(builder.build().map_err(|e| {
                            fail(format!("`{text}` is not a valid regular expression: {e}"))
                        })?)
                    }
                    Kind::Cidr => Pattern::Cidr(text.trim().parse().map_err(|_| {
                        fail(format!("`{text}` is not a CIDR range (IPv4 or IPv6)"))
                    })?),
                    Kind::Compare(comparison) => Pattern::Compare(
                        comparison,
                        text.trim()
                            .parse()
                            .map_err(|_| fail(format!("`{text}` is not a number")))?,
                    ),
                    Kind::Exists | Kind::FieldRef => unreachable!("handled above"),
                };
                values.push(ValueTest::Leaf(pattern));
            }
            if values.is_empty() {
                return Err(fail("an empty list of values matches nothing".into()));
            }
            FieldTest::Values { values, all }
        }
    };
    Ok(FieldCondition {
        path: FieldPath::new(&spec.field),
        test,
    })
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Text(Anchor::Whole) => "a plain value",
        Kind::Text(Anchor::Anywhere) => "contains",
        Kind::Text(Anchor::Start) => "startswith",
        Kind::Text(Anchor::End) => "endswith",
        Kind::Regex => "re",
        Kind::Cidr => "cidr",
        Kind::Exists => "exists",
        Kind::FieldRef => "fieldref",
        Kind::Compare(Comparison::Less) => "lt",
        Kind::Compare(Comparison::LessOrEqual) => "lte",
        Kind::Compare(Comparison::Greater) => "gt",
        Kind::Compare(Comparison::GreaterOrEqual) => "gte",
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_rule;
    use super::*;

    fn compile(detection: &str) -> Result<CompiledRule, String> {
        let rule = parse_rule(&format!("title: T\ndetection:\n{detection}")).unwrap();
        compile_rule(&rule)
    }

    #[test]
    fn refuses_unknown_and_unsupported_modifiers_by_name() {
        let err = compile("  s:\n    a|contians: x\n  condition: s\n").unwrap_err();
        assert!(err.contains("unknown modifier `contians`"), "{err}");
        assert!(err.contains("selection `s`"), "{err}");
        let err = compile("  s:\n    a|expand: '%x%'\n  condition: s\n").unwrap_err();
        assert!(err.contains("`expand`"), "{err}");
        let err = compile("  s:\n    a|windash: '-x'\n  condition: s\n").unwrap_err();
        assert!(err.contains("`windash`"), "{err}");
        let err = compile("  s:\n    a|contains|re: x\n  condition: s\n").unwrap_err();
        assert!(err.contains("cannot be combined"), "{err}");
        let err = compile("  s:\n    a|re: '('\n  condition: s\n").unwrap_err();
        assert!(err.contains("not a valid regular expression"), "{err}");
        let err = compile("  s:\n    a|cidr: 10.0.0.0/33\n  condition: s\n").unwrap_err();
        assert!(err.contains("not a CIDR range"), "{err}");
        let err = compile("  s:\n    a|exists: maybe\n  condition: s\n").unwrap_err();
        assert!(err.contains("true or false"), "{err}");
        let err = compile("  s:\n    a: x\n  condition: s | count() > 5\n").unwrap_err();
        assert!(
            err.contains("correlation/aggregation is not supported"),
            "{err}"
        );
    }

    #[test]
    fn compiles_modifiers_and_conditions() {
        let rule = compile(
            "  s:\n    a|re|i: x\n    b|cidr: [10.0.0.0/8, '::1/128']\n    c|exists: true\n    \
             d|fieldref: e.f\n    g: [null, x]\n  condition: s\n",
        )
        .unwrap();
        let fields = &rule.selections[0].alternatives[0];
        assert_eq!(fields.len(), 5);
        assert!(matches!(fields[2].test, FieldTest::Exists(true)));
        match &fields[3].test {
            FieldTest::FieldRef { others, all } => {
                assert_eq!(others, &vec![FieldPath::new("e.f")]);
                assert!(!all);
            }
            other => panic!("{other:?}"),
        }
        match &fields[4].test {
            FieldTest::Values { values, .. } => assert!(matches!(values[0], ValueTest::Missing)),
            other => panic!("{other:?}"),
        }
        assert_eq!(rule.condition, Condition::Selection(0));
    }
}
