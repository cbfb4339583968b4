//! A stand-in for the Lambda Runtime API (what Lambda serves a function on
//! `AWS_LAMBDA_RUNTIME_API`): the built `tracker` is started in Lambda mode
//! with a given environment, asks for its next event
//! (`GET /2018-06-01/runtime/invocation/next`), gets the one it was given,
//! and posts its answer (`…/invocation/{id}/response`) or its error
//! (`…/error`), which [`invoke`] returns (or panics with, and the process's
//! output). The process is then stopped: one invocation per start.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
/// An invocation slower than this is a hang.
const GIVE_UP: Duration = Duration::from_secs(30);

/// What the function posted back.
enum Posted {
    Response(String),
    Error(String),
}

/// Runs the built binary as a Lambda function with `env` (its
/// configuration: `TRACKER_HANDLER`, `TRACKER_TABLE`, …) on one `event`,
/// and returns its answer.
pub fn invoke(env: &[(String, String)], event: &Value) -> Value {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Runtime API stand-in");
    let address = listener.local_addr().expect("stand-in address");
    let (sender, receiver) = mpsc::channel::<Posted>();
    let body = event.to_string();
    std::thread::spawn(move || {
        let mut handed_out = false;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let sender = sender.clone();
            let event = (!handed_out).then(|| body.clone());
            handed_out = true;
            std::thread::spawn(move || serve(stream, event, sender));
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracker"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the built tracker in Lambda mode");
    let posted = receiver.recv_timeout(GIVE_UP);
    let output = stop(&mut child);
    match posted {
        Ok(Posted::Response(text)) => serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {text}\n{output}")),
        Ok(Posted::Error(text)) => panic!("the function failed: {text}\n{output}"),
        Err(_) => panic!("the function posted no answer within {GIVE_UP:?}\n{output}"),
    }
}

/// Serves the requests of one connection (the runtime keeps it alive): the
/// event on the first `/next` (later ones wait forever, as when Lambda has
/// nothing to give), and the posted answer to `sender`.
fn serve(stream: TcpStream, mut event: Option<String>, sender: mpsc::Sender<Posted>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let path = request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if path.ends_with("/invocation/next") {
            let Some(event) = event.take() else {
                // Nothing more to hand out (the process is being stopped).
                return;
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:tracker-test\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
                 Content-Length: {}\r\n\r\n{event}",
                event.len()
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
        } else {
            let accepted = r#"{"status":"OK"}"#;
            let _ = writer.write_all(
                format!(
                    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{accepted}",
                    accepted.len()
                )
                .as_bytes(),
            );
            let posted = if path.ends_with("/response") {
                Posted::Response(body)
            } else {
                Posted::Error(format!("{path}: {body}"))
            };
            let _ = sender.send(posted);
        }
    }
}

/// Stops the process and returns what it wrote.
fn stop(child: &mut Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut out);
    }
    format!("its output:\n{out}")
}
