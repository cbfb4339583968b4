//! The dashboard in a real browser: Debian's chromium driven by Playwright
//! for Python (`tests/dashboard.py`; the test command installs both), over
//! the built binary's `tracker serve` on `examples/cloudtrail`. This test
//! computes the expected numbers itself from the example files (plain gzip
//! and JSON, the principal rule written out again in `insights.rs`) and the
//! script checks the page against them and against the API's answers —
//! tiles, top lists, the alerts page (as GET /alerts answers, by level), a principal's page, search with two filters and its
//! pages, a record, no console error; then a server with `--api-key` (a
//! wrong key, the right one) and `tracker ui` in front of it.
//!
//! `UPDATE_SCREENSHOTS=1` also rewrites `docs/screenshots/*.png` (shown in
//! the README) from the same browser.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Value, json};

use crate::insights::attribute_values;
use crate::support::corpus::records_under;
use crate::support::repo_root;
use crate::support::served::{
    free_port, run, serve_examples, spawn_listening, tracker, venv_python,
};

/// The whole example set, whatever its years.
const FROM: &str = "2000-01-01";
const TO: &str = "2029-12-31";
/// The window of the screenshots: the busiest days of the examples.
const SHOTS_FROM: &str = "2024-07-25";
const SHOTS_TO: &str = "2024-08-31";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Counts by key, most frequent first, then by key (as `/stats` orders them).
fn top(records: &[&Value], name: &str, n: usize) -> (Vec<(String, u64)>, usize) {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for record in records {
        for value in attribute_values(record, name) {
            *counts.entry(value).or_default() += 1;
        }
    }
    let distinct = counts.len();
    let mut items: Vec<(String, u64)> = counts.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    items.truncate(n);
    (items, distinct)
}

fn failed(record: &Value) -> bool {
    !attribute_values(record, "errorCode").is_empty()
}

/// What the page must show, computed from the files.
pub fn facts() -> Value {
    let records = records_under(&repo_root().join("examples/cloudtrail"));
    assert!(records.len() > 500, "the example logs are there");
    let all: Vec<&Value> = records.iter().collect();
    let failures: Vec<&Value> = all.iter().copied().filter(|r| failed(r)).collect();
    let (principals, principal_count) = top(&all, "principal", 10);
    let (_, service_count) = top(&all, "service", 10);
    let mut top_lists = serde_json::Map::new();
    for kind in [
        "principal",
        "service",
        "eventName",
        "errorCode",
        "sourceIPAddress",
        "accessKeyId",
    ] {
        let scope = if kind == "errorCode" { &failures } else { &all };
        top_lists.insert(kind.into(), json!(top(scope, kind, 10).0));
    }
    let principal = principals[0].0.clone();
    let search: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|r| {
            attribute_values(r, "eventSource") == ["ec2.amazonaws.com"]
                && attribute_values(r, "readOnly") == ["true"]
        })
        .collect();
    assert!(search.len() > 50, "the search spans pages");
    json!({
        "from": FROM,
        "to": TO,
        "tiles": {
            "events": all.len(),
            "principals": principal_count,
            "services": service_count,
            "failed": failures.len(),
        },
        "top": top_lists,
        "principal": principal,
        "principal_events": principals[0].1,
        "search": {
            "eventSource": "ec2.amazonaws.com",
            "readOnly": "true",
            "count": search.len(),
            "eventIDs": search.iter().map(|r| r["eventID"].clone()).collect::<Vec<_>>(),
        },
        "screenshots": {"from": SHOTS_FROM, "to": SHOTS_TO},
    })
}

#[test]
fn the_dashboard_in_a_browser_shows_what_the_files_hold() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "no {CHROMIUM}: run the tests with `bash scripts/test.sh` (it installs Debian's chromium), \
         or `apt-get install chromium`"
    );
    let python = venv_python();
    let facts_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(facts_file.path(), facts().to_string()).expect("write the facts");

    let key = "dashboard-test-key-0123456789";
    let open = serve_examples(None);
    let keyed = serve_examples(Some(key));
    let ui_port = free_port();
    let mut ui = tracker(keyed.dir.path());
    ui.args(["ui", "--listen", &format!("127.0.0.1:{ui_port}")])
        .args(["--url", &keyed.url, "--api-key", key]);
    let ui = spawn_listening(ui, ui_port);

    let mut script = Command::new(python);
    script
        .arg(repo_root().join("tests/dashboard.py"))
        .args(["--url", &open.url, "--facts"])
        .arg(facts_file.path())
        .args(["--keyed-url", &keyed.url, "--key", key, "--ui-url", &ui.url]);
    let screenshots = repo_root().join("docs/screenshots");
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        std::fs::create_dir_all(&screenshots).expect("docs/screenshots");
        script.arg("--screenshots").arg(&screenshots);
    }
    let (ok, stdout, stderr) = run(&mut script);
    assert!(
        ok,
        "the dashboard checks failed:\n{stdout}\n{stderr}\n--- tracker serve:\n{}\n--- tracker ui:\n{}",
        open.log(),
        ui.log()
    );
    assert!(stdout.contains("every check passed"), "{stdout}");
    for name in ["overview", "principal"] {
        let png = std::fs::read(screenshots.join(format!("{name}.png"))).unwrap_or_else(|e| {
            panic!("docs/screenshots/{name}.png: {e} (UPDATE_SCREENSHOTS=1 makes it)")
        });
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}.png is a PNG");
    }
}
