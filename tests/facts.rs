//! The API's answers equal `FACTS.json` (computed by an independent script
//! over the same corpus). Every fact a route can express is asked: counts
//! through `count=true`, and the listed events. The same suite runs against
//! every store (see `facts_suite!`).

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use serde_json::Value;

use crate::support::corpus::{fact, facts};
use crate::support::{all_pages, count, enc, get, get_ok};

/// A window holding the whole corpus: `from` its first day, `to` its last
/// (a date-only `to` includes that day).
fn all_time(facts: &Value) -> String {
    let min = facts["totals"]["eventTime_min"]
        .as_str()
        .expect("eventTime_min");
    let max = facts["totals"]["eventTime_max"]
        .as_str()
        .expect("eventTime_max");
    format!("from={}&to={}", &min[..10], &max[..10])
}

fn window(query: &Value) -> String {
    let t = &query["eventTime"];
    format!(
        "from={}&to={}",
        t["gte"].as_str().expect("gte"),
        t["lt"].as_str().expect("lt")
    )
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

pub async fn totals_and_lists(app: &Router) {
    let facts = facts();
    let totals = &facts["totals"];
    assert_eq!(
        count(app, &format!("/scan?{}", all_time(&facts))).await,
        totals["records"].as_u64().unwrap()
    );
    let users = get_ok(app, "/users").await;
    let f01 = fact(&facts, "F01");
    assert_eq!(
        users.as_array().unwrap().len() as u64,
        f01["answer"]["principal"].as_u64().unwrap(),
        "F01"
    );
    // Services: computed here from the files, since FACTS.json counts the
    // Insights records' absent eventSource as a source of its own.
    let expected: BTreeSet<String> = crate::support::corpus::sample_records()
        .iter()
        .filter_map(|r| {
            r["eventSource"]
                .as_str()
                .or(r["insightDetails"]["eventSource"].as_str())
        })
        .map(|s| s.trim_end_matches(".amazonaws.com").to_owned())
        .collect();
    let services: BTreeSet<String> = get_ok(app, "/services")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|s| str_of(s).to_owned())
        .collect();
    assert_eq!(services, expected);
    assert!(services.len() as u64 >= totals["distinct_eventSources"].as_u64().unwrap() - 1);
    // Parameters: every top-level field and every requestParameters key seen.
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for record in crate::support::corpus::sample_records() {
        expected.extend(record.as_object().unwrap().keys().cloned());
        if let Some(params) = record["requestParameters"].as_object() {
            expected.extend(params.keys().map(|k| format!("requestParameters.{k}")));
        }
    }
    let parameters: BTreeSet<String> = get_ok(app, "/parameters")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|s| str_of(s).to_owned())
        .collect();
    assert_eq!(parameters, expected);
    assert!(parameters.contains("requestParameters.instanceType"));
    for (principal, n) in totals["top_principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (str_of(&p[0]), &p[1]))
    {
        let uri = format!("/users/{}?{}", enc(principal), all_time(&facts));
        assert_eq!(
            count(app, &uri).await,
            n.as_u64().unwrap(),
            "events of {principal}"
        );
    }
}

/// F02: a user's events of one service in one hour.
pub async fn f02_user_service_hour(app: &Router) {
    let f = fact(&facts(), "F02");
    let q = &f["query"];
    let uri = format!(
        "/users/{}?{}&param=eventSource&value={}",
        enc(str_of(&q["userIdentity.userName"])),
        window(q),
        enc(str_of(&q["eventSource"]))
    );
    assert_eq!(count(app, &uri).await, f["answer"].as_u64().unwrap());
    let events = all_pages(app, &format!("{uri}&limit=100")).await;
    assert_eq!(events.len() as u64, f["answer"].as_u64().unwrap());
    assert_sorted(&events);
}

/// F03: a user's total and top eventNames.
pub async fn f03_user_event_names(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F03");
    let user = enc(str_of(&f["query"]["userIdentity.userName"]));
    let base = format!("/users/{user}?{}", all_time(&facts));
    assert_eq!(
        count(app, &base).await,
        f["answer"]["total"].as_u64().unwrap()
    );
    for pair in f["answer"]["top_eventNames"].as_array().unwrap() {
        let n = count(app, &format!("{base}&eventName={}", enc(str_of(&pair[0])))).await;
        assert_eq!(n, pair[1].as_u64().unwrap(), "{user} {}", pair[0]);
    }
}

/// F04: RunInstances, and those with instanceType t2.micro.
pub async fn f04_run_instances(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F04");
    let base = format!("/scan?{}&eventName=RunInstances", all_time(&facts));
    assert_eq!(
        count(app, &base).await,
        f["answer"]["RunInstances"].as_u64().unwrap()
    );
    for pair in f["answer"]["by_instanceType"].as_array().unwrap() {
        let Some(kind) = pair[0].as_str() else {
            continue;
        };
        let uri = format!(
            "/services/ec2.amazonaws.com?{}&eventName=RunInstances&param=instanceType&value={kind}",
            all_time(&facts)
        );
        assert_eq!(
            count(app, &uri).await,
            pair[1].as_u64().unwrap(),
            "RunInstances {kind}"
        );
    }
    let listed = get_ok(app, &format!("/services/ec2?{}&eventName=RunInstances&params=['requestParameters.instanceType']&values=['t2.micro']", all_time(&facts))).await;
    assert_eq!(
        listed.as_array().unwrap().len() as u64,
        f["answer"]["t2.micro"].as_u64().unwrap()
    );
}

/// F05: AccessDenied errors by service.
pub async fn f05_access_denied(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F05");
    let all = all_time(&facts);
    assert_eq!(
        count(
            app,
            &format!("/scan?{all}&param=errorCode&value=AccessDenied")
        )
        .await,
        f["answer"]["total"].as_u64().unwrap()
    );
    for pair in f["answer"]["top_eventSources"].as_array().unwrap() {
        let uri = format!(
            "/services/{}?{all}&param=errorCode&value=AccessDenied",
            enc(str_of(&pair[0]))
        );
        let events = get_ok(app, &uri).await;
        assert_eq!(
            events.as_array().unwrap().len() as u64,
            pair[1].as_u64().unwrap(),
            "{}",
            pair[0]
        );
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["errorCode"] == "AccessDenied")
        );
    }
}

/// F06: console logins by result (a bare name falls back to responseElements).
pub async fn f06_console_logins(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F06");
    let base = format!("/scan?{}&eventName=ConsoleLogin", all_time(&facts));
    assert_eq!(
        count(app, &base).await,
        f["answer"]["total"].as_u64().unwrap()
    );
    for pair in f["answer"]["by_result"].as_array().unwrap() {
        let n = count(
            app,
            &format!("{base}&param=ConsoleLogin&value={}", str_of(&pair[0])),
        )
        .await;
        assert_eq!(n, pair[1].as_u64().unwrap(), "ConsoleLogin {}", pair[0]);
    }
}

/// F07: events through an assumed role: its principal is the role.
pub async fn f07_assumed_role(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F07");
    let role = str_of(&f["query"]["userIdentity.sessionContext.sessionIssuer.userName"]);
    let uri = format!(
        "/users/{}?{}&param=userIdentity.type&value=AssumedRole&limit=10000",
        enc(role),
        all_time(&facts)
    );
    let events = get_ok(app, &uri).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len() as u64, f["answer"]["events"].as_u64().unwrap());
    assert_distinct(events, "eventName", &f["answer"]["distinct_eventNames"]);
}

/// F08: one region on one day: events, failures, distinct names.
pub async fn f08_region_day(app: &Router) {
    let f = fact(&facts(), "F08");
    let q = &f["query"];
    let uri = format!(
        "/scan?{}&param=awsRegion&value={}",
        window(q),
        str_of(&q["awsRegion"])
    );
    assert_eq!(
        count(app, &uri).await,
        f["answer"]["events"].as_u64().unwrap()
    );
    let events = all_pages(app, &format!("{uri}&limit=1000")).await;
    assert_eq!(events.len() as u64, f["answer"]["events"].as_u64().unwrap());
    assert_sorted(&events);
    let failed = events.iter().filter(|e| !e["errorCode"].is_null()).count() as u64;
    assert_eq!(failed, f["answer"]["with_errorCode"].as_u64().unwrap());
    assert_distinct(&events, "eventName", &f["answer"]["distinct_eventNames"]);
}

/// F09: events from one source IP, and how many principals made them.
pub async fn f09_source_ip(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F09");
    let uri = format!(
        "/scan?{}&param=sourceIPAddress&value={}&limit=10000",
        all_time(&facts),
        str_of(&f["query"]["sourceIPAddress"])
    );
    let events = get_ok(app, &uri).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len() as u64, f["answer"]["events"].as_u64().unwrap());
    assert_distinct(
        events,
        "userIdentity_userName",
        &f["answer"]["distinct_principals"],
    );
}

/// F10: events per identity type (a dotted path into the record).
pub async fn f10_identity_types(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F10");
    for pair in f["answer"].as_array().unwrap() {
        let Some(kind) = pair[0].as_str() else {
            continue;
        };
        let n = count(
            app,
            &format!(
                "/scan?{}&param=userIdentity.type&value={kind}",
                all_time(&facts)
            ),
        )
        .await;
        assert_eq!(n, pair[1].as_u64().unwrap(), "userIdentity.type {kind}");
    }
}

/// F11: Insights events, named after the API they describe.
pub async fn f11_insights(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F11");
    let events = get_ok(
        app,
        &format!(
            "/scan?{}&param=eventType&value=AwsCloudTrailInsight",
            all_time(&facts)
        ),
    )
    .await;
    let mut names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| str_of(&e["eventName"]))
        .collect();
    names.sort();
    let expected: Vec<&str> = f["answer"]["insightDetails.eventName"]
        .as_array()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(names, expected);
}

/// F12: point lookups, and each event listed under its principal.
pub async fn f12_point_lookups(app: &Router) {
    let f = fact(&facts(), "F12");
    for expected in f["answer"].as_array().unwrap() {
        let id = str_of(&expected["eventID"]);
        let record = get_ok(app, &format!("/events/{id}")).await;
        for field in [
            "eventID",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
        ] {
            assert_eq!(record[field], expected[field], "{id} {field}");
        }
        assert_eq!(
            record.get("errorCode").cloned().unwrap_or(Value::Null),
            expected["errorCode"]
        );
        let time = str_of(&expected["eventTime"]);
        let listed = get_ok(
            app,
            &format!(
                "/users/{}?from={time}&to={}",
                enc(str_of(&expected["principal"])),
                &time[..10]
            ),
        )
        .await;
        let summary = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["eventID"] == id)
            .expect("listed under its principal");
        assert_eq!(summary["userIdentity_userName"], expected["principal"]);
        assert_eq!(summary["eventTime"], expected["eventTime"]);
    }
    let (status, _, body) = get(app, "/events/no-such-event").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("no-such-event"));
}

/// F13: the busiest hour, and its read-only events (a boolean compared as JSON text).
pub async fn f13_busiest_hour(app: &Router) {
    let f = fact(&facts(), "F13");
    let base = format!("/scan?{}", window(&f["query"]));
    assert_eq!(
        count(app, &base).await,
        f["answer"]["events"].as_u64().unwrap()
    );
    assert_eq!(
        count(app, &format!("{base}&param=readOnly&value=true")).await,
        f["answer"]["readOnly_true"].as_u64().unwrap()
    );
}

/// F14: an IAM request parameter, by eventName.
pub async fn f14_iam_user_parameter(app: &Router) {
    let facts = facts();
    let f = fact(&facts, "F14");
    let q = &f["query"];
    let uri = format!(
        "/services/iam?{}&param=requestParameters.userName&value={}",
        all_time(&facts),
        enc(str_of(&q["requestParameters.userName"]))
    );
    let events = get_ok(app, &uri).await;
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for e in events.as_array().unwrap() {
        *by_name
            .entry(str_of(&e["eventName"]).to_owned())
            .or_default() += 1;
    }
    let expected: BTreeMap<String, u64> = f["answer"]["by_eventName"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (str_of(&p[0]).to_owned(), p[1].as_u64().unwrap()))
        .collect();
    assert_eq!(by_name, expected);
}

/// Every event, page by page: each once, in (eventTime, eventID) order.
pub async fn pages_cover_everything_once(app: &Router) {
    let facts = facts();
    let events = all_pages(app, &format!("/scan?{}&limit=2500", all_time(&facts))).await;
    assert_eq!(
        events.len() as u64,
        facts["totals"]["records"].as_u64().unwrap()
    );
    let ids: BTreeSet<&str> = events.iter().map(|e| str_of(&e["eventID"])).collect();
    assert_eq!(ids.len(), events.len(), "no event twice");
    assert_sorted(&events);
}

/// Asserts how many distinct values `field` takes over `events`.
fn assert_distinct(events: &[Value], field: &str, expected: &Value) {
    let values: BTreeSet<&str> = events.iter().map(|e| str_of(&e[field])).collect();
    assert_eq!(
        values.len() as u64,
        expected.as_u64().expect("a count in FACTS.json"),
        "distinct values of {field}"
    );
}

fn assert_sorted(events: &[Value]) {
    let key = |e: &Value| {
        let t = tracker_runtime::time::parse_event_time(str_of(&e["eventTime"]))
            .expect("eventTime parses");
        (t, str_of(&e["eventID"]).to_owned())
    };
    for pair in events.windows(2) {
        assert!(
            key(&pair[0]) <= key(&pair[1]),
            "not sorted: {} then {}",
            pair[0],
            pair[1]
        );
    }
}

/// Generates one test per fact for a store; `$app` is an async expression
/// giving the router over that store with the sample ingested.
macro_rules! facts_suite {
    ($store:ident, $app:expr) => {
        mod $store {
            use super::*;
            facts_suite!(@tests $app; totals_and_lists, f02_user_service_hour, f03_user_event_names,
                f04_run_instances, f05_access_denied, f06_console_logins, f07_assumed_role, f08_region_day,
                f09_source_ip, f10_identity_types, f11_insights, f12_point_lookups, f13_busiest_hour,
                f14_iam_user_parameter, pages_cover_everything_once);
        }
    };
    (@tests $app:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let app: Router = $app;
                super::$name(&app).await;
            }
        )*
    };
}

pub async fn dynamodb_app() -> Router {
    let corpus = crate::support::corpus::moto_corpus();
    let sdk = crate::support::sdk_config().await;
    let store = tracker_runtime::store::DynamoStore::new(
        crate::support::dynamodb_client(&sdk),
        corpus.table.clone(),
    );
    tracker_runtime::api::router(tracker_runtime::api::ApiState::new(std::sync::Arc::new(
        store,
    )))
}

facts_suite!(dynamodb, dynamodb_app().await);

pub async fn embedded_app() -> Router {
    let store = crate::support::corpus::embedded_corpus();
    tracker_runtime::api::router(tracker_runtime::api::ApiState::new(std::sync::Arc::new(
        store.clone(),
    )))
}

facts_suite!(embedded, embedded_app().await);

/// What ingesting the sample cost, for the record, and the budget that holds
/// the design to it: at most 3.6 write units per event, with the blocks and
/// generations every new lookup and statistic needs (3 of them are the event
/// in the table and its two indexes) and the rollups built once.
#[test]
fn ingest_cost_of_the_sample() {
    let corpus = crate::support::corpus::moto_corpus();
    let events = facts()["totals"]["records"].as_u64().unwrap();
    assert_eq!(corpus.stored, events);
    let per_1000 = |x: f64| x * 1000.0 / events as f64;
    eprintln!(
        "per 1,000 events: {:.1} BatchWriteItem requests, {:.1} items written, {:.0} write units billed; {} objects in {:.2?}",
        per_1000(corpus.writes.requests as f64),
        per_1000(corpus.writes.items as f64),
        per_1000(corpus.writes.billed_write_units as f64),
        corpus.files,
        corpus.elapsed
    );
    assert_eq!(corpus.writes.retries, 0, "the emulator never throttles");
    // The same objects delivered again to the same warm handler (as a
    // Lambda container sees events of users and services it has
    // catalogued): no catalog entry is written again.
    let warm = &corpus.warm_writes;
    eprintln!(
        "warm, per 1,000 events: {:.1} requests, {:.1} items, {:.0} write units billed",
        per_1000(warm.requests as f64),
        per_1000(warm.items as f64),
        per_1000(warm.billed_write_units as f64),
    );
    eprintln!(
        "rollups, built once for the whole sample: {} write units ({:.0} per 1,000 events)",
        corpus.rollup_write_units,
        per_1000(corpus.rollup_write_units as f64)
    );
    assert!(
        warm.items < corpus.writes.items,
        "a warm handler writes no catalog entry"
    );
    assert!(
        warm.billed_write_units >= 3 * events,
        "three copies of each event"
    );
    let with_rollups = corpus.writes.billed_write_units + corpus.rollup_write_units;
    assert!(
        per_1000(with_rollups as f64) <= 3_600.0,
        "{:.0} write units per 1,000 events with the rollups",
        per_1000(with_rollups as f64)
    );
}
