//! Local mode against DuckDB on the same machine and the same files — the
//! table of issue "Scale and footprint", rerun: the benchmarks' 1M-event
//! corpus (`common::corpus`: 5,000 gzip'd CloudTrail files of 200 events)
//! loaded by `tracker backfill --path … --db` (the built binary, under
//! `/usr/bin/time -v`) and by DuckDB's `read_json` into a table (DuckDB from
//! PyPI, in its own venv under `target/bench/`); the same questions asked of
//! both (p50 of 30 runs after 3 warm-up runs, in-process: tracker's router,
//! DuckDB's Python API); `tracker serve`'s memory after asking them over
//! HTTP; and, per core, the local pipeline against Python's `gzip` +
//! `json.load` of the same files.
//!
//! Run: `cargo bench --bench local_vs_duckdb` (needs python3 with venv, and
//! GNU time; the first run downloads DuckDB from PyPI and generates the corpus).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::store::EmbeddedStore;

mod common;

const EVENTS: usize = 1_000_000;
const RUNS: usize = 30;
const DUCKDB: &str = "2.0.1";

/// What `/usr/bin/time -v` says of a command.
#[derive(Debug, Default)]
struct Usage {
    wall: f64,
    cpu: f64,
    peak_kib: u64,
}

fn timed(command: &mut Command) -> Usage {
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped
        .arg("-v")
        .arg(command.get_program())
        .args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let output = wrapped
        .stdout(Stdio::inherit())
        .output()
        .expect("run /usr/bin/time -v (is GNU time installed?)");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    let field = |name: &str| -> Option<&str> {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::trim))
    };
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):")
        .map(|t| {
            t.split(':').fold(0.0, |acc, part| {
                acc * 60.0 + part.parse::<f64>().unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0);
    let seconds = |name| {
        field(name)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Usage {
        wall,
        cpu: seconds("User time (seconds):") + seconds("System time (seconds):"),
        peak_kib: field("Maximum resident set size (kbytes):")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench")
}

/// python3 with DuckDB, in its own venv.
fn duckdb_python() -> PathBuf {
    let venv = bench_dir().join("duckdb-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args([
            "-c",
            &format!("import duckdb; assert duckdb.__version__ == '{DUCKDB}'"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", &format!("duckdb=={DUCKDB}")])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not install duckdb=={DUCKDB} into {}",
            venv.display()
        );
    }
    python
}

/// The questions, as tracker's routes and as DuckDB's SQL (a table `events`
/// with the same attributes extracted at load).
fn questions() -> Vec<(&'static str, String, String)> {
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let end = common::corpus::end();
    let from = |days: i64| end - chrono::Duration::days(days);
    let all = (fmt(from(common::corpus::SPAN_DAYS)), fmt(end));
    let quarter = (fmt(from(90)), fmt(end));
    let sql_window = |(a, b): &(String, String)| {
        format!(
            "eventTime >= TIMESTAMP '{}' AND eventTime < TIMESTAMP '{}'",
            a.trim_end_matches('Z'),
            b.trim_end_matches('Z')
        )
    };
    let page = "SELECT eventID, eventName, eventSource, eventTime, principal FROM events WHERE";
    vec![
        (
            "one user, one day, 1,000 events",
            "/users/alucloud34?from=2024-06-01&to=2024-06-01&limit=1000".into(),
            format!(
                "{page} principal = 'alucloud34' AND eventTime >= TIMESTAMP '2024-06-01' AND eventTime < TIMESTAMP '2024-06-02' ORDER BY eventTime, eventID LIMIT 1000"
            ),
        ),
        (
            "one service, whole range, 1,000 events",
            format!("/services/rds?from={}&to={}&limit=1000", all.0, all.1),
            format!(
                "{page} service = 'rds' AND {} ORDER BY eventTime, eventID LIMIT 1000",
                sql_window(&all)
            ),
        ),
        (
            "`/users`",
            "/users".into(),
            "SELECT DISTINCT principal FROM events ORDER BY 1".into(),
        ),
        (
            "`eventName` filter, whole range",
            format!("/scan?from={}&to={}&eventName=StartInstances", all.0, all.1),
            format!(
                "{page} eventName = 'StartInstances' AND {} ORDER BY eventTime, eventID LIMIT 1000",
                sql_window(&all)
            ),
        ),
        (
            "count, whole range",
            format!("/scan?from={}&to={}&count=true", all.0, all.1),
            format!("SELECT count(*) FROM events WHERE {}", sql_window(&all)),
        ),
        (
            "top principals, 90 days",
            format!("/stats?from={}&to={}&by=principal", quarter.0, quarter.1),
            format!(
                "SELECT principal, count(*) n FROM events WHERE {} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
                sql_window(&quarter)
            ),
        ),
        (
            "events per day, 90 days",
            format!("/stats/daily?from={}&to={}", quarter.0, quarter.1),
            format!(
                "SELECT CAST(eventTime AS DATE) d, count(*) FROM events WHERE {} GROUP BY 1 ORDER BY 1",
                sql_window(&quarter)
            ),
        ),
        (
            "failed calls by access key, 90 days",
            format!(
                "/stats?from={}&to={}&by=accessKeyId&errorCode=*",
                quarter.0, quarter.1
            ),
            format!(
                "SELECT accessKeyId, count(*) n FROM events WHERE errorCode IS NOT NULL AND errorCode <> '' AND {} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
                sql_window(&quarter)
            ),
        ),
    ]
}

const DUCKDB_LOAD: &str = r#"
import duckdb, sys
db, corpus = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
con.execute(f"""
CREATE TABLE events AS
WITH files AS (
  SELECT unnest(Records) AS r
  FROM read_json('{corpus}/AWSLogs/**/*.json.gz', columns = {{'Records': 'JSON[]'}}, maximum_object_size = 268435456)
)
SELECT
  r->>'eventID' AS eventID,
  CAST(r->>'eventTime' AS TIMESTAMP) AS eventTime,
  r->>'eventName' AS eventName,
  r->>'eventSource' AS eventSource,
  replace(r->>'eventSource', '.amazonaws.com', '') AS service,
  coalesce(nullif(r->'userIdentity'->>'userName', ''),
           CASE WHEN r->'userIdentity'->>'type' = 'AssumedRole'
                THEN nullif(r->'userIdentity'->'sessionContext'->'sessionIssuer'->>'userName', '') END,
           nullif(r->'userIdentity'->>'arn', ''), nullif(r->'userIdentity'->>'principalId', ''),
           nullif(r->'userIdentity'->>'invokedBy', ''), '(none)') AS principal,
  r->>'awsRegion' AS awsRegion,
  r->>'errorCode' AS errorCode,
  r->>'sourceIPAddress' AS sourceIPAddress,
  r->'userIdentity'->>'accessKeyId' AS accessKeyId,
  r AS record
FROM files
""")
con.close()
"#;

const DUCKDB_QUERIES: &str = r#"
import duckdb, json, sys, time
db, runs = sys.argv[1], int(sys.argv[2])
queries = json.loads(sys.stdin.read())
con = duckdb.connect(db, read_only=True)
out = []
for sql in queries:
    for _ in range(3):
        con.execute(sql).fetchall()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        rows = con.execute(sql).fetchall()
        times.append(time.perf_counter() - t)
    times.sort()
    out.append({"p50_ms": times[len(times) // 2] * 1e3, "rows": len(rows)})
print(json.dumps(out))
"#;

const PYTHON_PARSE: &str = "import gzip, json, sys, time, os\nfiles = []\nfor root, _, names in os.walk(sys.argv[1]):\n    files += [os.path.join(root, n) for n in names if n.endswith('.json.gz')]\nblobs = [open(f, 'rb').read() for f in files]\nt = time.process_time(); n = 0\nfor b in blobs:\n    n += len(json.loads(gzip.decompress(b))['Records'])\nprint(time.process_time() - t, n)\n";

/// p50 of `RUNS` runs of a route through the router, after 3 warm-up runs.
fn tracker_p50(app: &axum::Router, runtime: &tokio::runtime::Runtime, uri: &str) -> Duration {
    let ask = || {
        runtime.block_on(async {
            let response = app
                .clone()
                .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
                .await
                .expect("router");
            assert_eq!(response.status(), 200, "{uri}");
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body")
        })
    };
    for _ in 0..3 {
        ask();
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            ask();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// `GET path` over HTTP/1.1 (what a client of `tracker serve` does).
fn http_get(port: u16, path: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to tracker serve");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    assert!(response.starts_with(b"HTTP/1.1 200"), "{path}");
}

/// `tracker serve`'s resident memory after asking every question over HTTP.
fn serve_memory(db: &Path, questions: &[(&str, String, String)]) -> u64 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let work = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracker"))
        .args(["serve", "--db"])
        .arg(db)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tracker serve");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "tracker serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..3 {
        for (_, uri, _) in questions {
            http_get(port, uri);
        }
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let corpus = common::corpus::corpus(EVENTS);
    let gzip = common::corpus::gzip_bytes(&corpus);
    let work = tempfile::tempdir().expect("temp dir");

    // Load: tracker.
    let db = bench_dir().join("vs-duckdb.tracker.db");
    let _ = std::fs::remove_file(&db);
    let tracker_load = timed(
        Command::new(env!("CARGO_BIN_EXE_tracker"))
            .args(["backfill", "--no-checkpoint", "--path"])
            .arg(&corpus)
            .arg("--db")
            .arg(&db)
            .current_dir(work.path()),
    );
    let tracker_size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);

    // Load: DuckDB.
    let python = duckdb_python();
    let duck_db = bench_dir().join("vs-duckdb.duckdb");
    let _ = std::fs::remove_file(&duck_db);
    let duck_load = timed(
        Command::new(&python)
            .args(["-c", DUCKDB_LOAD])
            .arg(&duck_db)
            .arg(&corpus),
    );
    let duck_size = std::fs::metadata(&duck_db).map(|m| m.len()).unwrap_or(0);

    // Questions.
    let questions = questions();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = EmbeddedStore::open(&db).expect("open tracker's database");
    let app = router(ApiState::new(Arc::new(store)));
    let tracker_times: Vec<Duration> = questions
        .iter()
        .map(|(_, uri, _)| tracker_p50(&app, &runtime, uri))
        .collect();
    drop(app);
    let sql: Vec<&str> = questions.iter().map(|(_, _, sql)| sql.as_str()).collect();
    let mut duck = Command::new(&python)
        .args(["-c", DUCKDB_QUERIES])
        .arg(&duck_db)
        .arg(RUNS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run DuckDB's questions");
    duck.stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&sql).expect("json").as_bytes())
        .expect("send the questions");
    let output = duck.wait_with_output().expect("DuckDB's answers");
    let duck_times: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("DuckDB's timings");
    let serve_kib = serve_memory(&db, &questions);

    // Per core: the whole local pipeline against Python's gzip + json.load.
    let python_parse = Command::new("python3")
        .args(["-c", PYTHON_PARSE])
        .arg(&corpus)
        .output()
        .expect("run python3");
    let python_cpu: f64 = String::from_utf8_lossy(&python_parse.stdout)
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    // One file at a time, then the default (16 files in flight, so writes
    // gather several files), both pinned to one core.
    let on_one_core = |concurrency: &str| {
        let db = work.path().join(format!("one-core-{concurrency}.db"));
        timed(
            Command::new("taskset")
                .args([
                    "-c",
                    "0",
                    env!("CARGO_BIN_EXE_tracker"),
                    "backfill",
                    "--no-checkpoint",
                    "--concurrency",
                    concurrency,
                    "--path",
                ])
                .arg(&corpus)
                .arg("--db")
                .arg(&db)
                .current_dir(work.path()),
        )
    };
    let one_core = on_one_core("1");
    let one_core_default = on_one_core("16");

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\n1,000,000 events, {:.0} MB of gzip in 5,000 files\n",
        gzip as f64 / 1e6
    );
    println!("| | tracker (local) | DuckDB {DUCKDB} (`read_json` into a table) |");
    println!("|---|---|---|");
    println!(
        "| load 1 M events | {:.1} s wall, {:.1} CPU-s | {:.1} s wall, {:.1} CPU-s |",
        tracker_load.wall, tracker_load.cpu, duck_load.wall, duck_load.cpu
    );
    println!(
        "| peak memory while loading | {:.0} MiB | {:.0} MiB |",
        mib(tracker_load.peak_kib),
        mib(duck_load.peak_kib)
    );
    println!(
        "| store on disk | {:.0} MB = {:.2}× the gzip | {:.0} MB = {:.2}× |",
        tracker_size as f64 / 1e6,
        tracker_size as f64 / gzip as f64,
        duck_size as f64 / 1e6,
        duck_size as f64 / gzip as f64
    );
    for ((name, _, _), (tracker, duck)) in
        questions.iter().zip(tracker_times.iter().zip(&duck_times))
    {
        println!(
            "| {name} | {:.2} ms | {:.2} ms |",
            tracker.as_secs_f64() * 1e3,
            duck["p50_ms"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "| `tracker serve` memory after these questions | {:.0} MiB | |",
        mib(serve_kib)
    );
    println!(
        "\nPer core: `tracker backfill --concurrency 1` on one core {:.1} CPU-s, {:.1} s wall ({:.0} k events/s) vs Python gzip + json.load {python_cpu:.1} CPU-s ({:.0} k/s): {:.2}× Python",
        one_core.cpu,
        one_core.wall,
        EVENTS as f64 / one_core.cpu / 1e3,
        EVENTS as f64 / python_cpu / 1e3,
        python_cpu / one_core.cpu
    );
    println!(
        "Per core, `--concurrency 16` (the default) on one core: {:.1} CPU-s, {:.1} s wall ({:.0} k events/s): {:.2}× Python",
        one_core_default.cpu,
        one_core_default.wall,
        EVENTS as f64 / one_core_default.cpu / 1e3,
        python_cpu / one_core_default.cpu
    );
    println!(
        "Load by CPU time: tracker {:.2}× DuckDB",
        duck_load.cpu / tracker_load.cpu
    );
}
