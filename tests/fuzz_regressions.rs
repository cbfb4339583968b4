//! What fuzzing found (`fuzz/README.md`, findings F1–F4), each as the
//! reduced input that broke an invariant and the invariant it broke, through
//! the same code paths the fuzz targets drive. The DynamoDB cases run against
//! moto, like the rest of the suite.

use std::io::Cursor;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;
use serde_json::value::RawValue;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::cloudtrail::Record;
use tracker_runtime::ingest::{FileOutcome, Ingestor, Pipeline};
use tracker_runtime::query::params::fingerprint;
use tracker_runtime::query::{Route, parse_event_query, token};
use tracker_runtime::store::dynamodb::item::{catalog_to_item, event_to_item};
use tracker_runtime::store::{EmbeddedStore, EventStore};

use crate::support::{all_pages, get, new_dynamo_store, sdk_config};

fn record(id: &str, extra: &str) -> String {
    format!(
        r#"{{"eventID":"{id}","eventName":"RunInstances","eventSource":"ec2.amazonaws.com","eventTime":"2024-05-01T10:00:00Z","awsRegion":"eu-west-1","userIdentity":{{"type":"IAMUser","userName":"tester"}},"requestParameters":{{"instanceType":"t2.micro"}}{extra}}}"#
    )
}

fn log(records: &[String]) -> Vec<u8> {
    format!(r#"{{"Records":[{}]}}"#, records.join(",")).into_bytes()
}

async fn ingest(store: Arc<dyn EventStore>, body: Vec<u8>) -> tracker_runtime::ingest::FileReport {
    Ingestor::new(store, Pipeline::default())
        .ingest_reader("fuzz-regression.json".into(), Cursor::new(body), None)
        .await
}

fn embedded() -> (tempfile::TempDir, Arc<dyn EventStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("fuzz.db")).expect("open the embedded store");
    (dir, Arc::new(store))
}

/// F3 (fixed in `query::params`): the fingerprint in a `nextToken` is no
/// secret, so a client can forge a token for any position. DynamoDB answers
/// a range read from an empty position (or one past the window) with a
/// ValidationException, which was a 500; it is a 400 now, in both stores,
/// and the tokens the API issues still page through everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_a_forged_page_position_is_a_400_not_a_500() {
    let sdk = sdk_config().await;
    let dynamo = new_dynamo_store(&sdk).await as Arc<dyn EventStore>;
    let (_dir, local) = embedded();
    let base = "/scan?from=2024-05-01&to=2024-05-01&limit=1";
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&base.as_bytes()[6..])
        .into_owned()
        .collect();
    let query = parse_event_query(Route::Scan, &pairs, chrono::Utc::now()).expect("a valid query");
    for store in [dynamo, local] {
        let report = ingest(
            Arc::clone(&store),
            log(&[record("f3-a", ""), record("f3-b", ""), record("f3-c", "")]),
        )
        .await;
        assert_eq!(report.outcome, FileOutcome::Ingested, "{report:?}");
        let app = router(ApiState::new(Arc::clone(&store)));
        for position in [
            "",
            "9999-12-31T00:00:00.000000Z#x",
            "2000-01-01T00:00:00.000000Z#x",
        ] {
            let forged = token::encode(position, &fingerprint(&query));
            let (status, _, body) = get(&app, &format!("{base}&nextToken={forged}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{position:?}: {body}");
            assert!(
                body["error"].as_str().is_some_and(|e| e.contains("window")),
                "{body}"
            );
        }
        assert_eq!(
            all_pages(&app, base).await.len(),
            3,
            "issued tokens still page"
        );
    }
}

/// F2: a record holding a value serde_json's `Value` refuses (a number out
/// of range, a lone surrogate) used to be rejected; since records are read
/// in one typed pass that skips unknown fields unchecked, it is accepted.
/// Its redaction then fails (the text does not parse), so its secrets are
/// stored as they were, and every `param` filter over it reads it back as
/// corrupt: a 500.
#[test]
fn f2_a_record_serde_json_cannot_read_is_not_stored_with_its_secrets() {
    for text in [
        r#"{"eventID":"x","n":1e999,"responseElements":{"credentials":{"sessionToken":"SECRET"}}}"#,
        r#"{"eventID":"x","ua":"\udc00","requestParameters":{"password":"SECRET"}}"#,
        r#"{"eventID":"x","responseElements":{"n":-1e400,"sessionToken":"SECRET"}}"#,
    ] {
        let raw = RawValue::from_string(text.to_owned()).expect("valid JSON syntax");
        if let Ok(record) = Record::from_raw(&raw) {
            assert!(
                !record.json.contains("SECRET"),
                "stored unredacted: {}",
                record.json
            );
            serde_json::from_str::<Value>(&record.json).unwrap_or_else(|e| {
                panic!("stored text does not read back ({e}): {}", record.json)
            });
        }
    }
}

#[tokio::test]
async fn f2_a_param_filter_over_such_a_record_is_not_a_500() {
    let (_dir, store) = embedded();
    let report = ingest(
        Arc::clone(&store),
        log(&[
            record("f2-good", ""),
            record("f2-big", r#","n":1e999"#),
            record("f2-surrogate", r#","userAgent":"\udc00""#),
        ]),
    )
    .await;
    assert_eq!(report.outcome, FileOutcome::Ingested, "{report:?}");
    let app = router(ApiState::new(store));
    let (status, _, body) = get(
        &app,
        "/scan?from=2024-05-01&to=2024-05-01&param=instanceType&value=t2.micro",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(1),
        "f2-good only: {body}"
    );
}

/// F1: DynamoDB refuses an empty key attribute, a partition key over 2048
/// bytes and a sort key over 1024, and refuses it for the whole
/// `BatchWriteItem` call: a record with a field named `""` (an empty
/// `/parameters` entry) or an eventID or principal of a few KB failed its
/// chunk's write, and so its file, on every retry, losing the good records
/// beside it. Fixed in a6aa97d (`event::key_safe`, empty names left out).
fn f1_records() -> Vec<String> {
    let long = "x".repeat(3000);
    vec![
        record("f1-good", ""),
        record("f1-empty-field", r#","":1"#),
        record(&format!("f1-long-{long}"), ""),
        record("f1-long-name", &format!(r#","{long}":1"#)),
        record("f1-long-user", "")
            .replace(r#""userName":"tester""#, &format!(r#""userName":"{long}""#)),
    ]
}

fn assert_dynamodb_accepts(items: &[tracker_runtime::store::dynamodb::item::Item]) {
    for item in items {
        for (name, max) in [
            ("pk", 2048),
            ("sk", 1024),
            ("upk", 2048),
            ("tpk", 2048),
            ("tsk", 1024),
        ] {
            if let Some(value) = item.get(name) {
                let value = value.as_s().expect("keys are strings");
                assert!(
                    !value.is_empty() && value.len() <= max,
                    "`{name}` = {value:?} in {item:?}"
                );
            }
        }
    }
}

fn pipeline_items(body: &[u8]) -> Vec<tracker_runtime::store::dynamodb::item::Item> {
    let mut items = Vec::new();
    let (_, result) = Pipeline::default().read(body, |prepared| {
        items.push(event_to_item(&prepared.event));
        items.extend(prepared.catalog.iter().map(catalog_to_item));
    });
    assert!(result.is_ok(), "{result:?}");
    items
}

#[test]
fn f1_every_item_the_pipeline_yields_is_one_dynamodb_accepts() {
    assert_dynamodb_accepts(&pipeline_items(&log(&f1_records())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_records_dynamodb_cannot_key_do_not_fail_their_file() {
    let sdk = sdk_config().await;
    let store = new_dynamo_store(&sdk).await as Arc<dyn EventStore>;
    let report = ingest(Arc::clone(&store), log(&f1_records())).await;
    assert_eq!(report.outcome, FileOutcome::Ingested, "{report:?}");
    let app = router(ApiState::new(store));
    assert_eq!(
        all_pages(&app, "/scan?from=2024-05-01&to=2024-05-01")
            .await
            .len(),
        5
    );
}

/// F1b: the case a6aa97d left: an `eventSource` that is only the suffix
/// (`.amazonaws.com`) makes the service `""`, an empty `/services` key.
#[test]
fn f1b_an_event_source_of_only_the_suffix_makes_no_empty_key() {
    let body = log(&[
        r#"{"eventID":"f1b","eventSource":".amazonaws.com","eventTime":"2024-05-01T10:00:00Z"}"#
            .to_owned(),
    ]);
    assert_dynamodb_accepts(&pipeline_items(&body));
}

/// F4: the parameter names are "the top-level field names, then
/// `requestParameters.<key>`", whatever the order of the fields; a top-level
/// field literally named `requestParameters.<x>` was dropped when it came
/// before `requestParameters` (and kept when after).
#[test]
fn f4_parameter_names_do_not_depend_on_field_order() {
    for text in [
        r#"{"eventID":"x","requestParameters.a":1,"requestParameters":{"b":2}}"#,
        r#"{"eventID":"x","requestParameters":{"b":2},"requestParameters.a":1}"#,
    ] {
        let raw = RawValue::from_string(text.to_owned()).expect("valid JSON");
        let mut names = Record::from_raw(&raw).expect("a record").param_names;
        names.sort();
        assert_eq!(
            names,
            [
                "eventID",
                "requestParameters",
                "requestParameters.a",
                "requestParameters.b"
            ],
            "{text}"
        );
    }
}
