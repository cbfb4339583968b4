//! Ingest is a function of the set of records, not of how they arrive: the
//! same records split into files at any boundaries, the files ingested in
//! any order and delivered any number of times (S3 is at-least-once), with
//! or without batching across files, leave the same store contents and the
//! same statistics (seeded random cases on the embedded store; the DynamoDB
//! store shares the keys, the writer and the rollup code).

use std::sync::Arc;

use axum::Router;
use serde_json::Value;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::ingest::Ingestor;
use tracker_runtime::store::EmbeddedStore;

use crate::support::corpus::sample_records;
use crate::support::{all_pages, get_ok};

/// What a client can see of a store: every event with its record, and the lists.
async fn contents(app: &Router) -> Vec<Value> {
    let mut seen = vec![
        get_ok(app, "/users").await,
        get_ok(app, "/services").await,
        get_ok(app, "/parameters").await,
    ];
    // Statistics over everything (whole days from rollups) and over windows
    // that cut through hours (blocks read), by every key.
    for window in [
        "from=1970-01-01&to=9999-01-01",
        "from=2014-09-27T13:30:00Z&to=2018-04-26T09:15:30Z",
    ] {
        seen.push(get_ok(app, &format!("/stats/daily?{window}")).await);
        for by in tracker_runtime::attribute::Attribute::STATS_KEYS {
            seen.push(get_ok(app, &format!("/stats?{window}&by={by}&top=1000")).await);
        }
        seen.push(get_ok(app, &format!("/scan?{window}&errorCode=*&count=true")).await);
    }
    for event in all_pages(app, "/scan?from=1970-01-01&to=9999-01-01&limit=5000").await {
        let id = event["eventID"].as_str().expect("eventID").to_owned();
        seen.push(event);
        seen.push(get_ok(app, &format!("/events/{}", crate::support::enc(&id))).await);
    }
    seen
}

/// Ingests `files` (each a name and its records) into a fresh store,
/// `batching` writes across files or not.
async fn ingest(files: &[(String, Vec<Value>)], batching: bool) -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("p.db")).expect("open");
    let mut ingestor = Ingestor::new(Arc::new(store.clone()), Default::default());
    if batching {
        // Every file is spawned at once: all of them may write together.
        ingestor = ingestor.with_batching(97, files.len());
    }
    let ingestor = Arc::new(ingestor);
    let tasks: Vec<_> = files
        .iter()
        .map(|(name, records)| {
            let body =
                serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("serialize");
            let ingestor = Arc::clone(&ingestor);
            let name = name.clone();
            tokio::spawn(async move {
                ingestor
                    .ingest_reader(name, std::io::Cursor::new(body), None)
                    .await
            })
        })
        .collect();
    for task in tasks {
        let report = task.await.expect("task");
        assert!(report.stored > 0 || report.counts.records == 0);
    }
    (dir, router(ApiState::new(Arc::new(store))))
}

/// Splits `records` into named files at random boundaries.
fn split(records: &[Value], rng: &mut fastrand::Rng) -> Vec<(String, Vec<Value>)> {
    let mut files = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let n = rng.usize(1..=rest.len().min(40));
        files.push((format!("f{}", files.len()), rest[..n].to_vec()));
        rest = &rest[n..];
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_repetition_and_batching_do_not_change_the_store() {
    let mut rng = fastrand::Rng::with_seed(20261122);
    let all = sample_records();
    // A few hundred records from across the corpus, plus one without an eventID.
    // Distinct records (each eventID once, as CloudTrail delivers them).
    let mut picked: Vec<usize> = (0..all.len()).collect();
    rng.shuffle(&mut picked);
    let mut records: Vec<Value> = picked[..300].iter().map(|&i| all[i].clone()).collect();
    records.push(serde_json::json!({"eventName": "NoId", "eventTime": "2020-01-01T00:00:00Z"}));
    let reference = {
        let (_dir, app) = ingest(&[("all".into(), records.clone())], false).await;
        contents(&app).await
    };
    for case in 0..4 {
        let mut files = split(&records, &mut rng);
        // Deliver some files again, under the same name (S3 is
        // at-least-once), then shuffle.
        for _ in 0..rng.usize(0..files.len()) {
            let again = files[rng.usize(..files.len())].clone();
            files.push(again);
        }
        rng.shuffle(&mut files);
        let (_dir, app) = ingest(&files, case % 2 == 0).await;
        assert_eq!(
            contents(&app).await,
            reference,
            "case {case}: {} files",
            files.len()
        );
    }
}
