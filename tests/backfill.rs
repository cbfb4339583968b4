//! `tracker backfill` end to end: the real binary against moto's S3 and
//! DynamoDB. Stored counts equal the facts (and, for `--since`/`--until`,
//! counts this test computes itself from the files); re-running changes no
//! count; bad objects are reported, the rest stored, the exit status says so;
//! organization-trail layouts under a custom prefix are found.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use chrono::NaiveDate;

use crate::support::corpus::{facts, sample_files, sample_records};
use crate::support::{
    moto_endpoint, new_bucket, new_dynamo_store, s3_client, sdk_config, stored_items,
};

/// Runs the tracker binary against moto in `dir` (settings naming `table`).
fn tracker(dir: &Path, table: &str, args: &[&str]) -> Output {
    std::fs::write(
        dir.join("settings.toml"),
        format!("[table]\nname = \"{table}\"\n"),
    )
    .expect("write settings");
    let output = Command::new(env!("CARGO_BIN_EXE_tracker"))
        .args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            crate::support::dynamodb_endpoint(),
        )
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("TRACKER_HANDLER")
        .output()
        .expect("run tracker");
    eprintln!(
        "tracker {}:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Events in a table, counted directly (a test-only Scan).
async fn stored_events(client: &aws_sdk_dynamodb::Client, table: &str) -> u64 {
    stored_items(client, table, "E#").await
}

/// Alert rows in a table (not the months' markers), counted directly.
async fn stored_alerts(client: &aws_sdk_dynamodb::Client, table: &str) -> u64 {
    stored_items(client, table, "A#2").await
}

/// The number of `tracker alerts` matches (the built-in pack) on the sample.
fn triage_matches() -> u64 {
    let output = Command::new(env!("CARGO_BIN_EXE_tracker"))
        .args(["alerts", "--ndjson", "--logs"])
        .arg(crate::support::corpus::sample_dir())
        .output()
        .expect("run tracker alerts");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).lines().count() as u64
}

async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) {
    for (key, path) in sample_files() {
        let body = std::fs::read(path).expect("read sample");
        s3.put_object()
            .bucket(bucket)
            .key(format!("{prefix}{key}"))
            .body(body.into())
            .send()
            .await
            .expect("upload");
    }
}

/// Records of the sample per UTC day, computed here from the files.
fn records_per_day() -> BTreeMap<NaiveDate, u64> {
    let mut days = BTreeMap::new();
    for record in sample_records() {
        let time = record["eventTime"]
            .as_str()
            .and_then(tracker_runtime::time::parse_event_time)
            .expect("time");
        *days.entry(time.date_naive()).or_default() += 1;
    }
    days
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfills_the_sample_and_reruns_change_nothing() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let bucket = new_bucket(&s3).await;
    upload(&s3, &bucket, "").await;
    let store = new_dynamo_store(&sdk).await;
    let dynamodb = crate::support::dynamodb_client(&sdk);
    let dir = tempfile::tempdir().expect("temp dir");
    let total = facts()["totals"]["records"].as_u64().expect("records");

    let first = tracker(
        dir.path(),
        store.table(),
        &["backfill", "--bucket", &bucket],
    );
    assert!(first.status.success());
    let report = String::from_utf8_lossy(&first.stderr);
    assert!(
        report.contains("733 read") && report.contains(&format!("{total} stored")),
        "{report}"
    );
    assert_eq!(stored_events(&dynamodb, store.table()).await, total);
    // The built-in rules ran on the history: one alert per (rule, event),
    // as the offline triage finds them.
    let alerts = stored_alerts(&dynamodb, store.table()).await;
    assert!(alerts > 0);
    assert_eq!(alerts, triage_matches());
    // Writes are batched across files: the issue's budget is ≤ 50 requests
    // and ≤ 3,000 (+ catalog) write units per 1,000 events.
    let requests_per_1000: f64 = report
        .split_once("write units (")
        .and_then(|(_, rest)| rest.split_once(" requests"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no write summary in: {report}"));
    eprintln!("backfill of the sample: {requests_per_1000} requests per 1,000 events");
    // Measured 45.4 (the goal is ≤ 50; see BENCHMARKS.md). How full the
    // requests get depends a little on how fast files arrive (a tail waits
    // one moment for more), so the bound leaves room for a loaded machine;
    // it still fails without batching, which costs 129.3 (one object per
    // request, as in the Lambda).
    assert!(requests_per_1000 < 75.0, "{report}");

    let resumed = tracker(
        dir.path(),
        store.table(),
        &["backfill", "--bucket", &bucket],
    );
    assert!(resumed.status.success());
    let resumed_report = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        resumed_report.contains("0 read, 733 unchanged"),
        "the checkpoint skips what is done: {resumed_report}"
    );

    let again = tracker(
        dir.path(),
        store.table(),
        &[
            "backfill",
            "--bucket",
            &bucket,
            "--no-checkpoint",
            "--concurrency",
            "4",
        ],
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("733 read"));
    assert_eq!(
        stored_events(&dynamodb, store.table()).await,
        total,
        "rewriting is idempotent"
    );
    assert_eq!(stored_alerts(&dynamodb, store.table()).await, alerts);

    // --since/--until keep records by their own eventTime; the expected
    // numbers are counted here from the files.
    let days = records_per_day();
    let between = |from: Option<NaiveDate>, to: Option<NaiveDate>| -> u64 {
        days.iter()
            .filter(|(d, _)| from.is_none_or(|f| **d >= f) && to.is_none_or(|t| **d <= t))
            .map(|(_, n)| n)
            .sum()
    };
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    for (since, until) in [
        (Some("2014-09-27"), Some("2014-09-28")),
        (Some("2018-01-01"), None),
        (None, Some("2014-12-31")),
    ] {
        let table = new_dynamo_store(&sdk).await;
        let mut args = vec!["backfill", "--bucket", &bucket, "--no-checkpoint"];
        if let Some(since) = since {
            args.extend(["--since", since]);
        }
        if let Some(until) = until {
            args.extend(["--until", until]);
        }
        let dry = tracker(
            dir.path(),
            table.table(),
            &[args.clone(), vec!["--dry-run"]].concat(),
        );
        assert!(dry.status.success());
        assert_eq!(
            stored_events(&dynamodb, table.table()).await,
            0,
            "--dry-run writes nothing"
        );
        let expected = between(since.and_then(day), until.and_then(day));
        assert!(
            String::from_utf8_lossy(&dry.stderr).contains(&format!("{expected} stored")),
            "dry run counts {expected}"
        );
        assert!(tracker(dir.path(), table.table(), &args).status.success());
        assert_eq!(
            stored_events(&dynamodb, table.table()).await,
            expected,
            "since {since:?} until {until:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_org_trails_under_a_prefix_and_reports_bad_objects() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let bucket = new_bucket(&s3).await;
    let store = new_dynamo_store(&sdk).await;
    let dynamodb = crate::support::dynamodb_client(&sdk);
    let dir = tempfile::tempdir().expect("temp dir");
    let base = "logs/AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/2024/05/01";
    let record = |id: &str| {
        format!(
            r#"{{"eventID":"{id}","eventName":"RunInstances","eventTime":"2024-05-01T10:00:00Z","eventSource":"ec2.amazonaws.com","userIdentity":{{"type":"IAMUser","userName":"u"}}}}"#
        )
    };
    let gz = |text: &str| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).expect("gzip");
        e.finish().expect("gzip")
    };
    let objects: Vec<(String, Vec<u8>)> = vec![
        (format!("{base}/good-1.json.gz"), gz(&format!(r#"{{"Records":[{},{}]}}"#, record("o-1"), record("o-2")))),
        (format!("{base}/good-2.json.gz"), gz(&format!(r#"{{"Records":[{}]}}"#, record("o-3")))),
        (format!("{base}/broken.json.gz"), b"\x1f\x8b\x08\x00garbage".to_vec()),
        (format!("{base}/not-json.json.gz"), gz("this is not json")),
        ("logs/AWSLogs/o-abc123def4/111122223333/CloudTrail-Digest/eu-west-1/2024/05/01/d.json.gz".into(), gz("{}")),
    ];
    for (key, body) in &objects {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.clone().into())
            .send()
            .await
            .expect("upload");
    }
    let output = tracker(
        dir.path(),
        store.table(),
        &["backfill", "--bucket", &bucket, "--prefix", "logs/"],
    );
    assert!(
        !output.status.success(),
        "failed objects make the exit status non-zero"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("s3://{bucket}/{base}/broken.json.gz")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("s3://{bucket}/{base}/not-json.json.gz")),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 read") && stderr.contains("2 failed"),
        "{stderr}"
    );
    assert_eq!(
        stored_events(&dynamodb, store.table()).await,
        3,
        "the good objects are stored"
    );

    let missing = tracker(
        dir.path(),
        "no-such-table",
        &["backfill", "--bucket", &bucket, "--prefix", "logs/"],
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-table"));
}
