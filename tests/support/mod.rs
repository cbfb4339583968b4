//! Shared test plumbing: the moto endpoint (tests fail, never skip, when it
//! is missing), AWS clients pointed at it, unique names, the sample corpus,
//! and a helper to call the router like a client would.

pub mod corpus;
pub mod lambda_runtime;
pub mod served;

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use tracker_runtime::ingest::{IngestDeps, Ingestor, Pipeline};
use tracker_runtime::store::{DynamoStore, EventStore};

/// The moto server the tests use: `TRACKER_TEST_MOTO_URL`, else `http://127.0.0.1:5000`.
/// Panics with instructions when nothing listens there.
pub fn moto_endpoint() -> String {
    let url =
        std::env::var("TRACKER_TEST_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let reachable = address
        .parse()
        .ok()
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    assert!(
        reachable,
        "no moto server at {url}. Run the tests with `bash scripts/test.sh` (it installs and starts moto), \
         or start one yourself: `python3 -m venv .venv && .venv/bin/pip install 'moto[server]' && \
         .venv/bin/moto_server -H 127.0.0.1 -p 5000`, then set TRACKER_TEST_MOTO_URL if it is elsewhere."
    );
    url
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The DynamoDB emulator the store tests use: dynalite (a faithful,
/// LevelDB-backed DynamoDB; moto scans its whole table on every `Query`),
/// at `TRACKER_TEST_DYNAMODB_URL`. Panics with instructions when nothing
/// listens there. The deploy tests use moto's DynamoDB (CloudFormation
/// creates their tables).
pub fn dynamodb_endpoint() -> String {
    let url = std::env::var("TRACKER_TEST_DYNAMODB_URL").unwrap_or_default();
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let reachable = address
        .parse()
        .ok()
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    assert!(
        reachable,
        "no DynamoDB emulator at TRACKER_TEST_DYNAMODB_URL={url:?}. Run the tests with \
         `bash scripts/test.sh` (it installs dynalite with npm and starts it), or start one \
         yourself: `npm install --prefix .node dynalite@4.0.0 && .node/node_modules/.bin/dynalite \
         --port 4567 --createTableMs 0 --deleteTableMs 0 --updateTableMs 0` and set \
         TRACKER_TEST_DYNAMODB_URL=http://127.0.0.1:4567."
    );
    url
}

/// A DynamoDB client of the store tests' emulator (see [`dynamodb_endpoint`]).
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .endpoint_url(dynamodb_endpoint())
            .build(),
    )
}

/// A fresh table in the DynamoDB emulator, created as the deployer would,
/// and active with its indexes before it is used.
pub async fn new_dynamo_store(sdk: &SdkConfig) -> Arc<DynamoStore> {
    let client = dynamodb_client(sdk);
    let table = unique("events");
    tracker_runtime::store::dynamodb::schema::create_table(&client, &table)
        .await
        .expect("create the test table in the DynamoDB emulator");
    wait_until_active(&client, &table).await;
    Arc::new(DynamoStore::new(client, table))
}

/// Waits for a table and its indexes to be `ACTIVE`: dynalite moves a new
/// table there on a timer even with `--createTableMs 0`, and answers queries
/// on a table still `CREATING` with ResourceNotFoundException (seen in CI
/// when the machine was busy).
async fn wait_until_active(client: &aws_sdk_dynamodb::Client, table: &str) {
    use aws_sdk_dynamodb::types::{IndexStatus, TableStatus};
    for _ in 0..300 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .ok()
            .and_then(|d| d.table);
        let active = described.is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes()
                    .iter()
                    .all(|i| i.index_status() == Some(&IndexStatus::Active))
        });
        if active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the test table {table} did not become ACTIVE in the DynamoDB emulator within 30 s");
}

/// A fresh bucket in moto.
pub async fn new_bucket(s3: &aws_sdk_s3::Client) -> String {
    let bucket = unique("trail");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the test bucket in moto");
    bucket
}

pub fn ingest_deps(sdk: &SdkConfig, store: Arc<dyn EventStore>) -> IngestDeps {
    IngestDeps {
        s3: s3_client(sdk),
        ingestor: Ingestor::new(store, Pipeline::default()),
        publisher: None,
    }
}

/// The S3 notification AWS sends for one new object (from a real event's
/// shape), with the key form-encoded as S3 does.
pub fn s3_put_event(bucket: &str, key: &str) -> aws_lambda_events::s3::S3Event {
    let template = include_str!("../fixtures/s3-put-event.json");
    let encoded_key: String = form_urlencoded::byte_serialize(key.as_bytes())
        .collect::<String>()
        .replace("%2F", "/");
    let text = template
        .replace("\"BUCKET\"", &format!("\"{bucket}\""))
        .replace("arn:aws:s3:::BUCKET", &format!("arn:aws:s3:::{bucket}"));
    let text = text.replace(
        "\"KEY\"",
        &serde_json::to_string(&encoded_key).unwrap_or_default(),
    );
    serde_json::from_str(&text).expect("the S3 event fixture parses")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `GET uri` through the router: status, headers and the JSON body.
pub async fn get(app: &Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    let request = Request::get(uri)
        .header("host", "tracker.test")
        .body(Body::empty())
        .expect("request");
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router never fails");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "GET {uri}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, headers, body)
}

/// `GET uri` that must succeed.
pub async fn get_ok(app: &Router, uri: &str) -> Value {
    let (status, _, body) = get(app, uri).await;
    assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
    body
}

/// `GET uri` with `count=true` appended.
pub async fn count(app: &Router, uri: &str) -> u64 {
    let sep = if uri.contains('?') { '&' } else { '?' };
    let body = get_ok(app, &format!("{uri}{sep}count=true")).await;
    body.as_u64()
        .unwrap_or_else(|| panic!("GET {uri}&count=true: not a count: {body}"))
}

/// Follows `Link: rel="next"` from `uri` and returns every event of every page.
pub async fn all_pages(app: &Router, uri: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut next = Some(uri.to_owned());
    let mut pages = 0;
    while let Some(uri) = next.take() {
        let (status, headers, body) = get(app, &uri).await;
        assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
        events.extend(body.as_array().expect("a page is an array").iter().cloned());
        pages += 1;
        assert!(pages < 10_000, "pagination does not end");
        if let Some(link) = headers.get("link").and_then(|l| l.to_str().ok()) {
            let url = link
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default();
            next = Some(url.trim_start_matches("http://tracker.test").to_owned());
        }
    }
    events
}

/// Percent-encodes one path segment or query value (a space as %20, which
/// both accept; `+` would be a literal plus in a path).
pub fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Items whose partition key starts with `prefix` (a test-only Scan).
pub async fn stored_items(client: &aws_sdk_dynamodb::Client, table: &str, prefix: &str) -> u64 {
    let mut total = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .select(Select::Count)
            .filter_expression("begins_with(pk, :e)")
            .expression_attribute_values(":e", AttributeValue::S(prefix.into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        total += page.count() as u64;
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return total,
        }
    }
}
