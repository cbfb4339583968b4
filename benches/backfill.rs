//! Backfill throughput against moto: the shared sample is uploaded to a moto
//! bucket, then `tracker backfill` (the real binary, built with the bench
//! profile) loads it into fresh moto tables at `--concurrency 1` and at the
//! default, under `/usr/bin/time -v`. Reports wall time, objects/s, events/s
//! and peak memory. Run with `bash scripts/bench-backfill.sh` (it starts moto).
//!
//! moto is a single-threaded Python server, so these numbers measure the
//! emulator as much as tracker; they are for comparing runs, not AWS.

use std::process::Command;
use std::time::Instant;

use aws_config::{BehaviorVersion, Region};

mod common;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let moto = std::env::var("TRACKER_TEST_MOTO_URL")
        .expect("run me with scripts/bench-backfill.sh (it starts moto)");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sample = common::sample_files(&common::sample_dir());
    let bucket = format!("bench-{}", std::process::id());
    let sdk = runtime.block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&moto)
            .region(Region::new("us-east-1"))
            .test_credentials()
            .load(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    runtime.block_on(async {
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        for (key, path) in &sample {
            let body = std::fs::read(path).expect("read");
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .expect("upload");
        }
    });
    let work = tempfile::tempdir().expect("temp dir");
    println!("| concurrency | wall | objects/s | events/s | peak RSS |");
    println!("|---|---|---|---|---|");
    for concurrency in ["1", "16"] {
        let table = format!("bench-{concurrency}-{}", std::process::id());
        runtime
            .block_on(tracker_runtime::store::dynamodb::schema::create_table(
                &dynamodb, &table,
            ))
            .expect("create table");
        std::fs::write(
            work.path().join("settings.toml"),
            format!("[table]\nname = \"{table}\"\n"),
        )
        .expect("settings");
        let started = Instant::now();
        let output = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_tracker"))
            .args([
                "backfill",
                "--bucket",
                &bucket,
                "--no-checkpoint",
                "--concurrency",
                concurrency,
            ])
            .current_dir(work.path())
            .env("AWS_ENDPOINT_URL", &moto)
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("run /usr/bin/time -v tracker backfill (is GNU time installed?)");
        let wall = started.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "backfill failed:\n{stderr}");
        let rss_kb: f64 = stderr
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN);
        let events: f64 = stderr
            .lines()
            .find_map(|l| l.split("events: ").nth(1))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(f64::NAN);
        println!(
            "| {concurrency} | {wall:.1} s | {:.0} | {:.0} | {:.0} MB |",
            sample.len() as f64 / wall,
            events / wall,
            rss_kb / 1024.0
        );
    }
}
