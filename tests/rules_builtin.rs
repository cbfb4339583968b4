//! The built-in CIS pack (`runtime/rules/cis/`): every rule fires on its
//! fixture's positive records and on none of its near misses
//! (`tests/fixtures/rules/cis/<rule file stem>.json`), every rule has a
//! fixture and every fixture a rule, ids are unique UUIDs, and every rule
//! names its author, its level and its references (CIS control and AWS doc).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tracker_runtime::ingest::rules::builtin::BUILTIN;
use tracker_runtime::ingest::rules::{RuleInfo, RuleSet, RulesOptions};

use crate::support::repo_root;

const BUILTIN_SOURCE_PREFIX: &str = "builtin:";
const CIS_BENCHMARK_URL: &str = "https://www.cisecurity.org/benchmark/amazon_web_services";

fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures/rules/cis")
}

fn builtin_pack() -> RuleSet {
    let (rules, warnings) =
        RuleSet::load(&RulesOptions::default()).expect("the built-in pack loads");
    assert!(warnings.is_empty(), "built-in pack warnings: {warnings:?}");
    rules
}

/// The built-in rules by file stem (`cis_4_01_unauthorized_api_calls`).
fn rules_by_stem(rules: &RuleSet) -> BTreeMap<String, Arc<RuleInfo>> {
    rules
        .rules()
        .map(|rule| {
            let file = rule
                .source
                .strip_prefix(BUILTIN_SOURCE_PREFIX)
                .unwrap_or_else(|| panic!("{} is not a built-in source", rule.source));
            let stem = file.strip_suffix(".yml").unwrap_or(file);
            (stem.to_owned(), Arc::clone(rule))
        })
        .collect()
}

/// A fixture's `positive` or `near_miss`: one record or a list of them.
fn records(fixture: &Value, key: &str, stem: &str) -> Vec<Value> {
    match &fixture[key] {
        Value::Array(list) => list.clone(),
        record @ Value::Object(_) => vec![record.clone()],
        other => panic!("{stem}.json: `{key}` must be a record or a list, not {other}"),
    }
}

fn fixture(stem: &str) -> Value {
    let path = fixtures_dir().join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the rule {stem} has no fixture at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_builtin_pack_loads_every_embedded_rule_and_covers_the_cis_controls() {
    let rules = builtin_pack();
    assert_eq!(rules.len(), BUILTIN.len());
    let stems: Vec<String> = rules_by_stem(&rules).into_keys().collect();
    let controls: BTreeSet<&str> = stems
        .iter()
        .filter_map(|stem| stem.strip_prefix("cis_4_"))
        .filter_map(|rest| rest.get(..2))
        .collect();
    let expected: BTreeSet<String> = (1..=15).map(|n| format!("{n:02}")).collect();
    let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(
        controls, expected,
        "one rule per CIS 4.x monitoring control"
    );
}

#[test]
fn every_positive_fires_its_rule_and_no_near_miss_does() {
    let rules = builtin_pack();
    let by_stem = rules_by_stem(&rules);
    assert_eq!(by_stem.len(), BUILTIN.len());
    let mut failures = Vec::new();
    for (stem, rule) in &by_stem {
        let fixture = fixture(stem);
        let fires = |record: &Value| {
            rules
                .evaluate(&record.to_string())
                .iter()
                .any(|m| m.rule.id == rule.id)
        };
        let positives = records(&fixture, "positive", stem);
        let near_misses = records(&fixture, "near_miss", stem);
        assert!(!positives.is_empty() && !near_misses.is_empty(), "{stem}");
        for record in &positives {
            if !fires(record) {
                failures.push(format!(
                    "{stem}: positive {} did not fire",
                    record["eventID"]
                ));
            }
        }
        for record in &near_misses {
            if fires(record) {
                failures.push(format!("{stem}: near miss {} fired", record["eventID"]));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_fixture_is_for_a_builtin_rule() {
    let rules = builtin_pack();
    let by_stem = rules_by_stem(&rules);
    let entries = std::fs::read_dir(fixtures_dir()).expect("fixtures folder");
    let mut fixtures = 0;
    for entry in entries {
        let path = entry.expect("fixture entry").path();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("file stem");
        assert!(
            by_stem.contains_key(stem),
            "{} is not the fixture of any built-in rule",
            path.display()
        );
        fixtures += 1;
    }
    assert_eq!(fixtures, by_stem.len());
}

#[test]
fn builtin_rules_have_unique_uuid_ids_an_author_a_level_and_references() {
    let rules = builtin_pack();
    let mut ids = BTreeSet::new();
    for rule in rules.rules() {
        let name = &rule.source;
        assert!(
            ids.insert(rule.id.clone()),
            "{name}: id {} repeated",
            rule.id
        );
        assert!(is_uuid(&rule.id), "{name}: id {} is not a UUID", rule.id);
        assert_eq!(rule.author, "tracker", "{name}");
        assert!(!rule.title.is_empty(), "{name}: no title");
        assert!(
            ["informational", "low", "medium", "high", "critical"].contains(&rule.level.as_str()),
            "{name}: level {}",
            rule.level
        );
        assert!(
            rule.description
                .contains("CIS AWS Foundations Benchmark v3.0.0, control 4."),
            "{name}: the description does not name its CIS control"
        );
        assert!(
            rule.references.iter().any(|r| r == CIS_BENCHMARK_URL),
            "{name}: no CIS benchmark reference"
        );
        assert!(
            rule.references
                .iter()
                .any(|r| r.starts_with("https://docs.aws.amazon.com/")),
            "{name}: no AWS documentation reference"
        );
    }
}

/// `8-4-4-4-12` hexadecimal digits, as Sigma's `id` is written.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}
