//! The built `tracker` binary (`CARGO_BIN_EXE_tracker`, what `cargo test`
//! builds anyway), as an operator runs it: `tracker deploy` against moto,
//! a log file uploaded to the trail bucket, the ingest function invoked
//! (S3's, EventBridge's and SQS's event shapes),
//! a query answered, `tracker teardown`. moto cannot run Lambda code, so
//! "invoke" is the same binary started in Lambda mode with the environment
//! moto's Lambda holds for the function (what deploy configured), against a
//! stand-in of the Lambda Runtime API that hands it one event and takes its
//! answer.

use serde_json::{Value, json};
use tracker_deployer::names::Names;
use tracker_deployer::package::{self, GlibcVersion, LAMBDA_GLIBC};
use tracker_deployer::sdk::{cloudformation, lambda};
use tracker_deployer::stack;

use super::support::*;
use crate::support::lambda_runtime::invoke;
use crate::support::{new_bucket, repo_root, s3_client, sdk_config};

/// One real CloudTrail log file of the examples, at the key the trail
/// writes it to for the deploying account.
const EXAMPLE_LOG: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2019/11/14/\
                           123456789012_CloudTrail_us-east-1_20191114T0055Z_ALVOvJm6zC4S0f9S.json.gz";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_ingest_query_teardown_with_the_built_binary() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let lambda = lambda::Client::new(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let trail = new_bucket(&s3).await;
    let settings = settings(&trail);
    let names = Names::new(&settings).expect("names");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("settings.toml"), settings_toml(&settings))
        .expect("write settings.toml");

    // `tracker deploy`: the binary ships itself.
    let deployed = tracker(dir.path(), &["deploy"]);
    assert!(deployed.status.success(), "tracker deploy failed");
    let summary = String::from_utf8_lossy(&deployed.stdout);
    assert!(summary.contains("tracker deployed"), "{summary}");
    // The functions run the zip deploy made of itself: the zip's key is its
    // SHA-256, Lambda's CodeSha256 the same digest in base64.
    let ingest = function_configuration(&lambda, &names.ingest_function).await;
    let key_digest = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("code"))
        .and_then(|l| l.trim().rsplit('/').next())
        .and_then(|file| file.split(".zip").next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("the summary names the code zip: {summary}"));
    assert_eq!(
        hex_of_base64(ingest.code_sha256().unwrap_or_default()),
        key_digest,
        "the function's code is the zip deploy uploaded"
    );

    // A log file arrives; S3 would invoke ingest with its notification.
    let key = EXAMPLE_LOG;
    let log = std::fs::read(repo_root().join("examples/cloudtrail").join(key))
        .expect("read the example log");
    s3.put_object()
        .bucket(&trail)
        .key(key)
        .body(log.into())
        .send()
        .await
        .expect("upload the log");
    let event = serde_json::to_value(crate::support::s3_put_event(&trail, key))
        .expect("the S3 event as JSON");
    let answer = invoke(&environment(&ingest), &event);
    let stored = answer["stored"].as_u64().unwrap_or(0);
    assert!(stored > 0, "the ingest function stored nothing: {answer}");
    assert_eq!(answer["files"][0]["status"], "ingested", "{answer}");
    // The same file announced by EventBridge (`trail.trigger = "eventbridge"`):
    // the same events, written again idempotently.
    let object_created = json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2019-11-14T00:55:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{trail}")],
        "detail": {"version": "0", "bucket": {"name": trail}, "object": {"key": key},
                   "reason": "PutObject"}
    });
    let again = invoke(&environment(&ingest), &object_created);
    assert_eq!(again["files"][0]["status"], "ingested", "{again}");
    assert_eq!(again["stored"], answer["stored"], "{again}");
    // The same file in a batch of `backfill --fan-out`, with a message that
    // is no batch: SQS's event shape, answered with the one message to retry.
    let batch = tracker_runtime::ingest::ObjectBatch::new(&trail, vec![key.to_owned()]);
    let record = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
               "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                              "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                              "ApproximateFirstReceiveTimestamp": "1545082649185"},
               "messageAttributes": {}, "md5OfBody": "098f6bcd4621d373cade4e832627b4f6",
               "eventSource": "aws:sqs",
               "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:t-backfill",
               "awsRegion": "us-east-1"})
    };
    let queued = json!({"Records": [
        record("batch", batch.to_body()),
        record("stray", "{}".to_owned()),
    ]});
    let answer = invoke(&environment(&ingest), &queued);
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "stray"}]}),
        "only the message that is no batch is retried"
    );

    // API Gateway would invoke query with its proxy event.
    let query = function_configuration(&lambda, &names.query_function).await;
    let mut request: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/apigw-rest-request.json"))
            .expect("read the API Gateway fixture"),
    )
    .expect("the fixture is JSON");
    request["path"] = json!("/users");
    request["pathParameters"] = json!({"proxy": "users"});
    request["requestContext"]["path"] = json!("/v1/users");
    request["queryStringParameters"] = Value::Null;
    request["multiValueQueryStringParameters"] = Value::Null;
    let answer = invoke(&environment(&query), &request);
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let users: Value = serde_json::from_str(answer["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the body is JSON ({e}): {answer}"));
    assert!(
        users.as_array().is_some_and(|u| !u.is_empty()),
        "the users of the ingested file are listed: {users}"
    );

    // `tracker teardown`: everything goes, the data too.
    let removed = tracker(dir.path(), &["teardown", "--yes", "--delete-data"]);
    assert!(removed.status.success(), "tracker teardown failed");
    for name in [&names.stack, &names.data_stack] {
        assert!(
            stack::describe(&cfn, name)
                .await
                .expect("describe")
                .is_none()
        );
    }
    assert!(function(&lambda, &names.ingest_function).await.is_none());
}

async fn function_configuration(
    client: &lambda::Client,
    name: &str,
) -> lambda::operation::get_function_configuration::GetFunctionConfigurationOutput {
    client
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get-function-configuration {name}: {e:?}"))
}

/// The function's environment as deploy set it, plus what Lambda gives
/// every function (its name, memory, region, credentials) and moto's
/// endpoint in place of AWS's.
fn environment(
    function: &lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = function
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let name = function.function_name().unwrap_or_default().to_owned();
    env.extend([
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            function.memory_size().unwrap_or(256).to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            "$LATEST".to_owned(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".to_owned(),
            format!("/aws/lambda/{name}"),
        ),
        (
            "AWS_ENDPOINT_URL".to_owned(),
            crate::support::moto_endpoint(),
        ),
    ]);
    env
}

/// Lowercase hex of base64 text (Lambda's CodeSha256 → the zip's key).
fn hex_of_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = String::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let Some(value) = ALPHABET.iter().position(|&a| a == c) else {
            return String::new();
        };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push_str(&format!("{:02x}", (bits >> count) & 0xff));
        }
    }
    out
}

/// A newer build host can raise the glibc the binary needs; Lambda's
/// provided.al2023 has 2.34.
#[test]
fn the_built_binary_runs_on_lambda_glibc() {
    let path = env!("CARGO_BIN_EXE_tracker");
    let bytes = std::fs::read(path).expect("read the built tracker");
    let info = package::inspect(&bytes).expect("the built tracker is a readable ELF");
    let max = info.max_glibc.expect("a dynamically linked glibc build");
    eprintln!("{path}: highest version need {max}");
    assert!(
        max <= LAMBDA_GLIBC,
        "{path} needs {max}, newer than Lambda's {LAMBDA_GLIBC}: build on an older host or with \
         `cargo zigbuild --target x86_64-unknown-linux-gnu.2.34`"
    );
    assert!(max >= GlibcVersion(2, 17));
}
