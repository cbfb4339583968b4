//! No log file's failure is silent.
//!
//! Against moto: a trail bucket encrypting with a KMS key stops deploy
//! (before anything is made) until `trail.kms_key_arn` names it, and then
//! the ingest role may decrypt with it, only through S3; failed ingest
//! invocations wait in the stack's on-failure queue, and `tracker backfill
//! --from-failures` (the built binary) ingests the objects they name,
//! deletes what is settled and keeps what is not; teardown says how many
//! are left.

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use serde_json::json;
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::deploy_with;
use tracker_deployer::names::Names;
use tracker_deployer::sdk::{cloudformation, lambda, sqs};
use tracker_deployer::stack;
use tracker_deployer::teardown as teardown_steps;

use super::support::*;
use crate::support::{new_bucket, repo_root, s3_client, sdk_config, stored_items};

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[tokio::test]
async fn a_kms_encrypted_trail_needs_its_key() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let lambda = lambda::Client::new(&sdk);
    let trail = new_bucket(&s3).await;
    s3.put_bucket_encryption()
        .bucket(&trail)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(KEY)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("encrypt the trail bucket with a KMS key");
    let mut settings = settings(&trail);
    let names = Names::new(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());

    let e = deploy_with(&sdk, &settings, &args(&binary), Confirm::Nobody)
        .await
        .expect_err("no key, no deploy");
    let text = format!("{e:#}");
    assert!(
        text.contains(&format!("trail.kms_key_arn = \"{KEY}\""))
            && text.contains("nothing was created"),
        "{text}"
    );
    assert!(
        stack::describe(&cfn, &names.data_stack)
            .await
            .unwrap()
            .is_none()
    );

    settings.trail.kms_key_arn = Some(KEY.into());
    deploy(&settings, &binary).await;
    let role = function(&lambda, &names.ingest_function)
        .await
        .expect("the ingest function")
        .role()
        .map(role_name)
        .expect("its role");
    let (status, body) = iam(
        "GetRolePolicy",
        &[("RoleName", &role), ("PolicyName", "tracker-ingest")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let document = xml_values(&body, "PolicyDocument").join("");
    assert!(
        document.contains("kms:Decrypt")
            && document.contains(KEY)
            && document.contains("s3.us-east-1.amazonaws.com"),
        "{document}"
    );
    teardown(&settings, true).await;
}

/// What Lambda sends to the on-failure destination for a failed event.
fn failure_record(payload: serde_json::Value) -> String {
    json!({
        "version": "1.0",
        "timestamp": "2024-08-01T12:33:05.123Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4e4c-9a5f-4f3e8a2f0b1c",
            "functionArn": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:t-ingest:$LATEST"),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "IngestRetryNeeded", "errorMessage": "access denied"}
    })
    .to_string()
}

async fn messages_left(sqs: &sqs::Client, url: &str) -> u64 {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes");
    attributes
        .attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_ingests_are_replayed_from_the_queue() {
    let Deployed {
        sdk,
        s3,
        sqs,
        dynamodb,
        trail,
        settings,
        names,
        dir,
    } = deployed().await;

    // Three failed invocations: an S3 event for a log file that is there,
    // an EventBridge event for one deleted since, and a message that is
    // not an invocation record.
    let log = "AWSLogs/123456789012/CloudTrail/us-east-1/2019/11/14/\
               123456789012_CloudTrail_us-east-1_20191114T0055Z_ALVOvJm6zC4S0f9S.json.gz";
    s3.put_object()
        .bucket(&trail)
        .key(log)
        .body(
            std::fs::read(repo_root().join("examples/cloudtrail").join(log))
                .unwrap()
                .into(),
        )
        .send()
        .await
        .expect("upload the log");
    let deleted = "AWSLogs/123456789012/CloudTrail/us-east-1/2019/11/14/gone.json.gz";
    let url = sqs
        .get_queue_url()
        .queue_name(&names.failure_queue)
        .send()
        .await
        .expect("the stack's queue")
        .queue_url
        .expect("its URL");
    for body in [
        failure_record(serde_json::to_value(crate::support::s3_put_event(&trail, log)).unwrap()),
        failure_record(json!({
            "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
            "account": ACCOUNT, "time": "2024-08-01T12:30:05Z", "region": "us-east-1",
            "resources": [format!("arn:aws:s3:::{trail}")],
            "detail": {"version": "0", "bucket": {"name": trail}, "object": {"key": deleted}}
        })),
        "not an invocation record".to_owned(),
    ] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .expect("send a failure");
    }

    // A dry run reads everything and changes nothing.
    let dry = tracker(dir.path(), &["backfill", "--from-failures", "--dry-run"]);
    assert_eq!(stored_items(&dynamodb, &names.table, "E#").await, 0);
    assert_eq!(messages_left(&sqs, &url).await, 3, "{dry:?}");

    let replayed = tracker(dir.path(), &["backfill", "--from-failures"]);
    let stderr = String::from_utf8_lossy(&replayed.stderr);
    assert_eq!(
        replayed.status.code(),
        Some(1),
        "failed objects make the exit status 1: {stderr}"
    );
    assert!(
        stderr.contains(deleted) && stderr.contains("NoSuchKey"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sqs message"),
        "the unreadable message is listed: {stderr}"
    );
    assert!(
        stored_items(&dynamodb, &names.table, "E#").await > 0,
        "the log file is ingested"
    );
    assert_eq!(
        messages_left(&sqs, &url).await,
        1,
        "settled messages are deleted, the unreadable one is kept"
    );

    // Teardown says what would be lost with the queue.
    let aws = tracker_deployer::clients::Aws::connect(&sdk, &settings)
        .await
        .unwrap();
    let found = teardown_steps::find(&aws, &settings, &names).await.unwrap();
    let plan = found.plan(&names, false).join("\n");
    assert!(
        plan.contains("WITH 1 FAILED INGEST(S) NOT REPLAYED"),
        "{plan}"
    );
    teardown(&settings, true).await;
}

/// Without a deployed stack there is no queue: said, not a stack trace.
#[test]
fn replaying_without_a_deployment_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.toml"),
        format!(
            "[stack]\nname = \"{}\"\n[table]\nname = \"{}\"\n",
            crate::support::unique("nostack"),
            crate::support::unique("notable")
        ),
    )
    .unwrap();
    // The table is checked first; use a dry run to reach the queue.
    let output = tracker(dir.path(), &["backfill", "--from-failures", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("ingest-failures` does not exist: deploy first"),
        "{stderr}"
    );
}
