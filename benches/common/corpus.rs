//! The benchmarks' synthetic corpus: `n` events cloned from the shared
//! sample's records (each with a new eventID and a time spread evenly over
//! `SPAN_DAYS` ending at [`end`]), written as CloudTrail writes them — gzip'd
//! files of 200 records in `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`,
//! named as CloudTrail names them — once, under `target/bench/corpus-<n>/`.
//! At 1,000,000 events: 5,000 files, ~110 MB of gzip, ~820 MB of JSON.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

/// The generated events span this many days, ending at [`end`].
pub const SPAN_DAYS: i64 = 120;
pub const RECORDS_PER_FILE: usize = 200;

pub fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 30, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// The time of the `i`th of `n` events: evenly spread, so any window holds
/// its share.
pub fn time_of(i: usize, n: usize) -> DateTime<Utc> {
    let span = chrono::Duration::days(SPAN_DAYS);
    let start = end() - span;
    let micros = span.num_microseconds().unwrap_or(0) as i128 * i as i128 / n as i128;
    start + chrono::Duration::microseconds(micros as i64)
}

/// A UUID-shaped eventID, as CloudTrail writes them, unique per `i`.
fn event_id(i: usize) -> String {
    let x = (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834) ^ 0x5EED;
    let h = format!("{x:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The folder of the corpus of `n` events, generated on first use.
pub fn corpus(n: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench/corpus-{n}"));
    let done = dir.join(".done");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let records: Vec<Value> = super::log_files(&super::sample_dir())
        .iter()
        .flat_map(|p| super::records_of(p))
        .collect();
    let started = std::time::Instant::now();
    let mut bytes = 0u64;
    for file in 0..n.div_ceil(RECORDS_PER_FILE) {
        let first = file * RECORDS_PER_FILE;
        let batch: Vec<Value> = (first..(first + RECORDS_PER_FILE).min(n))
            .map(|i| {
                let mut record = records[i % records.len()].clone();
                record["eventID"] = Value::from(event_id(i));
                record["eventTime"] =
                    Value::from(time_of(i, n).format("%Y-%m-%dT%H:%M:%SZ").to_string());
                record
            })
            .collect();
        let delivered = time_of((first + RECORDS_PER_FILE).min(n) - 1, n);
        bytes += write_file(&dir, file, delivered, &batch);
    }
    std::fs::write(&done, b"").expect("mark the corpus complete");
    eprintln!(
        "generated {} ({n} events, {:.1} MB of gzip) in {:.1?}",
        dir.display(),
        bytes as f64 / 1e6,
        started.elapsed()
    );
    dir
}

fn write_file(dir: &Path, number: usize, delivered: DateTime<Utc>, records: &[Value]) -> u64 {
    let account = "123456789012";
    let folder = dir.join(format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/{}",
        delivered.format("%Y/%m/%d")
    ));
    std::fs::create_dir_all(&folder).expect("create the corpus folder");
    let name = format!(
        "{account}_CloudTrail_us-east-1_{}_{:016x}.json.gz",
        delivered.format("%Y%m%dT%H%MZ"),
        number as u64 * 0x9E37_79B9 + 7
    );
    let body = serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("serialize");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(&body).expect("gzip");
    let gz = encoder.finish().expect("gzip");
    std::fs::write(folder.join(name), &gz).expect("write a corpus file");
    gz.len() as u64
}

/// The total size of the corpus's gzip files.
pub fn gzip_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    total
}
