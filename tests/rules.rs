//! The Sigma engine against SigmaHQ's CloudTrail rules and the reference
//! answers in `../shared/data/sigma-cloudtrail` (no emulator needed):
//! the sample's matches and the synthetic positives/near misses reproduced
//! exactly; aggregations, placeholders and broken rules refused with
//! messages naming the file, the rule and the problem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tracker_runtime::ingest::Pipeline;
use tracker_runtime::ingest::rules::{EventKeys, RuleMatch, RuleSet, RulesError, RulesOptions};

use crate::support::corpus;

/// `TRACKER_SIGMA_DIR`, else `sigma-cloudtrail` beside the sample corpus.
pub(crate) fn sigma_dir() -> PathBuf {
    let dir = std::env::var_os("TRACKER_SIGMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            corpus::sample_dir()
                .parent()
                .expect("the sample folder has a parent")
                .join("sigma-cloudtrail")
        });
    assert!(
        dir.join("SAMPLE-MATCHES.json").is_file(),
        "the Sigma conformance data is not at {} (set TRACKER_SIGMA_DIR)",
        dir.display()
    );
    dir
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn options(folders: Vec<PathBuf>, skip_invalid: bool) -> RulesOptions {
    RulesOptions {
        builtin: false,
        folders,
        skip_invalid,
    }
}

/// The 57 SigmaHQ rules, loaded without a warning.
fn sigmahq_rules() -> RuleSet {
    let (rules, warnings) = RuleSet::load(&options(vec![sigma_dir().join("rules")], false))
        .expect("every SigmaHQ CloudTrail rule loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rules.len(), 57);
    rules
}

/// The rule's file name (what the reference files key matches by).
fn file_name(source: &str) -> String {
    Path::new(source)
        .file_name()
        .expect("a rule source is a file")
        .to_string_lossy()
        .into_owned()
}

/// The rules matching `record` (whose JSON text is `text`), asserting that
/// every way of asking agrees: the text (top-level fields parsed on
/// demand), the parsed value, and the text with the top-level keys already
/// known (as the ingest pipeline asks).
fn evaluate_every_way(rules: &RuleSet, record: &Value, text: &str) -> Vec<RuleMatch> {
    let id = &record["eventID"];
    let hits = rules.evaluate(text);
    assert_eq!(hits, rules.evaluate_value(record), "{id}");
    let key = |name: &str| match record.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text)) if !text.is_empty() => Some(Some(text.as_str())),
        Some(_) => None,
    };
    if let (Some(event_name), Some(event_source)) = (key("eventName"), key("eventSource")) {
        let keys = EventKeys {
            event_name,
            event_source,
        };
        assert_eq!(hits, rules.evaluate_keyed(text, keys), "{id}");
    }
    hits
}

/// Rule file name → the eventIDs it matches, evaluating each record's text.
fn matches_by_rule(rules: &RuleSet, records: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for record in records {
        let text = serde_json::to_string(record).unwrap();
        let event_id = record["eventID"].as_str().expect("records have an eventID");
        let hits = evaluate_every_way(rules, record, &text);
        for hit in hits {
            found
                .entry(file_name(&hit.rule.source))
                .or_default()
                .insert(event_id.to_owned());
        }
    }
    found
}

#[test]
fn sigmahq_rules_reproduce_the_sample_matches() {
    let rules = sigmahq_rules();
    let expected = read_json(&sigma_dir().join("SAMPLE-MATCHES.json"));
    let records = corpus::sample_records();
    assert_eq!(records.len() as u64, expected["records"].as_u64().unwrap());
    let found = matches_by_rule(&rules, &records);

    let by_file: BTreeMap<String, _> = rules
        .rules()
        .map(|info| (file_name(&info.source), info.clone()))
        .collect();
    let mut expected_matches = BTreeMap::new();
    for entry in expected["matches"].as_array().unwrap() {
        let file = entry["rule"].as_str().unwrap().to_owned();
        let info = &by_file[&file];
        assert_eq!(info.id, entry["id"].as_str().unwrap(), "{file}");
        assert_eq!(info.title, entry["title"].as_str().unwrap(), "{file}");
        assert_eq!(info.level, entry["level"].as_str().unwrap(), "{file}");
        assert_eq!(info.author, entry["author"].as_str().unwrap(), "{file}");
        let ids: BTreeSet<String> = entry["eventIDs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len() as u64, entry["count"].as_u64().unwrap(), "{file}");
        expected_matches.insert(file, ids);
    }
    for (file, ids) in &expected_matches {
        assert_eq!(found.get(file), Some(ids), "matches of {file}");
    }
    for nothing in expected["rules_matching_nothing"].as_array().unwrap() {
        let file = nothing.as_str().unwrap();
        assert!(by_file.contains_key(file), "{file} is loaded");
        assert_eq!(found.get(file), None, "{file} matches nothing");
    }
    assert_eq!(found, expected_matches);
    let hits: usize = found.values().map(BTreeSet::len).sum();
    assert_eq!(hits, 435);
}

#[test]
fn sigmahq_rules_reproduce_the_positive_and_near_miss_events() {
    let rules = sigmahq_rules();
    let dir = sigma_dir().join("events");
    let expected = read_json(&dir.join("EVENTS-MATCHES.json"));
    let records = corpus::records_under(&dir);
    assert_eq!(records.len() as u64, expected["records"].as_u64().unwrap());
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in &records {
        let event_id = record["eventID"].as_str().unwrap().to_owned();
        let text = serde_json::to_string(record).unwrap();
        let mut hits: Vec<String> = evaluate_every_way(&rules, record, &text)
            .iter()
            .map(|hit| file_name(&hit.rule.source))
            .collect();
        hits.sort();
        found.insert(event_id, hits);
    }
    let mut checked = 0;
    for rule in expected["rules"].as_array().unwrap() {
        for side in ["positive", "negative"] {
            let case = &rule[side];
            let event_id = case["eventID"].as_str().unwrap();
            let mut wanted: Vec<String> = case["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect();
            wanted.sort();
            assert_eq!(
                found.get(event_id),
                Some(&wanted),
                "{side} of {} ({event_id}{})",
                rule["rule"],
                case.get("near_miss")
                    .map(|why| format!(", near miss: {why}"))
                    .unwrap_or_default()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 114);
}

#[test]
fn aggregation_and_placeholder_rules_are_refused_by_name() {
    let extra = sigma_dir().join("rules-extra");
    let mut seen = 0;
    for (rel, path) in corpus::files_under(&extra) {
        if !rel.ends_with(".yml") {
            continue;
        }
        seen += 1;
        let error = RuleSet::load(&options(vec![path.clone()], false))
            .expect_err(&format!("{rel} is refused"));
        let RulesError::Invalid {
            path: named,
            rule: Some(title),
            ..
        } = &error
        else {
            panic!("{rel}: {error:?}");
        };
        assert_eq!(named, &path);
        let message = error.to_string();
        assert!(message.contains(&title.to_string()), "{message}");
        assert!(
            message.contains(path.file_name().unwrap().to_str().unwrap()),
            "{message}"
        );
        let reason = if rel.starts_with("placeholder/") {
            "modifier `expand`"
        } else {
            "correlation/aggregation is not supported"
        };
        assert!(message.contains(reason), "{message}");
    }
    assert_eq!(seen, 9);

    // Skipping: the valid rules load, every refused one is a warning.
    let (rules, warnings) = RuleSet::load(&options(
        vec![sigma_dir().join("rules"), extra.clone()],
        true,
    ))
    .unwrap();
    assert_eq!(rules.len(), 57);
    assert_eq!(warnings.len(), 9, "{warnings:?}");
    // Without skipping, the whole set is refused.
    assert!(RuleSet::load(&options(vec![sigma_dir().join("rules"), extra], false)).is_err());
}

#[test]
fn bad_rules_are_refused_with_the_file_the_rule_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "broken.yml",
            "title: Broken\ndetection: [unclosed\n",
            None,
            "not valid YAML",
        ),
        (
            "modifier.yml",
            "title: Bad Modifier\ndetection:\n  sel:\n    eventName|contians: x\n  condition: sel\n",
            Some("Bad Modifier"),
            "unknown modifier `contians`",
        ),
        (
            "count.yml",
            "title: Counting\ndetection:\n  sel:\n    eventName: x\n  condition: sel | count() > 5\n",
            Some("Counting"),
            "| count() > 5`: correlation/aggregation is not supported",
        ),
        (
            "unknown.yml",
            "title: Unknown Selection\ndetection:\n  sel:\n    eventName: x\n  condition: sel and filter\n",
            Some("Unknown Selection"),
            "unknown selection `filter`",
        ),
        (
            "windows.yml",
            "title: Windows Rule\nlogsource:\n  product: windows\n  category: process_creation\n\
             detection:\n  sel:\n    Image: x\n  condition: sel\n",
            Some("Windows Rule"),
            "is not AWS CloudTrail",
        ),
    ];
    for (file, text, title, problem) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let error = RuleSet::load(&options(vec![path.clone()], false)).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(problem), "{message}");
        if let Some(title) = title {
            assert!(message.contains(title), "{message}");
        }
    }
    // The folder as a whole: skipped as warnings, in file order.
    let (rules, warnings) = RuleSet::load(&options(vec![dir.path().to_owned()], true)).unwrap();
    assert!(rules.is_empty());
    let named: Vec<String> = warnings
        .iter()
        .map(|w| match w {
            RulesError::Invalid { path, .. } | RulesError::Unreadable { path, .. } => {
                path.file_name().unwrap().to_string_lossy().into_owned()
            }
        })
        .collect();
    assert_eq!(
        named,
        [
            "broken.yml",
            "count.yml",
            "modifier.yml",
            "unknown.yml",
            "windows.yml"
        ]
    );
    // A folder that does not exist is an error even when skipping.
    let missing = RuleSet::load(&options(vec![dir.path().join("nope")], true)).unwrap_err();
    assert!(
        matches!(missing, RulesError::Unreadable { .. }),
        "{missing}"
    );
}

#[test]
fn rules_get_defaults_and_duplicate_ids_are_refused() {
    let minimal = "detection:\n  sel:\n    eventName: X\n  condition: sel\n";
    let (rules, _) = RuleSet::from_sources(&[("dir/minimal.yml", minimal)], false).unwrap();
    let info = rules.rules().next().unwrap();
    assert_eq!(info.id, "minimal");
    assert_eq!(info.title, "minimal");
    assert_eq!(info.author, "unknown");
    assert_eq!(info.level, "medium");
    assert_eq!(info.source, "dir/minimal.yml");
    assert_eq!(rules.evaluate(r#"{"eventName":"x"}"#).len(), 1);
    assert!(rules.evaluate(r#"{"eventName":"y"}"#).is_empty());
    assert!(rules.evaluate("[1]").is_empty());
    assert!(rules.evaluate("not json").is_empty());

    let with_id = "title: Same\nid: 1\ndetection:\n  sel:\n    eventName: X\n  condition: sel\n";
    let error = RuleSet::from_sources(&[("a.yml", with_id), ("b.yml", with_id)], false)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("b.yml") && error.contains("a.yml"),
        "{error}"
    );
    let (rules, warnings) =
        RuleSet::from_sources(&[("a.yml", with_id), ("b.yml", with_id)], true).unwrap();
    assert_eq!((rules.len(), warnings.len()), (1, 1));
}

/// The pipeline hands the rules the keys it has read only when they are
/// exactly the top-level fields: records whose `eventName` is a number, an
/// empty string, or only in `insightDetails` match as their text says.
#[test]
fn the_pipeline_alerts_on_records_with_unusual_event_keys() {
    let (rules, _) = RuleSet::from_sources(
        &[
            (
                "number.yml",
                "title: Number\ndetection:\n  s:\n    eventName: 123\n  condition: s\n",
            ),
            (
                "empty.yml",
                "title: Empty\ndetection:\n  s:\n    eventSource: ''\n  condition: s\n",
            ),
            (
                "top.yml",
                "title: Top\ndetection:\n  s:\n    eventName: StopLogging\n  condition: s\n",
            ),
            (
                "insight.yml",
                "title: Insight\ndetection:\n  s:\n    insightDetails.eventName: StopLogging\n  condition: s\n",
            ),
        ],
        false,
    )
    .unwrap();
    let log = serde_json::json!({"Records": [
        {"eventID": "number", "eventName": 123},
        {"eventID": "empty", "eventName": "x", "eventSource": ""},
        {"eventID": "insight", "insightDetails": {"eventName": "StopLogging"}},
        {"eventID": "top", "eventName": "StopLogging", "eventSource": null},
    ]})
    .to_string();
    let pipeline = Pipeline {
        rules,
        ..Pipeline::default()
    };
    let mut raised = Vec::new();
    let (_, result) = pipeline.read_with_alerts(
        log.as_bytes(),
        "f.json",
        |_| {},
        |alert| raised.push((alert.row.title, alert.row.event_id)),
    );
    result.unwrap();
    raised.sort();
    let pair = |rule: &str, event: &str| (rule.to_owned(), event.to_owned());
    assert_eq!(
        raised,
        vec![
            pair("Empty", "empty"),
            pair("Insight", "insight"),
            pair("Number", "number"),
            pair("Top", "top"),
        ]
    );
}
