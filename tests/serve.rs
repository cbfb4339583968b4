//! Local mode: the embedded store behind the same router, restarts that
//! re-ingest nothing, and the API key that guards anything beyond loopback.

use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use tracker_runtime::api::ApiState;
use tracker_runtime::ingest::{FolderOptions, Ingestor, ingest_folder};
use tracker_runtime::local::protected_router;
use tracker_runtime::store::EmbeddedStore;

use crate::support::{count, get_ok, repo_root};

/// A store asked, then fed more logs, answers what a store fed everything at
/// once answers: the hours' generations it keeps in memory follow its
/// writes, so no rollup built before is taken as current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_follow_logs_ingested_after_a_query() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = repo_root().join("examples/cloudtrail");
    // Every other log file first, then the rest.
    let files = crate::support::corpus::files_under(&logs);
    let halves = [dir.path().join("first"), dir.path().join("rest")];
    for (i, (relative, path)) in files.iter().enumerate() {
        let target = halves[i % 2].join(relative);
        std::fs::create_dir_all(target.parent().expect("a folder")).expect("mkdir");
        std::fs::copy(path, &target).expect("copy a log file");
    }
    let questions = [
        "/scan?from=2000-01-01&count=true",
        "/stats?from=2000-01-01&by=principal",
        "/stats/daily?from=2000-01-01",
        "/scan?from=2000-01-01&eventName=DescribeInstances&count=true",
    ];
    let answers = |app: axum::Router| async move {
        let mut out = Vec::new();
        for question in questions {
            out.push(get_ok(&app, question).await);
        }
        out
    };
    let fed = |db: std::path::PathBuf, folders: Vec<std::path::PathBuf>| async move {
        let store = EmbeddedStore::open(&db).expect("open");
        let ingestor = Ingestor::new(Arc::new(store.clone()), Default::default());
        for folder in folders {
            ingest_folder(&ingestor, &folder, &FolderOptions::new(4, Some(&store)))
                .await
                .expect("ingest");
        }
        store
    };
    let router =
        |store: EmbeddedStore| tracker_runtime::api::router(ApiState::new(Arc::new(store)));

    let store = fed(dir.path().join("fed.db"), vec![halves[0].clone()]).await;
    let app = router(store.clone());
    let before = answers(app.clone()).await;
    let half = fed(dir.path().join("half.db"), vec![halves[0].clone()]).await;
    assert_eq!(before, answers(router(half)).await);

    let ingestor = Ingestor::new(Arc::new(store.clone()), Default::default());
    ingest_folder(&ingestor, &halves[1], &FolderOptions::new(4, Some(&store)))
        .await
        .expect("ingest the rest");
    let after = answers(app).await;
    let whole = fed(dir.path().join("whole.db"), vec![logs.clone()]).await;
    assert_eq!(after, answers(router(whole)).await);
    assert_ne!(before, after, "the rest of the logs changes every answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_over_the_same_folder_reingests_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tracker.db");
    let logs = repo_root().join("examples/cloudtrail");
    let (first, answers) = {
        let store = EmbeddedStore::open(&db).expect("open");
        let ingestor = Ingestor::new(Arc::new(store.clone()), Default::default());
        let summary = ingest_folder(&ingestor, &logs, &FolderOptions::new(4, Some(&store)))
            .await
            .expect("ingest");
        store.flush().expect("flush");
        let app = tracker_runtime::api::router(ApiState::new(Arc::new(store)));
        (
            summary,
            (
                count(&app, "/scan?from=2000-01-01").await,
                get_ok(&app, "/users").await,
            ),
        )
    };
    assert!(
        first.files_read > 10 && first.failures.is_empty(),
        "{first}"
    );
    assert_eq!(answers.0, first.events_stored);

    let store = EmbeddedStore::open(&db).expect("reopen");
    let ingestor = Ingestor::new(Arc::new(store.clone()), Default::default());
    let again = ingest_folder(&ingestor, &logs, &FolderOptions::new(4, Some(&store)))
        .await
        .expect("ingest again");
    assert_eq!((again.files_read, again.events_stored), (0, 0), "{again}");
    assert_eq!(
        again.files_unchanged,
        first.files_read + first.files_skipped - again.files_skipped
    );
    let app = tracker_runtime::api::router(ApiState::new(Arc::new(store)));
    assert_eq!(
        (
            count(&app, "/scan?from=2000-01-01").await,
            get_ok(&app, "/users").await
        ),
        answers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_key_requests_without_it_are_refused_with_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("t.db")).expect("open");
    let key = "a-key-that-is-long-enough-123";
    let app = protected_router(ApiState::new(Arc::new(store)), Some(key.into()));
    // The dashboard's page and assets load without the key (the page asks
    // for it); every data route needs it.
    for page in ["/", "/ui/app.js", "/ui/style.css"] {
        let response = app
            .clone()
            .oneshot(Request::get(page).body(Body::empty()).expect("request"))
            .await
            .expect("router");
        assert_eq!(response.status(), 200, "{page} without a key");
    }
    for route in tracker_runtime::api::ROUTES {
        let uri = route
            .replace("{user}", "a")
            .replace("{service}", "ec2")
            .replace("{eventID}", "e");
        let response = app
            .clone()
            .oneshot(Request::get(&uri).body(Body::empty()).expect("request"))
            .await
            .expect("router");
        assert_eq!(response.status(), 403, "{uri} without a key");
    }
    for (header, expected) in [(None, 403), (Some("wrong-key"), 403), (Some(key), 200)] {
        let mut request = Request::get("/users");
        if let Some(value) = header {
            request = request.header("x-api-key", value);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("router");
        assert_eq!(response.status(), expected, "x-api-key {header:?}");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        if expected == 403 {
            assert!(
                json["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("x-api-key")),
                "{json}"
            );
        }
    }
}

#[test]
fn serve_refuses_a_public_address_without_a_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_tracker"))
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(dir.path().join("t.db"))
        .env_remove("TRACKER_API_KEY")
        .env_remove("TRACKER_HANDLER")
        .current_dir(dir.path())
        .output()
        .expect("run tracker");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without an API key"),
        "{stderr}"
    );
}
