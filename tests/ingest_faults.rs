//! Fault injection through the real S3 handler: an object's body fails
//! part-way (S3 sent the headers and some of the bytes, then the connection
//! closed or was reset). The SDK's `ByteStream` then fails mid-read, which
//! no emulator does on demand, so `GetObject` is answered by a tiny local HTTP
//! server (`FakeS3`) while writes go to a moto DynamoDB table, as in
//! `ingest.rs`.
//!
//! What must hold: the invocation fails (so Lambda retries) instead of
//! reporting success; what the failed attempt wrote is a prefix of the file,
//! each event once; the retry stores the rest, and every event of the file is
//! then stored exactly once. An object that reads fine beside a failing one
//! in the same notification is stored by the first attempt all the same.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::s3::S3Event;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::ingest::{FileOutcome, IngestDeps, Ingestor, Pipeline, handle_s3_event};
use tracker_runtime::store::dynamodb::schema;
use tracker_runtime::store::{DynamoStore, EventStore};

use crate::support::{all_pages, count, get_ok, new_dynamo_store, s3_put_event, sdk_config};

const BUCKET: &str = "trail-bucket";
const DAY: &str = "from=2024-05-01&to=2024-05-01";

/// How one `GetObject` answer goes wrong.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Headers (with the full `Content-Length`), `n` bytes of body, then a clean close (FIN).
    CloseAfter(usize),
    /// Headers, `n` bytes of body, then a reset (RST).
    ResetAfter(usize),
}

#[derive(Default)]
struct FakeState {
    objects: HashMap<String, Vec<u8>>,
    /// Faults for the next `GetObject`s of a key, in order; then it answers in full.
    faults: HashMap<String, VecDeque<Fault>>,
    /// Keys asked for, in order.
    requests: Vec<String>,
}

/// A local HTTP server answering path-style `GetObject` (`GET /bucket/key`)
/// like S3 does, one request per connection, with scripted faults.
struct FakeS3 {
    url: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeS3 {
    async fn start() -> FakeS3 {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port for the fake S3");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(Mutex::new(FakeState::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(answer(stream, Arc::clone(&shared)));
            }
        });
        FakeS3 { url, state }
    }

    fn put(&self, key: &str, body: Vec<u8>, faults: &[Fault]) {
        let mut state = self.state.lock().unwrap();
        state.objects.insert(key.to_owned(), body);
        state
            .faults
            .insert(key.to_owned(), faults.iter().copied().collect());
    }

    fn requests_for(&self, key: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.requests.iter().filter(|k| *k == key).count()
    }

    /// An S3 client of the shared test configuration, pointed at this server.
    fn client(&self, sdk: &SdkConfig) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .endpoint_url(&self.url)
                .force_path_style(true)
                .build(),
        )
    }
}

async fn answer(mut stream: TcpStream, state: Arc<Mutex<FakeState>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();
    assert!(
        !path.contains('%'),
        "fake S3: keys here need no decoding: {path}"
    );
    let key = path
        .strip_prefix(&format!("/{BUCKET}/"))
        .unwrap_or_default()
        .to_owned();
    let (body, fault) = {
        let mut state = state.lock().unwrap();
        state.requests.push(key.clone());
        let fault = state.faults.get_mut(&key).and_then(VecDeque::pop_front);
        (state.objects.get(&key).cloned(), fault)
    };
    let Some(body) = body else {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
                   <Message>The specified key does not exist.</Message></Error>";
        let response = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{xml}",
            xml.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        return;
    };
    let headers = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\
         ETag: \"fake\"\r\nLast-Modified: Wed, 01 May 2024 10:00:00 GMT\r\n\
         x-amz-request-id: fake\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(headers.as_bytes()).await.is_err() {
        return;
    }
    match fault {
        None => {
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
        Some(Fault::CloseAfter(n)) => {
            let _ = stream.write_all(&body[..n]).await;
            let _ = stream.flush().await;
            // Let the client consume what was sent before the connection ends.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = stream.shutdown().await;
        }
        Some(Fault::ResetAfter(n)) => {
            let _ = stream.write_all(&body[..n]).await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            // SO_LINGER 0: closing sends a RST instead of a FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

/// A gzip'd log file of `n` distinct records of `user` on 2024-05-01, and
/// their eventIDs in file order. Fields vary from record to record so that
/// the file stays large once compressed (a cut at 60% is deep in the body).
fn log_file(tag: &str, user: &str, n: usize) -> (Vec<u8>, Vec<String>) {
    let mut rng = fastrand::Rng::with_seed(n as u64 + tag.len() as u64);
    let mut ids = Vec::with_capacity(n);
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{tag}-{i:05}-{:016x}", rng.u64(..));
        let name = ["RunInstances", "DescribeInstances", "StopInstances"][i % 3];
        let second = i % 86_400;
        records.push(format!(
            r#"{{"eventVersion":"1.08","eventID":"{id}","eventName":"{name}","eventSource":"ec2.amazonaws.com","eventTime":"2024-05-01T{:02}:{:02}:{:02}Z","awsRegion":"eu-west-1","sourceIPAddress":"{}.{}.{}.{}","requestID":"{:032x}","userIdentity":{{"type":"IAMUser","userName":"{user}","accountId":"111122223333","accessKeyId":"AKIA{:016X}"}},"requestParameters":{{"instanceType":"t{}.micro","clientToken":"{:024x}"}}}}"#,
            second / 3600,
            second / 60 % 60,
            second % 60,
            rng.u8(..),
            rng.u8(..),
            rng.u8(..),
            rng.u8(..),
            rng.u128(..),
            rng.u64(..),
            rng.u8(2..4),
            rng.u128(..) >> 32,
        ));
        ids.push(id);
    }
    let doc = format!(r#"{{"Records":[{}]}}"#, records.join(","));
    (gz(doc.as_bytes()), ids)
}

fn key(name: &str) -> String {
    format!("AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/{name}.json.gz")
}

/// One notification naming several objects.
fn event_for(keys: &[&str]) -> S3Event {
    let mut event = s3_put_event(BUCKET, keys[0]);
    for key in &keys[1..] {
        event.records.extend(s3_put_event(BUCKET, key).records);
    }
    event
}

/// The eventIDs of every event item in the table, read with a raw `Scan`
/// (not through tracker's reads), sorted; a repeated ID would show twice.
async fn stored_ids(sdk: &SdkConfig, table: &str) -> Vec<String> {
    let client = crate::support::dynamodb_client(sdk);
    let mut ids = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan the test table");
        for item in page.items() {
            let pk = item
                .get(schema::PK)
                .and_then(|v| v.as_s().ok())
                .expect("every item has a string pk");
            if let Some(id) = pk.strip_prefix("E#") {
                ids.push(id.to_owned());
            }
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    ids.sort();
    ids
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids
}

struct Setup {
    sdk: SdkConfig,
    fake: FakeS3,
    store: Arc<DynamoStore>,
    deps: IngestDeps,
}

async fn setup() -> Setup {
    let sdk = sdk_config().await;
    let fake = FakeS3::start().await;
    let store = new_dynamo_store(&sdk).await;
    let deps = IngestDeps {
        s3: fake.client(&sdk),
        ingestor: Ingestor::new(
            Arc::clone(&store) as Arc<dyn EventStore>,
            Pipeline::default(),
        ),
        publisher: None,
    };
    Setup {
        sdk,
        fake,
        store,
        deps,
    }
}

/// Every event of `ids` is reachable through the indexes exactly once: the
/// day's count, and the listed events page by page.
async fn assert_served_once(store: &Arc<DynamoStore>, ids: &[String]) {
    let app = router(ApiState::new(Arc::clone(store) as Arc<dyn EventStore>));
    assert_eq!(
        count(&app, &format!("/scan?{DAY}")).await,
        ids.len() as u64,
        "the by-time index holds each event once"
    );
    let listed = all_pages(&app, &format!("/scan?{DAY}&limit=700")).await;
    let listed_ids: Vec<String> = listed
        .iter()
        .map(|e| e["eventID"].as_str().expect("eventID").to_owned())
        .collect();
    assert_eq!(sorted(&listed_ids), sorted(ids), "listed once each");
    let last = ids.last().expect("some events");
    assert_eq!(
        get_ok(&app, &format!("/events/{last}")).await["eventID"],
        *last
    );
}

async fn a_body_failing_mid_stream_is_retried_to_completion(fault_at: fn(usize) -> Fault) {
    let Setup {
        sdk,
        fake,
        store,
        deps,
    } = setup().await;
    let key = key("cut");
    let (body, ids) = log_file("cut", "alice", 1500);
    let fault = fault_at(body.len() * 6 / 10);
    let body_len = body.len();
    fake.put(&key, body, &[fault]);

    // First delivery: the body fails part-way.
    let error = handle_s3_event(&deps, event_for(&[&key]), None)
        .await
        .expect_err("a body failing mid-stream must fail the invocation, so that Lambda retries");
    assert_eq!(fake.requests_for(&key), 1);
    assert_eq!((error.total, error.failed.len()), (1, 1), "{error}");
    let source = format!("s3://{BUCKET}/{key}");
    assert!(
        error.failed[0].starts_with(&source)
            && error.failed[0].contains("reading the object failed"),
        "the failure names the object and says the read failed: {}",
        error.failed[0]
    );
    let report = &error.summary.files[0];
    assert!(
        matches!(report.outcome, FileOutcome::Failed { retry: true, .. }),
        "{fault:?}: {:?}",
        report.outcome
    );
    let written = report.stored as usize;
    eprintln!(
        "{fault:?} of a {} byte body: {written} of {} events written, then: {error}",
        body_len,
        ids.len()
    );
    assert!(
        0 < written && written < ids.len(),
        "{fault:?}: the records before the cut are stored, the rest not: {written} of {}",
        ids.len()
    );
    assert_eq!(
        stored_ids(&sdk, store.table()).await,
        sorted(&ids[..written]),
        "{fault:?}: what the failed attempt wrote is exactly the file's first {written} events, each once"
    );

    // Lambda's retry: the same notification, the body now whole.
    let summary = handle_s3_event(&deps, event_for(&[&key]), None)
        .await
        .unwrap_or_else(|e| panic!("{fault:?}: the retry must succeed: {e}"));
    assert_eq!(fake.requests_for(&key), 2);
    assert_eq!(summary.files[0].outcome, FileOutcome::Ingested);
    assert_eq!(
        (summary.totals.records, summary.stored),
        (1500, 1500),
        "the retry reads the whole file again"
    );
    assert_eq!(
        stored_ids(&sdk, store.table()).await,
        sorted(&ids),
        "{fault:?}: after the retry every event of the file is stored exactly once"
    );
    assert_served_once(&store, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_mid_body_fails_the_invocation_and_the_retry_completes_the_file() {
    a_body_failing_mid_stream_is_retried_to_completion(Fault::CloseAfter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_mid_body_fails_the_invocation_and_the_retry_completes_the_file() {
    a_body_failing_mid_stream_is_retried_to_completion(Fault::ResetAfter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_object_beside_a_failing_one_is_stored_and_the_retry_adds_the_rest_once() {
    let Setup {
        sdk,
        fake,
        store,
        deps,
    } = setup().await;
    let bad_key = key("bad");
    let good_key = key("good");
    let (bad_body, bad_ids) = log_file("bad", "bob", 1200);
    let (good_body, good_ids) = log_file("good", "carol", 300);
    let cut = bad_body.len() / 2;
    fake.put(&bad_key, bad_body, &[Fault::CloseAfter(cut)]);
    fake.put(&good_key, good_body, &[]);
    // The failing object first: the handler must go on to the next one.
    let event = || event_for(&[&bad_key, &good_key]);

    let error = handle_s3_event(&deps, event(), None)
        .await
        .expect_err("one object failed transiently: the invocation must fail");
    assert_eq!(error.total, 2);
    assert_eq!(error.failed.len(), 1, "only the failing object: {error}");
    assert!(
        error.failed[0].starts_with(&format!("s3://{BUCKET}/{bad_key}")),
        "{}",
        error.failed[0]
    );
    let files = &error.summary.files;
    assert_eq!(files.len(), 2);
    assert!(
        matches!(files[0].outcome, FileOutcome::Failed { retry: true, .. }),
        "{:?}",
        files[0].outcome
    );
    assert_eq!(files[1].outcome, FileOutcome::Ingested);
    assert_eq!(files[1].stored, 300, "the good object is stored whole");
    let written = files[0].stored as usize;
    eprintln!(
        "beside a good object: {written} of {} events written, then: {error}",
        bad_ids.len()
    );
    assert!(
        0 < written && written < bad_ids.len(),
        "{written} of {}",
        bad_ids.len()
    );
    let mut expected: Vec<String> = good_ids.clone();
    expected.extend_from_slice(&bad_ids[..written]);
    assert_eq!(
        stored_ids(&sdk, store.table()).await,
        sorted(&expected),
        "after the failed attempt: the good file, and the failing file's first {written} events"
    );
    let app = router(ApiState::new(Arc::clone(&store) as Arc<dyn EventStore>));
    assert_eq!(count(&app, &format!("/users/carol?{DAY}")).await, 300);

    // The retry delivers the same notification: both objects are read again.
    let summary = handle_s3_event(&deps, event(), None)
        .await
        .unwrap_or_else(|e| panic!("the retry must succeed: {e}"));
    assert_eq!(
        (fake.requests_for(&bad_key), fake.requests_for(&good_key)),
        (2, 2)
    );
    assert!(
        summary
            .files
            .iter()
            .all(|f| f.outcome == FileOutcome::Ingested),
        "{:?}",
        summary.files
    );
    assert_eq!(summary.stored, 1500);
    let mut all = good_ids.clone();
    all.extend_from_slice(&bad_ids);
    assert_eq!(
        stored_ids(&sdk, store.table()).await,
        sorted(&all),
        "every event of both files stored exactly once"
    );
    assert_eq!(count(&app, &format!("/users/bob?{DAY}")).await, 1200);
    assert_eq!(count(&app, &format!("/users/carol?{DAY}")).await, 300);
    let users: BTreeSet<String> = get_ok(&app, "/users")
        .await
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| u.as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(
        users,
        BTreeSet::from(["bob".to_owned(), "carol".to_owned()])
    );
    assert_served_once(&store, &all).await;
}
