//! What the Sigma rules cost per record, on one core, side by side in one
//! run, over every record of the shared sample (its 733 log files, passed
//! `PASSES` times):
//!
//! - tracker's ingest pipeline up to the stored event (gunzip, split, field
//!   extraction, redaction check, record compression), no network: the
//!   cost the rules are compared with (the budget: ≤ 15 %);
//! - `serde_json` parse of each record into a `Value` alone;
//! - `RuleSet::evaluate(&str)` with the built-in pack (when present) and the
//!   57 SigmaHQ CloudTrail rules;
//! - `RuleSet::evaluate_keyed`, as the pipeline calls it (with the record's
//!   top-level `eventName` and `eventSource`, which it has already read);
//! - `RuleSet::evaluate_value` on records already parsed (the rules alone).
//!
//! Run: `cargo bench --bench rules` (shared data beside the repository, or
//! TRACKER_SAMPLE_DIR and TRACKER_SIGMA_DIR).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tracker_runtime::ingest::Pipeline;
use tracker_runtime::ingest::rules::{EventKeys, RuleSet, RulesOptions};

mod common;

const ROUNDS: usize = 3;
const PASSES: usize = 10;

fn best<T>(run: impl FnMut() -> T) -> (Duration, T) {
    common::best(ROUNDS, run)
}

fn sigma_dir() -> PathBuf {
    std::env::var_os("TRACKER_SIGMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            common::sample_dir()
                .parent()
                .expect("the sample folder has a parent")
                .join("sigma-cloudtrail")
        })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let files = common::log_files(&common::sample_dir());
    let compressed: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let texts: Vec<String> = files
        .iter()
        .flat_map(|p| common::records_of(p))
        .map(|record| serde_json::to_string(&record).expect("serialize"))
        .collect();
    let records: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t).expect("parse"))
        .collect();
    let (rules, warnings) = RuleSet::load(&RulesOptions {
        builtin: true,
        folders: vec![sigma_dir().join("rules")],
        skip_invalid: false,
    })
    .expect("the rules load");
    assert!(warnings.is_empty(), "{warnings:?}");

    let pipeline = Pipeline::default();
    let (pipeline_time, events) = best(|| {
        let mut events = 0usize;
        for _ in 0..PASSES {
            for c in &compressed {
                let (_, result) = pipeline.read(c.as_slice(), |prepared| {
                    events += prepared.event.record.compressed().len().min(1);
                });
                result.expect("a sample file reads");
            }
        }
        events
    });
    assert_eq!(events, texts.len() * PASSES);
    let (parse_time, _) = best(|| {
        let mut objects = 0usize;
        for _ in 0..PASSES {
            for text in &texts {
                let value: Value = serde_json::from_str(text).expect("parse");
                objects += usize::from(value.is_object());
            }
        }
        objects
    });
    let (split_time, _) = best(|| {
        let mut members = 0usize;
        for _ in 0..PASSES {
            for text in &texts {
                let top: Vec<(&str, &serde_json::value::RawValue)> =
                    serde_json::from_str::<std::collections::BTreeMap<_, _>>(text)
                        .map(|m| m.into_iter().collect())
                        .unwrap_or_default();
                members += top.len();
            }
        }
        members
    });
    // The fixed cost: the top-level split and the index lookup, with one
    // rule no record can be a candidate for.
    let (unmatched, _) = RuleSet::from_sources(
        &[(
            "never.yml",
            "title: Never\ndetection:\n  s:\n    eventName: NoSuchEvent\n  condition: s\n",
        )],
        false,
    )
    .expect("the rule loads");
    let (fixed_time, _) = best(|| {
        let mut hits = 0usize;
        for _ in 0..PASSES {
            for text in &texts {
                hits += unmatched.evaluate(text).len();
            }
        }
        hits
    });
    let (evaluate_time, hits) = best(|| {
        let mut hits = 0usize;
        for _ in 0..PASSES {
            for text in &texts {
                hits += rules.evaluate(text).len();
            }
        }
        hits
    });
    // As the pipeline calls them: with the top-level keys it already read.
    let keys: Vec<EventKeys> = records
        .iter()
        .map(|record| EventKeys {
            event_name: record.get("eventName").and_then(Value::as_str),
            event_source: record.get("eventSource").and_then(Value::as_str),
        })
        .collect();
    let (keyed_time, keyed_hits) = best(|| {
        let mut hits = 0usize;
        for _ in 0..PASSES {
            for (text, keys) in texts.iter().zip(&keys) {
                hits += rules.evaluate_keyed(text, *keys).len();
            }
        }
        hits
    });
    assert_eq!(hits, keyed_hits);
    let (value_time, value_hits) = best(|| {
        let mut hits = 0usize;
        for _ in 0..PASSES {
            for record in &records {
                hits += rules.evaluate_value(record).len();
            }
        }
        hits
    });
    assert_eq!(hits, value_hits);

    println!(
        "{} records × {PASSES} passes, {} rules ({} builtin), {} matches per pass; best of {ROUNDS}, one core",
        texts.len(),
        rules.len(),
        rules
            .rules()
            .filter(|r| r.source.starts_with("builtin:"))
            .count(),
        hits / PASSES
    );
    println!("| step | time | records/s | µs/record | vs pipeline |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, time: Duration| {
        let secs = time.as_secs_f64();
        println!(
            "| {name} | {secs:.3} s | {:.0} | {:.2} | {:.1} % |",
            events as f64 / secs,
            secs * 1e6 / events as f64,
            100.0 * secs / pipeline_time.as_secs_f64()
        );
    };
    row("tracker pipeline to the stored event", pipeline_time);
    row("serde_json parse to a Value only", parse_time);
    row("split into top-level fields only", split_time);
    row(
        "`evaluate(&str)`, one rule no record is a candidate for",
        fixed_time,
    );
    row("**rules: `RuleSet::evaluate(&str)`**", evaluate_time);
    row(
        "**rules as the pipeline calls them: `evaluate_keyed`**",
        keyed_time,
    );
    row("rules on parsed records (`evaluate_value`)", value_time);
}
