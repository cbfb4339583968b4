//! `tracker deploy` and `tracker teardown`.
//!
//! Against moto (control plane only: nothing is invoked): a deployment has
//! the table (keys, indexes, billing, TTL), both roles with their inline
//! policies, both functions (runtime, handler, environment, code from the
//! uploaded zip), the permissions, the API (resources, methods, deployment,
//! stage, key and usage plan) and the merged bucket notification, as
//! rendered; a foreign notification survives deploy and teardown; deploying
//! again changes nothing and duplicates nothing; a changed setting updates in
//! place; `--dry-run` changes nothing; teardown removes everything but the
//! table, `--delete-data` the table too, and a second teardown is a no-op.
//!
//! With aws-smithy-mocks, what moto does differently from AWS: a duplicate
//! permission statement (ResourceConflictException), a no-change update as a
//! FAILED change set and as moto's ValidationError, a failed stack update
//! (the first failed resource's reason), a stack in ROLLBACK_COMPLETE, an
//! API key already in its usage plan.
//!
//! Also: a snapshot of the rendered templates (`UPDATE_SNAPSHOTS=1`
//! rewrites it) and the glibc needs of the built binary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter, TopicConfiguration,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracker_deployer::clients::Aws;
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::{DeployArgs, Deployment, deploy_with, summary};
use tracker_deployer::names::Names;
use tracker_deployer::package::{self, GlibcVersion, LAMBDA_GLIBC};
use tracker_deployer::sdk::{apigateway, cloudformation, lambda};
use tracker_deployer::settings::{AuthMode, Settings};
use tracker_deployer::stack::{self, Outcome};
use tracker_deployer::teardown::{TeardownArgs, teardown_with};
use tracker_deployer::template::{self, CodeLocation};
use tracker_deployer::trigger::{self, PermissionChange};
use tracker_runtime::config::{HANDLER_VAR, RETENTION_VAR, SKIP_VAR, TABLE_VAR};
use tracker_runtime::store::dynamodb::schema;

use crate::support::{moto_endpoint, new_bucket, repo_root, s3_client, sdk_config, unique};

const ACCOUNT: &str = "123456789012";

// ---------------------------------------------------------------- helpers

/// Settings for a fresh deployment on `trail_bucket`.
fn settings(trail_bucket: &str) -> Settings {
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
fn small_binary(dir: &Path) -> PathBuf {
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

fn args(binary: &Path) -> DeployArgs {
    DeployArgs {
        dry_run: false,
        lambda_binary: Some(binary.to_owned()),
    }
}

async fn deploy(settings: &Settings, binary: &Path) -> Deployment {
    let sdk = sdk_config().await;
    deploy_with(&sdk, settings, &args(binary), Confirm::Nobody)
        .await
        .unwrap_or_else(|e| panic!("deploy failed: {e:#}"))
        .expect("not a dry run")
}

async fn teardown(
    settings: &Settings,
    delete_data: bool,
) -> tracker_deployer::teardown::TeardownReport {
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
async fn trail_bucket_with_foreign_notifications(s3: &aws_sdk_s3::Client) -> String {
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
async fn lambda_notifications(
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
async fn notifications(
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

async fn topic_ids(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    notifications(s3, bucket)
        .await
        .topic_configurations()
        .iter()
        .filter_map(|t| t.id().map(str::to_owned))
        .collect()
}

/// Calls moto's IAM query API directly (the deployer needs no IAM client,
/// so the test binary has none): status and XML body.
async fn iam(action: &str, params: &[(&str, &str)]) -> (u16, String) {
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
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
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

fn role_name(role_arn: &str) -> String {
    role_arn.rsplit('/').next().unwrap_or_default().to_owned()
}

async fn function(
    client: &lambda::Client,
    name: &str,
) -> Option<lambda::types::FunctionConfiguration> {
    match client.get_function().function_name(name).send().await {
        Ok(f) => f.configuration().cloned(),
        Err(e) if tracker_deployer::errors::is_not_found(&e) => None,
        Err(e) => panic!("get-function {name}: {e:?}"),
    }
}

async fn policy_statements(client: &lambda::Client, name: &str) -> Vec<Value> {
    match client.get_policy().function_name(name).send().await {
        Ok(p) => trigger::statements(p.policy().unwrap_or_default()),
        Err(e) if tracker_deployer::errors::is_not_found(&e) => Vec::new(),
        Err(e) => panic!("get-policy {name}: {e:?}"),
    }
}

async fn table_exists(client: &aws_sdk_dynamodb::Client, table: &str) -> bool {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e) if tracker_deployer::errors::is_not_found(&e) => false,
        Err(e) => panic!("describe-table {table}: {e:?}"),
    }
}

async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

// ------------------------------------------------------- against moto

/// The whole life of a deployment, checked at every step against moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_redeploy_update_teardown() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let lambda = lambda::Client::new(&sdk);
    let apigw = apigateway::Client::new(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let trail = trail_bucket_with_foreign_notifications(&s3).await;
    let mut settings = settings(&trail);
    settings.table.retention_days = 90;
    settings.ingest.skip_event_prefixes = vec!["Get".into(), "Describe".into()];
    let names = Names::new(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());

    // ---- first deploy
    let started = Instant::now();
    let first = deploy(&settings, &binary).await;
    eprintln!(
        "first deploy against moto: {:.1} s\n{}",
        started.elapsed().as_secs_f64(),
        summary(&first)
    );
    assert_eq!(first.data_stack_outcome, Outcome::Created);
    assert_eq!(first.app_stack_outcome, Outcome::Created);
    assert!(first.uploaded);
    assert_eq!(first.account, ACCOUNT);

    // The table: keys, indexes, billing, TTL.
    let table = dynamodb
        .describe_table()
        .table_name(&settings.table.name)
        .send()
        .await
        .expect("the table exists")
        .table
        .expect("table description");
    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            (schema::PK.to_owned(), "HASH".to_owned()),
            (schema::SK.to_owned(), "RANGE".to_owned())
        ]
    );
    let mut indexes: Vec<(String, Vec<String>, String)> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            (
                i.index_name().unwrap_or_default().to_owned(),
                i.key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_owned())
                    .collect(),
                i.projection()
                    .and_then(|p| p.projection_type())
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    indexes.sort();
    let mut expected: Vec<(String, Vec<String>, String)> = schema::INDEXES
        .iter()
        .map(|(index, partition)| {
            (
                index.to_string(),
                vec![partition.to_string(), schema::TIME_SK.to_owned()],
                "ALL".to_owned(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(indexes, expected);
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&settings.table.name)
        .send()
        .await
        .expect("describe TTL");
    let ttl = ttl.time_to_live_description().expect("TTL description");
    assert_eq!(
        ttl.time_to_live_status().map(|s| s.as_str()),
        Some("ENABLED")
    );
    assert_eq!(ttl.attribute_name(), Some(schema::TTL));

    // Both functions: runtime, handler, environment, memory, code from the zip.
    let mut roles = Vec::new();
    for (name, handler) in [
        (&names.ingest_function, "ingest"),
        (&names.query_function, "query"),
    ] {
        let f = function(&lambda, name)
            .await
            .unwrap_or_else(|| panic!("function {name} exists"));
        assert_eq!(f.runtime().map(|r| r.as_str()), Some("provided.al2023"));
        assert_eq!(f.handler(), Some("bootstrap"));
        assert_eq!(f.memory_size(), Some(256));
        assert_eq!(f.timeout(), Some(60));
        assert_eq!(f.code_sha256(), Some(first.code_sha256.as_str()), "{name}");
        let env = f
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        assert_eq!(env.get(HANDLER_VAR).map(String::as_str), Some(handler));
        assert_eq!(
            env.get(TABLE_VAR).map(String::as_str),
            Some(settings.table.name.as_str())
        );
        assert_eq!(env.get(SKIP_VAR).map(String::as_str), Some("Get,Describe"));
        assert_eq!(env.get(RETENTION_VAR).map(String::as_str), Some("90"));
        roles.push((handler, f.role().unwrap_or_default().to_owned()));
    }
    assert_ne!(roles[0].1, roles[1].1, "each function has its own role");

    // The zip in the created artifact bucket is the one deployed.
    let artifact = s3
        .get_object()
        .bucket(&first.code.bucket)
        .key(&first.code.key)
        .send()
        .await
        .expect("the artifact is uploaded");
    assert_eq!(
        first.code.bucket,
        format!("{}-artifacts-{ACCOUNT}-us-east-1", settings.stack.name)
    );
    let zip = artifact
        .body
        .collect()
        .await
        .expect("artifact body")
        .to_vec();
    assert_eq!(package::code_sha256(&zip), first.code_sha256);

    // Roles: inline policies only, scoped to our table, logs and trail prefix.
    let table_arn = format!(
        "arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{}",
        settings.table.name
    );
    for (handler, role_arn) in &roles {
        let role = role_name(role_arn);
        let (status, body) = iam("GetRole", &[("RoleName", &role)]).await;
        assert_eq!(status, 200, "role {role}: {body}");
        let (_, attached) = iam("ListAttachedRolePolicies", &[("RoleName", &role)]).await;
        assert!(
            xml_values(&attached, "PolicyArn").is_empty(),
            "no managed policy: {attached}"
        );
        let (_, listed) = iam("ListRolePolicies", &[("RoleName", &role)]).await;
        let policy_name = format!("tracker-{handler}");
        assert_eq!(
            xml_values(&listed, "member"),
            std::slice::from_ref(&policy_name)
        );
        let (status, body) = iam(
            "GetRolePolicy",
            &[("RoleName", &role), ("PolicyName", &policy_name)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let document = xml_values(&body, "PolicyDocument").join("");
        assert!(document.contains(&table_arn), "{document}");
        assert!(
            document.contains(&format!("{table_arn}/index/*")),
            "{document}"
        );
        assert!(
            document.contains(&format!(
                "log-group:/aws/lambda/{}-{handler}:*",
                settings.stack.name
            )),
            "{document}"
        );
        assert!(!document.contains("FullAccess"), "{document}");
        let trail_arn = format!("arn:aws:s3:::{trail}/AWSLogs/{ACCOUNT}/CloudTrail/*");
        if *handler == "ingest" {
            assert!(document.contains("dynamodb:BatchWriteItem"), "{document}");
            assert!(document.contains(&trail_arn), "{document}");
            assert!(!document.contains("dynamodb:Query"), "{document}");
        } else {
            assert!(document.contains("dynamodb:Query"), "{document}");
            assert!(!document.contains("s3:GetObject"), "{document}");
            assert!(!document.contains("BatchWriteItem"), "{document}");
        }
    }

    // Permissions: S3 may invoke ingest (for the trail bucket), API Gateway query.
    let ingest_policy = policy_statements(&lambda, &names.ingest_function).await;
    let s3_statements: Vec<&Value> = ingest_policy
        .iter()
        .filter(|s| s["Sid"] == names.s3_permission_sid.as_str())
        .collect();
    assert_eq!(s3_statements.len(), 1, "{ingest_policy:?}");
    assert_eq!(
        s3_statements[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:s3:::{trail}")
    );
    assert_eq!(
        s3_statements[0]["Condition"]["StringEquals"]["AWS:SourceAccount"],
        ACCOUNT
    );
    let query_policy = policy_statements(&lambda, &names.query_function).await;
    assert!(
        query_policy
            .iter()
            .any(|s| s.to_string().contains("apigateway.amazonaws.com")),
        "{query_policy:?}"
    );

    // The API: {proxy+} and the root, ANY → AWS_PROXY to the query function,
    // API key required on the data routes, not on the dashboard's page (`/`)
    // and assets (`GET /ui/{proxy+}`); a deployment serving the stage; key
    // and usage plan.
    let resources = apigw
        .get_resources()
        .rest_api_id(&first.api_id)
        .embed("methods")
        .send()
        .await
        .expect("get resources");
    let mut paths: Vec<&str> = resources.items().iter().filter_map(|r| r.path()).collect();
    paths.sort();
    assert_eq!(paths, ["/", "/ui", "/ui/{proxy+}", "/{proxy+}"]);
    let query_arn = format!(
        "arn:aws:lambda:us-east-1:{ACCOUNT}:function:{}",
        names.query_function
    );
    for resource in resources.items() {
        let (http_method, key_required) = match resource.path() {
            Some("/ui") => continue,
            Some("/ui/{proxy+}") => ("GET", false),
            Some("/") => ("ANY", false),
            _ => ("ANY", true),
        };
        let method = apigw
            .get_method()
            .rest_api_id(&first.api_id)
            .resource_id(resource.id().unwrap_or_default())
            .http_method(http_method)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{http_method} on {:?}: {e:?}", resource.path()));
        assert_eq!(
            method.api_key_required(),
            Some(key_required),
            "{:?}",
            resource.path()
        );
        assert_eq!(method.authorization_type(), Some("NONE"));
        let integration = method.method_integration().expect("integration");
        assert_eq!(integration.r#type().map(|t| t.as_str()), Some("AWS_PROXY"));
        assert_eq!(integration.http_method(), Some("POST"));
        assert!(
            integration.uri().unwrap_or_default().contains(&query_arn),
            "{:?}",
            integration.uri()
        );
    }
    let stages = apigw
        .get_stages()
        .rest_api_id(&first.api_id)
        .send()
        .await
        .expect("get stages");
    let stage = stages
        .item()
        .iter()
        .find(|s| s.stage_name() == Some("v1"))
        .expect("stage v1");
    assert!(stage.deployment_id().is_some());
    assert_eq!(
        first.api_url,
        format!(
            "https://{}.execute-api.us-east-1.amazonaws.com/v1",
            first.api_id
        )
    );
    let key = first.api_key.clone().expect("an API key");
    let plan = apigw
        .get_usage_plan()
        .usage_plan_id(&key.usage_plan_id)
        .send()
        .await
        .expect("the usage plan");
    assert_eq!(plan.name(), Some(names.usage_plan.as_str()));
    let plan_stages: Vec<(String, String)> = plan
        .api_stages()
        .iter()
        .map(|s| {
            (
                s.api_id().unwrap_or_default().to_owned(),
                s.stage().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(plan_stages, [(first.api_id.clone(), "v1".to_owned())]);
    let plan_keys = apigw
        .get_usage_plan_keys()
        .usage_plan_id(&key.usage_plan_id)
        .send()
        .await
        .expect("plan keys");
    assert_eq!(
        plan_keys
            .items()
            .iter()
            .filter_map(|k| k.id())
            .collect::<Vec<_>>(),
        [key.key_id.as_str()]
    );
    let summary = summary(&first);
    assert!(summary.contains(&format!(
        "aws apigateway get-api-key --api-key {} --include-value",
        key.key_id
    )));
    assert!(summary.contains("curl -H \"x-api-key: $(aws apigateway get-api-key"));
    assert!(summary.contains(&format!("{}/users'", first.api_url)));

    // The bucket notification: ours merged in, the foreign ones kept.
    let ingest_arn = format!(
        "arn:aws:lambda:us-east-1:{ACCOUNT}:function:{}",
        names.ingest_function
    );
    let mut expected_notifications = vec![
        (
            "someone-elses-function".to_owned(),
            format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:other"),
            "reports/".to_owned(),
            String::new(),
        ),
        (
            names.notification_id(ACCOUNT),
            ingest_arn.clone(),
            format!("AWSLogs/{ACCOUNT}/CloudTrail/"),
            ".json.gz".to_owned(),
        ),
    ];
    expected_notifications.sort();
    let mut notifications = lambda_notifications(&s3, &trail).await;
    notifications.sort();
    assert_eq!(notifications, expected_notifications);
    assert_eq!(topic_ids(&s3, &trail).await, ["someone-elses-topic"]);

    // ---- deploy again: nothing changes, nothing is duplicated
    let started = Instant::now();
    let second = deploy(&settings, &binary).await;
    eprintln!(
        "unchanged re-deploy against moto: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(second.data_stack_outcome, Outcome::Unchanged);
    assert_eq!(second.app_stack_outcome, Outcome::Unchanged);
    assert!(!second.uploaded);
    assert_eq!(second.api_id, first.api_id);
    assert_eq!(second.api_key, first.api_key);
    let mut notifications = lambda_notifications(&s3, &trail).await;
    notifications.sort();
    assert_eq!(notifications, expected_notifications);
    assert_eq!(
        policy_statements(&lambda, &names.ingest_function)
            .await
            .iter()
            .filter(|s| s["Sid"] == names.s3_permission_sid.as_str())
            .count(),
        1
    );
    let keys = apigw
        .get_api_keys()
        .name_query(&names.api_key)
        .send()
        .await
        .expect("keys");
    assert_eq!(keys.items().len(), 1);
    let plans = apigw.get_usage_plans().send().await.expect("plans");
    assert_eq!(
        plans
            .items()
            .iter()
            .filter(|p| p.name() == Some(names.usage_plan.as_str()))
            .count(),
        1
    );

    // ---- --dry-run with a changed setting: planned, not applied
    let mut bigger = settings.clone();
    bigger.lambda.memory_mb = 1024;
    let dry = deploy_with(
        &sdk,
        &bigger,
        &DeployArgs {
            dry_run: true,
            lambda_binary: Some(binary.clone()),
        },
        Confirm::Nobody,
    )
    .await
    .expect("dry run");
    assert!(dry.is_none());
    let f = function(&lambda, &names.ingest_function).await.unwrap();
    assert_eq!(f.memory_size(), Some(256), "a dry run changes nothing");
    let change_sets = cfn
        .list_change_sets()
        .stack_name(&names.stack)
        .send()
        .await
        .expect("change sets");
    let pending: Vec<_> = change_sets
        .summaries()
        .iter()
        .filter(|c| c.execution_status().map(|s| s.as_str()) != Some("EXECUTE_COMPLETE"))
        .collect();
    assert!(
        pending.is_empty(),
        "the dry run's change set was deleted: {pending:?}"
    );

    // ---- a changed setting updates in place
    let mut updated_settings = settings.clone();
    updated_settings.lambda.memory_mb = 512;
    let stack_before = stack::describe(&cfn, &names.stack).await.unwrap().unwrap();
    let started = Instant::now();
    let updated = deploy(&updated_settings, &binary).await;
    eprintln!(
        "update (memory) against moto: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(updated.app_stack_outcome, Outcome::Updated);
    assert_eq!(updated.data_stack_outcome, Outcome::Unchanged);
    let stack_after = stack::describe(&cfn, &names.stack).await.unwrap().unwrap();
    assert_eq!(stack_before.id, stack_after.id);
    assert_eq!(stack_after.status, "UPDATE_COMPLETE");
    for name in [&names.ingest_function, &names.query_function] {
        let f = function(&lambda, name).await.unwrap();
        assert_eq!(f.memory_size(), Some(512), "{name}");
        assert_eq!(f.code_sha256(), Some(first.code_sha256.as_str()));
    }
    assert_eq!(updated.api_id, first.api_id);

    // ---- teardown: everything but the table, and the foreign entries, goes
    let started = Instant::now();
    let report = teardown(&updated_settings, false).await;
    eprintln!(
        "teardown against moto: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(!report.removed.is_empty());
    assert_eq!(
        report.kept_table.as_deref(),
        Some(settings.table.name.as_str())
    );
    assert!(stack::describe(&cfn, &names.stack).await.unwrap().is_none());
    assert!(function(&lambda, &names.ingest_function).await.is_none());
    assert!(function(&lambda, &names.query_function).await.is_none());
    for (_, role_arn) in &roles {
        let (status, body) = iam("GetRole", &[("RoleName", &role_name(role_arn))]).await;
        assert_eq!(status, 404, "role deleted: {body}");
    }
    assert!(
        apigw
            .get_rest_api()
            .rest_api_id(&first.api_id)
            .send()
            .await
            .is_err(),
        "the REST API is gone"
    );
    assert!(
        apigw
            .get_api_keys()
            .name_query(&names.api_key)
            .send()
            .await
            .expect("keys")
            .items()
            .is_empty()
    );
    let mut remaining = lambda_notifications(&s3, &trail).await;
    remaining.sort();
    assert_eq!(remaining, expected_notifications[..1].to_vec());
    assert_eq!(topic_ids(&s3, &trail).await, ["someone-elses-topic"]);
    assert!(!bucket_exists(&s3, &first.code.bucket).await);
    assert!(table_exists(&dynamodb, &settings.table.name).await);

    // ---- teardown again: nothing to remove
    let again = teardown(&updated_settings, false).await;
    assert!(again.removed.is_empty(), "{:?}", again.removed);

    // ---- --delete-data: the table and its stack go too
    let report = teardown(&updated_settings, true).await;
    assert_eq!(report.removed.len(), 2, "{:?}", report.removed);
    assert!(!table_exists(&dynamodb, &settings.table.name).await);
    assert!(
        stack::describe(&cfn, &names.data_stack)
            .await
            .unwrap()
            .is_none()
    );
    let last = teardown(&updated_settings, true).await;
    assert!(last.removed.is_empty() && last.kept_table.is_none());
    assert_eq!(
        lambda_notifications(&s3, &trail).await,
        expected_notifications[..1].to_vec()
    );
}

/// The real tracker binary (the running executable's twin) is packaged,
/// uploaded and deployed: the functions' code is exactly the uploaded zip.
#[tokio::test]
async fn the_built_binary_is_deployed_as_is() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let lambda = lambda::Client::new(&sdk);
    let trail = new_bucket(&s3).await;
    let settings = settings(&trail);
    let names = Names::new(&settings).unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_tracker"));
    let started = Instant::now();
    let deployed = deploy(&settings, &binary).await;
    eprintln!(
        "deploy of the {:.0} MB debug build against moto: {:.1} s (mostly zipping it in a debug build)",
        std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let object = s3
        .get_object()
        .bucket(&deployed.code.bucket)
        .key(&deployed.code.key)
        .send()
        .await
        .expect("the zip is uploaded");
    let zip = object.body.collect().await.expect("zip body").to_vec();
    assert_eq!(package::code_sha256(&zip), deployed.code_sha256);
    for name in [&names.ingest_function, &names.query_function] {
        let f = function(&lambda, name).await.expect("function");
        assert_eq!(f.code_sha256(), Some(deployed.code_sha256.as_str()));
        assert_eq!(f.code_size(), zip.len() as i64);
    }
    teardown(&settings, true).await;
}

/// `--dry-run` on a new deployment creates nothing at all.
#[tokio::test]
async fn dry_run_changes_nothing() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let trail = new_bucket(&s3).await;
    let settings = settings(&trail);
    let names = Names::new(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = deploy_with(
        &sdk,
        &settings,
        &DeployArgs {
            dry_run: true,
            lambda_binary: Some(small_binary(dir.path())),
        },
        Confirm::Nobody,
    )
    .await
    .expect("dry run");
    assert!(result.is_none());
    for stack in [&names.stack, &names.data_stack] {
        assert!(stack::describe(&cfn, stack).await.unwrap().is_none());
    }
    let bucket = names.created_artifact_bucket(ACCOUNT, "us-east-1");
    assert!(!bucket_exists(&s3, &bucket).await, "no artifact bucket");
    assert!(lambda_notifications(&s3, &trail).await.is_empty());
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    assert!(!table_exists(&dynamodb, &settings.table.name).await);
}

/// `auth = "iam"`: AWS_IAM on the methods, no key; an existing artifact
/// bucket is used and kept; a missing trail bucket or a non-Lambda binary is
/// refused before anything is made; teardown off a terminal needs --yes.
#[tokio::test]
async fn iam_auth_existing_bucket_and_refusals() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let apigw = apigateway::Client::new(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let trail = new_bucket(&s3).await;
    let artifacts = new_bucket(&s3).await;
    let mut settings = settings(&trail);
    settings.api.auth = AuthMode::Iam;
    settings.artifacts.bucket = artifacts.clone();
    settings.trail.accounts = vec![ACCOUNT.into(), "210987654321".into()];
    let names = Names::new(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());

    // Refusals first: nothing may be created by them.
    let mut no_bucket = settings.clone();
    no_bucket.trail.bucket = Some(unique("missing"));
    let e = deploy_with(&sdk, &no_bucket, &args(&binary), Confirm::Nobody)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("does not exist") && format!("{e:#}").contains("trail.bucket"),
        "{e:#}"
    );
    // A trail bucket in another region: S3 cannot trigger a function across regions.
    let elsewhere = unique("trail-eu");
    s3.create_bucket()
        .bucket(&elsewhere)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .expect("create a bucket in eu-west-1");
    let mut other_region = settings.clone();
    other_region.trail.bucket = Some(elsewhere);
    let e = deploy_with(&sdk, &other_region, &args(&binary), Confirm::Nobody)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("eu-west-1") && format!("{e:#}").contains("aws.region"),
        "{e:#}"
    );
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let e = deploy_with(&sdk, &settings, &args(&script), Confirm::Nobody)
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("cargo zigbuild"), "{e:#}");
    let mut arm = settings.clone();
    arm.lambda.architecture = tracker_deployer::settings::Architecture::Arm64;
    let e = deploy_with(&sdk, &arm, &args(&binary), Confirm::Nobody)
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("lambda.architecture"), "{e:#}");
    assert!(stack::describe(&cfn, &names.stack).await.unwrap().is_none());

    let deployed = deploy(&settings, &binary).await;
    assert!(deployed.api_key.is_none());
    assert_eq!(deployed.code.bucket, artifacts);
    let resources = apigw
        .get_resources()
        .rest_api_id(&deployed.api_id)
        .send()
        .await
        .expect("resources");
    for resource in resources.items() {
        let http_method = match resource.path() {
            Some("/ui") => continue,
            Some("/ui/{proxy+}") => "GET",
            _ => "ANY",
        };
        let method = apigw
            .get_method()
            .rest_api_id(&deployed.api_id)
            .resource_id(resource.id().unwrap_or_default())
            .http_method(http_method)
            .send()
            .await
            .expect("method");
        assert_eq!(method.authorization_type(), Some("AWS_IAM"));
        assert_ne!(method.api_key_required(), Some(true));
    }
    assert!(
        apigw
            .get_api_keys()
            .name_query(&names.api_key)
            .send()
            .await
            .unwrap()
            .items()
            .is_empty()
    );
    // One notification entry per configured account.
    let mut prefixes: Vec<String> = lambda_notifications(&s3, &trail)
        .await
        .into_iter()
        .map(|(_, _, prefix, _)| prefix)
        .collect();
    prefixes.sort();
    assert_eq!(
        prefixes,
        [
            format!("AWSLogs/{ACCOUNT}/CloudTrail/"),
            "AWSLogs/210987654321/CloudTrail/".to_owned()
        ]
    );
    assert!(summary(&deployed).contains("--aws-sigv4"));

    // Off a terminal, teardown needs --yes, and removes nothing without it.
    let e = teardown_with(&sdk, &settings, &TeardownArgs::default(), Confirm::Nobody)
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("--yes"), "{e:#}");
    assert!(stack::describe(&cfn, &names.stack).await.unwrap().is_some());

    teardown(&settings, true).await;
    assert!(stack::describe(&cfn, &names.stack).await.unwrap().is_none());
    assert!(lambda_notifications(&s3, &trail).await.is_empty());
    assert!(
        bucket_exists(&s3, &artifacts).await,
        "the user's bucket is kept"
    );
    let left = s3
        .list_objects_v2()
        .bucket(&artifacts)
        .send()
        .await
        .unwrap();
    assert!(left.contents().is_empty(), "our zips are removed");
}

// ------------------------------------------------------------- offline

/// The rendered templates, compared with the committed snapshot
/// (`UPDATE_SNAPSHOTS=1` rewrites it after an intended change).
#[test]
fn rendered_templates_match_the_snapshot() {
    let mut settings = Settings::default();
    settings.trail.bucket = Some("my-cloudtrail-bucket".into());
    settings.ingest.skip_event_prefixes = vec!["Get".into(), "List".into()];
    settings.table.retention_days = 365;
    let names = Names::new(&settings).unwrap();
    let code = CodeLocation {
        bucket: "tracker-artifacts-123456789012-us-east-1".into(),
        key: "tracker/tracker/0123456789abcdef.zip".into(),
    };
    let rendered = serde_json::json!({
        "data_stack": template::data_template(&settings, &names),
        "app_stack": template::app_template(&settings, &names, &code),
    });
    let path = repo_root().join("tests/snapshots/deploy-templates.json");
    let text = serde_json::to_string_pretty(&rendered).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    let expected: Value = serde_json::from_str(&committed).expect("snapshot is JSON");
    assert!(
        expected == rendered,
        "the rendered templates differ from {}; if the change is intended, run with \
         UPDATE_SNAPSHOTS=1 and review the diff.\nrendered:\n{text}",
        path.display()
    );
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

// --------------------------------------------------------------- mocks

/// Error metadata as the SDK reads it from a real error response.
fn meta(code: &str, message: &str) -> aws_sdk_s3::error::ErrorMetadata {
    aws_sdk_s3::error::ErrorMetadata::builder()
        .code(code)
        .message(message)
        .build()
}

const DUPLICATE: &str = "The statement id (tracker-s3-t) provided already exists. Please provide a new \
                         statement id, or remove the existing statement.";
const IN_PLAN: &str = "Usage Plan p1 cannot be added because API Key k1 cannot reference multiple \
                       Usage Plans with the same API Stage";

fn credentials() -> aws_sdk_s3::config::Credentials {
    aws_sdk_s3::config::Credentials::new("test", "test", None, None, "mock")
}

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    interceptor
}

/// Clients that answer from `rules` (none of them reach the network).
/// Built without the SDK crates' `test-util` feature.
fn mocked(lambda_rules: &[&Rule], cfn_rules: &[&Rule], apigw_rules: &[&Rule]) -> Aws {
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
                .interceptor(interceptor(cfn_rules))
                .build(),
        ),
        lambda: lambda::Client::from_conf(
            lambda::config::Builder::from(&sdk)
                .interceptor(interceptor(lambda_rules))
                .build(),
        ),
        apigateway: apigateway::Client::from_conf(
            apigateway::config::Builder::from(&sdk)
                .interceptor(interceptor(apigw_rules))
                .build(),
        ),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .interceptor(interceptor(&[]))
                .build(),
        ),
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(interceptor(&[]))
                .build(),
        ),
    }
}

/// AWS answers a second AddPermission with the same statement id with
/// ResourceConflictException (moto adds a duplicate): that is success.
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
    let aws = mocked(&[&no_policy, &conflict], &[], &[]);
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
    let aws = mocked(&[&get, &add], &[], &[]);
    let change = trigger::ensure_permission(&aws, "t-ingest", "tracker-s3-t", "trail")
        .await
        .unwrap();
    assert_eq!(change, PermissionChange::Unchanged);
    assert_eq!(add.num_calls(), 0);
}

fn stack_output(
    status: cloudformation::types::StackStatus,
) -> cloudformation::operation::describe_stacks::DescribeStacksOutput {
    cloudformation::operation::describe_stacks::DescribeStacksOutput::builder()
        .stacks(
            cloudformation::types::Stack::builder()
                .stack_name("t")
                .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/t/1")
                .stack_status(status)
                .creation_time(aws_smithy_types_now())
                .build(),
        )
        .build()
}

fn aws_smithy_types_now() -> cloudformation::primitives::DateTime {
    cloudformation::primitives::DateTime::from_secs(1_700_000_000)
}

fn change_set_created() -> Rule {
    mock!(cloudformation::Client::create_change_set).then_output(|| {
        cloudformation::operation::create_change_set::CreateChangeSetOutput::builder()
            .id("arn:aws:cloudformation:us-east-1:123456789012:changeSet/tracker-1/1")
            .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/t/1")
            .build()
    })
}

/// AWS reports a template that changes nothing as a FAILED change set.
#[tokio::test]
async fn failed_no_change_change_set_is_success() {
    use cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use cloudformation::types::{ChangeSetStatus, StackStatus};
    let create = change_set_created();
    let describe = mock!(cloudformation::Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::Failed)
            .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
            .build()
    });
    let delete = mock!(cloudformation::Client::delete_change_set).then_output(|| {
        cloudformation::operation::delete_change_set::DeleteChangeSetOutput::builder().build()
    });
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::UpdateComplete));
    let execute = mock!(cloudformation::Client::execute_change_set).then_output(|| {
        cloudformation::operation::execute_change_set::ExecuteChangeSetOutput::builder().build()
    });
    let aws = mocked(&[], &[&create, &describe, &delete, &stacks, &execute], &[]);
    let (outcome, info) = stack::apply(&aws.cloudformation, "t", "{}", false)
        .await
        .expect("no change is success");
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(info.status, "UPDATE_COMPLETE");
    assert_eq!(execute.num_calls(), 0, "nothing is executed");
    assert_eq!(delete.num_calls(), 1, "the empty change set is deleted");
    // The dry-run plan says the same.
    assert_eq!(
        stack::plan(&aws.cloudformation, "t", "{}").await.unwrap(),
        None
    );
}

/// moto (with stack parameters) refuses the change set itself instead.
#[tokio::test]
async fn no_updates_validation_error_is_success() {
    use cloudformation::error::ErrorMetadata;
    use cloudformation::operation::create_change_set::CreateChangeSetError;
    use cloudformation::types::StackStatus;
    let create = mock!(cloudformation::Client::create_change_set).then_error(|| {
        CreateChangeSetError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("No updates are to be performed.")
                .build(),
        )
    });
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::CreateComplete));
    let aws = mocked(&[], &[&create, &stacks], &[]);
    let (outcome, _) = stack::apply(&aws.cloudformation, "t", "{}", false)
        .await
        .expect("no change is success");
    assert_eq!(outcome, Outcome::Unchanged);
}

/// A failed update reports the first failed resource and its reason (not
/// the cancellations that follow it).
#[tokio::test]
async fn failed_update_names_the_first_failed_resource() {
    use cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
    use cloudformation::types::{
        Change, ChangeAction, ChangeSetStatus, ResourceChange, ResourceStatus, StackEvent,
        StackStatus,
    };
    let event = |id: &str, logical: &str, status: ResourceStatus, reason: &str| {
        StackEvent::builder()
            .event_id(id)
            .stack_id("s")
            .stack_name("t")
            .logical_resource_id(logical)
            .resource_type("AWS::Lambda::Function")
            .resource_status(status)
            .resource_status_reason(reason)
            .timestamp(aws_smithy_types_now())
            .build()
    };
    let create = change_set_created();
    let describe = mock!(cloudformation::Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .changes(
                Change::builder()
                    .resource_change(
                        ResourceChange::builder()
                            .action(ChangeAction::Modify)
                            .logical_resource_id("IngestFunction")
                            .resource_type("AWS::Lambda::Function")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let execute = mock!(cloudformation::Client::execute_change_set).then_output(|| {
        cloudformation::operation::execute_change_set::ExecuteChangeSetOutput::builder().build()
    });
    let events = mock!(cloudformation::Client::describe_stack_events)
        .sequence()
        .output(|| DescribeStackEventsOutput::builder().build())
        .output(move || {
            // Newest first, as CloudFormation lists them.
            DescribeStackEventsOutput::builder()
                .stack_events(event("4", "t", ResourceStatus::UpdateRollbackComplete, ""))
                .stack_events(event(
                    "3",
                    "QueryFunction",
                    ResourceStatus::UpdateFailed,
                    "Resource update cancelled",
                ))
                .stack_events(event(
                    "2",
                    "IngestFunction",
                    ResourceStatus::UpdateFailed,
                    "Error occurred while GetObject. S3 Error Code: NoSuchKey",
                ))
                .stack_events(event(
                    "1",
                    "IngestFunction",
                    ResourceStatus::UpdateInProgress,
                    "",
                ))
                .build()
        })
        .repeatedly()
        .build();
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::UpdateRollbackComplete));
    let aws = mocked(&[], &[&create, &describe, &execute, &events, &stacks], &[]);
    let e = stack::apply(&aws.cloudformation, "t", "{}", false)
        .await
        .unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.contains("IngestFunction") && text.contains("NoSuchKey"),
        "{text}"
    );
    assert!(text.contains("UPDATE_ROLLBACK_COMPLETE"), "{text}");
    assert!(!text.contains("cancelled"), "{text}");
}

/// A stack whose creation failed cannot be updated: deploy says to delete
/// it (or deletes it when the operator agrees).
#[tokio::test]
async fn rollback_complete_says_what_to_do() {
    use cloudformation::types::StackStatus;
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::RollbackComplete));
    let aws = mocked(&[], &[&stacks], &[]);
    let state = stack::state(&aws.cloudformation, "t").await.unwrap();
    assert!(matches!(state, stack::State::RollbackComplete(_)));
    let text = stack::StackError::RollbackComplete {
        stack: "t".into(),
        reason: String::new(),
    }
    .to_string();
    assert!(text.contains("tracker teardown"), "{text}");
    let busy = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::UpdateInProgress));
    let aws = mocked(&[], &[&busy], &[]);
    let e = stack::state(&aws.cloudformation, "t").await.unwrap_err();
    assert!(e.to_string().contains("busy"), "{e}");
}

/// A key already in its plan (ConflictException on AWS) is success, and an
/// existing key and plan are reused, not duplicated.
#[tokio::test]
async fn api_key_and_usage_plan_are_reused() {
    use apigateway::operation::create_usage_plan_key::CreateUsagePlanKeyError;
    use apigateway::operation::get_api_keys::GetApiKeysOutput;
    use apigateway::operation::get_usage_plan_keys::GetUsagePlanKeysOutput;
    use apigateway::operation::get_usage_plans::GetUsagePlansOutput;
    use apigateway::types::error::ConflictException;
    use apigateway::types::{ApiKey, ApiStage, UsagePlan};
    let mut settings = Settings::default();
    settings.stack.name = "t".into();
    let names = Names::new(&settings).unwrap();
    let key_name = names.api_key.clone();
    let plan_name = names.usage_plan.clone();
    let keys = mock!(apigateway::Client::get_api_keys).then_output(move || {
        GetApiKeysOutput::builder()
            .items(ApiKey::builder().id("k1").name(key_name.clone()).build())
            .build()
    });
    let plans = mock!(apigateway::Client::get_usage_plans).then_output(move || {
        GetUsagePlansOutput::builder()
            .items(
                UsagePlan::builder()
                    .id("p1")
                    .name(plan_name.clone())
                    .api_stages(ApiStage::builder().api_id("api1").stage("v1").build())
                    .build(),
            )
            .build()
    });
    let plan_keys = mock!(apigateway::Client::get_usage_plan_keys)
        .then_output(|| GetUsagePlanKeysOutput::builder().build());
    let add_key = mock!(apigateway::Client::create_usage_plan_key).then_error(|| {
        CreateUsagePlanKeyError::ConflictException(
            ConflictException::builder()
                .message(IN_PLAN)
                .meta(meta("ConflictException", IN_PLAN))
                .build(),
        )
    });
    let create_key = mock!(apigateway::Client::create_api_key).then_output(|| {
        apigateway::operation::create_api_key::CreateApiKeyOutput::builder().build()
    });
    let create_plan = mock!(apigateway::Client::create_usage_plan).then_output(|| {
        apigateway::operation::create_usage_plan::CreateUsagePlanOutput::builder().build()
    });
    let update_plan = mock!(apigateway::Client::update_usage_plan).then_output(|| {
        apigateway::operation::update_usage_plan::UpdateUsagePlanOutput::builder().build()
    });
    let aws = mocked(
        &[],
        &[],
        &[
            &keys,
            &plans,
            &plan_keys,
            &add_key,
            &create_key,
            &create_plan,
            &update_plan,
        ],
    );
    let info = tracker_deployer::apikey::ensure(&aws.apigateway, &names, "api1", "v1")
        .await
        .expect("reuse");
    assert_eq!(info.key_id, "k1");
    assert_eq!(info.usage_plan_id, "p1");
    assert_eq!(create_key.num_calls(), 0);
    assert_eq!(create_plan.num_calls(), 0);
    assert_eq!(
        update_plan.num_calls(),
        0,
        "the plan already covers the stage"
    );
    assert_eq!(add_key.num_calls(), 1);
}
