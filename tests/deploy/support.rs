//! What the deploy tests share: settings for a fresh deployment, a small
//! Lambda binary, deploy and teardown against moto, readers of what moto
//! holds (notifications, IAM through its query API, functions, tables),
//! running the built `tracker` binary, and clients answered by
//! aws-smithy-mocks for what moto does differently from AWS.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter, TopicConfiguration,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracker_deployer::clients::Aws;
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::{DeployArgs, Deployment, deploy_with};
use tracker_deployer::package;
use tracker_deployer::sdk::{apigateway, cloudformation, lambda, sqs};
use tracker_deployer::settings::Settings;
use tracker_deployer::teardown::{TeardownArgs, TeardownReport, teardown_with};
use tracker_deployer::trigger;

use crate::support::{moto_endpoint, new_bucket, sdk_config, unique};

pub const ACCOUNT: &str = "123456789012";

/// Settings for a fresh deployment on `trail_bucket`.
pub fn settings(trail_bucket: &str) -> Settings {
    let mut s = Settings::default();
    s.stack.name = unique("dep");
    s.table.name = unique("events");
    s.trail.bucket = Some(trail_bucket.to_owned());
    s.validate(Path::new("test settings"))
        .expect("test settings are valid");
    s
}

/// A small valid Lambda binary (x86-64, needs GLIBC_2.34), so most tests
/// need not zip the 60+ MB debug build.
pub fn small_binary(dir: &Path) -> PathBuf {
    let path = dir.join("bootstrap-test");
    std::fs::write(
        &path,
        package::synthetic::elf(
            package::synthetic::X86_64,
            &["GLIBC_2.2.5", "GLIBC_2.34"],
            Some("/lib64/ld-linux-x86-64.so.2"),
        ),
    )
    .expect("write the test binary");
    path
}

pub fn args(binary: &Path) -> DeployArgs {
    DeployArgs {
        lambda_binary: Some(binary.to_owned()),
        ..DeployArgs::default()
    }
}

pub fn dry_run_args(binary: &Path) -> DeployArgs {
    DeployArgs {
        dry_run: true,
        ..args(binary)
    }
}

pub async fn deploy(settings: &Settings, binary: &Path) -> Deployment {
    let sdk = sdk_config().await;
    deploy_with(&sdk, settings, &args(binary), Confirm::Nobody)
        .await
        .unwrap_or_else(|e| panic!("deploy failed: {e:#}"))
        .expect("not a dry run")
}

pub async fn teardown(settings: &Settings, delete_data: bool) -> TeardownReport {
    let sdk = sdk_config().await;
    let args = TeardownArgs {
        delete_data,
        yes: true,
    };
    teardown_with(&sdk, settings, &args, Confirm::Always(true))
        .await
        .unwrap_or_else(|e| panic!("teardown failed: {e:#}"))
}

/// A trail bucket with notifications of someone else already on it.
pub async fn trail_bucket_with_foreign_notifications(s3: &aws_sdk_s3::Client) -> String {
    let bucket = new_bucket(s3).await;
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .lambda_function_configurations(
                    LambdaFunctionConfiguration::builder()
                        .id("someone-elses-function")
                        .lambda_function_arn(format!(
                            "arn:aws:lambda:us-east-1:{ACCOUNT}:function:other"
                        ))
                        .events(Event::from("s3:ObjectCreated:*"))
                        .filter(
                            NotificationConfigurationFilter::builder()
                                .key(
                                    S3KeyFilter::builder()
                                        .filter_rules(
                                            FilterRule::builder()
                                                .name(FilterRuleName::Prefix)
                                                .value("reports/")
                                                .build(),
                                        )
                                        .build(),
                                )
                                .build(),
                        )
                        .build()
                        .expect("configuration"),
                )
                .topic_configurations(
                    TopicConfiguration::builder()
                        .id("someone-elses-topic")
                        .topic_arn(format!("arn:aws:sns:us-east-1:{ACCOUNT}:other"))
                        .events(Event::from("s3:ObjectRemoved:*"))
                        .build()
                        .expect("configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("put the foreign notifications");
    bucket
}

/// The bucket's Lambda notification entries: (id, function ARN, prefix, suffix).
pub async fn lambda_notifications(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Vec<(String, String, String, String)> {
    notifications(s3, bucket)
        .await
        .lambda_function_configurations()
        .iter()
        .map(|c| {
            let rule = |name: &str| {
                c.filter()
                    .and_then(|f| f.key())
                    .map(|k| k.filter_rules())
                    .unwrap_or_default()
                    .iter()
                    .find(|r| {
                        r.name()
                            .is_some_and(|n| n.as_str().eq_ignore_ascii_case(name))
                    })
                    .and_then(|r| r.value())
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                c.id().unwrap_or_default().to_owned(),
                c.lambda_function_arn().to_owned(),
                rule("prefix"),
                rule("suffix"),
            )
        })
        .collect()
}

/// The bucket's notification configuration (moto's unparsable answer for
/// an empty one read as empty).
pub async fn notifications(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput
{
    match s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(config) => config,
        Err(e) if tracker_deployer::errors::is_empty_notification_answer(&e) => {
            aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder().build()
        }
        Err(e) => panic!("read the notifications of {bucket}: {e:?}"),
    }
}

pub async fn topic_ids(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    notifications(s3, bucket)
        .await
        .topic_configurations()
        .iter()
        .filter_map(|t| t.id().map(str::to_owned))
        .collect()
}

/// Calls moto's IAM query API directly (the deployer needs no IAM client,
/// so the test binary has none): status and XML body.
pub async fn iam(action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let url = moto_endpoint();
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", action)
        .append_pair("Version", "2010-05-08")
        .extend_pairs(params.iter().copied())
        .finish();
    // moto reads the service from the credential scope; it does not check signatures.
    let request = format!(
        "POST / HTTP/1.0\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to moto");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send to moto");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read from moto");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Every `<tag>value</tag>` in an XML text, entity- and percent-decoded.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| v))
        .map(|v| {
            let v = v
                .replace("&quot;", "\"")
                .replace("&#x27;", "'")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            form_urlencoded::parse(format!("v={}", v.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or(v)
        })
        .collect()
}

pub fn role_name(role_arn: &str) -> String {
    role_arn.rsplit('/').next().unwrap_or_default().to_owned()
}

pub async fn function(
    client: &lambda::Client,
    name: &str,
) -> Option<lambda::types::FunctionConfiguration> {
    match client.get_function().function_name(name).send().await {
        Ok(f) => f.configuration().cloned(),
        Err(e) if tracker_deployer::errors::is_not_found(&e) => None,
        Err(e) => panic!("get-function {name}: {e:?}"),
    }
}

pub async fn policy_statements(client: &lambda::Client, name: &str) -> Vec<Value> {
    match client.get_policy().function_name(name).send().await {
        Ok(p) => trigger::statements(p.policy().unwrap_or_default()),
        Err(e) if tracker_deployer::errors::is_not_found(&e) => Vec::new(),
        Err(e) => panic!("get-policy {name}: {e:?}"),
    }
}

pub async fn table_exists(client: &aws_sdk_dynamodb::Client, table: &str) -> bool {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e) if tracker_deployer::errors::is_not_found(&e) => false,
        Err(e) => panic!("describe-table {table}: {e:?}"),
    }
}

pub async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

/// Error metadata as the SDK reads it from a real error response.
pub fn meta(code: &str, message: &str) -> aws_sdk_s3::error::ErrorMetadata {
    aws_sdk_s3::error::ErrorMetadata::builder()
        .code(code)
        .message(message)
        .build()
}

pub const DUPLICATE: &str = "The statement id (tracker-s3-t) provided already exists. Please provide a new \
                         statement id, or remove the existing statement.";
pub const IN_PLAN: &str = "Usage Plan p1 cannot be added because API Key k1 cannot reference multiple \
                       Usage Plans with the same API Stage";

pub fn credentials() -> aws_sdk_s3::config::Credentials {
    aws_sdk_s3::config::Credentials::new("test", "test", None, None, "mock")
}

pub fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    interceptor
}

/// The rules each mocked client answers from (none reach the network).
#[derive(Default)]
pub struct MockRules<'a> {
    pub lambda: &'a [&'a Rule],
    pub cloudformation: &'a [&'a Rule],
    pub apigateway: &'a [&'a Rule],
    pub s3: &'a [&'a Rule],
    pub dynamodb: &'a [&'a Rule],
    pub sqs: &'a [&'a Rule],
}

/// Clients that answer from `rules`. Built without the SDK crates'
/// `test-util` feature.
pub fn mocked(rules: MockRules) -> Aws {
    let region = "us-east-1";
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            credentials(),
        ))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .build();
    Aws {
        region: region.into(),
        account: ACCOUNT.into(),
        partition: "aws",
        profile: None,
        cloudformation: cloudformation::Client::from_conf(
            cloudformation::config::Builder::from(&sdk)
                .interceptor(interceptor(rules.cloudformation))
                .build(),
        ),
        lambda: lambda::Client::from_conf(
            lambda::config::Builder::from(&sdk)
                .interceptor(interceptor(rules.lambda))
                .build(),
        ),
        apigateway: apigateway::Client::from_conf(
            apigateway::config::Builder::from(&sdk)
                .interceptor(interceptor(rules.apigateway))
                .build(),
        ),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .interceptor(interceptor(rules.s3))
                .build(),
        ),
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(interceptor(rules.dynamodb))
                .build(),
        ),
        sqs: sqs::Client::from_conf(
            sqs::config::Builder::from(&sdk)
                .interceptor(interceptor(rules.sqs))
                .build(),
        ),
    }
}

/// Runs the built `tracker` binary in `dir` (which holds its
/// `settings.toml`) against moto, as an operator would; prints its stderr.
pub fn tracker(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_tracker"))
        .args(args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("TRACKER_HANDLER")
        .env_remove("TRACKER_SETTINGS")
        .output()
        .expect("run the built tracker");
    eprintln!(
        "tracker {}:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A stack deployed for a new trail bucket, its settings also written to
/// `dir/settings.toml` for runs of the built binary there, and clients of
/// what the tests read.
pub struct Deployed {
    pub sdk: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub trail: String,
    pub settings: Settings,
    pub names: tracker_deployer::names::Names,
    pub dir: tempfile::TempDir,
}

pub async fn deployed() -> Deployed {
    let sdk = sdk_config().await;
    let s3 = crate::support::s3_client(&sdk);
    let trail = new_bucket(&s3).await;
    let settings = settings(&trail);
    let names = tracker_deployer::names::Names::new(&settings).expect("names of the test stack");
    let dir = tempfile::tempdir().expect("temp dir");
    deploy(&settings, &small_binary(dir.path())).await;
    std::fs::write(dir.path().join("settings.toml"), settings_toml(&settings))
        .expect("write settings.toml");
    Deployed {
        sqs: sqs::Client::new(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sdk,
        s3,
        trail,
        settings,
        names,
        dir,
    }
}

/// The settings as TOML, for the built binary's `settings.toml`.
pub fn settings_toml(settings: &Settings) -> String {
    let mut text = format!(
        "[stack]\nname = \"{}\"\n[table]\nname = \"{}\"\n[trail]\nbucket = \"{}\"\n",
        settings.stack.name,
        settings.table.name,
        settings.trail.bucket.as_deref().unwrap_or_default()
    );
    text.push_str(&format!(
        "[api]\nstage = \"{}\"\n[artifacts]\nbucket = \"{}\"\n",
        settings.api.stage, settings.artifacts.bucket
    ));
    text
}
