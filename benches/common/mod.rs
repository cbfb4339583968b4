//! What the benchmarks share: where the sample corpus is, its files, and
//! its records.

#![allow(dead_code)] // each benchmark uses a part

pub mod corpus;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The shared sample: `TRACKER_SAMPLE_DIR`, else `../shared/data/cloudtrail-sample`.
pub fn sample_dir() -> PathBuf {
    std::env::var_os("TRACKER_SAMPLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cloudtrail-sample")
        })
}

/// Every file under `dir/AWSLogs`, as (path relative to `dir`, path), sorted.
pub fn sample_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.join("AWSLogs")];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .unwrap_or_else(|e| panic!("read {}: {e} (set TRACKER_SAMPLE_DIR)", current.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push((rel.to_string_lossy().replace('\\', "/"), path.clone()));
            }
        }
    }
    out.sort();
    out
}

/// The sample's log files (not digests).
pub fn log_files(dir: &Path) -> Vec<PathBuf> {
    sample_files(dir)
        .into_iter()
        .filter(|(rel, _)| rel.split('/').any(|s| s == "CloudTrail") && rel.ends_with(".json.gz"))
        .map(|(_, path)| path)
        .collect()
}

/// The decompressed bytes of a gzip'd file.
pub fn read_gz(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("open"))
        .read_to_end(&mut bytes)
        .expect("gunzip");
    bytes
}

/// The `Records` of one log file.
pub fn records_of(path: &Path) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&read_gz(path)).expect("a log file is JSON");
    doc["Records"].as_array().cloned().unwrap_or_default()
}

/// The best time of `rounds` runs of `run`, with the last run's result.
pub fn best<T>(rounds: usize, mut run: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut result = None;
    for _ in 0..rounds {
        let started = Instant::now();
        let value = run();
        best = best.min(started.elapsed());
        result = Some(value);
    }
    (best, result.expect("at least one round"))
}
