//! Lambda start: the time from spawning the release binary as a Lambda
//! function (`TRACKER_HANDLER=ingest|query`) until it first asks a local
//! stand-in of the Lambda Runtime API for an event
//! (`GET /2018-06-01/runtime/invocation/next`), for both handlers; and the
//! size of the binary and of the zip `tracker deploy` uploads.
//!
//! It measures the release binary (what `tracker deploy` ships), not the
//! bench profile: it runs `cargo build --release --locked` itself first (a
//! no-op when the release build is fresh, minutes when not) and copies the
//! binary to `target/bench/lambda_start/tracker`, since `cargo bench` puts its
//! own bench-profile build at `target/release/tracker`:
//!
//! ```sh
//! cargo bench --bench lambda_start
//! ```
//!
//! `TRACKER_LAMBDA_BINARY` measures another binary instead, without building
//! (a cargo-zigbuild output, say); `TRACKER_LAMBDA_START_RUNS` changes the
//! number of starts per handler and case (default 50, after 3 unmeasured ones
//! that warm the page cache).
//!
//! The child gets an environment like Lambda's and nothing else: the runtime
//! API address, the `AWS_LAMBDA_*` variables, a region and static session
//! credentials in the environment (as Lambda gives them), and the variables
//! `tracker deploy` sets. The stand-in stamps the moment the request line has
//! arrived, checks it is the `/next` poll, and the child is killed.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tracker_deployer::package;
use tracker_deployer::settings::Architecture;

/// The poll a started runtime sends first.
const NEXT: &str = "GET /2018-06-01/runtime/invocation/next ";
/// A start slower than this is a hang (or a network call), not a sample.
const GIVE_UP: Duration = Duration::from_secs(20);
const WARM_UP: usize = 3;
const BUILD: &str = "cargo build --release --locked";

/// Where the AWS SDK's HTTPS client finds root certificates, which it loads
/// when a client is made (`rustls-native-certs`; the variables are its own).
/// The first is Lambda's case: no variable, so it probes the usual bundle
/// *and* directories. The others show what that costs.
const CERTIFICATES: [(&str, &[(&str, &str)]); 3] = [
    ("probed certificates (as in Lambda)", &[]),
    (
        "one bundle (`SSL_CERT_FILE`)",
        &[("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")],
    ),
    ("no certificates", &[("SSL_CERT_FILE", "/dev/null")]),
];

/// One start: wall time from spawn to the `/next` request line, and the CPU
/// time all the child's threads had used by then.
struct Start {
    wall: Duration,
    cpu: Duration,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` probes
    }
    let binary = binary();
    let runs: usize = std::env::var("TRACKER_LAMBDA_START_RUNS")
        .ok()
        .map(|v| v.parse().expect("TRACKER_LAMBDA_START_RUNS is a number"))
        .unwrap_or(50);
    println!("binary: {}", binary.display());
    println!();

    println!("| start | runs | p50 | p90 | max | CPU p50 |");
    println!("|---|---|---|---|---|---|");
    for (certificates, extra_env) in CERTIFICATES {
        for handler in ["ingest", "query"] {
            for _ in 0..WARM_UP {
                start_until_next(&binary, handler, extra_env);
            }
            let starts: Vec<Start> = (0..runs)
                .map(|_| start_until_next(&binary, handler, extra_env))
                .collect();
            row(
                &format!("`{handler}`, {certificates}: spawn → `/next`"),
                starts.iter().map(|s| s.wall).collect(),
                Some(starts.iter().map(|s| s.cpu).collect()),
            );
        }
    }
    // What any process costs here, for scale: spawn to exit.
    let version: Vec<Duration> = (0..runs)
        .map(|_| spawn_to_exit(Command::new(&binary).arg("--version").env_clear()))
        .collect();
    row("`tracker --version`: spawn → exit", version, None);
    let true_path = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if let Some(true_path) = true_path {
        let times = (0..runs)
            .map(|_| spawn_to_exit(&mut Command::new(true_path)))
            .collect();
        row("`/bin/true`: spawn → exit", times, None);
    }
    println!();
    sizes(&binary);
}

/// The binary to measure: `TRACKER_LAMBDA_BINARY`, else the release build,
/// made (or found fresh) by `cargo build --release --locked` and copied
/// aside: `cargo bench` puts its own build of the binary (bench profile: no
/// LTO, debug info) at the same `target/release/tracker`, and so does any
/// other `cargo bench` on the same target directory.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TRACKER_LAMBDA_BINARY") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "TRACKER_LAMBDA_BINARY={} is not a file",
            path.display()
        );
        return path;
    }
    eprintln!("`{BUILD}` (minutes if the release build is not fresh)...");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(BUILD.split(' ').skip(1))
        .arg("--message-format=json-render-diagnostics")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{BUILD}`: {e}"));
    assert!(
        output.status.success(),
        "`{BUILD}` failed ({}); fix the build, or set TRACKER_LAMBDA_BINARY to a built binary",
        output.status
    );
    // The path cargo reports for the `tracker` executable.
    let built = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "tracker")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("`{BUILD}` named no `tracker` executable"));
    // target/release/tracker → target/bench/lambda_start/tracker
    let aside = built
        .parent()
        .and_then(Path::parent)
        .expect("the executable is in <target>/release")
        .join("bench/lambda_start");
    std::fs::create_dir_all(&aside).expect("create target/bench/lambda_start");
    let copy = aside.join("tracker");
    std::fs::copy(&built, &copy)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", built.display(), copy.display()));
    copy
}

/// One start of `binary` as `handler`: spawn to the `/next` request line.
fn start_until_next(binary: &Path, handler: &str, extra_env: &[(&str, &str)]) -> Start {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the runtime API stand-in");
    let port = listener.local_addr().expect("stand-in address").port();
    let (sender, receiver) = mpsc::channel::<(Instant, String, TcpStream)>();
    // The stand-in: the first connection's request line, stamped on arrival.
    // The connection is handed back so it stays open until the child is killed.
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut line = String::new();
        let read = BufReader::new(&stream).read_line(&mut line);
        let arrived = Instant::now();
        if read.is_ok() {
            let _ = sender.send((arrived, line, stream));
        }
    });

    let mut command = lambda_command(binary, handler, port);
    command.envs(extra_env.iter().copied());
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
    let (arrived, line, cpu) = loop {
        match receiver.recv_timeout(Duration::from_millis(2)) {
            Ok((arrived, line, _connection)) => {
                let cpu = cpu_time(child.id());
                stop(&mut child);
                break (arrived, line, cpu);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "the {handler} handler exited ({status}) before polling /next\n{}",
                        output_of(&mut child)
                    );
                }
                if spawned.elapsed() > GIVE_UP {
                    stop(&mut child);
                    panic!(
                        "the {handler} handler did not poll /next within {GIVE_UP:?}\n{}",
                        output_of(&mut child)
                    );
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                stop(&mut child);
                panic!(
                    "the runtime API stand-in got no request line from the {handler} handler\n{}",
                    output_of(&mut child)
                );
            }
        }
    };
    assert!(
        line.starts_with(NEXT),
        "the {handler} handler's first request was {:?}, not {NEXT:?}\n{}",
        line.trim_end(),
        output_of(&mut child)
    );
    Start {
        wall: arrived - spawned,
        cpu,
    }
}

/// CPU time used so far by every thread of process `pid` (the first field
/// of `/proc/<pid>/task/<tid>/schedstat`, in nanoseconds); zero where
/// `/proc` has no such file.
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
    let nanos: u64 = tasks
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// `binary` as Lambda starts it, with only the environment Lambda gives
/// (see the module's documentation).
fn lambda_command(binary: &Path, handler: &str, port: u16) -> Command {
    let function = format!("tracker-bench-{handler}");
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", &function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256") // deploy's default
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]00000000000000000000000000000000",
        )
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDLAMBDASTARTBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "lambda-start-bench-secret")
        .env("AWS_SESSION_TOKEN", "lambda-start-bench-token")
        .env("LAMBDA_TASK_ROOT", "/var/task")
        .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        // What `tracker deploy` sets (deployer/src/template.rs).
        .env("TRACKER_HANDLER", handler)
        .env("TRACKER_TABLE", "tracker-bench-events")
        .env("TRACKER_SKIP_EVENT_PREFIXES", "")
        .env("TRACKER_RETENTION_DAYS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// What a stopped child wrote, for failure messages.
fn output_of(child: &mut Child) -> String {
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut out);
    }
    format!("its output:\n{out}")
}

fn spawn_to_exit(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?} failed: {status}");
    elapsed
}

fn row(label: &str, mut times: Vec<Duration>, cpu: Option<Vec<Duration>>) {
    times.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let cpu = match cpu {
        Some(mut cpu) => {
            cpu.sort();
            ms(percentile(&cpu, 0.50))
        }
        None => String::new(),
    };
    println!(
        "| {label} | {} | {} | {} | {} | {cpu} |",
        times.len(),
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.90)),
        ms(times[times.len() - 1]),
    );
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The binary's size and the size of the zip `tracker deploy` would upload,
/// made by deploy's own code (`tracker_deployer::package::package`: checks,
/// then one deflated `bootstrap` entry).
fn sizes(binary: &Path) {
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let size = std::fs::metadata(binary).expect("binary size").len();
    println!("| artifact | bytes | MB |");
    println!("|---|---|---|");
    println!(
        "| binary ({}) | {size} | {:.1} |",
        binary.display(),
        mb(size)
    );
    let architecture = if cfg!(target_arch = "aarch64") {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    };
    let started = Instant::now();
    match package::package(binary, architecture) {
        Ok(package) => {
            let zipped = package.zip.len() as u64;
            println!(
                "| zipped `bootstrap` (what deploy uploads) | {zipped} | {:.1} |",
                mb(zipped)
            );
            println!();
            println!(
                "zipped in {:.2} s by deploy's packaging code; {:.0} % of the binary",
                started.elapsed().as_secs_f64(),
                100.0 * zipped as f64 / size as f64
            );
        }
        Err(error) => println!("| zipped `bootstrap` | not made: {error} | |"),
    }
}
