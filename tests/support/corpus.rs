//! The shared sample corpus (`../shared/data/cloudtrail-sample`, or
//! `TRACKER_SAMPLE_DIR`) and its reference answers, `FACTS.json`; and the
//! corpus ingested once per test run into moto through the S3 handler.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tracker_runtime::ingest::handle_s3_event;
use tracker_runtime::store::{EventStore, WriteStats};

/// Where the sample corpus is; panics with instructions when it is missing.
pub fn sample_dir() -> PathBuf {
    let dir = std::env::var_os("TRACKER_SAMPLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo_root().join("../shared/data/cloudtrail-sample"));
    assert!(
        dir.join("FACTS.json").is_file(),
        "the sample corpus is not at {} (no FACTS.json). Clone the repository with `shared/` beside it, \
         or set TRACKER_SAMPLE_DIR to the folder holding AWSLogs/ and FACTS.json.",
        dir.display()
    );
    dir
}

pub fn facts() -> Value {
    let path = sample_dir().join("FACTS.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The fact with this id (`F02`…).
pub fn fact(facts: &Value, id: &str) -> Value {
    facts["facts"]
        .as_array()
        .and_then(|all| all.iter().find(|f| f["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("FACTS.json has no {id}"))
}

/// Every file under `dir`, as (path relative to `dir` with `/`, absolute path), sorted.
pub fn files_under(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.push((rel, path));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The sample's log and digest files (`AWSLogs/…`).
pub fn sample_files() -> Vec<(String, PathBuf)> {
    files_under(&sample_dir())
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("AWSLogs/"))
        .collect()
}

/// Every record of the sample's log files, read independently of tracker's
/// reader (plain flate2 + serde_json), for tests that compute their own
/// expectations.
pub fn sample_records() -> Vec<Value> {
    records_under(&sample_dir())
}

/// Every record of the CloudTrail log files under `dir` (digests skipped),
/// read with plain flate2 + serde_json.
pub fn records_under(dir: &Path) -> Vec<Value> {
    files_and_records_under(dir)
        .into_iter()
        .map(|(_, record)| record)
        .collect()
}

/// The sample's records, each with the path of its log file.
pub fn sample_records_with_files() -> Vec<(String, Value)> {
    files_and_records_under(&sample_dir())
}

fn files_and_records_under(dir: &Path) -> Vec<(String, Value)> {
    use std::io::Read;
    let mut records = Vec::new();
    for (rel, path) in files_under(dir) {
        if !rel.starts_with("AWSLogs/") || !rel.split('/').any(|s| s == "CloudTrail") {
            continue;
        }
        let mut text = String::new();
        let file = std::fs::File::open(&path).expect("open a log file");
        flate2::read::MultiGzDecoder::new(file)
            .read_to_string(&mut text)
            .expect("gunzip a log file");
        let doc: Value = serde_json::from_str(&text).expect("a log file is JSON");
        for record in doc["Records"].as_array().cloned().unwrap_or_default() {
            records.push((rel.clone(), record));
        }
    }
    records
}

/// The sample ingested once per test run into an embedded store (local
/// mode's), through the folder ingest `tracker serve --logs` uses.
pub fn embedded_corpus() -> &'static tracker_runtime::store::EmbeddedStore {
    static STORE: OnceLock<(tempfile::TempDir, tracker_runtime::store::EmbeddedStore)> =
        OnceLock::new();
    &STORE
        .get_or_init(|| {
            std::thread::spawn(|| {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let store =
                    tracker_runtime::store::EmbeddedStore::open(&dir.path().join("tracker.db"))
                        .expect("open the database");
                let ingestor = tracker_runtime::ingest::Ingestor::new(
                    Arc::new(store.clone()),
                    Default::default(),
                );
                let summary = tokio::runtime::Runtime::new()
                    .expect("a runtime")
                    .block_on(tracker_runtime::ingest::ingest_folder(
                        &ingestor,
                        &sample_dir(),
                        &tracker_runtime::ingest::FolderOptions::new(4, Some(&store)),
                    ))
                    .expect("the sample folder is readable");
                assert!(summary.failures.is_empty(), "{summary}");
                eprintln!("ingested the sample into the embedded store: {summary}");
                (dir, store)
            })
            .join()
            .expect("ingesting the sample into the embedded store failed")
        })
        .1
}

/// The corpus as ingested through the S3 handler (objects in moto's S3, the
/// table in the DynamoDB emulator): which table, and what it took.
pub struct MotoCorpus {
    pub table: String,
    pub files: usize,
    pub elapsed: Duration,
    pub writes: WriteStats,
    /// Writes of a second delivery of every object to the same (now warm)
    /// handler: the cost of events whose users and services are known.
    pub warm_writes: WriteStats,
    /// Write units of building every rollup once (the query side's writes).
    pub rollup_write_units: u64,
    pub stored: u64,
}

/// Uploads the sample to a moto bucket and ingests every object through the
/// S3 handler, once per test run (on its own runtime, so every test can use
/// the table from its own).
pub fn moto_corpus() -> &'static MotoCorpus {
    static CORPUS: OnceLock<MotoCorpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new()
                .expect("a runtime")
                .block_on(ingest_sample_into_moto())
        })
        .join()
        .expect("ingesting the sample into moto failed")
    })
}

async fn ingest_sample_into_moto() -> MotoCorpus {
    let sdk = super::sdk_config().await;
    let s3 = super::s3_client(&sdk);
    let bucket = super::new_bucket(&s3).await;
    let store = super::new_dynamo_store(&sdk).await;
    let files = sample_files();
    for (key, path) in &files {
        let body = std::fs::read(path).expect("read a sample file");
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("upload a sample file to moto");
    }
    let deps = super::ingest_deps(&sdk, Arc::clone(&store) as Arc<dyn EventStore>);
    // Every object delivered once to one handler, as S3 notifications reach
    // a Lambda container; returns what was written and how many events.
    let deliver_all = async |round: &str| {
        let mut writes = WriteStats::default();
        let mut stored = 0;
        for (key, _) in &files {
            let summary = handle_s3_event(&deps, super::s3_put_event(&bucket, key), None)
                .await
                .unwrap_or_else(|e| panic!("ingest s3://{bucket}/{key} ({round}): {e}"));
            for file in &summary.files {
                writes += file.writes;
            }
            stored += summary.stored;
        }
        (writes, stored)
    };
    let started = Instant::now();
    let (writes, stored) = deliver_all("first delivery").await;
    let elapsed = started.elapsed();
    let (warm_writes, _) = deliver_all("second delivery, warm handler").await;
    eprintln!(
        "ingested {} objects ({stored} events) into moto in {:.2?}: {} BatchWriteItem requests, {} items, {} write units billed ({:.0} reported by moto)",
        files.len(),
        elapsed,
        writes.requests,
        writes.items,
        writes.billed_write_units,
        writes.write_units
    );
    // Every rollup built once, before any test reads the table.
    let metered = Arc::new(tracker_runtime::store::DynamoStore::new(
        super::dynamodb_client(&sdk),
        store.table(),
    ));
    let engine =
        tracker_runtime::query::QueryEngine::new(Arc::clone(&metered) as Arc<dyn EventStore>);
    let everything = tracker_runtime::query::StatsQuery {
        route: tracker_runtime::query::Route::Scan,
        from: chrono::DateTime::UNIX_EPOCH,
        to: chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z")
            .expect("a date")
            .to_utc(),
        filters: Default::default(),
        by: None,
        top: 1,
    };
    let total = engine
        .tally(&everything)
        .await
        .expect("rollups build")
        .total();
    assert_eq!(total, stored, "the rollups count every stored event");
    MotoCorpus {
        table: store.table().to_owned(),
        files: files.len(),
        elapsed,
        writes,
        warm_writes,
        rollup_write_units: metered.read_stats().write_units,
        stored,
    }
}
