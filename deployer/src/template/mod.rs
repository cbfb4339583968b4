//! The CloudFormation templates, rendered from the settings as JSON.
//!
//! Two stacks, because the data and the code have different lives:
//!
//! - the **data stack** (`<stack>-data`) holds the events table alone, laid
//!   out from [`tracker_runtime::store::dynamodb::schema`] (the one place the
//!   runtime's attribute and index names are defined). `teardown` keeps it
//!   unless `--delete-data`, so a later `deploy` finds the table and its data
//!   again; the table also has `DeletionPolicy: Retain` so that deleting the
//!   stack by hand never drops it (and a later deploy imports it again);
//! - the **application stack** (`<stack>`): the two roles ([`policies`]), the
//!   two functions and their log groups, the ingest function's on-failure
//!   queue and retry settings, the backfill work queue ([`fan_out`]), the EventBridge rule of `trail.trigger =
//!   "eventbridge"`, and the REST API in front of the query function.
//!
//! What neither stack holds (CloudFormation cannot, or emulators ignore it) is
//! done by SDK calls after the stacks: TTL ([`crate::ttl`]), the trigger on the
//! trail bucket ([`crate::trigger`]), the API key and usage plan
//! ([`crate::apikey`]).
//!
//! The templates use pseudo parameters (`AWS::AccountId`, `AWS::Region`,
//! `AWS::Partition`) rather than values looked up at deploy time, so the same
//! settings always render the same text ([`render`]: canonical, whatever
//! serde_json's features), and an unchanged deploy is a no-op.

pub mod alerts;
pub mod fan_out;
pub mod policies;
pub mod render;

use serde_json::{Map, Value, json};
use tracker_runtime::config::{
    ALERTS_TOPIC_VAR, HANDLER_VAR, RETENTION_VAR, RULES_BUILTIN_VAR, RULES_DIR_VAR, SKIP_VAR,
    TABLE_VAR,
};
use tracker_runtime::store::dynamodb::schema;

use crate::names::Names;
use crate::settings::{Architecture, AuthMode, Settings, Trigger};
pub use render::{render, render_pretty, short_hash};

/// Logical ids, shared with the code that reads stack outputs and events.
pub mod ids {
    pub const TABLE: &str = "EventsTable";
    pub const INGEST_FUNCTION: &str = "IngestFunction";
    pub const QUERY_FUNCTION: &str = "QueryFunction";
    pub const INGEST_ROLE: &str = "IngestRole";
    pub const QUERY_ROLE: &str = "QueryRole";
    pub const INGEST_LOG_GROUP: &str = "IngestLogGroup";
    pub const QUERY_LOG_GROUP: &str = "QueryLogGroup";
    pub const API: &str = "Api";
    pub const API_PROXY_RESOURCE: &str = "ApiProxyResource";
    pub const API_ROOT_METHOD: &str = "ApiRootMethod";
    pub const API_PROXY_METHOD: &str = "ApiProxyMethod";
    /// `/ui` and `/ui/{proxy+}`: the dashboard's assets (the page is `/`).
    pub const API_UI_RESOURCE: &str = "ApiUiResource";
    pub const API_UI_PROXY_RESOURCE: &str = "ApiUiProxyResource";
    pub const API_UI_METHOD: &str = "ApiUiMethod";
    /// The deployment's id ends in a hash of the API's definition: a changed
    /// method gets a new deployment (API Gateway serves a stage from a
    /// deployment snapshot, so an update in place would not be served).
    pub const API_DEPLOYMENT_PREFIX: &str = "ApiDeployment";
    pub const API_PERMISSION: &str = "ApiInvokePermission";
    pub const FAILURE_QUEUE: &str = "IngestFailureQueue";
    pub const INGEST_INVOKE_CONFIG: &str = "IngestInvokeConfig";
    /// The backfill work queue, its dead-letter queue, and the event source
    /// mapping feeding it to the ingest function ([`super::fan_out`]).
    pub const BACKFILL_QUEUE: &str = "BackfillQueue";
    pub const BACKFILL_DEAD_QUEUE: &str = "BackfillDeadQueue";
    pub const BACKFILL_SOURCE: &str = "BackfillEventSource";
    pub const TRAIL_RULE: &str = "TrailObjectCreatedRule";
    pub const TRAIL_RULE_PERMISSION: &str = "TrailRuleInvokePermission";
    /// The SNS topic of alerts (when the stack owns it).
    pub const ALERTS_TOPIC: &str = "AlertsTopic";
    /// `AlertsSubscription<n>`: e-mail subscriptions to a topic the stack does not own.
    pub const ALERTS_SUBSCRIPTION_PREFIX: &str = "AlertsSubscription";
}

/// Stack output names.
pub mod outputs {
    pub const TABLE_NAME: &str = "TableName";
    pub const TABLE_ARN: &str = "TableArn";
    pub const API_ID: &str = "ApiId";
    pub const API_URL: &str = "ApiUrl";
    pub const STAGE: &str = "Stage";
    /// `api_key`, `iam` or `none`: how clients (`tracker events`, `tracker ui`) must call the API.
    pub const API_AUTH: &str = "ApiAuth";
    pub const INGEST_FUNCTION: &str = "IngestFunctionName";
    pub const INGEST_FUNCTION_ARN: &str = "IngestFunctionArn";
    pub const QUERY_FUNCTION: &str = "QueryFunctionName";
    pub const QUERY_FUNCTION_ARN: &str = "QueryFunctionArn";
    pub const FAILURE_QUEUE_URL: &str = "IngestFailureQueueUrl";
    pub const BACKFILL_QUEUE_URL: &str = "BackfillQueueUrl";
    /// The SNS topic alerts are published to.
    pub const ALERTS_TOPIC_ARN: &str = "AlertsTopicArn";
}

/// How long the on-failure queue keeps a failed invocation (SQS's maximum,
/// 14 days): time to notice and run `tracker backfill --from-failures`.
pub const FAILURE_RETENTION_SECONDS: u32 = 14 * 24 * 3600;
/// Lambda's retries of a failed asynchronous invocation before it goes to
/// the on-failure queue.
pub const INGEST_RETRIES: u32 = 2;

/// Where the functions' code was uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLocation {
    pub bucket: String,
    pub key: String,
}

const FORMAT_VERSION: &str = "2010-09-09";

/// The data stack: the events table.
pub fn data_template(settings: &Settings, names: &Names) -> Value {
    let mut template = import_template(settings, names);
    template["Outputs"] = json!({
        outputs::TABLE_NAME: {"Value": {"Ref": ids::TABLE}},
        outputs::TABLE_ARN: {"Value": {"Fn::GetAtt": [ids::TABLE, "Arn"]}},
    });
    template
}

/// The data stack as an `IMPORT` change set takes it, to adopt a retained
/// table: the table alone, no outputs (an import may not change anything
/// else; the next update adds them).
pub fn import_template(settings: &Settings, names: &Names) -> Value {
    let attribute = |name: &str| json!({"AttributeName": name, "AttributeType": "S"});
    let key = |name: &str, kind: &str| json!({"AttributeName": name, "KeyType": kind});
    let indexes: Vec<Value> = schema::INDEXES
        .iter()
        .map(|(index, partition)| {
            json!({
                "IndexName": index,
                "KeySchema": [key(partition, "HASH"), key(schema::TIME_SK, "RANGE")],
                "Projection": {"ProjectionType": "ALL"},
            })
        })
        .collect();
    json!({
        "AWSTemplateFormatVersion": FORMAT_VERSION,
        "Description": format!(
            "tracker `{}`: the CloudTrail events table (kept by `tracker teardown` unless --delete-data)",
            settings.stack.name
        ),
        "Resources": {
            ids::TABLE: {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "TableName": names.table,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        attribute(schema::PK),
                        attribute(schema::SK),
                        attribute(schema::PRINCIPAL_PK),
                        attribute(schema::TIME_PK),
                        attribute(schema::TIME_SK),
                    ],
                    "KeySchema": [key(schema::PK, "HASH"), key(schema::SK, "RANGE")],
                    "GlobalSecondaryIndexes": indexes,
                },
            },
        },
    })
}

/// The application stack: roles, functions, log groups, the on-failure
/// queue, the backfill work queue, the trail rule (EventBridge trigger) and the REST API.
pub fn app_template(settings: &Settings, names: &Names, code: &CodeLocation) -> Value {
    let mut resources = Map::new();
    for (log_group_id, function) in [
        (ids::INGEST_LOG_GROUP, &names.ingest_function),
        (ids::QUERY_LOG_GROUP, &names.query_function),
    ] {
        resources.insert(
            log_group_id.into(),
            json!({
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": Names::log_group(function),
                    "RetentionInDays": settings.lambda.log_retention_days,
                },
            }),
        );
    }
    resources.insert(
        ids::INGEST_ROLE.into(),
        role("ingest", policies::ingest_statements(settings, names)),
    );
    resources.insert(
        ids::QUERY_ROLE.into(),
        role("query", policies::query_statements(settings, names)),
    );
    let function = |name: &str, handler: &str, timeout: u32, role_id: &str, log_group_id: &str| {
        function(
            settings,
            names,
            code,
            FunctionSpec {
                name,
                handler,
                timeout,
                role_id,
                log_group_id,
            },
        )
    };
    resources.insert(
        ids::INGEST_FUNCTION.into(),
        function(
            &names.ingest_function,
            "ingest",
            settings.lambda.timeout_seconds,
            ids::INGEST_ROLE,
            ids::INGEST_LOG_GROUP,
        ),
    );
    resources.insert(
        ids::QUERY_FUNCTION.into(),
        function(
            &names.query_function,
            "query",
            settings.lambda.query_timeout_seconds,
            ids::QUERY_ROLE,
            ids::QUERY_LOG_GROUP,
        ),
    );
    resources.insert(
        ids::FAILURE_QUEUE.into(),
        queue(&names.failure_queue, FAILURE_RETENTION_SECONDS),
    );
    resources.insert(
        ids::INGEST_INVOKE_CONFIG.into(),
        json!({
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": ids::INGEST_FUNCTION},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": INGEST_RETRIES,
                "DestinationConfig": {"OnFailure": {
                    "Destination": {"Fn::GetAtt": [ids::FAILURE_QUEUE, "Arn"]},
                }},
            },
        }),
    );
    resources.extend(fan_out::resources(settings, names));
    if settings.trail.trigger == Trigger::EventBridge {
        resources.extend(trail_rule(settings, names));
    }
    resources.extend(alerts::resources(settings, names));
    let api = api_resources(settings);
    let mut definition = api.clone();
    definition.insert("StageName".into(), json!(settings.api.stage));
    let deployment_id = format!(
        "{}{}",
        ids::API_DEPLOYMENT_PREFIX,
        short_hash(&Value::Object(definition))
    );
    resources.extend(api);
    resources.insert(
        deployment_id,
        json!({
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": [ids::API_ROOT_METHOD, ids::API_PROXY_METHOD, ids::API_UI_METHOD],
            "Properties": {
                "RestApiId": {"Ref": ids::API},
                "StageName": settings.api.stage,
                "Description": "tracker deploy",
            },
        }),
    );
    resources.insert(
        ids::API_PERMISSION.into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": [ids::QUERY_FUNCTION, "Arn"]},
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{}}}/*",
                    ids::API
                )},
            },
        }),
    );
    json!({
        "AWSTemplateFormatVersion": FORMAT_VERSION,
        "Description": format!(
            "tracker `{}`: CloudTrail ingest and query functions, their roles and logs, and the REST API",
            settings.stack.name
        ),
        "Resources": resources,
        "Outputs": {
            outputs::API_ID: {"Value": {"Ref": ids::API}},
            outputs::API_URL: {"Value": {"Fn::Sub": format!(
                "https://${{{}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{}",
                ids::API, settings.api.stage
            )}},
            outputs::STAGE: {"Value": settings.api.stage},
            outputs::API_AUTH: {"Value": settings.api.auth.name()},
            outputs::INGEST_FUNCTION: {"Value": {"Ref": ids::INGEST_FUNCTION}},
            outputs::INGEST_FUNCTION_ARN: {"Value": {"Fn::GetAtt": [ids::INGEST_FUNCTION, "Arn"]}},
            outputs::QUERY_FUNCTION: {"Value": {"Ref": ids::QUERY_FUNCTION}},
            outputs::QUERY_FUNCTION_ARN: {"Value": {"Fn::GetAtt": [ids::QUERY_FUNCTION, "Arn"]}},
            outputs::FAILURE_QUEUE_URL: {"Value": {"Ref": ids::FAILURE_QUEUE}},
            outputs::BACKFILL_QUEUE_URL: {"Value": {"Ref": ids::BACKFILL_QUEUE}},
            outputs::ALERTS_TOPIC_ARN: {"Value": alerts::topic_arn(settings)},
        },
    })
}

/// A role Lambda can assume, with one inline policy.
fn role(purpose: &str, statements: Vec<Value>) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": format!("tracker {purpose} function: only what it needs"),
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }],
            },
            "Policies": [{
                "PolicyName": format!("tracker-{purpose}"),
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }],
        },
    })
}

/// One of the stack's queues (private: SQS-managed encryption): the
/// on-failure queue, the backfill work queue and its dead-letter queue.
fn queue(name: &str, retention_seconds: u32) -> Value {
    json!({
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": name,
            "MessageRetentionPeriod": retention_seconds,
            "SqsManagedSseEnabled": true,
        },
    })
}

/// `trail.trigger = "eventbridge"`: a rule on the default bus matching the
/// bucket's `Object Created` events for the trail's log files, and the
/// permission letting EventBridge invoke the ingest function for it.
fn trail_rule(settings: &Settings, names: &Names) -> Map<String, Value> {
    let bucket = settings.trail.bucket.as_deref().unwrap_or_default();
    let mut rule = Map::new();
    rule.insert(
        ids::TRAIL_RULE.into(),
        json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names.trail_rule,
                "Description": format!("tracker `{}`: new CloudTrail log files → ingest", settings.stack.name),
                "State": "ENABLED",
                "EventPattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [bucket]},
                        "object": {"key": [{"wildcard": {"Fn::Sub": log_file_wildcard(settings)}}]},
                    },
                },
                "Targets": [{
                    "Id": "ingest",
                    "Arn": {"Fn::GetAtt": [ids::INGEST_FUNCTION, "Arn"]},
                }],
            },
        }),
    );
    rule.insert(
        ids::TRAIL_RULE_PERMISSION.into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": [ids::INGEST_FUNCTION, "Arn"]},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [ids::TRAIL_RULE, "Arn"]},
            },
        }),
    );
    rule
}

/// The keys of new log files as an EventBridge wildcard (for `Fn::Sub`):
/// the same keys the role may read, ending in `.json.gz`.
pub fn log_file_wildcard(settings: &Settings) -> String {
    format!("{}{}", policies::log_keys(settings), ".json.gz")
}

/// The trail prefix as a folder: empty, or ending in `/`.
pub fn trail_prefix(settings: &Settings) -> String {
    let prefix = settings.trail.prefix.as_str();
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    }
}

/// The S3 key prefix of one account's CloudTrail log files.
pub fn account_log_prefix(settings: &Settings, account: &str) -> String {
    format!("{}{account}/CloudTrail/", trail_prefix(settings))
}

/// The key prefix of the S3 trigger's one notification entry: the deploying
/// account's `CloudTrail/` folder, or (several accounts) the whole prefix.
pub fn trigger_prefix(settings: &Settings, deploying_account: &str) -> String {
    if settings.trail.accounts.is_empty() {
        account_log_prefix(settings, deploying_account)
    } else {
        trail_prefix(settings)
    }
}

struct FunctionSpec<'a> {
    name: &'a str,
    handler: &'a str,
    timeout: u32,
    role_id: &'a str,
    log_group_id: &'a str,
}

fn function(settings: &Settings, names: &Names, code: &CodeLocation, spec: FunctionSpec) -> Value {
    let architecture = match settings.lambda.architecture {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
    };
    let mut environment = json!({
        HANDLER_VAR: spec.handler,
        TABLE_VAR: names.table,
        SKIP_VAR: settings.ingest.skip_event_prefixes.join(","),
        RETENTION_VAR: settings.table.retention_days.to_string(),
    });
    if spec.handler == "ingest" {
        environment[ALERTS_TOPIC_VAR] = alerts::topic_arn(settings);
        // The rules: the built-in pack unless turned off, and the user's
        // folders, shipped in the zip (see `crate::rules`).
        environment[RULES_BUILTIN_VAR] = json!(settings.rules.builtin.to_string());
        if !settings.rules.folders.is_empty() {
            environment[RULES_DIR_VAR] = json!(crate::rules::LAMBDA_RULES_DIR);
        }
    }
    json!({
        "Type": "AWS::Lambda::Function",
        // The log group exists before the function and outlives it on delete,
        // so a last invocation cannot recreate it without a retention.
        "DependsOn": [spec.log_group_id],
        "Properties": {
            "FunctionName": spec.name,
            "Description": format!("tracker {}", spec.handler),
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": [architecture],
            "MemorySize": settings.lambda.memory_mb,
            "Timeout": spec.timeout,
            "Role": {"Fn::GetAtt": [spec.role_id, "Arn"]},
            "Code": {"S3Bucket": code.bucket, "S3Key": code.key},
            "Environment": {"Variables": environment},
        },
    })
}

/// The REST API: a `{proxy+}` resource and `ANY` on it and on the root, both
/// proxied to the query function (its router answers every route). Built
/// from resources and methods, not an inline OpenAPI `Body`, which some
/// emulators cannot create.
///
/// The dashboard's page (`/`) and assets (`GET /ui/{proxy+}`) hold no data,
/// so with `api_key` they need no key (the page asks for it); the data
/// routes under `{proxy+}` keep requiring it. With `iam` everything stays
/// signed (browsers cannot sign: `tracker ui` serves the page locally).
fn api_resources(settings: &Settings) -> Map<String, Value> {
    let (authorization, api_key_required) = match settings.api.auth {
        AuthMode::ApiKey => ("NONE", true),
        AuthMode::Iam => ("AWS_IAM", false),
        AuthMode::None => ("NONE", false),
    };
    let method = |resource: Value, http_method: &str, page: bool| {
        json!({
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": ids::API},
                "ResourceId": resource,
                "HttpMethod": http_method,
                "AuthorizationType": authorization,
                "ApiKeyRequired": api_key_required && !page,
                "Integration": {
                    "Type": "AWS_PROXY",
                    "IntegrationHttpMethod": "POST",
                    "Uri": {"Fn::Sub": format!(
                        "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{}.Arn}}/invocations",
                        ids::QUERY_FUNCTION
                    )},
                },
            },
        })
    };
    let mut api = Map::new();
    api.insert(
        ids::API.into(),
        json!({
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": settings.stack.name,
                "Description": "tracker: who did what in this AWS account (CloudTrail)",
                "EndpointConfiguration": {"Types": ["REGIONAL"]},
            },
        }),
    );
    api.insert(
        ids::API_PROXY_RESOURCE.into(),
        json!({
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": ids::API},
                "ParentId": {"Fn::GetAtt": [ids::API, "RootResourceId"]},
                "PathPart": "{proxy+}",
            },
        }),
    );
    api.insert(
        ids::API_ROOT_METHOD.into(),
        method(
            json!({"Fn::GetAtt": [ids::API, "RootResourceId"]}),
            "ANY",
            true,
        ),
    );
    api.insert(
        ids::API_PROXY_METHOD.into(),
        method(json!({"Ref": ids::API_PROXY_RESOURCE}), "ANY", false),
    );
    api.insert(
        ids::API_UI_RESOURCE.into(),
        json!({
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": ids::API},
                "ParentId": {"Fn::GetAtt": [ids::API, "RootResourceId"]},
                "PathPart": "ui",
            },
        }),
    );
    api.insert(
        ids::API_UI_PROXY_RESOURCE.into(),
        json!({
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": ids::API},
                "ParentId": {"Ref": ids::API_UI_RESOURCE},
                "PathPart": "{proxy+}",
            },
        }),
    );
    api.insert(
        ids::API_UI_METHOD.into(),
        method(json!({"Ref": ids::API_UI_PROXY_RESOURCE}), "GET", true),
    );
    api
}

/// The logical ids and types of a template's resources, sorted (for plans).
pub fn resource_list(template: &Value) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = template
        .get("Resources")
        .and_then(Value::as_object)
        .map(|resources| {
            resources
                .iter()
                .map(|(id, r)| {
                    let kind = r.get("Type").and_then(Value::as_str).unwrap_or("?");
                    (id.clone(), kind.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let mut s = Settings::default();
        s.trail.bucket = Some("trail-bucket".into());
        s
    }

    fn code() -> CodeLocation {
        CodeLocation {
            bucket: "artifacts".into(),
            key: "tracker/tracker/abc.zip".into(),
        }
    }

    #[test]
    fn the_table_comes_from_the_schema() {
        let s = settings();
        let t = data_template(&s, &Names::new(&s).unwrap());
        let table = &t["Resources"][ids::TABLE];
        assert_eq!(table["DeletionPolicy"], "Retain");
        assert_eq!(table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
        let indexes = table["Properties"]["GlobalSecondaryIndexes"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = indexes
            .iter()
            .map(|i| i["IndexName"].as_str().unwrap())
            .collect();
        assert_eq!(names, [schema::PRINCIPAL_INDEX, schema::TIME_INDEX]);
    }

    #[test]
    fn auth_modes_change_the_methods_and_the_deployment() {
        let mut s = settings();
        let names = Names::new(&s).unwrap();
        let key = app_template(&s, &names, &code());
        s.api.auth = AuthMode::Iam;
        let iam = app_template(&s, &names, &code());
        let method = |t: &Value| t["Resources"][ids::API_PROXY_METHOD]["Properties"].clone();
        assert_eq!(method(&key)["ApiKeyRequired"], true);
        assert_eq!(method(&iam)["AuthorizationType"], "AWS_IAM");
        // The dashboard's page and assets: no key, but signed with iam.
        for page in [ids::API_ROOT_METHOD, ids::API_UI_METHOD] {
            let props = |t: &Value| t["Resources"][page]["Properties"].clone();
            assert_eq!(props(&key)["ApiKeyRequired"], false, "{page}");
            assert_eq!(props(&key)["AuthorizationType"], "NONE", "{page}");
            assert_eq!(props(&iam)["AuthorizationType"], "AWS_IAM", "{page}");
        }
        assert_eq!(key["Outputs"][outputs::API_AUTH]["Value"], "api_key");
        assert_eq!(iam["Outputs"][outputs::API_AUTH]["Value"], "iam");
        let deployment = |t: &Value| {
            resource_list(t)
                .into_iter()
                .find(|(id, _)| id.starts_with(ids::API_DEPLOYMENT_PREFIX))
                .unwrap()
                .0
        };
        assert_ne!(deployment(&key), deployment(&iam));
        // The same settings render the same text.
        assert_eq!(
            render(&key),
            render(&app_template(&settings(), &names, &code()))
        );
    }

    #[test]
    fn no_full_access_and_no_wildcard_actions() {
        let s = settings();
        let text = render(&app_template(&s, &Names::new(&s).unwrap(), &code()));
        assert!(!text.contains("FullAccess"), "{text}");
        assert!(!text.contains("ManagedPolicyArns"), "{text}");
        assert!(
            !text.contains("\"*\""),
            "no resource or action is `*`: {text}"
        );
        for service in ["dynamodb", "s3", "logs", "lambda", "kms", "sqs"] {
            assert!(!text.contains(&format!("\"{service}:*\"")), "{text}");
        }
    }

    #[test]
    fn the_ingest_function_publishes_to_the_alerts_topic_only() {
        let s = settings();
        let names = Names::new(&s).unwrap();
        let t = app_template(&s, &names, &code());
        assert_eq!(t["Resources"][ids::ALERTS_TOPIC]["Type"], "AWS::SNS::Topic");
        let topic_ref = json!({"Ref": ids::ALERTS_TOPIC});
        assert_eq!(
            t["Resources"][ids::INGEST_FUNCTION]["Properties"]["Environment"]["Variables"]
                [ALERTS_TOPIC_VAR],
            topic_ref
        );
        assert_eq!(t["Outputs"][outputs::ALERTS_TOPIC_ARN]["Value"], topic_ref);
        let publishes = |statements: Vec<Value>| -> Vec<Value> {
            statements
                .into_iter()
                .filter(|st| st.to_string().contains("sns:"))
                .collect()
        };
        let ingest = publishes(policies::ingest_statements(&s, &names));
        assert_eq!(ingest.len(), 1, "{ingest:?}");
        assert_eq!(ingest[0]["Action"], "sns:Publish");
        assert_eq!(ingest[0]["Resource"], topic_ref);
        assert!(
            publishes(policies::query_statements(&s, &names)).is_empty(),
            "the query function publishes nothing"
        );
        let env = &t["Resources"][ids::INGEST_FUNCTION]["Properties"]["Environment"]["Variables"];
        assert_eq!(env[RULES_BUILTIN_VAR], "true");
        assert!(env.get(RULES_DIR_VAR).is_none(), "no folders, no dir");
        let mut own = settings();
        own.rules.builtin = false;
        own.rules.folders = vec!["my-rules".into()];
        let t = app_template(&own, &names, &code());
        let env = &t["Resources"][ids::INGEST_FUNCTION]["Properties"]["Environment"]["Variables"];
        assert_eq!(env[RULES_BUILTIN_VAR], "false");
        assert_eq!(env[RULES_DIR_VAR], "/var/task/rules");
        let alerts_once = policies::ingest_statements(&s, &names)
            .into_iter()
            .find(|st| st["Sid"] == "AlertsOnce")
            .expect("the alert items' statement");
        assert_eq!(
            alerts_once["Action"],
            json!(["dynamodb:PutItem", "dynamodb:DeleteItem"])
        );
        assert_eq!(
            alerts_once["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            json!(["A#*"])
        );
    }

    #[test]
    fn each_function_has_its_own_timeout() {
        let mut s = settings();
        s.lambda.timeout_seconds = 300;
        s.lambda.query_timeout_seconds = 20;
        let t = app_template(&s, &Names::new(&s).unwrap(), &code());
        assert_eq!(
            t["Resources"][ids::INGEST_FUNCTION]["Properties"]["Timeout"],
            300
        );
        assert_eq!(
            t["Resources"][ids::QUERY_FUNCTION]["Properties"]["Timeout"],
            20
        );
    }

    #[test]
    fn failed_ingest_invocations_go_to_the_stacks_queue() {
        let s = settings();
        let t = app_template(&s, &Names::new(&s).unwrap(), &code());
        let queue = &t["Resources"][ids::FAILURE_QUEUE];
        assert_eq!(queue["Type"], "AWS::SQS::Queue");
        assert_eq!(queue["Properties"]["MessageRetentionPeriod"], 1_209_600);
        let config = &t["Resources"][ids::INGEST_INVOKE_CONFIG]["Properties"];
        assert_eq!(config["MaximumRetryAttempts"], 2);
        assert_eq!(config["FunctionName"]["Ref"], ids::INGEST_FUNCTION);
        assert_eq!(
            config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0],
            ids::FAILURE_QUEUE
        );
        let statements = policies::ingest_statements(&s, &Names::new(&s).unwrap());
        assert!(
            statements.iter().any(|st| st["Action"] == "sqs:SendMessage"
                && st["Resource"]["Fn::GetAtt"][0] == ids::FAILURE_QUEUE),
            "{statements:?}"
        );
    }

    #[test]
    fn the_trail_is_listed_and_decrypted_only_through_s3() {
        let mut s = settings();
        let names = Names::new(&s).unwrap();
        let sid = |statements: &[Value], sid: &str| {
            statements.iter().find(|st| st["Sid"] == sid).cloned()
        };
        let plain = policies::ingest_statements(&s, &names);
        assert!(sid(&plain, "TrailKey").is_none(), "no key, no kms:Decrypt");
        let listing = sid(&plain, "TrailListing").unwrap();
        assert_eq!(listing["Action"], "s3:ListBucket");
        assert_eq!(
            listing["Condition"]["StringLike"]["s3:prefix"][0]["Fn::Sub"],
            "AWSLogs/${AWS::AccountId}/CloudTrail/*"
        );
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        s.trail.kms_key_arn = Some(key.into());
        let statements = policies::ingest_statements(&s, &names);
        let decrypt = sid(&statements, "TrailKey").unwrap();
        assert_eq!(decrypt["Action"], "kms:Decrypt");
        assert_eq!(decrypt["Resource"], key);
        assert_eq!(
            decrypt["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"],
            "s3.${AWS::Region}.amazonaws.com"
        );
        assert!(
            policies::query_statements(&s, &names)
                .iter()
                .all(|st| !st.to_string().contains("kms") && !st.to_string().contains("s3:")),
            "the query function reads no trail"
        );
    }

    #[test]
    fn the_eventbridge_trigger_is_a_rule_and_a_permission() {
        let mut s = settings();
        let names = Names::new(&s).unwrap();
        let s3 = app_template(&s, &names, &code());
        assert!(s3["Resources"].get(ids::TRAIL_RULE).is_none());
        s.trail.trigger = Trigger::EventBridge;
        let t = app_template(&s, &names, &code());
        let rule = &t["Resources"][ids::TRAIL_RULE]["Properties"];
        assert_eq!(rule["Name"], names.trail_rule);
        let pattern = &rule["EventPattern"];
        assert_eq!(pattern["source"][0], "aws.s3");
        assert_eq!(pattern["detail-type"][0], "Object Created");
        assert_eq!(pattern["detail"]["bucket"]["name"][0], "trail-bucket");
        assert_eq!(
            pattern["detail"]["object"]["key"][0]["wildcard"]["Fn::Sub"],
            "AWSLogs/${AWS::AccountId}/CloudTrail/*.json.gz"
        );
        assert_eq!(
            rule["Targets"][0]["Arn"]["Fn::GetAtt"][0],
            ids::INGEST_FUNCTION
        );
        let permission = &t["Resources"][ids::TRAIL_RULE_PERMISSION]["Properties"];
        assert_eq!(permission["Principal"], "events.amazonaws.com");
        assert_eq!(permission["SourceArn"]["Fn::GetAtt"][0], ids::TRAIL_RULE);
        // Several accounts: every account under the prefix.
        s.trail.prefix = "AWSLogs/o-abc123/".into();
        s.trail.accounts = vec!["111111111111".into()];
        let t = app_template(&s, &names, &code());
        assert_eq!(
            t["Resources"][ids::TRAIL_RULE]["Properties"]["EventPattern"]["detail"]["object"]["key"]
                [0]["wildcard"]["Fn::Sub"],
            "AWSLogs/o-abc123/*/CloudTrail/*.json.gz"
        );
        assert_eq!(trigger_prefix(&s, "123456789012"), "AWSLogs/o-abc123/");
    }

    #[test]
    fn trail_prefix_is_a_folder() {
        let mut s = settings();
        s.trail.prefix = "logs/AWSLogs".into();
        assert_eq!(
            account_log_prefix(&s, "123456789012"),
            "logs/AWSLogs/123456789012/CloudTrail/"
        );
    }
}
