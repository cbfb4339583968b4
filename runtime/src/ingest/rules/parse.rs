//! Sigma rule YAML → a typed rule: its header (title, id, level, author, …),
//! its log source, and its detection (named selections and the condition
//! text). Only the shape is checked here; modifiers are checked by
//! [`super::compile`] and the condition by [`super::condition`].
//!
//! A selection is a map (every field condition must hold) or a list of maps
//! (any of them). Keyword selections (a bare list of strings, or a field name
//! that is only modifiers) search the whole event text: CloudTrail rules do
//! not use them and they are refused, as are `timeframe` and aggregations.

use serde_yaml::Value as Yaml;

/// One rule as written, before compilation.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaRule {
    pub title: Option<String>,
    pub id: Option<String>,
    pub level: Option<String>,
    pub status: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub references: Vec<String>,
    pub logsource: LogSource,
    /// Selections in the order written.
    pub selections: Vec<(String, Selection)>,
    /// The condition; several conditions (a YAML list) mean any of them.
    pub conditions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

/// Any of the alternatives holds; an alternative holds when all its field
/// conditions do.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub alternatives: Vec<Vec<FieldSpec>>,
}

/// `field|modifier|…: value or list of values`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// The dotted field path, e.g. `userIdentity.type`.
    pub field: String,
    pub modifiers: Vec<String>,
    pub values: Vec<SigmaValue>,
}

/// A value in a field condition. Numbers and booleans are kept as the text
/// they compare as (`1`, `true`).
#[derive(Debug, Clone, PartialEq)]
pub enum SigmaValue {
    Text(String),
    Null,
}

/// Why a rule's YAML cannot be a rule; `title` when it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub title: Option<String>,
    pub reason: String,
}

/// Reads one rule. `text` is one YAML document.
pub fn parse_rule(text: &str) -> Result<SigmaRule, ParseError> {
    let doc: Yaml = serde_yaml::from_str(text).map_err(|e| ParseError {
        title: None,
        reason: format!("not valid YAML: {e}"),
    })?;
    let Yaml::Mapping(map) = &doc else {
        return Err(ParseError {
            title: None,
            reason: "a rule must be a YAML mapping (title, detection, …)".into(),
        });
    };
    let title = optional_text(map.get("title"));
    let id = optional_text(map.get("id"));
    let fail = |reason: String| ParseError {
        title: title.clone().or_else(|| id.clone()),
        reason,
    };
    if map.contains_key("correlation") {
        return Err(fail(
            "correlation rules are not supported (correlation/aggregation is not supported): \
             tracker evaluates each event on its own"
                .into(),
        ));
    }
    let references = match map.get("references") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(other) => scalar_text(other).into_iter().collect(),
    };
    let logsource = match map.get("logsource") {
        Some(Yaml::Mapping(source)) => LogSource {
            product: optional_text(source.get("product")),
            service: optional_text(source.get("service")),
            category: optional_text(source.get("category")),
        },
        _ => LogSource::default(),
    };
    let Some(detection) = map.get("detection") else {
        return Err(fail("the rule has no `detection`".into()));
    };
    let Yaml::Mapping(detection) = detection else {
        return Err(fail("`detection` must be a mapping".into()));
    };
    let mut selections = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let mut timeframe = None;
    for (key, value) in detection {
        let Some(name) = key.as_str() else {
            return Err(fail(format!(
                "detection key {} is not a name",
                yaml_inline(key)
            )));
        };
        match name {
            "condition" => {
                conditions = match value {
                    Yaml::String(text) => vec![text.clone()],
                    Yaml::Sequence(items) => items
                        .iter()
                        .map(|item| {
                            item.as_str().map(str::to_owned).ok_or_else(|| {
                                fail("every condition in the list must be a string".into())
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err(fail("`condition` must be a string or a list".into())),
                }
            }
            "timeframe" => timeframe = Some(yaml_inline(value)),
            _ => {
                let selection = parse_selection(value)
                    .map_err(|reason| fail(format!("selection `{name}`: {reason}")))?;
                selections.push((name.to_owned(), selection));
            }
        }
    }
    if let Some(timeframe) = timeframe {
        return Err(fail(format!(
            "`timeframe: {timeframe}` (condition `{}`) correlates several events: \
             correlation/aggregation is not supported (tracker evaluates each event on its own)",
            conditions.join("`, `")
        )));
    }
    if conditions.is_empty() {
        return Err(fail("`detection` has no `condition`".into()));
    }
    Ok(SigmaRule {
        title,
        id,
        level: optional_text(map.get("level")),
        status: optional_text(map.get("status")),
        author: optional_text(map.get("author")),
        description: optional_text(map.get("description")),
        references,
        logsource,
        selections,
        conditions,
    })
}

fn parse_selection(value: &Yaml) -> Result<Selection, String> {
    match value {
        Yaml::Mapping(map) => Ok(Selection {
            alternatives: vec![parse_field_map(map)?],
        }),
        Yaml::Sequence(items) if items.iter().all(|item| item.is_mapping()) => {
            let alternatives = items
                .iter()
                .filter_map(Yaml::as_mapping)
                .map(parse_field_map)
                .collect::<Result<Vec<_>, _>>()?;
            if alternatives.is_empty() {
                return Err("an empty list matches nothing".into());
            }
            Ok(Selection { alternatives })
        }
        Yaml::Sequence(_) | Yaml::String(_) | Yaml::Number(_) => Err(
            "keyword search (values without a field name) is not supported; name the field".into(),
        ),
        other => Err(format!(
            "must be a mapping of fields or a list of mappings, not {}",
            yaml_inline(other)
        )),
    }
}

fn parse_field_map(map: &serde_yaml::Mapping) -> Result<Vec<FieldSpec>, String> {
    let mut specs = Vec::new();
    for (key, value) in map {
        let Some(key) = key.as_str() else {
            return Err(format!("field name {} is not text", yaml_inline(key)));
        };
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default().trim().to_owned();
        if field.is_empty() {
            return Err(format!(
                "`{key}`: keyword search (a modifier without a field name) is not supported"
            ));
        }
        let modifiers = parts.map(|m| m.trim().to_owned()).collect();
        let values = match value {
            Yaml::Sequence(items) => items
                .iter()
                .map(|item| {
                    sigma_value(item).ok_or_else(|| {
                        format!("field `{key}`: {} is not a plain value", yaml_inline(item))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            single => vec![sigma_value(single).ok_or_else(|| {
                format!(
                    "field `{key}`: {} is not a plain value or a list",
                    yaml_inline(single)
                )
            })?],
        };
        specs.push(FieldSpec {
            field,
            modifiers,
            values,
        });
    }
    Ok(specs)
}

fn sigma_value(value: &Yaml) -> Option<SigmaValue> {
    match value {
        Yaml::Null => Some(SigmaValue::Null),
        other => scalar_text(other).map(SigmaValue::Text),
    }
}

/// A YAML scalar as the text it compares as.
fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(number) => Some(number.to_string()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        Yaml::Tagged(tagged) => scalar_text(&tagged.value),
        _ => None,
    }
}

fn optional_text(value: Option<&Yaml>) -> Option<String> {
    value.and_then(scalar_text).filter(|text| !text.is_empty())
}

/// A short rendering of a YAML value for error messages.
fn yaml_inline(value: &Yaml) -> String {
    let text = serde_yaml::to_string(value).unwrap_or_else(|_| format!("{value:?}"));
    let text = text.trim().replace('\n', " ");
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_selections_and_condition() {
        let rule = parse_rule(
            "title: T\nid: abc\nlevel: high\nauthor: A\nreferences: [https://x]\n\
             logsource: {product: aws, service: cloudtrail}\n\
             detection:\n  sel:\n    eventName: [A, B]\n    errorCode: null\n  \
             filter:\n    - a: 1\n    - b: true\n  condition: sel and not filter\n",
        )
        .unwrap();
        assert_eq!(rule.title.as_deref(), Some("T"));
        assert_eq!(rule.references, vec!["https://x".to_owned()]);
        assert_eq!(rule.logsource.service.as_deref(), Some("cloudtrail"));
        assert_eq!(rule.selections.len(), 2);
        let sel = &rule.selections[0].1.alternatives[0];
        assert_eq!(sel[0].field, "eventName");
        assert_eq!(
            sel[0].values,
            vec![SigmaValue::Text("A".into()), SigmaValue::Text("B".into())]
        );
        assert_eq!(sel[1].values, vec![SigmaValue::Null]);
        let filter = &rule.selections[1].1.alternatives;
        assert_eq!(filter.len(), 2);
        assert_eq!(filter[0][0].values, vec![SigmaValue::Text("1".into())]);
        assert_eq!(filter[1][0].values, vec![SigmaValue::Text("true".into())]);
        assert_eq!(rule.conditions, vec!["sel and not filter".to_owned()]);
    }

    #[test]
    fn splits_modifiers() {
        let rule = parse_rule(
            "title: T\ndetection:\n  s:\n    a.b|contains|all: [x, y]\n  condition: s\n",
        )
        .unwrap();
        let spec = &rule.selections[0].1.alternatives[0][0];
        assert_eq!(spec.field, "a.b");
        assert_eq!(
            spec.modifiers,
            vec!["contains".to_owned(), "all".to_owned()]
        );
    }

    #[test]
    fn refuses_keywords_timeframe_and_missing_parts() {
        let keywords = parse_rule("title: K\ndetection:\n  k: [a, b]\n  condition: k\n");
        assert!(keywords.unwrap_err().reason.contains("keyword"));
        let timeframe =
            parse_rule("title: K\ndetection:\n  k: {a: b}\n  timeframe: 5m\n  condition: k\n");
        assert!(
            timeframe
                .unwrap_err()
                .reason
                .contains("correlation/aggregation is not supported")
        );
        let no_condition = parse_rule("title: N\ndetection:\n  k: {a: b}\n").unwrap_err();
        assert_eq!(no_condition.title.as_deref(), Some("N"));
        assert!(no_condition.reason.contains("no `condition`"));
        assert!(
            parse_rule("title: [unclosed\n")
                .unwrap_err()
                .reason
                .contains("not valid YAML")
        );
    }
}
