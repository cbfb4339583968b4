//! The command-line client as a person runs it: the built binary against
//! `tracker serve` on the example logs (with an API key) and against a
//! local database (`--db`), its answers checked against what this test
//! computes from the files; its errors (wrong or missing key, unreachable
//! API, no database). Against moto: the deployed API's URL, auth mode and
//! key are found from the stack and API Gateway (moto cannot serve the API
//! Gateway data plane, so the requests go to a local server). SigV4: what
//! the binary sends to a stand-in API (directly and through `tracker ui`)
//! is signed exactly as the signer that passes AWS's test vectors signs it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tracker_deployer::client::discover::discover;
use tracker_deployer::client::sigv4::{EXECUTE_API, sign_at};
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::{DeployArgs, deploy_with};
use tracker_deployer::package;
use tracker_deployer::settings::{AuthMode, Settings};

use crate::insights::attribute_values;
use crate::support::corpus::records_under;
use crate::support::served::{free_port, run, serve_examples, spawn_listening, tracker};
use crate::support::{new_bucket, repo_root, s3_client, sdk_config, unique};

const FROM: &str = "2000-01-01";
const TO: &str = "2029-12-31";

fn example_records() -> Vec<Value> {
    records_under(&repo_root().join("examples/cloudtrail"))
}

/// `tracker ARGS… --from FROM --to TO` plus `source`, run to its end.
fn cli(dir: &Path, args: &[&str], source: &[&str]) -> (bool, String, String) {
    run(tracker(dir).args(args).args(source))
}

fn ok(dir: &Path, args: &[&str], source: &[&str]) -> String {
    let (success, stdout, stderr) = cli(dir, args, source);
    assert!(success, "tracker {args:?} failed:\n{stderr}");
    stdout
}

fn window() -> [&'static str; 4] {
    ["--from", FROM, "--to", TO]
}

#[test]
fn the_cli_against_serve_and_a_database_matches_the_files() {
    let records = example_records();
    let all: Vec<&Value> = records.iter().collect();
    let key = "client-test-key-0123456789";
    let served = serve_examples(Some(key));
    let dir = served.dir.path();
    let remote = ["--url", served.url.as_str(), "--api-key", key];

    // Counts, and every event through pages (20 a request).
    let count = ok(
        dir,
        &[&["events", "--count"][..], &window()].concat(),
        &remote,
    );
    assert_eq!(count.trim(), all.len().to_string());
    let matching: BTreeSet<String> = all
        .iter()
        .filter(|r| {
            attribute_values(r, "eventSource") == ["ec2.amazonaws.com"]
                && attribute_values(r, "readOnly") == ["true"]
        })
        .map(|r| r["eventID"].as_str().unwrap_or_default().to_owned())
        .collect();
    let ndjson = ok(
        dir,
        &[
            &[
                "events",
                "--event-source",
                "ec2.amazonaws.com",
                "--read-only",
                "true",
            ][..],
            &["--page-size", "20", "--ndjson"],
            &window(),
        ]
        .concat(),
        &remote,
    );
    let events: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event a line"))
        .collect();
    let ids: Vec<String> = events
        .iter()
        .map(|e| e["eventID"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(matching.len() > 40, "the filter spans pages of 20");
    assert_eq!(ids.len(), matching.len(), "each event once");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), matching);
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["eventTime"].as_str().unwrap_or_default())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");

    // --json joins the pages into one array.
    let json: Value = serde_json::from_str(&ok(
        dir,
        &[&["events", "--json", "--page-size", "300"][..], &window()].concat(),
        &remote,
    ))
    .expect("--json is JSON");
    assert_eq!(json.as_array().map(Vec::len), Some(all.len()));

    // A table for people: a header, --limit rows, a note that more match.
    let principal_counts = {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for r in &all {
            for p in attribute_values(r, "principal") {
                *counts.entry(p).or_default() += 1;
            }
        }
        counts
    };
    let (top_principal, top_count) = principal_counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(p, c)| (p.clone(), *c))
        .expect("principals");
    let (success, table, stderr) = cli(
        dir,
        &[
            &["events", "--user", &top_principal, "--limit", "5"][..],
            &window(),
        ]
        .concat(),
        &remote,
    );
    assert!(success, "{stderr}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6, "a header and 5 events:\n{table}");
    assert!(
        lines[0].starts_with("TIME (UTC)") && lines[0].contains("PRINCIPAL"),
        "{table}"
    );
    assert!(
        lines[1..].iter().all(|l| l.contains(&top_principal)),
        "{table}"
    );
    assert!(stderr.contains("more match"), "{stderr}");

    // stats, daily, users, services, event.
    let stats: Value = serde_json::from_str(&ok(
        dir,
        &[
            &["stats", "--by", "principal", "--top", "3", "--json"][..],
            &window(),
        ]
        .concat(),
        &remote,
    ))
    .expect("JSON");
    assert_eq!(stats["total"], all.len());
    assert_eq!(stats["distinct"], principal_counts.len());
    assert_eq!(stats["items"][0]["key"], top_principal.as_str());
    assert_eq!(stats["items"][0]["count"], top_count);
    let table = ok(
        dir,
        &[&["stats", "--by", "principal", "--top", "3"][..], &window()].concat(),
        &remote,
    );
    let first = table.lines().nth(1).unwrap_or_default();
    assert!(
        first.starts_with(&top_principal) && first.contains(&top_count.to_string()),
        "{table}"
    );
    let mut per_day: BTreeMap<String, u64> = BTreeMap::new();
    for r in &all {
        let time =
            tracker_runtime::time::parse_event_time(r["eventTime"].as_str().unwrap_or_default())
                .expect("eventTime parses");
        *per_day
            .entry(time.format("%Y-%m-%d").to_string())
            .or_default() += 1;
    }
    let daily: Value = serde_json::from_str(&ok(
        dir,
        &[&["daily", "--json"][..], &window()].concat(),
        &remote,
    ))
    .expect("JSON");
    let got: BTreeMap<String, u64> = daily["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap_or_default().to_owned(),
                d["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, per_day);
    let users = ok(dir, &["users"], &remote);
    let listed: Vec<&str> = users.lines().collect();
    let expected: Vec<&str> = principal_counts.keys().map(String::as_str).collect();
    assert_eq!(listed, expected);
    let services = ok(dir, &["services", "--ndjson"], &remote);
    assert!(services.lines().all(|l| l.starts_with('"')), "{services}");
    let id = ids[0].clone();
    let record: Value = serde_json::from_str(&ok(dir, &["event", &id], &remote)).expect("JSON");
    assert_eq!(record["eventID"], id.as_str());

    // Errors a person can act on.
    let wrong = ["--url", served.url.as_str(), "--api-key", "wrong"];
    let (success, _, stderr) = cli(dir, &["users"], &wrong);
    assert!(
        !success && stderr.contains("API key was refused"),
        "{stderr}"
    );
    let (success, _, stderr) = cli(dir, &["users"], &["--url", served.url.as_str()]);
    assert!(!success && stderr.contains("needs an API key"), "{stderr}");
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let (success, _, stderr) = cli(dir, &["users"], &["--url", &nowhere]);
    assert!(!success && stderr.contains("cannot reach"), "{stderr}");
    let (success, _, stderr) = cli(dir, &["events", "--since", "7y"], &remote);
    assert!(!success && stderr.contains("unit"), "{stderr}");
    let (success, _, stderr) = cli(dir, &["events", "--from", "yesterday"], &remote);
    assert!(
        !success && stderr.contains("`from`"),
        "the API's 400 is shown: {stderr}"
    );

    // A local database: the same answers, through the router in-process.
    let db = dir.join("backfilled.db");
    let (success, _, stderr) = run(tracker(dir)
        .args(["backfill", "--path"])
        .arg(repo_root().join("examples/cloudtrail"))
        .arg("--db")
        .arg(&db));
    assert!(success, "backfill --db: {stderr}");
    let local = ["--db", db.to_str().unwrap_or_default()];
    let count = ok(
        dir,
        &[&["events", "--count"][..], &window()].concat(),
        &local,
    );
    assert_eq!(count.trim(), all.len().to_string());
    for args in [
        &["stats", "--by", "service", "--json"][..],
        &["stats", "--by", "errorCode", "--error-code", "*", "--json"],
        &["daily", "--by", "eventName", "--top", "3", "--json"],
    ] {
        let args = [args, &window()].concat();
        assert_eq!(ok(dir, &args, &local), ok(dir, &args, &remote), "{args:?}");
    }
    let pages = ok(
        dir,
        &[
            &["events", "--service", "ec2", "--page-size", "7", "--ndjson"][..],
            &window(),
        ]
        .concat(),
        &local,
    );
    let direct = ok(
        dir,
        &[&["events", "--service", "ec2", "--ndjson"][..], &window()].concat(),
        &remote,
    );
    assert_eq!(
        pages, direct,
        "pages of 7 from the database = one page from the API"
    );
    let (success, _, stderr) = cli(dir, &["users"], &["--db", "missing.db"]);
    assert!(!success && stderr.contains("no database at"), "{stderr}");
}

/// A stand-in API on loopback: records each request's head, answers `[]`.
struct StandIn {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn stand_in() -> StandIn {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            if let Ok(mut seen) = seen.lock() {
                seen.push(String::from_utf8_lossy(&head).into_owned());
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]",
            );
        }
    });
    StandIn { url, requests }
}

/// The request line and headers of a recorded request head.
fn parse_head(head: &str) -> (String, Vec<(String, String)>) {
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (target, headers)
}

/// Signs the recorded request again with the test credentials, at the time
/// it names: the result must be the recorded signature.
fn assert_signed_as_the_signer_would(head: &str, base: &str) {
    let (target, headers) = parse_head(head);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} header in:\n{head}"))
    };
    let authorization = header("authorization");
    let date = header("x-amz-date");
    assert!(
        authorization.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/eu-west-1/{EXECUTE_API}/aws4_request, SignedHeaders=",
            &date[..8]
        )),
        "{authorization}"
    );
    let time = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
        .expect("x-amz-date")
        .and_utc();
    let mut request = axum::http::Request::get(format!("{base}{target}"))
        .body(())
        .expect("request");
    for (name, value) in &headers {
        if !matches!(name.as_str(), "authorization" | "x-amz-date") {
            request.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                axum::http::HeaderValue::from_str(value).expect("value"),
            );
        }
    }
    let credentials = aws_sdk_s3::config::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "test",
    );
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(time.timestamp() as u64);
    sign_at(&mut request, &credentials, "eu-west-1", EXECUTE_API, at).expect("sign");
    assert_eq!(
        request.headers()["authorization"]
            .to_str()
            .unwrap_or_default(),
        authorization,
        "the binary signs as the signer that passes AWS's test vectors"
    );
}

#[test]
fn iam_requests_are_signed_for_execute_api() {
    let api = stand_in();
    let base = format!("{}/v1", api.url);
    let dir = tempfile::tempdir().expect("temp dir");
    let aws_env = |command: &mut std::process::Command| {
        command
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            )
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true");
    };
    let mut users = tracker(dir.path());
    users.args(["users", "--iam", "--url", &base]);
    aws_env(&mut users);
    let (success, _, stderr) = run(&mut users);
    assert!(success, "{stderr}");
    // Through `tracker ui`: the page's call is forwarded, signed the same way.
    let port = free_port();
    let mut ui = tracker(dir.path());
    ui.args([
        "ui",
        "--iam",
        "--url",
        &base,
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    aws_env(&mut ui);
    let ui = spawn_listening(ui, port);
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to tracker ui");
    write!(
        stream,
        "GET /stats?by=principal&from=2024-01-01 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}\n{}", ui.log());
    let requests = api.requests.lock().expect("requests").clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /v1/users HTTP/1.1"),
        "{}",
        requests[0]
    );
    assert!(
        requests[1].starts_with("GET /v1/stats?by=principal&from=2024-01-01 HTTP/1.1"),
        "{}",
        requests[1]
    );
    for head in &requests {
        assert_signed_as_the_signer_would(head, &api.url);
    }
}

fn small_binary(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("bootstrap-test");
    std::fs::write(
        &path,
        package::synthetic::elf(
            package::synthetic::X86_64,
            &["GLIBC_2.2.5", "GLIBC_2.34"],
            Some("/lib64/ld-linux-x86-64.so.2"),
        ),
    )
    .expect("write the test binary");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_api_is_found_from_the_stack() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let trail = new_bucket(&s3).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = small_binary(dir.path());
    let args = DeployArgs {
        lambda_binary: Some(binary),
        ..DeployArgs::default()
    };
    let mut settings = Settings::default();
    settings.stack.name = unique("cli");
    settings.table.name = unique("events");
    settings.trail.bucket = Some(trail);

    // Nothing deployed yet: say how to deploy, or where else to look.
    let e = discover(&sdk, &settings).await.expect_err("no stack yet");
    assert!(
        format!("{e:#}").contains("tracker deploy") && format!("{e:#}").contains("--url"),
        "{e:#}"
    );

    let deployed = deploy_with(&sdk, &settings, &args, Confirm::Nobody)
        .await
        .unwrap_or_else(|e| panic!("deploy: {e:#}"))
        .expect("not a dry run");
    let found = discover(&sdk, &settings).await.expect("discover");
    assert_eq!(found.url, deployed.api_url);
    assert_eq!(found.auth, AuthMode::ApiKey);
    assert_eq!(found.region, "us-east-1");
    let key_id = deployed.api_key.expect("an API key").key_id;
    let value = tracker_deployer::sdk::apigateway::Client::new(&sdk)
        .get_api_key()
        .api_key(&key_id)
        .include_value(true)
        .send()
        .await
        .expect("get-api-key")
        .value
        .expect("a value");
    assert_eq!(found.api_key.as_deref(), Some(value.as_str()));

    // The requests, with the key found, against a local server holding it.
    let served = serve_examples(Some(&value));
    let (success, stdout, stderr) =
        run(tracker(served.dir.path()).args(["users", "--url", &served.url, "--api-key", &value]));
    assert!(success && stdout.lines().count() > 10, "{stderr}");

    // Redeployed with iam: signed requests, no key.
    settings.api.auth = AuthMode::Iam;
    deploy_with(&sdk, &settings, &args, Confirm::Nobody)
        .await
        .unwrap_or_else(|e| panic!("deploy with iam: {e:#}"));
    let found = discover(&sdk, &settings).await.expect("discover");
    assert_eq!((found.auth, found.api_key), (AuthMode::Iam, None));
    assert_eq!(
        found.url, deployed.api_url,
        "the same API, updated in place"
    );
}
