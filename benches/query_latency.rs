//! Query latency of local mode (`tracker serve`'s embedded store) at 1M
//! events, and what the same queries would read on DynamoDB.
//!
//! The store is built once under `target/bench/` from the benchmarks'
//! synthetic corpus (`common::corpus`: 1,000,000 events cloned from the
//! sample over 120 days, 5,000 gzip'd files of 200) through the same folder
//! ingest as `tracker serve --logs`, then compacted. Each route is asked
//! through the router in-process (what a request costs minus the socket):
//! p50/p99 over up to 200 runs after 10 warm-up runs. The read units are
//! DynamoDB's rule applied to the same requests on the same key layout
//! (`DynamoCostModel`), warm (rollups built); the baseline is what reading
//! every event of the window through the by-time index costs (what the
//! engine did for a filter before blocks and rollups).
//!
//! Run: `cargo bench --bench query_latency` (with the shared sample beside
//! the repository, or TRACKER_SAMPLE_DIR set).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::ingest::{FolderOptions, Ingestor, ingest_folder};
use tracker_runtime::store::dynamodb::cost_model::DynamoCostModel;
use tracker_runtime::store::dynamodb::item::{billed_size, event_to_item};
use tracker_runtime::store::{EmbeddedStore, EventStore};

mod common;

const EVENTS: usize = 1_000_000;
const ITERATIONS: usize = 200;
/// Slow queries stop early.
const TIME_BUDGET: Duration = Duration::from_secs(15);

/// Builds (or reuses) the store of the corpus of `n` events.
fn store_of(n: usize, runtime: &tokio::runtime::Runtime) -> EmbeddedStore {
    let corpus = common::corpus::corpus(n);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let path = dir.join(format!("events-{n}.v3.db"));
    let done = dir.join(format!("events-{n}.v3.done"));
    if path.exists() && done.exists() {
        return EmbeddedStore::open(&path).expect("open the bench store");
    }
    let _ = std::fs::remove_file(&path);
    let store = EmbeddedStore::open(&path).expect("create the bench store");
    let started = Instant::now();
    let store = runtime.block_on(async move {
        let ingestor =
            Ingestor::new(Arc::new(store.clone()), Default::default()).with_batching(2000, 8);
        let summary = ingest_folder(&ingestor, &corpus, &FolderOptions::new(8, Some(&store)))
            .await
            .expect("the corpus is readable");
        assert!(summary.failures.is_empty(), "{summary}");
        ingestor.close().await;
        store.compact().expect("compact")
    });
    eprintln!(
        "built {} ({n} events, {:.1} MB) in {:.1?}",
        path.display(),
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        started.elapsed()
    );
    std::fs::write(&done, b"").expect("mark the store complete");
    store
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn get(app: &axum::Router, uri: &str) -> axum::body::Bytes {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("router");
    assert_eq!(response.status(), 200, "{uri}");
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
}

/// p50, p99, runs and the response of the last run.
fn measure(
    app: &axum::Router,
    runtime: &tokio::runtime::Runtime,
    uri: &str,
) -> (Duration, Duration, usize, axum::body::Bytes) {
    let mut times = Vec::with_capacity(ITERATIONS);
    let mut body = axum::body::Bytes::new();
    let started_all = Instant::now();
    for i in 0..ITERATIONS + 10 {
        if i > 12 && started_all.elapsed() > TIME_BUDGET {
            break;
        }
        let started = Instant::now();
        body = runtime.block_on(get(app, uri));
        if i >= 10 {
            times.push(started.elapsed()); // the first 10 warm the caches
        }
    }
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len(),
        body,
    )
}

/// What a response holds, in a few words.
fn answer(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(a)) => format!("{} items", a.len()),
        Ok(serde_json::Value::Number(n)) => format!("count {n}"),
        Ok(v) if v.get("total").is_some() => format!("total {}", v["total"]),
        Ok(v) if v.get("days").is_some() => {
            format!("{} days", v["days"].as_array().map_or(0, Vec::len))
        }
        _ => format!("{} B", body.len()),
    }
}

/// What reading every event of `[from, to)` through the by-time index
/// would cost on DynamoDB: the events' items, in 1 MB pages.
fn window_read_units(
    store: &EmbeddedStore,
    runtime: &tokio::runtime::Runtime,
    window: &str,
) -> (u64, f64) {
    let app = router(ApiState::new(Arc::new(store.clone())));
    let mut ids = Vec::new();
    let mut next = Some(format!("/scan?{window}&limit=10000"));
    while let Some(uri) = next.take() {
        let response = runtime.block_on(
            app.clone()
                .oneshot(Request::get(&uri).body(Body::empty()).expect("request")),
        );
        let response = response.expect("router");
        let link = response
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.trim_start_matches('<').split('>').next())
            .map(|u| u.trim_start_matches("http://localhost").to_owned());
        let body = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .expect("body");
        let page: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a page");
        ids.extend(
            page.iter()
                .filter_map(|e| e["eventID"].as_str().map(str::to_owned)),
        );
        next = link.filter(|u| u.starts_with('/'));
    }
    let mut units = 0.0;
    let mut page_bytes = 0u64;
    for chunk in ids.chunks(5000) {
        let events = runtime.block_on(store.get_events(chunk)).expect("events");
        for event in events {
            let size = billed_size(&event_to_item(&event)) as u64;
            if page_bytes + size > 1 << 20 {
                units += page_bytes.div_ceil(4096) as f64 * 0.5;
                page_bytes = 0;
            }
            page_bytes += size;
        }
    }
    units += page_bytes.div_ceil(4096).max(1) as f64 * 0.5;
    (ids.len() as u64, units)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` probes
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = store_of(EVENTS, &runtime);
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let end = common::corpus::end();
    let window = |days: i64| {
        format!(
            "from={}&to={}",
            fmt(end - chrono::Duration::days(days)),
            fmt(end)
        )
    };
    let day = "from=2024-06-01&to=2024-06-01";
    let all = window(common::corpus::SPAN_DAYS);
    let month = window(30);
    let quarter = window(90);
    let app = router(ApiState::new(Arc::new(store.clone())));
    let metered = Arc::new(DynamoCostModel::new(store.clone()));
    let metered_app = router(ApiState::new(Arc::clone(&metered) as Arc<dyn EventStore>));

    let routes: Vec<(&str, String)> = vec![
        ("`/users`", "/users".into()),
        (
            "one user, one day, 1,000 events",
            format!("/users/alucloud34?{day}&limit=1000"),
        ),
        (
            "one service, whole range, 1,000 events",
            format!("/services/rds?{all}&limit=1000"),
        ),
        (
            "`/scan`, 7 days, 1,000 events",
            format!("/scan?{}&limit=1000", window(7)),
        ),
        ("count, whole range", format!("/scan?{all}&count=true")),
        (
            "one user, 7 days, count",
            format!("/users/alucloud34?{}&count=true", window(7)),
        ),
        (
            "`eventName` filter, whole range",
            format!("/scan?{all}&eventName=StartInstances"),
        ),
        (
            "lookup ≤ 100 events, 30 days (`eventName`)",
            format!("/scan?{month}&eventName=CreateApp"),
        ),
        (
            "lookup ≤ 100 events, 30 days (`accessKeyId`)",
            format!("/scan?{month}&accessKeyId=ASIAINZB62HMRLLEDBTA"),
        ),
        (
            "lookup, 30 days, two terms",
            format!("/scan?{month}&errorCode=*&readOnly=true"),
        ),
        (
            "`/stats` by principal, 90 days",
            format!("/stats?{quarter}&by=principal"),
        ),
        (
            "`/stats` by accessKeyId, 90 days",
            format!("/stats?{quarter}&by=accessKeyId"),
        ),
        ("`/stats/daily`, 90 days", format!("/stats/daily?{quarter}")),
        (
            "`/stats` by eventName, 30 days, `errorCode=*`",
            format!("/stats?{month}&by=eventName&errorCode=*"),
        ),
        (
            "`/stats` by sourceIPAddress, one user, 90 days",
            format!("/stats?{quarter}&by=sourceIPAddress&user=alucloud34"),
        ),
    ];
    println!("| query | answer | p50 | p99 | runs | DynamoDB read units (warm) |");
    println!("|---|---|---:|---:|---:|---:|");
    for (name, uri) in &routes {
        let (p50, p99, runs, body) = measure(&app, &runtime, uri);
        // Warm the rollups the metered run needs (they are the same items:
        // the cost model wraps the same store), then meter one request.
        let before = metered.read_stats();
        runtime.block_on(get(&metered_app, uri));
        let after = metered.read_stats();
        println!(
            "| {name} | {} | {:.2} ms | {:.2} ms | {runs} | {:.1} |",
            answer(&body),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            after.read_units - before.read_units
        );
    }
    let (events, units) = window_read_units(&store, &runtime, &month);
    println!(
        "\nReading every event of the 30-day window ({events} events) through the by-time index: {units:.0} read units (1 % = {:.1})",
        units / 100.0
    );
    println!(
        "store: {} bytes for {} events ({} bytes of gzip input)",
        std::fs::metadata(store.path())
            .map(|m| m.len())
            .unwrap_or(0),
        store.event_count().unwrap_or(0),
        common::corpus::gzip_bytes(&common::corpus::corpus(EVENTS))
    );
}
