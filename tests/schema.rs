//! Schema testing: schemathesis (from PyPI; the test command installs it)
//! generates requests from `swagger.yaml` against a real `tracker serve`
//! over the example logs. No response may be a 5xx, and every response must
//! match the schema (status codes, content types, headers, bodies); bad
//! input must be rejected. `positive_data_acceptance` is left out on
//! purpose: an opaque `nextToken` or `to` before `from` are schema-valid
//! strings the API must refuse.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::repo_root;

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn responses_match_swagger_and_nothing_is_a_5xx() {
    let schemathesis = std::env::var("TRACKER_SCHEMATHESIS").unwrap_or_else(|_| {
        repo_root()
            .join(".venv/bin/schemathesis")
            .to_string_lossy()
            .into_owned()
    });
    assert!(
        std::path::Path::new(&schemathesis).exists(),
        "schemathesis is not at {schemathesis}: run the tests with `bash scripts/test.sh` (it installs it), \
         or `pip install schemathesis==4.32.5` and set TRACKER_SCHEMATHESIS"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("temp dir");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_tracker"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--logs"])
            .arg(repo_root().join("examples/cloudtrail"))
            .arg("--db")
            .arg(dir.path().join("t.db"))
            .current_dir(dir.path())
            .env_remove("TRACKER_HANDLER")
            .env_remove("TRACKER_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tracker serve"),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "tracker serve did not start listening"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = Command::new(&schemathesis)
        .arg("run")
        .arg(repo_root().join("swagger.yaml"))
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args([
            "--max-examples",
            "50",
            "--workers",
            "1",
            "--seed",
            "20261122",
        ])
        .env("NO_COLOR", "1")
        .current_dir(dir.path()) // its cache stays out of the repository
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("No issues found"), "{report}");
}
