//! The IAM policy `tracker deploy --print-policy` prints covers what deploy
//! and teardown do: every SDK operation they make against moto (seen by an
//! interceptor on every client) is in the policy's table of calls, and
//! every resource type of the templates in its table of what
//! CloudFormation does with the caller's credentials. The built binary
//! prints it without calling AWS.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;
use tracker_deployer::clients::Aws;
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::deploy_on;
use tracker_deployer::names::Names;
use tracker_deployer::policy::{DIRECT_CALLS, VIA_STACKS};
use tracker_deployer::settings::Trigger;
use tracker_deployer::teardown::{TeardownArgs, teardown_on};
use tracker_deployer::template::{self, CodeLocation};

use super::support::*;
use crate::support::{new_bucket, s3_client, sdk_config};

/// Every (service, operation) the clients were asked for.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<BTreeSet<(String, String)>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    // Client interceptors run before the operation's configuration (which
    // holds its name) is applied: look just after.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = config.load::<Metadata>()
            && let Ok(mut seen) = self.0.lock()
        {
            seen.insert((metadata.service().to_owned(), metadata.name().to_owned()));
        }
        Ok(())
    }
}

async fn run(
    aws: &Aws,
    settings: &tracker_deployer::Settings,
    args: &tracker_deployer::DeployArgs,
) {
    deploy_on(aws, settings, args, Confirm::Nobody)
        .await
        .unwrap_or_else(|e| panic!("deploy: {e:#}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_deploy_and_teardown_is_in_the_policy() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let trail = new_bucket(&s3).await;
    let mut settings = settings(&trail);
    let recorder = Recorder::default();
    let aws = Aws::connect_with(&sdk, &settings, &[SharedInterceptor::new(recorder.clone())])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());
    run(&aws, &settings, &args(&binary)).await;
    run(&aws, &settings, &dry_run_args(&binary)).await;
    settings.trail.trigger = Trigger::EventBridge;
    settings.api.stage = "v2".into();
    run(&aws, &settings, &args(&binary)).await;
    teardown_on(
        &aws,
        &settings,
        &TeardownArgs {
            delete_data: true,
            yes: true,
        },
        Confirm::Always(true),
    )
    .await
    .unwrap();

    let known: BTreeSet<(String, String)> = DIRECT_CALLS
        .iter()
        .map(|(service, operation, _, _)| (service.to_string(), operation.to_string()))
        .collect();
    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.len() > 20, "the recorder saw the calls: {seen:?}");
    let missing: Vec<_> = seen.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "operations deploy or teardown make that policy::DIRECT_CALLS lacks: {missing:?}"
    );

    // Every resource type the templates hold.
    let names = Names::new(&settings).unwrap();
    let code = CodeLocation {
        bucket: "b".into(),
        key: "k".into(),
    };
    let mut types = BTreeSet::new();
    for (trigger, topic) in [
        (Trigger::S3, None),
        (
            Trigger::EventBridge,
            Some("arn:aws:sns:us-east-1:123456789012:security"),
        ),
    ] {
        settings.trail.trigger = trigger;
        // An existing topic: the stack subscribes the addresses to it.
        settings.alerts.topic_arn = topic.map(str::to_owned);
        settings.alerts.emails = vec!["sec@example.com".into()];
        for t in [
            template::data_template(&settings, &names),
            template::app_template(&settings, &names, &code),
        ] {
            types.extend(
                template::resource_list(&t)
                    .into_iter()
                    .map(|(_, kind)| kind),
            );
        }
    }
    let covered: BTreeSet<String> = VIA_STACKS
        .iter()
        .map(|(kind, _, _)| kind.to_string())
        .collect();
    let uncovered: Vec<_> = types.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "resource types policy::VIA_STACKS lacks: {uncovered:?}"
    );
}

/// `tracker deploy --print-policy` needs no AWS at all.
#[test]
fn the_built_binary_prints_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.toml"),
        "[trail]\nbucket = \"my-trail\"\n[aws]\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tracker"))
        .args(["deploy", "--print-policy"])
        .current_dir(dir.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9") // nothing listens: no call may be made
        .env_remove("TRACKER_HANDLER")
        .env_remove("TRACKER_SETTINGS")
        .output()
        .expect("run tracker");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let policy: Value = serde_json::from_slice(&output.stdout).expect("the policy is JSON");
    let text = policy.to_string();
    for action in [
        "cloudformation:CreateChangeSet",
        "iam:PassRole",
        "s3:PutBucketNotification",
    ] {
        assert!(text.contains(action), "{action} in {text}");
    }
    assert!(text.contains("arn:aws:s3:::my-trail"), "{text}");
}

/// The README shows what `--print-policy` prints for the default settings
/// and `trail.bucket = "my-cloudtrail-bucket"`, exactly.
#[test]
fn the_readme_shows_the_printed_policy() {
    let readme = std::fs::read_to_string(crate::support::repo_root().join("README.md"))
        .expect("read README.md");
    let section = readme
        .split("### The permissions deploy needs")
        .nth(1)
        .expect("the README's permissions section");
    let shown = section
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a json block in that section");
    let mut settings = tracker_deployer::Settings::default();
    settings.trail.bucket = Some("my-cloudtrail-bucket".into());
    assert_eq!(
        shown,
        tracker_deployer::policy::render(&settings),
        "update the README's policy: `tracker deploy --print-policy` with trail.bucket = \"my-cloudtrail-bucket\""
    );
}
