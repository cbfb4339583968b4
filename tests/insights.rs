//! Lookups and statistics against `INSIGHT-FACTS.json` (answers computed
//! independently from the sample's files): every lookup filter alone and
//! combined, on `/scan`, `/users/{user}` and `/services/{service}`, counted
//! and listed page by page; `/stats` for every key; `/stats/daily`. The same
//! suite runs against both stores (see `insights_suite!`), and a second part
//! checks random filter combinations against answers this test computes
//! itself from the files.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use serde_json::{Value, json};

use crate::support::corpus::{sample_dir, sample_records};
use crate::support::{all_pages, get, get_ok};

/// `INSIGHT-FACTS.json`, beside the sample.
fn insight_facts() -> Value {
    let path = sample_dir().join("INSIGHT-FACTS.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn facts_of_kind(kind: &str) -> Vec<Value> {
    let facts = insight_facts();
    let all: Vec<Value> = facts["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .filter(|f| f["kind"] == kind)
        .cloned()
        .collect();
    assert!(!all.is_empty(), "INSIGHT-FACTS.json has no {kind} facts");
    all
}

fn ids(events: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = events
        .iter()
        .map(|e| e["eventID"].as_str().expect("eventID").to_owned())
        .collect();
    ids.sort();
    ids
}

/// The fact's query with `extra` appended.
fn with(query: &str, extra: &str) -> String {
    format!("{query}&{extra}")
}

/// Every lookup fact: the count, and the events page by page (with the
/// fact's page size when it names one).
pub async fn lookups(app: &Router) {
    let mut failures = Vec::new();
    for fact in facts_of_kind("lookup") {
        let id = fact["id"].as_str().unwrap_or_default();
        let query = fact["query"].as_str().expect("query");
        let answer = &fact["answer"];
        let expected = answer["count"].as_u64().expect("count");
        let count = get_ok(app, &with(query, "count=true")).await;
        if count.as_u64() != Some(expected) {
            failures.push(format!("{id} {query}: count {count}, expected {expected}"));
            continue;
        }
        let limit = fact["page_limit"].as_u64().unwrap_or(2500);
        let events = all_pages(app, &with(query, &format!("limit={limit}"))).await;
        if events.len() as u64 != expected {
            failures.push(format!(
                "{id} {query}: {} events listed, expected {expected}",
                events.len()
            ));
        }
        let unique: BTreeSet<String> = ids(&events).into_iter().collect();
        if unique.len() != events.len() {
            failures.push(format!("{id}: an event listed twice"));
        }
        if let Some(expected_ids) = answer["eventIDs"].as_array() {
            let expected_ids: Vec<String> = expected_ids
                .iter()
                .map(|v| v.as_str().expect("an id").to_owned())
                .collect();
            if ids(&events) != expected_ids {
                failures.push(format!("{id} {query}: other events listed"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub async fn stats(app: &Router) {
    let mut failures = Vec::new();
    for fact in facts_of_kind("stats") {
        let query = fact["query"].as_str().expect("query");
        let got = get_ok(app, query).await;
        if got != fact["answer"] {
            failures.push(format!(
                "{} {query}:\n  got      {got}\n  expected {}",
                fact["id"], fact["answer"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub async fn daily(app: &Router) {
    for fact in facts_of_kind("daily") {
        let query = fact["query"].as_str().expect("query");
        assert_eq!(get_ok(app, query).await, fact["answer"], "{}", fact["id"]);
    }
}

/// Bad lookups and statistics are 400s that name the parameter.
pub async fn bad_requests_name_the_parameter(app: &Router) {
    for (uri, needle) in [
        ("/scan?readOnly=maybe", "readOnly"),
        ("/scan?errorCode=", "errorCode"),
        ("/stats", "`by`"),
        ("/stats?by=colour", "colour"),
        ("/stats?by=principal&top=0", "top"),
        ("/stats?by=principal&top=1001", "top"),
        ("/stats?by=principal&user=a&service=b", "user"),
        ("/stats/daily?limit=5", "limit"),
        ("/users/x?by=eventName", "`by`"),
    ] {
        let (status, _, body) = get(app, uri).await;
        assert_eq!(status, 400, "GET {uri}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "GET {uri}: {message}");
    }
}

/// What the test computes from the files: one record's attributes as the
/// API names them (an empty string is absent).
pub(crate) fn attribute_values(record: &Value, name: &str) -> Vec<String> {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let identity = &record["userIdentity"];
    match name {
        "eventName" => text(&record["eventName"])
            .or_else(|| text(&record["insightDetails"]["eventName"]))
            .into_iter()
            .collect(),
        "eventSource" => source(record).into_iter().collect(),
        "service" => vec![
            source(record)
                .map(|s| s.trim_end_matches(".amazonaws.com").to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "(none)".into()),
        ],
        "principal" => vec![principal(record)],
        "errorCode" => text(&record["errorCode"]).into_iter().collect(),
        "sourceIPAddress" => text(&record["sourceIPAddress"]).into_iter().collect(),
        "accessKeyId" => text(&identity["accessKeyId"]).into_iter().collect(),
        "region" => text(&record["awsRegion"]).into_iter().collect(),
        "account" => text(&record["recipientAccountId"])
            .or_else(|| text(&identity["accountId"]))
            .into_iter()
            .collect(),
        "readOnly" => record["readOnly"]
            .as_bool()
            .map(|b| b.to_string())
            .into_iter()
            .collect(),
        "resourceName" | "resourceType" => {
            let mut values: BTreeSet<String> = BTreeSet::new();
            for resource in record["resources"].as_array().into_iter().flatten() {
                let value = if name == "resourceType" {
                    text(&resource["type"])
                } else {
                    text(&resource["ARN"]).or_else(|| text(&resource["arn"]))
                };
                values.extend(value);
            }
            values.into_iter().collect()
        }
        other => panic!("no attribute {other}"),
    }
}

fn source(record: &Value) -> Option<String> {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    text(&record["eventSource"]).or_else(|| text(&record["insightDetails"]["eventSource"]))
}

fn principal(record: &Value) -> String {
    let ui = &record["userIdentity"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    if !ui.is_object() {
        return "(none)".into();
    }
    text(&ui["userName"])
        .or_else(|| {
            (ui["type"] == "AssumedRole")
                .then(|| text(&ui["sessionContext"]["sessionIssuer"]["userName"]))
                .flatten()
        })
        .or_else(|| text(&ui["arn"]))
        .or_else(|| text(&ui["principalId"]))
        .or_else(|| text(&ui["invokedBy"]))
        .unwrap_or_else(|| "(none)".into())
}

/// Random combinations of filters, windows and keys, answered by the API and
/// by a direct count over the sample's records: lists, counts, `/stats` and
/// `/stats/daily` must agree.
pub async fn random_combinations_match_the_files(app: &Router, cases: usize) {
    let records = sample_records();
    let mut rng = fastrand::Rng::with_seed(20261202);
    let filters = [
        "eventName",
        "readOnly",
        "accessKeyId",
        "errorCode",
        "sourceIPAddress",
        "resourceName",
        "resourceType",
        "eventSource",
        "region",
        "account",
    ];
    let times: Vec<chrono::DateTime<chrono::Utc>> = records
        .iter()
        .map(|r| {
            tracker_runtime::time::parse_event_time(r["eventTime"].as_str().expect("eventTime"))
                .expect("eventTime parses")
        })
        .collect();
    let mut failures = Vec::new();
    for case in 0..cases {
        // Filters take values from a record, so most combinations match something.
        let anchor = &records[rng.usize(..records.len())];
        let mut terms: Vec<(String, String)> = Vec::new();
        for _ in 0..rng.usize(1..=3) {
            let name = filters[rng.usize(..filters.len())];
            if terms.iter().any(|(n, _)| n == name) {
                continue;
            }
            let values = attribute_values(anchor, name);
            let value = match values.as_slice() {
                [] if name == "errorCode" => "*".to_owned(),
                [] => continue,
                _ => values[rng.usize(..values.len())].clone(),
            };
            terms.push((name.to_owned(), value));
        }
        let anchor_time = times[rng.usize(..times.len())];
        let (from, to) = match rng.u8(..3) {
            0 => (
                chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z")
                    .expect("a date")
                    .to_utc(),
            ),
            1 => (
                anchor_time - chrono::Duration::hours(rng.i64(0..30)),
                anchor_time + chrono::Duration::minutes(rng.i64(1..2000)),
            ),
            _ => (
                anchor_time - chrono::Duration::seconds(rng.i64(0..4000)),
                anchor_time + chrono::Duration::seconds(rng.i64(1..4000)),
            ),
        };
        let scope = match rng.u8(..3) {
            0 => ("/scan".to_owned(), None),
            1 => {
                let user = principal(anchor);
                (
                    format!("/users/{}", crate::support::enc(&user)),
                    Some(("principal", user)),
                )
            }
            _ => {
                let service = attribute_values(anchor, "service").remove(0);
                (
                    format!("/services/{}", crate::support::enc(&service)),
                    Some(("service", service)),
                )
            }
        };
        // Whole seconds, as the query string says them.
        let whole = |t: chrono::DateTime<chrono::Utc>| {
            chrono::DateTime::from_timestamp(t.timestamp(), 0).expect("a time")
        };
        let (from, to) = (whole(from), whole(to));
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut query = format!("from={}&to={}", fmt(from), fmt(to));
        for (name, value) in &terms {
            query.push_str(&format!("&{name}={}", crate::support::enc(value)));
        }
        let selected: Vec<usize> = (0..records.len())
            .filter(|&i| times[i] >= from && times[i] < to)
            .filter(|&i| {
                terms.iter().all(|(name, value)| {
                    let values = attribute_values(&records[i], name);
                    if name == "errorCode" && value == "*" {
                        !values.is_empty()
                    } else {
                        values.contains(value)
                    }
                })
            })
            .filter(|&i| match &scope.1 {
                Some((attr, value)) => attribute_values(&records[i], attr).contains(value),
                None => true,
            })
            .collect();
        let expected_ids: Vec<String> = {
            let mut ids: Vec<String> = selected
                .iter()
                .map(|&i| records[i]["eventID"].as_str().expect("eventID").to_owned())
                .collect();
            ids.sort();
            ids
        };
        let limit = [3, 50, 1000][rng.usize(..3)];
        let listed = all_pages(app, &format!("{}?{query}&limit={limit}", scope.0)).await;
        if ids(&listed) != expected_ids {
            failures.push(format!(
                "case {case} {}?{query}: {} listed, {} expected",
                scope.0,
                listed.len(),
                expected_ids.len()
            ));
        }
        let by = [
            "principal",
            "service",
            "eventName",
            "errorCode",
            "sourceIPAddress",
            "accessKeyId",
            "region",
            "account",
        ][rng.usize(..8)];
        let mut stats_query = format!("/stats?{query}&by={by}&top=1000");
        if let Some((attr, value)) = &scope.1 {
            let name = if *attr == "principal" {
                "user"
            } else {
                "service"
            };
            stats_query.push_str(&format!("&{name}={}", crate::support::enc(value)));
        }
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut days: BTreeMap<String, u64> = BTreeMap::new();
        for &i in &selected {
            for value in attribute_values(&records[i], by) {
                *counts.entry(value).or_default() += 1;
            }
            *days
                .entry(times[i].format("%Y-%m-%d").to_string())
                .or_default() += 1;
        }
        let mut items: Vec<(String, u64)> = counts.into_iter().collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let expected_stats = json!({
            "by": by,
            "total": selected.len(),
            "distinct": items.len(),
            "items": items.iter().map(|(k, n)| json!({"key": k, "count": n})).collect::<Vec<_>>(),
        });
        let got = get_ok(app, &stats_query).await;
        if got != expected_stats {
            failures.push(format!(
                "case {case} {stats_query}:\n  got      {got}\n  expected {expected_stats}"
            ));
        }
        let daily_query = stats_query.replacen("/stats?", "/stats/daily?", 1);
        let daily_query = daily_query.replace(&format!("&by={by}&top=1000"), "");
        let expected_daily = json!({
            "days": days.iter().map(|(d, n)| json!({"day": d, "count": n})).collect::<Vec<_>>()
        });
        let got = get_ok(app, &daily_query).await;
        if got != expected_daily {
            failures.push(format!(
                "case {case} {daily_query}:\n  got      {got}\n  expected {expected_daily}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Generates the suite for a store; `$app` is an async expression giving the
/// router over that store with the sample ingested, `$cases` how many random
/// combinations to try (moto answers each request slowly).
macro_rules! insights_suite {
    ($store:ident, $app:expr, $cases:expr) => {
        mod $store {
            use super::*;
            insights_suite!(@tests $app; lookups, stats, daily, bad_requests_name_the_parameter,
                pages_past_their_deadline_resume_exactly);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn random_combinations_match_the_files() {
                let app: Router = $app;
                super::random_combinations_match_the_files(&app, $cases).await;
            }
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

insights_suite!(embedded, crate::facts::embedded_app().await, 40);
insights_suite!(dynamodb, crate::facts::dynamodb_app().await, 8);

/// A page past its deadline (a Lambda running out of time) ends early with
/// a `Link` to where it stopped; following the links, always past the
/// deadline, still lists every match exactly once, in order.
pub async fn pages_past_their_deadline_resume_exactly(app: &Router) {
    use tower::ServiceExt;
    for (query, expected) in [
        // Lookups (blocks and rollups).
        (
            "/scan?from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&errorCode=*&limit=1000",
            149,
        ),
        // A filter on the record (the indexes, on DynamoDB).
        (
            "/scan?from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&param=eventName&value=RunInstances&limit=1000",
            26,
        ),
    ] {
        let mut listed: Vec<Value> = Vec::new();
        let mut next = Some(query.to_owned());
        let mut pages = 0;
        while let Some(uri) = next.take() {
            let mut request = axum::http::Request::get(&uri)
                .header("host", "tracker.test")
                .body(axum::body::Body::empty())
                .expect("request");
            request
                .extensions_mut()
                .insert(tracker_runtime::api::ResponseDeadline(
                    std::time::Instant::now(),
                ));
            let response = app.clone().oneshot(request).await.expect("router");
            assert_eq!(response.status(), 200, "{uri}");
            next = response
                .headers()
                .get("link")
                .and_then(|l| l.to_str().ok())
                .and_then(|l| l.trim_start_matches('<').split('>').next())
                .map(|u| u.trim_start_matches("http://tracker.test").to_owned());
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            let page: Vec<Value> = serde_json::from_slice(&body).expect("a page");
            listed.extend(page);
            pages += 1;
            assert!(pages < 5000, "{query}: the pages do not end");
        }
        assert_eq!(listed.len(), expected, "{query}: {pages} pages");
        assert!(pages > 1, "{query}: the deadline never ended a page early");
        let unique: BTreeSet<String> = ids(&listed).into_iter().collect();
        assert_eq!(unique.len(), listed.len(), "{query}: an event listed twice");
    }
}
