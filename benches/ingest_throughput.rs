//! Ingest pipeline throughput, on one core, side by side in one run:
//!
//! - (a) raw gzip inflate of the files: the physical floor;
//! - tracker's pipeline: gunzip → parse → principal/filter/redact → the
//!   DynamoDB item of each event (record compressed), no network; and its
//!   stages, each as a pass that stops after it (rows are cumulative);
//! - (b) Python's `gzip` + `json.load` of the same files: the original
//!   project's floor (a subprocess, also one core);
//! - the pipeline again with detection rules: tracker's built-in pack plus
//!   every SigmaHQ CloudTrail rule (`../shared/data/sigma-cloudtrail/rules`,
//!   or TRACKER_SIGMA_RULES), and what they cost as a share of its time.
//!
//! The corpus is generated deterministically under target/bench/ by cloning
//! the sample's records with fresh eventIDs and times into files whose
//! sizes follow the sample's own files (a median of ~4 events each).
//! Run: `cargo bench --bench ingest_throughput` (shared sample beside the repo,
//! or TRACKER_SAMPLE_DIR).

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tracker_runtime::cloudtrail::{Record, read_log_records};
use tracker_runtime::ingest::Pipeline;
use tracker_runtime::ingest::rules::{RuleSet, RulesOptions};
use tracker_runtime::store::dynamodb::item::{billed_size, event_to_item};

mod common;

const TARGET_EVENTS: usize = 200_000;
const ROUNDS: usize = 3;

/// Generates (once) the benchmark corpus; returns its files.
fn corpus() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("target/bench/ingest-corpus-{TARGET_EVENTS}"));
    let done = dir.join(".done");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        let sample: Vec<Vec<Value>> = common::log_files(&common::sample_dir())
            .iter()
            .map(|p| common::records_of(p))
            .collect();
        let mut written = 0usize;
        let mut file = 0usize;
        while written < TARGET_EVENTS {
            let template = &sample[file % sample.len()];
            let records: Vec<Value> = template
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut r = r.clone();
                    r["eventID"] = Value::from(format!("gen-{file:06}-{i:04}"));
                    let second = (written + i) as i64;
                    let time =
                        chrono::DateTime::from_timestamp(1_700_000_000 + second, 0).expect("time");
                    r["eventTime"] = Value::from(time.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                    r
                })
                .collect();
            written += records.len();
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(
                    &serde_json::to_vec(&serde_json::json!({ "Records": records }))
                        .expect("serialize"),
                )
                .expect("gzip");
            std::fs::write(
                dir.join(format!("{file:06}.json.gz")),
                encoder.finish().expect("gzip"),
            )
            .expect("write");
            file += 1;
        }
        std::fs::write(&done, b"").expect("mark done");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .collect();
    files.sort();
    files
}

fn best<T>(run: impl FnMut() -> T) -> (Duration, T) {
    common::best(ROUNDS, run)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let files = corpus();
    // Read the compressed bytes into memory first: the measurement is CPU, not disk.
    let compressed: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let gz_bytes: usize = compressed.iter().map(Vec::len).sum();

    let (inflate_time, raw_bytes) = best(|| {
        compressed
            .iter()
            .map(|c| {
                std::io::copy(
                    &mut flate2::read::MultiGzDecoder::new(c.as_slice()),
                    &mut std::io::sink(),
                )
                .expect("inflate") as usize
            })
            .sum::<usize>()
    });

    // The pipeline's stages, each timed as a whole pass that stops after it,
    // so the difference between two rows is what that stage costs.
    let (split_time, split_events) = best(|| {
        let mut events = 0usize;
        for c in &compressed {
            read_log_records(c.as_slice(), |_| events += 1).expect("a generated file reads");
        }
        events
    });
    let (extract_time, _) = best(|| {
        let mut principals = 0usize;
        for c in &compressed {
            read_log_records(c.as_slice(), |raw| {
                principals += Record::from_raw(raw).map_or(0, |r| r.principal.len());
            })
            .expect("a generated file reads");
        }
        principals
    });
    let pipeline = Pipeline::default();
    let (prepare_time, _) = best(|| {
        let mut stored = 0usize;
        for c in &compressed {
            let (_, result) = pipeline.read(c.as_slice(), |prepared| {
                stored += prepared.event.record.compressed().len();
            });
            result.expect("a generated file reads");
        }
        stored
    });
    let (pipeline_time, (events, item_bytes)) = best(|| {
        let mut events = 0usize;
        let mut item_bytes = 0usize;
        for c in &compressed {
            let (_, result) = pipeline.read(c.as_slice(), |prepared| {
                events += 1;
                item_bytes += billed_size(&event_to_item(&prepared.event));
            });
            result.expect("a generated file reads");
        }
        (events, item_bytes)
    });

    // The same pass with the rules evaluated on every record.
    let sigma = std::env::var_os("TRACKER_SIGMA_RULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            common::sample_dir()
                .parent()
                .expect("the sample's folder has a parent")
                .join("sigma-cloudtrail/rules")
        });
    let (rules, skipped) = RuleSet::load(&RulesOptions {
        builtin: true,
        folders: vec![sigma.clone()],
        skip_invalid: false,
    })
    .unwrap_or_else(|e| panic!("load the rules of {}: {e}", sigma.display()));
    assert!(skipped.is_empty(), "{skipped:?}");
    let with_rules = Pipeline {
        rules,
        ..Pipeline::default()
    };
    let (rules_time, (rule_events, alerts)) = best(|| {
        let mut events = 0usize;
        let mut alerts = 0usize;
        for c in &compressed {
            let (_, result) = with_rules.read_with_alerts(
                c.as_slice(),
                "bench",
                |prepared| {
                    events += 1;
                    std::hint::black_box(billed_size(&event_to_item(&prepared.event)));
                },
                |_| alerts += 1,
            );
            result.expect("a generated file reads");
        }
        (events, alerts)
    });
    assert_eq!(rule_events, events, "rules change no stored event");

    let script = "import gzip, json, sys, time\nfiles = sys.argv[1:]\nblobs = [open(f, 'rb').read() for f in files]\nbest = None\nfor _ in range(3):\n    t = time.perf_counter(); n = 0\n    for b in blobs:\n        n += len(json.loads(gzip.decompress(b))['Records'])\n    d = time.perf_counter() - t\n    best = d if best is None or d < best else best\nprint(best, n)\n";
    let python = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&files)
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&python.stdout);
    let mut fields = text.split_whitespace();
    let python_time: f64 = fields
        .next()
        .and_then(|v| v.parse().ok())
        .expect("python's time");
    let python_events: usize = fields
        .next()
        .and_then(|v| v.parse().ok())
        .expect("python's count");
    assert_eq!(python_events, events, "both read every record");

    let mb = raw_bytes as f64 / 1e6;
    let row = |name: &str, secs: f64| {
        println!(
            "| {name} | {secs:.3} s | {:.0} | {:.0} MB/s |",
            events as f64 / secs,
            mb / secs
        );
    };
    println!(
        "corpus: {} files, {events} events, {:.1} MB gzip'd, {mb:.1} MB raw; best of {ROUNDS}, one core",
        files.len(),
        gz_bytes as f64 / 1e6
    );
    println!("| step | time | events/s | MB/s (raw JSON) |");
    println!("|---|---|---|---|");
    assert_eq!(split_events, events, "every stage sees every record");
    row("(a) gzip inflate only", inflate_time.as_secs_f64());
    row(
        "tracker: inflate into memory + split into records",
        split_time.as_secs_f64(),
    );
    row(
        "… + extract fields, principal, redaction check",
        extract_time.as_secs_f64(),
    );
    row(
        "… + stored event (record compressed) + catalog entries",
        prepare_time.as_secs_f64(),
    );
    row(
        "tracker pipeline (… + DynamoDB item encoding)",
        pipeline_time.as_secs_f64(),
    );
    row("(b) Python gzip + json.loads", python_time);
    println!(
        "pipeline: {:.0}% of inflate's speed, {:.1}x Python; mean DynamoDB item {:.0} B",
        100.0 * inflate_time.as_secs_f64() / pipeline_time.as_secs_f64(),
        python_time / pipeline_time.as_secs_f64(),
        item_bytes as f64 / events as f64
    );
    row(
        &format!(
            "tracker pipeline + {} rules (built-in pack + SigmaHQ)",
            with_rules.rules.len()
        ),
        rules_time.as_secs_f64(),
    );
    println!(
        "rules: {alerts} alerts; they cost {:.1}% of the pipeline's time with them (goal <= 15%)",
        100.0 * (rules_time.as_secs_f64() - pipeline_time.as_secs_f64()) / rules_time.as_secs_f64()
    );
}
