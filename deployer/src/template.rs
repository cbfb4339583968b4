//! The CloudFormation templates, rendered from the settings as JSON.
//!
//! Two stacks, because the data and the code have different lives:
//!
//! - the **data stack** (`<stack>-data`) holds the events table alone, laid
//!   out from [`tracker_runtime::store::dynamodb::schema`] (the one place the
//!   runtime's attribute and index names are defined). `teardown` keeps it
//!   unless `--delete-data`, so a later `deploy` finds the table and its data
//!   again; the table also has `DeletionPolicy: Retain` so that deleting the
//!   stack by hand never drops it;
//! - the **application stack** (`<stack>`): the two roles, the two functions
//!   and their log groups, and the REST API in front of the query function.
//!
//! What neither stack holds (CloudFormation cannot, or emulators ignore it) is
//! done by SDK calls after the stacks: TTL ([`crate::ttl`]), the S3 trigger
//! ([`crate::trigger`]), the API key and usage plan ([`crate::apikey`]).
//!
//! The templates use pseudo parameters (`AWS::AccountId`, `AWS::Region`,
//! `AWS::Partition`) rather than values looked up at deploy time, so the same
//! settings always render the same text (and an unchanged deploy is a no-op).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracker_runtime::config::{HANDLER_VAR, RETENTION_VAR, SKIP_VAR, TABLE_VAR};
use tracker_runtime::store::dynamodb::schema;

use crate::names::Names;
use crate::settings::{Architecture, AuthMode, Settings};

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
}

/// Where the functions' code was uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLocation {
    pub bucket: String,
    pub key: String,
}

const FORMAT_VERSION: &str = "2010-09-09";

/// The data stack: the events table.
pub fn data_template(settings: &Settings, names: &Names) -> Value {
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
        "Outputs": {
            outputs::TABLE_NAME: {"Value": {"Ref": ids::TABLE}},
            outputs::TABLE_ARN: {"Value": {"Fn::GetAtt": [ids::TABLE, "Arn"]}},
        },
    })
}

/// The application stack: roles, functions, log groups and the REST API.
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
        role(
            "ingest",
            vec![
                logs_statement(&names.ingest_function),
                table_statement(&names.table, &["dynamodb:BatchWriteItem"]),
                trail_statement(settings),
            ],
        ),
    );
    resources.insert(
        ids::QUERY_ROLE.into(),
        role(
            "query",
            vec![
                logs_statement(&names.query_function),
                table_statement(&names.table, &["dynamodb:Query", "dynamodb:GetItem"]),
            ],
        ),
    );
    resources.insert(
        ids::INGEST_FUNCTION.into(),
        function(
            settings,
            names,
            code,
            &names.ingest_function,
            "ingest",
            ids::INGEST_ROLE,
            ids::INGEST_LOG_GROUP,
        ),
    );
    resources.insert(
        ids::QUERY_FUNCTION.into(),
        function(
            settings,
            names,
            code,
            &names.query_function,
            "query",
            ids::QUERY_ROLE,
            ids::QUERY_LOG_GROUP,
        ),
    );
    let api = api_resources(settings);
    let mut definition = api.clone();
    definition.insert("StageName".into(), json!(settings.api.stage));
    let deployment_id = format!("{}{}", ids::API_DEPLOYMENT_PREFIX, short_hash(&definition));
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

/// Writing to the function's own log group (which the stack creates).
fn logs_statement(function: &str) -> Value {
    json!({
        "Sid": "OwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}:*",
            Names::log_group(function)
        )},
    })
}

/// `actions` on the table and its indexes.
fn table_statement(table: &str, actions: &[&str]) -> Value {
    let arn = format!(
        "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"
    );
    json!({
        "Sid": "EventsTable",
        "Effect": "Allow",
        "Action": actions,
        "Resource": [{"Fn::Sub": arn}, {"Fn::Sub": format!("{arn}/index/*")}],
    })
}

/// Reading the trail's log files: only the CloudTrail folders of the
/// configured accounts (the deploying account when none is listed).
fn trail_statement(settings: &Settings) -> Value {
    let bucket = settings.trail.bucket.as_deref().unwrap_or_default();
    let prefix = trail_prefix(settings);
    let resources: Vec<Value> = if settings.trail.accounts.is_empty() {
        vec![json!({"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:s3:::{bucket}/{prefix}${{AWS::AccountId}}/CloudTrail/*"
        )})]
    } else {
        settings
            .trail
            .accounts
            .iter()
            .map(|account| {
                json!({"Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:s3:::{bucket}/{prefix}{account}/CloudTrail/*"
                )})
            })
            .collect()
    };
    json!({
        "Sid": "TrailLogs",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": resources,
    })
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

fn function(
    settings: &Settings,
    names: &Names,
    code: &CodeLocation,
    name: &str,
    handler: &str,
    role_id: &str,
    log_group_id: &str,
) -> Value {
    let architecture = match settings.lambda.architecture {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
    };
    json!({
        "Type": "AWS::Lambda::Function",
        // The log group exists before the function and outlives it on delete,
        // so a last invocation cannot recreate it without a retention.
        "DependsOn": [log_group_id],
        "Properties": {
            "FunctionName": name,
            "Description": format!("tracker {handler}"),
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": [architecture],
            "MemorySize": settings.lambda.memory_mb,
            "Timeout": settings.lambda.timeout_seconds,
            "Role": {"Fn::GetAtt": [role_id, "Arn"]},
            "Code": {"S3Bucket": code.bucket, "S3Key": code.key},
            "Environment": {"Variables": {
                HANDLER_VAR: handler,
                TABLE_VAR: names.table,
                SKIP_VAR: settings.ingest.skip_event_prefixes.join(","),
                RETENTION_VAR: settings.table.retention_days.to_string(),
            }},
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

/// Eight hex digits of the SHA-256 of a JSON value's text.
fn short_hash(value: &Map<String, Value>) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let digest = Sha256::digest(text.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
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
        assert_eq!(key, app_template(&settings(), &names, &code()));
    }

    #[test]
    fn no_full_access_and_no_wildcard_actions() {
        let s = settings();
        let text = app_template(&s, &Names::new(&s).unwrap(), &code()).to_string();
        assert!(!text.contains("FullAccess"), "{text}");
        assert!(!text.contains("ManagedPolicyArns"), "{text}");
        assert!(
            !text.contains("\"*\""),
            "no resource or action is `*`: {text}"
        );
        for service in ["dynamodb", "s3", "logs", "lambda"] {
            assert!(!text.contains(&format!("\"{service}:*\"")), "{text}");
        }
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
