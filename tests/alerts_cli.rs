//! `tracker alerts`, the built binary: SigmaHQ's rules over the synthetic
//! events find exactly the (rule, event) pairs of `EVENTS-MATCHES.json`; the
//! built-in pack fires on its fixtures' positives; the table names each
//! rule's author and ends with the count line; bad rules and paths exit
//! non-zero with a message naming them; a broken log file is reported and
//! the others still read (exit 0).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::rules::sigma_dir;
use crate::support::repo_root;

/// Runs `tracker alerts ARGS` from the repository root.
fn alerts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracker"))
        .current_dir(repo_root())
        .arg("alerts")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run tracker alerts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Writes `records` as one plain-JSON CloudTrail log file in `dir`.
fn write_log(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, json!({ "Records": records }).to_string()).expect("write log");
    path
}

#[test]
fn sigmahq_rules_over_the_events_find_exactly_the_reference_matches() {
    let sigma = sigma_dir();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(sigma.join("events/EVENTS-MATCHES.json")).expect("read"),
    )
    .expect("parse EVENTS-MATCHES.json");
    let rules = reference["rules"].as_array().expect("rules");
    let id_of: BTreeMap<&str, &str> = rules
        .iter()
        .map(|r| (r["rule"].as_str().unwrap(), r["id"].as_str().unwrap()))
        .collect();
    let mut expected = BTreeSet::new();
    for rule in rules {
        for side in ["positive", "negative"] {
            let event_id = rule[side]["eventID"].as_str().unwrap();
            for file in rule[side]["matches"].as_array().unwrap() {
                let id = id_of[file.as_str().unwrap()];
                expected.insert((id.to_owned(), event_id.to_owned()));
            }
        }
    }
    assert_eq!(expected.len(), 59);

    let output = alerts(&[
        "--rules",
        path_arg(&sigma.join("rules")),
        "--no-builtin",
        "--logs",
        path_arg(&sigma.join("events")),
        "--ndjson",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let found: BTreeSet<(String, String)> = lines
        .iter()
        .map(|m| {
            (
                m["ruleId"].as_str().unwrap().to_owned(),
                m["eventID"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lines.len(),
        found.len(),
        "a (rule, event) pair printed twice"
    );
    assert_eq!(found, expected);
    for line in &lines {
        for key in ["title", "level", "author", "eventTime", "eventName", "file"] {
            assert!(
                line[key].as_str().is_some_and(|v| !v.is_empty()),
                "{key} missing in {line}"
            );
        }
        assert!(line["references"].is_array(), "{line}");
    }
    assert!(
        text(&output.stderr).contains("59 matches of 57 rules in 114 records from 57 files"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn the_table_names_each_rules_author_and_ends_with_the_counts() {
    let sigma = sigma_dir();
    let output = alerts(&[
        "--rules",
        path_arg(&sigma.join("rules")),
        "--no-builtin",
        "--logs",
        path_arg(&sigma.join("events")),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("LEVEL"), "{stdout}");
    assert!(stdout.contains("AWS Bedrock Guardrail Deleted"), "{stdout}");
    assert!(
        stdout.contains("fc9ab8c1-21a7-5dba-924f-cc28e9435824"),
        "{stdout}"
    );
    assert!(
        stdout.contains("author: Marco Pedrinazzi (@pedrinazziM) (InTheCyber)"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("59 matches of 57 rules in 114 records from 57 files")),
        "{stdout}"
    );
}

#[test]
fn the_builtin_pack_fires_on_its_fixtures_positives() {
    let fixtures = repo_root().join("tests/fixtures/rules/cis");
    let logs = tempfile::tempdir().expect("temp dir");
    let mut expected = BTreeSet::new();
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path();
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("parse");
        let positives = match &fixture["positive"] {
            Value::Array(list) => list.clone(),
            record => vec![record.clone()],
        };
        let stem = path.file_stem().unwrap().to_str().unwrap();
        for record in &positives {
            expected.insert((
                format!("builtin:{stem}.yml"),
                record["eventID"].as_str().unwrap().to_owned(),
            ));
        }
        write_log(logs.path(), &format!("{stem}.json"), &positives);
    }
    let output = alerts(&["--logs", path_arg(logs.path()), "--ndjson"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let found: BTreeSet<(String, String)> = text(&output.stdout)
        .lines()
        .map(|line| {
            let m: Value = serde_json::from_str(line).expect("JSON line");
            assert_eq!(m["author"], "tracker");
            (
                m["ruleSource"].as_str().unwrap().to_owned(),
                m["eventID"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "positives that did not fire: {missing:?}"
    );
}

#[test]
fn nothing_matching_still_exits_zero() {
    let logs = tempfile::tempdir().expect("temp dir");
    write_log(
        logs.path(),
        "quiet.json",
        &[json!({
            "eventID": "00000000-0000-4000-8000-000000000001",
            "eventTime": "2025-01-15T10:00:00Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeInstances",
            "userIdentity": {"type": "IAMUser", "userName": "alice"},
            "readOnly": true,
            "eventType": "AwsApiCall"
        })],
    );
    let output = alerts(&["--logs", path_arg(logs.path())]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        "0 matches of 15 rules in 1 record from 1 file"
    );
}

#[test]
fn a_broken_log_file_is_reported_and_the_others_still_read() {
    let logs = tempfile::tempdir().expect("temp dir");
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo_root().join("tests/fixtures/rules/cis/cis_4_05_cloudtrail_config_changes.json"),
        )
        .expect("read fixture"),
    )
    .expect("parse fixture");
    write_log(logs.path(), "a.json", &[fixture["positive"].clone()]);
    std::fs::write(logs.path().join("b.json.gz"), b"\x1f\x8b\x08 truncated").expect("write");
    let output = alerts(&["--logs", path_arg(logs.path()), "--ndjson"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("b.json.gz"), "{stderr}");
    assert!(stderr.contains("1 file could not be read"), "{stderr}");
    assert!(
        text(&output.stdout).contains(fixture["positive"]["eventID"].as_str().unwrap()),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_missing_logs_path_exits_non_zero_naming_it() {
    let output = alerts(&["--logs", "/no/such/logs"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("/no/such/logs"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_missing_rules_folder_exits_non_zero_naming_it() {
    let logs = sigma_dir().join("events");
    let output = alerts(&["--rules", "/no/such/rules", "--logs", path_arg(&logs)]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("/no/such/rules"),
        "{}",
        text(&output.stderr)
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unusable_rule_exits_non_zero_naming_file_and_rule_unless_skipped() {
    let unsupported = sigma_dir().join("rules-extra/unsupported");
    let logs = sigma_dir().join("events");
    let args = [
        "--rules",
        path_arg(&unsupported),
        "--no-builtin",
        "--logs",
        path_arg(&logs),
    ];
    let refused = alerts(&args);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("rules-extra/unsupported/aws_"), "{stderr}");
    assert!(stderr.contains("cannot be used"), "{stderr}");
    assert!(refused.stdout.is_empty());

    let skipped = alerts(&[&args[..], &["--skip-invalid"]].concat());
    assert!(skipped.status.success(), "{}", text(&skipped.stderr));
    assert!(
        text(&skipped.stderr).contains("warning: skipped"),
        "{}",
        text(&skipped.stderr)
    );
}

#[test]
fn no_rules_at_all_is_refused() {
    let logs = sigma_dir().join("events");
    let output = alerts(&["--no-builtin", "--logs", path_arg(&logs)]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("no rules"));
}
