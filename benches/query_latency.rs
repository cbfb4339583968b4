//! Query latency of local mode (`tracker serve`'s embedded store) at 100k and
//! 1M events: p50/p99 of `/users/{user}`, `/services/{service}` and `/scan`
//! for a 7-day window with `limit=1000`, and of `count=true`, through the
//! router in-process (what a request costs minus the socket).
//!
//! Run: `cargo bench --bench query_latency` (from the repository, with the
//! shared sample beside it or TRACKER_SAMPLE_DIR set). The stores are built
//! once under target/bench/ by cloning the sample's records with new eventIDs
//! and times, through the same pipeline as every ingest, and reused after.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use tower::ServiceExt;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::ingest::Ingestor;
use tracker_runtime::store::EmbeddedStore;

mod common;

/// The generated events span this many days, ending at `END`.
const SPAN_DAYS: i64 = 120;
const RECORDS_PER_FILE: usize = 200;
const ITERATIONS: usize = 200;
/// Slow queries (filters that read every event of the window) stop early.
const TIME_BUDGET: Duration = Duration::from_secs(15);

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 30, 0, 0, 0)
        .single()
        .expect("a valid date")
}

fn sample_records() -> Vec<Value> {
    common::log_files(&common::sample_dir())
        .iter()
        .flat_map(|p| common::records_of(p))
        .collect()
}

/// Builds (or reuses) a store of `n` events cloned from the sample.
fn store_of(n: usize, records: &[Value], runtime: &tokio::runtime::Runtime) -> EmbeddedStore {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    let path = dir.join(format!("events-{n}.db"));
    let done = dir.join(format!("events-{n}.done"));
    if path.exists() && done.exists() {
        return EmbeddedStore::open(&path).expect("open the bench store");
    }
    let _ = std::fs::remove_file(&path);
    let store = EmbeddedStore::open(&path).expect("create the bench store");
    let started = Instant::now();
    runtime.block_on(fill(&store, n, records));
    store.flush().expect("flush");
    eprintln!(
        "built {} ({n} events) in {:.1?}",
        path.display(),
        started.elapsed()
    );
    std::fs::write(&done, b"").expect("mark the store complete");
    store
}

async fn fill(store: &EmbeddedStore, n: usize, records: &[Value]) {
    let ingestor =
        Arc::new(Ingestor::new(Arc::new(store.clone()), Default::default()).with_batching(5000));
    let span = Duration::from_secs((SPAN_DAYS * 86_400) as u64);
    let start = end() - chrono::Duration::from_std(span).expect("span");
    let mut tasks = Vec::new();
    for file in 0..n.div_ceil(RECORDS_PER_FILE) {
        let mut batch = Vec::with_capacity(RECORDS_PER_FILE);
        for i in file * RECORDS_PER_FILE..((file + 1) * RECORDS_PER_FILE).min(n) {
            let mut record = records[i % records.len()].clone();
            // Evenly spread over the span, so any 7 days hold the same share.
            let offset = (span.as_micros() * i as u128 / n as u128) as i64;
            let time = start + chrono::Duration::microseconds(offset);
            record["eventID"] = Value::from(format!("bench-{i:08}"));
            record["eventTime"] = Value::from(time.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            batch.push(record);
        }
        let body = serde_json::to_vec(&serde_json::json!({ "Records": batch })).expect("serialize");
        let ingestor = Arc::clone(&ingestor);
        tasks.push(tokio::spawn(async move {
            ingestor
                .ingest_reader(
                    format!("generated-{file}"),
                    std::io::Cursor::new(body),
                    None,
                )
                .await
        }));
        if tasks.len() >= 8 {
            for task in tasks.drain(..) {
                task.await.expect("ingest task");
            }
        }
    }
    for task in tasks {
        task.await.expect("ingest task");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn measure(
    app: &axum::Router,
    runtime: &tokio::runtime::Runtime,
    uri: &str,
) -> (Duration, Duration, usize, usize) {
    let mut times = Vec::with_capacity(ITERATIONS);
    let mut size = 0;
    let started_all = Instant::now();
    for i in 0..ITERATIONS + 10 {
        if i > 12 && started_all.elapsed() > TIME_BUDGET {
            break;
        }
        let started = Instant::now();
        let body = runtime.block_on(async {
            let response = app
                .clone()
                .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
                .await
                .expect("router");
            assert_eq!(response.status(), 200, "{uri}");
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body")
        });
        if i >= 10 {
            times.push(started.elapsed()); // the first 10 warm the caches
        }
        size = body.len();
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len(),
        size,
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` probes
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let records = sample_records();
    let to = end().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let from = (end() - chrono::Duration::days(7))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    println!("| events | route | p50 | p99 | runs | response |");
    println!("|---|---|---|---|---|---|");
    for n in [100_000, 1_000_000] {
        let store = store_of(n, &records, &runtime);
        let app = router(ApiState::new(Arc::new(store)));
        let window = format!("from={from}&to={to}");
        for (name, uri) in [
            (
                "/users/alucloud34",
                format!("/users/alucloud34?{window}&limit=1000"),
            ),
            (
                "/services/rds",
                format!("/services/rds?{window}&limit=1000"),
            ),
            ("/scan", format!("/scan?{window}&limit=1000")),
            (
                "/users/alucloud34 count",
                format!("/users/alucloud34?{window}&count=true"),
            ),
            (
                "/services/rds count",
                format!("/services/rds?{window}&count=true"),
            ),
            ("/scan count", format!("/scan?{window}&count=true")),
            (
                "/scan eventName=RunInstances",
                format!("/scan?{window}&eventName=RunInstances&limit=1000"),
            ),
            (
                "/scan param instanceType count",
                format!("/scan?{window}&param=instanceType&value=t1.micro&count=true"),
            ),
        ] {
            let (p50, p99, runs, size) = measure(&app, &runtime, &uri);
            println!(
                "| {n} | `{name}` | {:.2} ms | {:.2} ms | {runs} | {size} B |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
        }
    }
}
