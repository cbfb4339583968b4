//! Stored alerts, on both stores: rules evaluated at ingest (skipped events
//! included) become `GET /alerts` rows, paged, filtered by rule and minimum
//! level, refused with a 400 when asked wrongly; a log file ingested again
//! records and reports no alert twice; `tracker serve` refuses to start on
//! a rule it cannot use.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use serde_json::{Value, json};
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::ingest::rules::{RuleSet, RulesOptions};
use tracker_runtime::ingest::{FileReport, Ingestor, Pipeline, SkipList};
use tracker_runtime::store::{EmbeddedStore, EventStore};

use crate::support::served::tracker;
use crate::support::{all_pages, get, get_ok, new_dynamo_store, sdk_config};

const LOGIN_RULE: &str = "11111111-1111-4111-8111-111111111111";
const WHOAMI_RULE: &str = "22222222-2222-4222-8222-222222222222";
const EC2_RULE: &str = "33333333-3333-4333-8333-333333333333";

/// Three rules: console logins (high), `GetCallerIdentity` (low; an event
/// the skip list drops) and any EC2 call (critical).
fn rule_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let rule = |id: &str, title: &str, level: &str, selection: &str| {
        format!(
            "title: {title}\nid: {id}\nstatus: test\nlevel: {level}\nauthor: tracker tests\n\
             references:\n  - https://example.com/{level}\n\
             logsource:\n  product: aws\n  service: cloudtrail\n\
             detection:\n  selection:\n    {selection}\n  condition: selection\n"
        )
    };
    for (file, text) in [
        (
            "login.yml",
            rule(
                LOGIN_RULE,
                "Console login",
                "high",
                "eventName: ConsoleLogin",
            ),
        ),
        (
            "whoami.yml",
            rule(
                WHOAMI_RULE,
                "Who am I",
                "low",
                "eventName: GetCallerIdentity",
            ),
        ),
        (
            "ec2.yml",
            rule(
                EC2_RULE,
                "EC2 call",
                "critical",
                "eventSource: ec2.amazonaws.com",
            ),
        ),
    ] {
        std::fs::write(dir.path().join(file), text).expect("write a rule");
    }
    dir
}

fn pipeline(rules: &tempfile::TempDir) -> Pipeline {
    let (rules, skipped) = RuleSet::load(&RulesOptions {
        builtin: false,
        folders: vec![rules.path().to_owned()],
        skip_invalid: false,
    })
    .expect("the test rules load");
    assert!(skipped.is_empty());
    assert_eq!(rules.len(), 3);
    Pipeline {
        skip: SkipList::new(["Get"]),
        rules,
        ..Pipeline::default()
    }
}

/// A log file over two months: 5 console logins (one in May), 3
/// `GetCallerIdentity` (not stored), 2 EC2 calls, and 2 records no rule matches.
fn log_file() -> Vec<u8> {
    let mut records = Vec::new();
    let mut add = |id: &str, time: &str, name: &str, source: &str| {
        records.push(json!({
            "eventVersion": "1.08",
            "eventID": id,
            "eventTime": time,
            "eventName": name,
            "eventSource": source,
            "awsRegion": "eu-west-1",
            "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "IAMUser", "userName": "alice"},
        }));
    };
    for day in 1..=4 {
        add(
            &format!("login-{day}"),
            &format!("2024-04-{day:02}T10:00:00Z"),
            "ConsoleLogin",
            "signin.amazonaws.com",
        );
    }
    add(
        "login-may",
        "2024-05-02T08:00:00Z",
        "ConsoleLogin",
        "signin.amazonaws.com",
    );
    for n in 1..=3 {
        add(
            &format!("whoami-{n}"),
            &format!("2024-04-0{n}T11:00:00Z"),
            "GetCallerIdentity",
            "sts.amazonaws.com",
        );
    }
    add(
        "ec2-1",
        "2024-04-03T12:00:00Z",
        "RunInstances",
        "ec2.amazonaws.com",
    );
    add(
        "ec2-2",
        "2024-05-01T12:00:00Z",
        "StopInstances",
        "ec2.amazonaws.com",
    );
    add(
        "quiet-1",
        "2024-04-03T12:00:00Z",
        "PutObject",
        "s3.amazonaws.com",
    );
    add(
        "quiet-2",
        "2024-04-04T12:00:00Z",
        "ListBuckets",
        "s3.amazonaws.com",
    );
    serde_json::to_vec(&json!({ "Records": records })).expect("JSON")
}

const SOURCE: &str = "s3://trail/AWSLogs/123456789012/CloudTrail/eu-west-1/2024/04/01/\
                      123456789012_CloudTrail_eu-west-1_20240401T1000Z_alerts.json.gz";

async fn ingest(ingestor: &Ingestor) -> FileReport {
    let report = ingestor
        .ingest_reader(SOURCE.to_owned(), std::io::Cursor::new(log_file()), None)
        .await;
    assert!(
        matches!(
            report.outcome,
            tracker_runtime::ingest::FileOutcome::Ingested
        ),
        "{report:?}"
    );
    report
}

fn ids(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["ruleId"].as_str().unwrap(),
                a["eventID"].as_str().unwrap()
            )
        })
        .collect()
}

/// The whole scenario against one store.
async fn alerts_on(store: Arc<dyn EventStore>) {
    let rules = rule_folder();
    let ingestor = Ingestor::new(Arc::clone(&store), pipeline(&rules));
    let first = ingest(&ingestor).await;
    assert_eq!(first.stored, 9, "GetCallerIdentity is skipped");
    assert_eq!(first.counts.filtered, 3);
    assert_eq!(
        first.new_alerts.len(),
        10,
        "5 logins, 3 skipped GetCallerIdentity, 2 EC2 calls"
    );
    let whoami: Vec<&str> = first
        .new_alerts
        .iter()
        .filter(|a| a.rule.id == WHOAMI_RULE)
        .map(|a| a.event.event_id.as_str())
        .collect();
    assert_eq!(whoami, ["whoami-1", "whoami-2", "whoami-3"]);
    let login = first
        .new_alerts
        .iter()
        .find(|a| a.event.event_id == "login-1")
        .expect("login-1 alerts");
    assert_eq!(
        (
            login.rule.title.as_str(),
            login.event.event_name.as_str(),
            login.event.principal.as_str(),
            login.event.source_ip.as_str(),
            login.event.event_time.as_str()
        ),
        (
            "Console login",
            "ConsoleLogin",
            "alice",
            "203.0.113.7",
            "2024-04-01T10:00:00Z"
        )
    );

    let app = router(ApiState::new(Arc::clone(&store)));
    let everything = "/alerts?from=2024-01-01&to=2024-12-31";
    let all = get_ok(&app, everything).await;
    let all = all.as_array().expect("an array").clone();
    assert_eq!(all.len(), 10, "{all:?}");
    let times: Vec<&str> = all
        .iter()
        .map(|a| a["eventTime"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    let whoami_row = all
        .iter()
        .find(|a| a["eventID"] == "whoami-2")
        .expect("a skipped event still alerts");
    assert_eq!(
        whoami_row,
        &json!({
            "ruleId": WHOAMI_RULE,
            "title": "Who am I",
            "level": "low",
            "author": "tracker tests",
            "references": ["https://example.com/low"],
            "eventID": "whoami-2",
            "eventTime": "2024-04-02T11:00:00Z",
            "eventName": "GetCallerIdentity",
            "eventSource": "sts.amazonaws.com",
            "principal": "alice",
            "sourceIPAddress": "203.0.113.7",
            "awsRegion": "eu-west-1",
            "file": SOURCE,
        })
    );

    // Pages of 3 (and of 1) list the same alerts, across both months.
    for limit in [1, 3] {
        let paged = all_pages(&app, &format!("{everything}&limit={limit}")).await;
        assert_eq!(ids(&paged), ids(&all), "limit={limit}");
    }
    let (_, headers, page) = get(&app, &format!("{everything}&limit=4")).await;
    assert_eq!(page.as_array().map(Vec::len), Some(4));
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("rel=\"next\"") && link.contains("nextToken=") && link.contains("/alerts?"),
        "{link}"
    );

    // Filters: one rule; a minimum level; a window of one month.
    let logins = all_pages(&app, &format!("{everything}&rule={LOGIN_RULE}&limit=2")).await;
    assert_eq!(logins.len(), 5);
    assert!(logins.iter().all(|a| a["ruleId"] == LOGIN_RULE));
    let severe = all_pages(&app, &format!("{everything}&level=HIGH&limit=2")).await;
    let levels: BTreeSet<&str> = severe
        .iter()
        .map(|a| a["level"].as_str().unwrap())
        .collect();
    assert_eq!(severe.len(), 7, "5 high and 2 critical");
    assert_eq!(levels, BTreeSet::from(["critical", "high"]));
    let critical = get_ok(&app, &format!("{everything}&level=critical")).await;
    assert_eq!(ids(critical.as_array().unwrap()).len(), 2);
    let may = get_ok(&app, "/alerts?from=2024-05-01&to=2024-05-31").await;
    assert_eq!(
        ids(may.as_array().unwrap()),
        [
            format!("{EC2_RULE}/ec2-2"),
            format!("{LOGIN_RULE}/login-may")
        ]
    );
    let window = get_ok(
        &app,
        "/alerts?from=2024-04-02T10:00:00Z&to=2024-04-03T12:00:00Z",
    )
    .await;
    assert_eq!(
        ids(window.as_array().unwrap()),
        [
            format!("{LOGIN_RULE}/login-2"),
            format!("{WHOAMI_RULE}/whoami-2"),
            format!("{LOGIN_RULE}/login-3"),
            format!("{WHOAMI_RULE}/whoami-3"),
        ],
        "[from, to): an alert at `to` is left out"
    );
    let none = get_ok(&app, "/alerts?from=2023-01-01&to=2023-12-31").await;
    assert_eq!(none, json!([]));

    // Bad requests are 400s that say what to fix.
    let token_of_other_query = {
        let (_, headers, _) = get(&app, &format!("{everything}&limit=1")).await;
        let link = headers["link"].to_str().unwrap().to_owned();
        link.split("nextToken=")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap()
            .to_owned()
    };
    for (uri, needle) in [
        ("/alerts?level=severe".to_owned(), "`level`"),
        ("/alerts?from=yesterday".to_owned(), "`from`"),
        ("/alerts?from=2024-02-01&to=2024-01-01".to_owned(), "after"),
        ("/alerts?limit=0".to_owned(), "`limit`"),
        ("/alerts?eventName=x".to_owned(), "unknown query parameter"),
        ("/alerts?rule=".to_owned(), "empty"),
        (
            format!("{everything}&rule=x&nextToken={token_of_other_query}"),
            "different query",
        ),
    ] {
        let (status, _, body) = get(&app, &uri).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains(needle),
            "{uri}: {body}"
        );
    }

    // The same file again (a redelivery), through a new process's ingestor:
    // nothing is new, nothing is stored twice.
    let again = Ingestor::new(Arc::clone(&store), pipeline(&rules));
    let second = ingest(&again).await;
    assert!(second.new_alerts.is_empty(), "{:?}", second.new_alerts);
    let third = ingest(&again).await;
    assert!(third.new_alerts.is_empty());
    let after = get_ok(&app, everything).await;
    assert_eq!(ids(after.as_array().unwrap()), ids(&all));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_in_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("t.db")).expect("open");
    alerts_on(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_in_dynamodb() {
    let sdk = sdk_config().await;
    let store = new_dynamo_store(&sdk).await;
    alerts_on(store as Arc<dyn EventStore>).await;
}

/// Two deliveries of one file ingested at the same time (two Lambda
/// instances): each alert is new for exactly one of them.
async fn concurrent_deliveries_alert_once(store: Arc<dyn EventStore>) {
    let rules = rule_folder();
    let a = Ingestor::new(Arc::clone(&store), pipeline(&rules));
    let b = Ingestor::new(Arc::clone(&store), pipeline(&rules));
    let (first, second) = tokio::join!(ingest(&a), ingest(&b));
    let mut new: Vec<(String, String)> = first
        .new_alerts
        .iter()
        .chain(&second.new_alerts)
        .map(|n| (n.rule.id.clone(), n.event.event_id.clone()))
        .collect();
    new.sort();
    let before = new.len();
    new.dedup();
    assert_eq!((before, new.len()), (10, 10), "{new:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_alert_once_in_both_stores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let embedded = EmbeddedStore::open(&dir.path().join("t.db")).expect("open");
    concurrent_deliveries_alert_once(Arc::new(embedded)).await;
    let sdk = sdk_config().await;
    let dynamo = new_dynamo_store(&sdk).await;
    concurrent_deliveries_alert_once(dynamo as Arc<dyn EventStore>).await;
}

/// An empty store answers `/alerts` with an empty page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_alerts_is_an_empty_list() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("t.db")).expect("open");
    let app: Router = router(ApiState::new(Arc::new(store)));
    assert_eq!(get_ok(&app, "/alerts").await, json!([]));
}

#[test]
fn serve_refuses_a_rule_it_cannot_use_unless_told_to_skip_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("my-rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("counting.yml"),
        "title: Too many logins\nlogsource:\n  product: aws\n  service: cloudtrail\n\
         detection:\n  sel:\n    eventName: ConsoleLogin\n  condition: sel | count() > 5\n",
    )
    .unwrap();
    let settings = |skip: bool| {
        format!(
            "[rules]\nbuiltin = false\nfolders = [\"my-rules\"]\nskip_invalid = {skip}\n\
             [local]\nlisten = \"0.0.0.0:0\"\n"
        )
    };
    std::fs::write(dir.path().join("settings.toml"), settings(false)).unwrap();
    let output = tracker(dir.path())
        .args(["serve", "--db", "t.db"])
        .output()
        .expect("run tracker");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    for needle in ["counting.yml", "Too many logins", "count()", "skip_invalid"] {
        assert!(stderr.contains(needle), "{needle} not in: {stderr}");
    }
    assert!(
        !dir.path().join("t.db").exists(),
        "refused before opening anything"
    );
    // Told to skip it, serve gets past the rules (and stops at the next
    // check: a public address without a key) after warning about the rule.
    std::fs::write(dir.path().join("settings.toml"), settings(true)).unwrap();
    let output = tracker(dir.path())
        .args(["serve", "--db", "t.db"])
        .output()
        .expect("run tracker");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: left out") && stderr.contains("counting.yml"),
        "{stderr}"
    );
    assert!(stderr.contains("refusing to listen"), "{stderr}");
}
