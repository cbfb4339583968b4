//! The trigger on the trail bucket.
//!
//! Against moto: a notification that S3 would refuse to share the trail's
//! keys with (a SIEM's queue on every new object) stops deploy and its dry
//! run before anything is made, saying what overlaps and how to fix it; with
//! `trail.trigger = "eventbridge"` the same bucket works: the rule and its
//! permission are in the stack, no S3 entry or permission is made, the
//! other notifications are kept; switching back to `"s3"` removes the rule
//! and undoes the EventBridge delivery tracker turned on; teardown removes
//! it all.
//!
//! With aws-smithy-mocks (moto accepts the bucket's EventBridge delivery but
//! never reports it): the delivery turned on and off with every other entry
//! kept; AWS's answer to a duplicate permission statement.

use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;
use aws_sdk_s3::operation::put_bucket_notification_configuration::PutBucketNotificationConfigurationOutput;
use aws_sdk_s3::types::{
    Event, EventBridgeConfiguration, LambdaFunctionConfiguration, NotificationConfiguration,
    QueueConfiguration,
};
use aws_smithy_mocks::mock;
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::{deploy_with, summary};
use tracker_deployer::names::Names;
use tracker_deployer::sdk::{cloudformation, lambda, sqs};
use tracker_deployer::settings::Trigger;
use tracker_deployer::stack;
use tracker_deployer::template::ids;
use tracker_deployer::trigger::notifications::{self, EventBridgeDelivery};
use tracker_deployer::trigger::{self, PermissionChange};

use super::support::*;
use crate::support::{new_bucket, s3_client, sdk_config};

/// A trail bucket whose every new object already goes to a SIEM's queue.
async fn bucket_with_siem_queue(sdk: &aws_config::SdkConfig) -> (String, String) {
    let s3 = s3_client(sdk);
    let sqs = sqs::Client::new(sdk);
    let bucket = new_bucket(&s3).await;
    let queue = format!("siem-{bucket}");
    sqs.create_queue()
        .queue_name(&queue)
        .send()
        .await
        .expect("create the SIEM's queue");
    let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}");
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .id("siem-all-objects")
                        .queue_arn(&arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .expect("queue configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("put the SIEM's notification");
    (bucket, arn)
}

#[tokio::test]
async fn an_overlapping_notification_is_refused_before_anything_is_made() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let (trail, queue_arn) = bucket_with_siem_queue(&sdk).await;
    let settings = settings(&trail);
    let names = Names::new(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());
    for args in [args(&binary), dry_run_args(&binary)] {
        let e = deploy_with(&sdk, &settings, &args, Confirm::Nobody)
            .await
            .expect_err("S3 would refuse our entry");
        let text = format!("{e:#}");
        assert!(
            text.contains("siem-all-objects")
                && text.contains(&queue_arn)
                && text.contains(&format!("AWSLogs/{ACCOUNT}/CloudTrail/"))
                && text.contains("trail.trigger = \"eventbridge\"")
                && text.contains("nothing was created"),
            "{text}"
        );
    }
    for stack in [&names.stack, &names.data_stack] {
        assert!(stack::describe(&cfn, stack).await.unwrap().is_none());
    }
    let artifacts = names.created_artifact_bucket(ACCOUNT, "us-east-1");
    assert!(!bucket_exists(&s3, &artifacts).await, "no artifact bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eventbridge_trigger_works_beside_other_notifications() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let lambda = lambda::Client::new(&sdk);
    let (trail, _) = bucket_with_siem_queue(&sdk).await;
    let mut settings = settings(&trail);
    settings.trail.trigger = Trigger::EventBridge;
    let names = Names::new(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());

    let deployed = deploy(&settings, &binary).await;
    assert!(
        stack_resources(&cfn, &names.stack)
            .await
            .contains(&ids::TRAIL_RULE.to_owned()),
        "the rule is in the stack"
    );
    let statements = policy_statements(&lambda, &names.ingest_function).await;
    assert!(
        statements
            .iter()
            .any(|s| s.to_string().contains("events.amazonaws.com")),
        "EventBridge may invoke ingest: {statements:?}"
    );
    assert!(
        !statements
            .iter()
            .any(|s| s["Sid"] == names.s3_permission_sid.as_str()),
        "S3 may not: {statements:?}"
    );
    assert!(
        lambda_notifications(&s3, &trail).await.is_empty(),
        "no S3 entry"
    );
    let config = notifications(&s3, &trail).await;
    assert_eq!(
        config.queue_configurations().len(),
        1,
        "the SIEM's queue is kept"
    );
    let marker = format!("{}{trail}", names.eventbridge_marker_prefix);
    assert!(
        s3.head_object()
            .bucket(&deployed.code.bucket)
            .key(&marker)
            .send()
            .await
            .is_ok(),
        "deploy remembers it turned the delivery on"
    );
    let text = summary(&deployed);
    assert!(
        text.contains("trail.trigger = \"eventbridge\"") && text.contains("EventBridge rule"),
        "{text}"
    );

    // Back to "s3" once the SIEM's queue is narrowed to its own folder.
    s3.put_bucket_notification_configuration()
        .bucket(&trail)
        .notification_configuration(NotificationConfiguration::builder().build())
        .send()
        .await
        .expect("remove the SIEM's queue");
    settings.trail.trigger = Trigger::S3;
    deploy(&settings, &binary).await;
    assert!(
        !stack_resources(&cfn, &names.stack)
            .await
            .contains(&ids::TRAIL_RULE.to_owned()),
        "the rule is gone"
    );
    assert_eq!(lambda_notifications(&s3, &trail).await.len(), 1);
    assert!(
        s3.head_object()
            .bucket(&deployed.code.bucket)
            .key(&marker)
            .send()
            .await
            .is_err(),
        "the delivery tracker turned on is off again, and forgotten"
    );
    teardown(&settings, true).await;
    assert!(lambda_notifications(&s3, &trail).await.is_empty());
}

/// The logical ids of a stack's resources.
async fn stack_resources(cfn: &cloudformation::Client, stack: &str) -> Vec<String> {
    cfn.describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .expect("describe the stack's resources")
        .stack_resources()
        .iter()
        .filter_map(|r| r.logical_resource_id().map(str::to_owned))
        .collect()
}

fn foreign_lambda() -> LambdaFunctionConfiguration {
    LambdaFunctionConfiguration::builder()
        .id("someone-elses-function")
        .lambda_function_arn(format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:other"))
        .events(Event::from("s3:ObjectRemoved:*"))
        .build()
        .unwrap()
}

fn siem_queue() -> QueueConfiguration {
    QueueConfiguration::builder()
        .id("siem")
        .queue_arn(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:siem"))
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .unwrap()
}

/// Turning the delivery on (or off) writes it back with every other entry.
#[tokio::test]
async fn the_eventbridge_delivery_is_switched_keeping_every_other_entry() {
    for (before, wanted, after) in [
        (false, EventBridgeDelivery::On, true),
        (true, EventBridgeDelivery::Off, false),
    ] {
        let current = mock!(aws_sdk_s3::Client::get_bucket_notification_configuration).then_output(
            move || {
                GetBucketNotificationConfigurationOutput::builder()
                    .lambda_function_configurations(foreign_lambda())
                    .queue_configurations(siem_queue())
                    .set_event_bridge_configuration(
                        before.then(|| EventBridgeConfiguration::builder().build()),
                    )
                    .build()
            },
        );
        let put = mock!(aws_sdk_s3::Client::put_bucket_notification_configuration)
            .match_requests(move |request| {
                request.notification_configuration().is_some_and(|c| {
                    c.event_bridge_configuration().is_some() == after
                        && c.lambda_function_configurations() == [foreign_lambda()]
                        && c.queue_configurations() == [siem_queue()]
                })
            })
            .then_output(|| PutBucketNotificationConfigurationOutput::builder().build());
        let aws = mocked(MockRules {
            s3: &[&current, &put],
            ..MockRules::default()
        });
        let change = notifications::update(&aws, "trail", &[], "tracker.t.", wanted)
            .await
            .unwrap_or_else(|e| panic!("{wanted:?}: {e:#}"));
        assert!(change.written && change.eventbridge_was_on == before);
        assert_eq!(change.kept, 2);
        assert_eq!(
            put.num_calls(),
            1,
            "{wanted:?}: the configuration written as expected"
        );
        // Keeping what is there writes nothing.
        let unchanged =
            notifications::update(&aws, "trail", &[], "tracker.t.", EventBridgeDelivery::Keep)
                .await
                .unwrap();
        assert!(!unchanged.written);
        assert_eq!(put.num_calls(), 1);
    }
}

#[tokio::test]
async fn duplicate_permission_statement_is_success() {
    use lambda::operation::add_permission::AddPermissionError;
    use lambda::operation::get_policy::GetPolicyError;
    use lambda::types::error::{ResourceConflictException, ResourceNotFoundException};
    let no_policy = mock!(lambda::Client::get_policy).then_error(|| {
        GetPolicyError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("The resource you requested does not exist.")
                .meta(meta(
                    "ResourceNotFoundException",
                    "The resource you requested does not exist.",
                ))
                .build(),
        )
    });
    let conflict = mock!(lambda::Client::add_permission).then_error(|| {
        AddPermissionError::ResourceConflictException(
            ResourceConflictException::builder()
                .message(DUPLICATE)
                .meta(meta("ResourceConflictException", DUPLICATE))
                .build(),
        )
    });
    let aws = mocked(MockRules {
        lambda: &[&no_policy, &conflict],
        ..MockRules::default()
    });
    let change = trigger::ensure_permission(&aws, "t-ingest", "tracker-s3-t", "trail")
        .await
        .expect("a duplicate statement is success");
    assert_eq!(change, PermissionChange::Unchanged);
    assert_eq!(conflict.num_calls(), 1);
}

/// An existing statement for the same bucket is left alone: no call at all.
#[tokio::test]
async fn existing_permission_is_not_added_again() {
    use lambda::operation::get_policy::GetPolicyOutput;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"tracker-s3-t","Effect":"Allow",
        "Principal":{{"Service":"s3.amazonaws.com"}},"Action":"lambda:InvokeFunction",
        "Resource":"arn:aws:lambda:us-east-1:{ACCOUNT}:function:t-ingest",
        "Condition":{{"StringEquals":{{"AWS:SourceAccount":"{ACCOUNT}"}},
        "ArnLike":{{"AWS:SourceArn":"arn:aws:s3:::trail"}}}}}}]}}"#
    );
    let get = mock!(lambda::Client::get_policy)
        .then_output(move || GetPolicyOutput::builder().policy(policy.clone()).build());
    let add = mock!(lambda::Client::add_permission)
        .then_output(|| lambda::operation::add_permission::AddPermissionOutput::builder().build());
    let aws = mocked(MockRules {
        lambda: &[&get, &add],
        ..MockRules::default()
    });
    let change = trigger::ensure_permission(&aws, "t-ingest", "tracker-s3-t", "trail")
        .await
        .unwrap();
    assert_eq!(change, PermissionChange::Unchanged);
    assert_eq!(add.num_calls(), 0);
}
