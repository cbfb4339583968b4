//! The built `tracker` binary as a person runs it: `tracker serve` over the
//! example logs on a free loopback port (stopped when the test ends), and
//! commands run to their end.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::repo_root;

/// A running `tracker serve`; killed on drop.
pub struct Served {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `tracker` with the environment a test controls: no handler, no key, no
/// settings from the caller's environment.
pub fn tracker(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracker"));
    command
        .current_dir(dir)
        .env_remove("TRACKER_HANDLER")
        .env_remove("TRACKER_API_KEY")
        .env_remove("TRACKER_SETTINGS")
        .env("RUST_LOG", "warn");
    command
}

/// `tracker serve --logs examples/cloudtrail` (with `--api-key` if given),
/// once it listens; with the test rules of `tests/fixtures/rules` beside the
/// built-in pack, so that it has alerts to show.
pub fn serve_examples(api_key: Option<&str>) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = repo_root().join("tests/fixtures/rules");
    std::fs::write(
        dir.path().join("settings.toml"),
        format!(
            "[rules]\nfolders = [{}]\n",
            serde_json::to_string(&rules.display().to_string()).expect("a path")
        ),
    )
    .expect("write settings.toml");
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
    let mut command = tracker(dir.path());
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--logs"])
        .arg(repo_root().join("examples/cloudtrail"))
        .arg("--db")
        .arg(dir.path().join("serve.db"))
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null());
    if let Some(key) = api_key {
        command.args(["--api-key", key]);
    }
    let child = command.spawn().expect("start tracker serve");
    let served = Served {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    };
    wait_for_port(port, &served);
    served
}

fn wait_for_port(port: u16, served: &Served) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "tracker serve did not start listening on {port}:\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A long-running `tracker` command (e.g. `ui`) listening on `port`; killed on drop.
pub fn spawn_listening(mut command: Command, port: u16) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
    let child = command
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("start tracker");
    let served = Served {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    };
    wait_for_port(port, &served);
    served
}

/// Runs a command to its end: status, stdout, stderr.
pub fn run(command: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run tracker");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The repository's Python venv (the test command makes it): its
/// interpreter, or a panic saying how to get it.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("TRACKER_VENV").map_or_else(|| ".venv".into(), PathBuf::from);
    let python = repo_root().join(venv).join("bin/python");
    assert!(
        python.exists(),
        "no Python venv at {}: run the tests with `bash scripts/test.sh` (it makes one and installs \
         what the tests need)",
        python.display()
    );
    python
}
