//! The one way a template becomes text: canonical JSON, the same whatever
//! order the `Value` holds its keys in (serde_json keeps insertion order
//! when any crate in the build turns on its `preserve_order` feature, and
//! sorted order otherwise, so test builds and the shipped binary could
//! differ).
//!
//! - every object's keys are sorted, except the template's `Resources`,
//!   which are written in dependency order: a resource after every resource
//!   it names (`Ref`, `Fn::GetAtt`, `${…}` in `Fn::Sub`, `DependsOn`), ties
//!   by logical id. CloudFormation does not need the order, but emulators
//!   that create resources in text order (moto's change sets do) then make
//!   an API deployment only after its methods;
//! - the text sent to CloudFormation is compact (`CreateChangeSet` takes at
//!   most 51,200 bytes), `--dry-run` prints the indented form;
//! - hashes (the API deployment's logical id) are taken over the canonical
//!   compact text.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The compact canonical text of a template (what `CreateChangeSet` gets).
pub fn render(template: &Value) -> String {
    let mut out = String::new();
    write(&mut out, template, None, 0, true);
    out
}

/// The indented canonical text of a template (what `--dry-run` prints, and
/// the snapshot holds).
pub fn render_pretty(template: &Value) -> String {
    let mut out = String::new();
    write(&mut out, template, Some(2), 0, true);
    out
}

/// Eight hex digits of the SHA-256 of a value's canonical compact text.
pub fn short_hash(value: &Value) -> String {
    let mut text = String::new();
    write(&mut text, value, None, 0, false);
    let digest = Sha256::digest(text.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `value`; `root` is true for the template itself (whose
/// `Resources` are written in dependency order).
fn write(out: &mut String, value: &Value, indent: Option<usize>, depth: usize, root: bool) {
    match value {
        Value::Object(map) => {
            let keys = sorted_keys(map);
            if keys.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                out.push_str(&Value::String((*key).to_owned()).to_string());
                out.push_str(if indent.is_some() { ": " } else { ":" });
                let child = &map[*key];
                match (root, key.as_ref(), child) {
                    (true, "Resources", Value::Object(resources)) => {
                        write_resources(out, resources, indent, depth + 1)
                    }
                    _ => write(out, child, indent, depth + 1, false),
                }
            }
            newline(out, indent, depth);
            out.push('}');
        }
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(out, item, indent, depth + 1, false);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn write_resources(
    out: &mut String,
    resources: &Map<String, Value>,
    indent: Option<usize>,
    depth: usize,
) {
    let order = dependency_order(resources);
    if order.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, id) in order.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, indent, depth + 1);
        out.push_str(&Value::String(id.clone()).to_string());
        out.push_str(if indent.is_some() { ": " } else { ":" });
        write(out, &resources[id.as_str()], indent, depth + 1, false);
    }
    newline(out, indent, depth);
    out.push('}');
}

fn sorted_keys(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys
}

fn newline(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', width * depth));
    }
}

/// The logical ids of `resources`, each after those it depends on, ties
/// by id (Kahn's algorithm over a sorted ready set). A cycle, which
/// CloudFormation would refuse anyway, ends in id order.
pub fn dependency_order(resources: &Map<String, Value>) -> Vec<String> {
    let mut needs: BTreeMap<&str, BTreeSet<String>> = resources
        .iter()
        .map(|(id, resource)| {
            let mut named = BTreeSet::new();
            references(resource, &mut named);
            if let Some(depends_on) = resource.get("DependsOn") {
                match depends_on {
                    Value::String(one) => {
                        named.insert(one.clone());
                    }
                    Value::Array(many) => {
                        named.extend(many.iter().filter_map(Value::as_str).map(str::to_owned))
                    }
                    _ => {}
                }
            }
            named.retain(|other| other != id && resources.contains_key(other));
            (id.as_str(), named)
        })
        .collect();
    let mut order = Vec::with_capacity(resources.len());
    while !needs.is_empty() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(_, named)| named.is_empty())
            .map(|(id, _)| *id)
            .collect();
        // A cycle: take the smallest remaining id.
        let take: Vec<&str> = if ready.is_empty() {
            needs.keys().take(1).copied().collect()
        } else {
            ready.into_iter().take(1).collect()
        };
        for id in take {
            needs.remove(id);
            for named in needs.values_mut() {
                named.remove(id);
            }
            order.push(id.to_owned());
        }
    }
    order
}

/// The logical ids a resource names through `Ref`, `Fn::GetAtt` and `Fn::Sub`.
fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("Ref") {
                out.insert(id.clone());
            }
            if let Some(Value::Array(parts)) = map.get("Fn::GetAtt")
                && let Some(Value::String(id)) = parts.first()
            {
                out.insert(id.clone());
            }
            let sub_text = match map.get("Fn::Sub") {
                Some(Value::String(text)) => Some(text.as_str()),
                Some(Value::Array(parts)) => parts.first().and_then(Value::as_str),
                _ => None,
            };
            if let Some(text) = sub_text {
                for name in text.split("${").skip(1).filter_map(|r| r.split('}').next()) {
                    out.insert(name.split('.').next().unwrap_or(name).to_owned());
                }
            }
            for child in map.values() {
                references(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The same value with every object's keys inserted in reverse order
    /// (a different order only when `preserve_order` is on).
    fn reversed(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map.iter().rev() {
                    out.insert(k.clone(), reversed(v));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn text_and_hash_ignore_key_order() {
        let value = json!({"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": "d"}});
        assert_eq!(
            render(&value),
            r#"{"a":{"c":"d","z":[1,{"x":3,"y":2}]},"b":1}"#
        );
        assert_eq!(render(&value), render(&reversed(&value)));
        assert_eq!(render_pretty(&value), render_pretty(&reversed(&value)));
        assert_eq!(short_hash(&value), short_hash(&reversed(&value)));
        // The indented form is serde_json's pretty form of the sorted value.
        let sorted: Value = serde_json::from_str(&render(&value)).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&render_pretty(&value)).unwrap(),
            sorted
        );
        assert_eq!(
            render_pretty(&json!({"e": [], "f": {}})),
            "{\n  \"e\": [],\n  \"f\": {}\n}"
        );
    }

    #[test]
    fn resources_follow_their_dependencies() {
        let template = json!({"Resources": {
            "ADeployment": {"DependsOn": ["Method"], "Properties": {"RestApiId": {"Ref": "Zapi"}}},
            "Method": {"Properties": {"Uri": {"Fn::Sub": "x/${Function.Arn}/${AWS::Region}"}}},
            "Function": {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
            "Role": {},
            "Zapi": {},
        }});
        let Value::Object(resources) = &template["Resources"] else {
            unreachable!()
        };
        assert_eq!(
            dependency_order(resources),
            ["Role", "Function", "Method", "Zapi", "ADeployment"]
        );
        let text = render(&template);
        let at = |id: &str| text.find(&format!("\"{id}\":")).unwrap();
        assert!(at("Method") < at("ADeployment") && at("Role") < at("Function"));
        assert_eq!(text, render(&reversed(&template)));
    }
}
