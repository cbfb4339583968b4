//! A deployment's whole life against moto (control plane only: nothing is
//! invoked here, see `built_binary`): the table (keys, indexes, billing,
//! TTL), both roles with their inline policies, both functions (runtime,
//! handler, environment, timeouts, code from the uploaded zip), the
//! permissions, the on-failure queue, the API (resources, methods,
//! deployment, stage, key and usage plan with its limits) and the merged
//! bucket notification, as rendered; a foreign notification survives deploy
//! and teardown; deploying again changes nothing and duplicates nothing; a
//! changed setting updates in place; `--dry-run` changes nothing; teardown
//! removes everything but the table, `--delete-data` the table too, and a
//! second teardown is a no-op; refusals happen before anything is made.

use std::time::Instant;

use serde_json::Value;
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::{deploy_with, summary};
use tracker_deployer::names::Names;
use tracker_deployer::package;
use tracker_deployer::sdk::{apigateway, cloudformation, lambda, sqs};
use tracker_deployer::settings::AuthMode;
use tracker_deployer::stack::{self, Outcome};
use tracker_deployer::teardown::{TeardownArgs, teardown_with};
use tracker_runtime::config::{ALERTS_TOPIC_VAR, HANDLER_VAR, RETENTION_VAR, SKIP_VAR, TABLE_VAR};
use tracker_runtime::store::dynamodb::schema;

use super::support::*;
use crate::support::{new_bucket, s3_client, sdk_config, unique};

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
    settings.alerts.emails = vec!["sec@example.com".into()];
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
    let mut alert_topics = Vec::new();
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
        // API Gateway waits 29 s for the query function; ingest has its own.
        assert_eq!(f.timeout(), Some(if handler == "ingest" { 60 } else { 29 }));
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
        alert_topics.push(env.get(ALERTS_TOPIC_VAR).cloned());
        roles.push((handler, f.role().unwrap_or_default().to_owned()));
    }
    assert_ne!(roles[0].1, roles[1].1, "each function has its own role");

    // The alerts topic, with the address subscribed; only ingest publishes.
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = alerts_topic(&sns, &names.alerts_topic)
        .await
        .expect("the stack made the alerts topic");
    assert_eq!(alert_topics, [Some(topic.clone()), None]);
    let subscriptions = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .expect("the topic's subscriptions");
    let subscribed: Vec<(&str, &str)> = subscriptions
        .subscriptions()
        .iter()
        .map(|s| {
            (
                s.protocol().unwrap_or_default(),
                s.endpoint().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(subscribed, [("email", "sec@example.com")]);

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
            // Listing the trail's folder (a deleted object is then a 404),
            // sending failures to the stack's queue.
            assert!(document.contains("s3:ListBucket"), "{document}");
            assert!(
                document.contains(&format!("AWSLogs/{ACCOUNT}/CloudTrail/*")),
                "{document}"
            );
            assert!(
                document.contains(&format!(
                    "arn:aws:sqs:us-east-1:{ACCOUNT}:{}",
                    names.failure_queue
                )),
                "{document}"
            );
        } else {
            assert!(document.contains("dynamodb:Query"), "{document}");
            assert!(!document.contains("s3:GetObject"), "{document}");
            // The query function writes only its rollups (partition keys
            // `R#…`; moto shows the document as it stored it, not as JSON).
            assert_eq!(document.matches("BatchWriteItem").count(), 1, "{document}");
            assert!(
                document.contains("dynamodb:LeadingKeys") && document.contains("R#*"),
                "{document}"
            );
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
    // A leaked key is limited: the settings' throttle and daily quota.
    let throttle = plan.throttle().expect("a throttle");
    assert_eq!((throttle.rate_limit(), throttle.burst_limit()), (10.0, 20));
    let quota = plan.quota().expect("a quota");
    assert_eq!(quota.limit(), 10_000);
    assert_eq!(quota.period().map(|p| p.as_str()), Some("DAY"));
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

    // The on-failure queue: 14 days to replay what failed.
    let sqs = sqs::Client::new(&sdk);
    let queue_url = sqs
        .get_queue_url()
        .queue_name(&names.failure_queue)
        .send()
        .await
        .expect("the on-failure queue exists")
        .queue_url
        .expect("a queue URL");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(sqs::types::QueueAttributeName::MessageRetentionPeriod)
        .send()
        .await
        .expect("queue attributes");
    assert_eq!(
        attributes
            .attributes()
            .and_then(|a| a.get(&sqs::types::QueueAttributeName::MessageRetentionPeriod))
            .map(String::as_str),
        Some("1209600")
    );
    assert!(summary.contains(&names.failure_queue), "{summary}");

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
            names.notification_id(),
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
    let dry = deploy_with(&sdk, &bigger, &dry_run_args(&binary), Confirm::Nobody)
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
    assert_eq!(alerts_topic(&sns, &names.alerts_topic).await, None);
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
        &dry_run_args(&small_binary(dir.path())),
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
    // A rule the engine cannot use (an aggregation) stops the deploy, named.
    let rules_dir = dir.path().join("my-rules");
    std::fs::create_dir_all(rules_dir.join("iam")).unwrap();
    std::fs::write(rules_dir.join("iam/keys.yml"), GOOD_RULE).unwrap();
    std::fs::write(
        rules_dir.join("burst.yml"),
        GOOD_RULE.replace("condition: selection", "condition: selection | count() > 5"),
    )
    .unwrap();
    let mut bad_rules = settings.clone();
    bad_rules.rules.folders = vec![rules_dir.clone()];
    let e = deploy_with(&sdk, &bad_rules, &args(&binary), Confirm::Nobody)
        .await
        .unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.contains("burst.yml") && text.contains("skip_invalid"),
        "{text}"
    );
    assert!(stack::describe(&cfn, &names.stack).await.unwrap().is_none());

    // With skip_invalid the usable rule ships inside the zip, the other not.
    settings.rules.folders = vec![rules_dir];
    settings.rules.skip_invalid = true;
    let deployed = deploy(&settings, &binary).await;
    let zip = s3
        .get_object()
        .bucket(&deployed.code.bucket)
        .key(&deployed.code.key)
        .send()
        .await
        .expect("the artifact")
        .body
        .collect()
        .await
        .unwrap()
        .to_vec();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut entries: Vec<String> = archive
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["bootstrap", "rules/", "rules/0/iam/keys.yml"]);
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
    // Several accounts: one notification entry over the whole prefix.
    let prefixes: Vec<String> = lambda_notifications(&s3, &trail)
        .await
        .into_iter()
        .map(|(_, _, prefix, _)| prefix)
        .collect();
    assert_eq!(prefixes, ["AWSLogs/"]);
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

/// The ARN of the topic named `name`, if it exists.
async fn alerts_topic(sns: &aws_sdk_sns::Client, name: &str) -> Option<String> {
    let topics = sns.list_topics().send().await.expect("list topics");
    topics
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|arn| arn.rsplit(':').next() == Some(name))
        .map(str::to_owned)
}

/// A usable Sigma rule (the refusal test turns it into an aggregation).
const GOOD_RULE: &str = "title: Access key created
id: 5f8b9c1e-0000-4000-8000-000000000001
author: Deploy Tests
level: medium
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: CreateAccessKey
    condition: selection
";
