//! How long the query API takes for one request on an embedded database
//! (p50 of N runs through the router, after 3 warm-up runs), for profiling:
//! `cargo run --profile bench -p tracker-runtime --example query_time -- DB URI [RUNS]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: query_time DATABASE URI [RUNS]";
    let db = args.next().ok_or(usage)?;
    let uri = args.next().ok_or(usage)?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(30);
    // `CACHE_MB` as `[local] cache_mb` (default 16).
    let cache_mb: usize = std::env::var("CACHE_MB")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(16);
    let store = tracker_runtime::store::EmbeddedStore::open_with_cache(
        std::path::Path::new(&db),
        cache_mb * 1024 * 1024,
    )?;
    let app = tracker_runtime::api::router(tracker_runtime::api::ApiState::new(Arc::new(store)));
    let runtime = tokio::runtime::Runtime::new()?;
    let ask = || -> Result<(usize, String), Box<dyn std::error::Error>> {
        runtime.block_on(async {
            let response = app
                .clone()
                .oneshot(Request::get(uri.as_str()).body(Body::empty())?)
                .await?;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            if !status.is_success() {
                return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
            }
            // The body's digest, so builds can be checked to answer alike.
            let text = String::from_utf8_lossy(&body);
            Ok((body.len(), tracker_runtime::digest::sha256_hex(&text, 8)))
        })
    };
    let started = Instant::now();
    let (bytes, digest) = ask()?;
    println!(
        "first: {:.2?} ({bytes} bytes, sha256 {digest}…)",
        started.elapsed()
    );
    for _ in 0..2 {
        ask()?;
    }
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        ask()?;
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "p50 {:.3} ms, min {:.3} ms, max {:.3} ms over {} runs",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
    Ok(())
}
