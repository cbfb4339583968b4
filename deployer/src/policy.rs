//! The IAM policy the credentials running `tracker deploy`, `teardown` and
//! `backfill` need, printed by `tracker deploy --print-policy` and shown in
//! the README: what tracker calls itself ([`DIRECT_CALLS`], one entry per
//! SDK operation), plus what CloudFormation does with the caller's
//! credentials for each resource type of the templates ([`VIA_STACKS`]).
//! Every resource is scoped to the deployment's names (stack, table,
//! buckets, queue) where IAM allows it.
//!
//! Tests keep it complete: every operation deploy and teardown make against
//! moto must be in [`DIRECT_CALLS`], every resource type the templates use
//! in [`VIA_STACKS`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::artifacts::CREATE;
use crate::names::Names;
use crate::settings::Settings;
use crate::template;

/// Where an action applies (resolved to ARNs by [`Scope::resources`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Actions IAM does not scope (`sts:GetCallerIdentity` needs none at all).
    Any,
    Stacks,
    TrailBucket,
    TrailObjects,
    ArtifactBucket,
    ArtifactObjects,
    Functions,
    /// Lambda's event source mappings (ids are UUIDs: not nameable ahead).
    EventSourceMappings,
    Roles,
    Table,
    LogGroups,
    /// `logs:DescribeLogGroups` is only granted on every group.
    LogGroupListing,
    Queues,
    Rules,
    /// The alerts topic: the stack's own, or `alerts.topic_arn`.
    Topics,
    RestApis,
    TrailKey,
}

/// (SDK service, operation, IAM action, scope) of every call tracker makes.
pub const DIRECT_CALLS: &[(&str, &str, &str, Scope)] = &[
    ("STS", "GetCallerIdentity", "", Scope::Any),
    // The stacks.
    (
        "CloudFormation",
        "DescribeStacks",
        "cloudformation:DescribeStacks",
        Scope::Stacks,
    ),
    (
        "CloudFormation",
        "DescribeStackResource",
        "cloudformation:DescribeStackResource",
        Scope::Stacks,
    ),
    (
        "CloudFormation",
        "DescribeStackEvents",
        "cloudformation:DescribeStackEvents",
        Scope::Stacks,
    ),
    (
        "CloudFormation",
        "CreateChangeSet",
        "cloudformation:CreateChangeSet",
        Scope::Stacks,
    ),
    (
        "CloudFormation",
        "DescribeChangeSet",
        "cloudformation:DescribeChangeSet",
        Scope::Stacks,
    ),
    (
        "CloudFormation",
        "ExecuteChangeSet",
        "cloudformation:ExecuteChangeSet",
        Scope::Stacks,
    ),
    (
        "CloudFormation",
        "DeleteChangeSet",
        "cloudformation:DeleteChangeSet",
        Scope::Stacks,
    ),
    (
        "CloudFormation",
        "DeleteStack",
        "cloudformation:DeleteStack",
        Scope::Stacks,
    ),
    // The trail bucket: checks, the trigger, backfill.
    ("S3", "HeadBucket", "s3:ListBucket", Scope::TrailBucket),
    (
        "S3",
        "GetBucketEncryption",
        "s3:GetEncryptionConfiguration",
        Scope::TrailBucket,
    ),
    (
        "S3",
        "GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
        Scope::TrailBucket,
    ),
    (
        "S3",
        "PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
        Scope::TrailBucket,
    ),
    ("S3", "ListObjectsV2", "s3:ListBucket", Scope::TrailBucket),
    ("S3", "GetObject", "s3:GetObject", Scope::TrailObjects),
    // The artifact bucket.
    ("S3", "HeadBucket", "s3:ListBucket", Scope::ArtifactBucket),
    (
        "S3",
        "CreateBucket",
        "s3:CreateBucket",
        Scope::ArtifactBucket,
    ),
    (
        "S3",
        "PutPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        Scope::ArtifactBucket,
    ),
    (
        "S3",
        "ListObjectsV2",
        "s3:ListBucket",
        Scope::ArtifactBucket,
    ),
    (
        "S3",
        "DeleteBucket",
        "s3:DeleteBucket",
        Scope::ArtifactBucket,
    ),
    ("S3", "HeadObject", "s3:GetObject", Scope::ArtifactObjects),
    ("S3", "GetObject", "s3:GetObject", Scope::ArtifactObjects),
    ("S3", "PutObject", "s3:PutObject", Scope::ArtifactObjects),
    (
        "S3",
        "DeleteObjects",
        "s3:DeleteObject",
        Scope::ArtifactObjects,
    ),
    // The trigger's permission.
    ("Lambda", "GetPolicy", "lambda:GetPolicy", Scope::Functions),
    (
        "Lambda",
        "AddPermission",
        "lambda:AddPermission",
        Scope::Functions,
    ),
    (
        "Lambda",
        "RemovePermission",
        "lambda:RemovePermission",
        Scope::Functions,
    ),
    // The table: TTL, a retained table, teardown --delete-data, backfill.
    (
        "DynamoDB",
        "DescribeTable",
        "dynamodb:DescribeTable",
        Scope::Table,
    ),
    (
        "DynamoDB",
        "DescribeTimeToLive",
        "dynamodb:DescribeTimeToLive",
        Scope::Table,
    ),
    (
        "DynamoDB",
        "UpdateTimeToLive",
        "dynamodb:UpdateTimeToLive",
        Scope::Table,
    ),
    (
        "DynamoDB",
        "DeleteTable",
        "dynamodb:DeleteTable",
        Scope::Table,
    ),
    ("DynamoDB", "GetItem", "dynamodb:GetItem", Scope::Table),
    (
        "DynamoDB",
        "BatchWriteItem",
        "dynamodb:BatchWriteItem",
        Scope::Table,
    ),
    // API key, usage plan, stages (API Gateway's actions are HTTP verbs).
    (
        "API Gateway",
        "GetApiKeys",
        "apigateway:GET",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "CreateApiKey",
        "apigateway:POST",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "DeleteApiKey",
        "apigateway:DELETE",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "GetUsagePlans",
        "apigateway:GET",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "CreateUsagePlan",
        "apigateway:POST",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "UpdateUsagePlan",
        "apigateway:PATCH",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "DeleteUsagePlan",
        "apigateway:DELETE",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "GetUsagePlanKeys",
        "apigateway:GET",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "CreateUsagePlanKey",
        "apigateway:POST",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "GetStages",
        "apigateway:GET",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "DeleteStage",
        "apigateway:DELETE",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "GetRestApi",
        "apigateway:GET",
        Scope::RestApis,
    ),
    (
        "API Gateway",
        "DeleteRestApi",
        "apigateway:DELETE",
        Scope::RestApis,
    ),
    // The on-failure queue: teardown's count, backfill --from-failures.
    ("SQS", "GetQueueUrl", "sqs:GetQueueUrl", Scope::Queues),
    (
        "SQS",
        "GetQueueAttributes",
        "sqs:GetQueueAttributes",
        Scope::Queues,
    ),
    ("SQS", "ReceiveMessage", "sqs:ReceiveMessage", Scope::Queues),
    (
        "SQS",
        "DeleteMessageBatch",
        "sqs:DeleteMessage",
        Scope::Queues,
    ),
    (
        "SQS",
        "ChangeMessageVisibility",
        "sqs:ChangeMessageVisibility",
        Scope::Queues,
    ),
    // The backfill work queue: backfill --fan-out queues batches of keys.
    ("SQS", "SendMessageBatch", "sqs:SendMessage", Scope::Queues),
];

/// What CloudFormation does with the caller's credentials, per resource
/// type of the templates (create, update, delete, read back).
pub const VIA_STACKS: &[(&str, &[&str], Scope)] = &[
    (
        "AWS::DynamoDB::Table",
        &[
            "dynamodb:CreateTable",
            "dynamodb:UpdateTable",
            "dynamodb:DescribeTable",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:DescribeContributorInsights",
            "dynamodb:DescribeKinesisStreamingDestination",
            "dynamodb:ListTagsOfResource",
            "dynamodb:TagResource",
            "dynamodb:UntagResource",
            "dynamodb:GetResourcePolicy",
        ],
        Scope::Table,
    ),
    (
        "AWS::IAM::Role",
        &[
            "iam:CreateRole",
            "iam:GetRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePolicy",
            "iam:GetRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:PassRole",
        ],
        Scope::Roles,
    ),
    (
        "AWS::Lambda::Function",
        &[
            "lambda:CreateFunction",
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:DeleteFunction",
            "lambda:ListTags",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:GetRuntimeManagementConfig",
            "lambda:GetFunctionCodeSigningConfig",
        ],
        Scope::Functions,
    ),
    (
        "AWS::Lambda::Permission",
        &[
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:GetPolicy",
        ],
        Scope::Functions,
    ),
    (
        "AWS::Lambda::EventInvokeConfig",
        &[
            "lambda:PutFunctionEventInvokeConfig",
            "lambda:UpdateFunctionEventInvokeConfig",
            "lambda:GetFunctionEventInvokeConfig",
            "lambda:DeleteFunctionEventInvokeConfig",
        ],
        Scope::Functions,
    ),
    // IAM scopes no resource for creating a mapping, only for using one.
    (
        "AWS::Lambda::EventSourceMapping",
        &["lambda:CreateEventSourceMapping"],
        Scope::Any,
    ),
    (
        "AWS::Lambda::EventSourceMapping",
        &[
            "lambda:GetEventSourceMapping",
            "lambda:UpdateEventSourceMapping",
            "lambda:DeleteEventSourceMapping",
            "lambda:ListTags",
            "lambda:TagResource",
            "lambda:UntagResource",
        ],
        Scope::EventSourceMappings,
    ),
    (
        "AWS::Logs::LogGroup",
        &[
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:ListTagsForResource",
            "logs:TagResource",
            "logs:UntagResource",
        ],
        Scope::LogGroups,
    ),
    (
        "AWS::Logs::LogGroup",
        &["logs:DescribeLogGroups"],
        Scope::LogGroupListing,
    ),
    (
        "AWS::SQS::Queue",
        &[
            "sqs:CreateQueue",
            "sqs:DeleteQueue",
            "sqs:GetQueueAttributes",
            "sqs:SetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ListQueueTags",
            "sqs:TagQueue",
            "sqs:UntagQueue",
        ],
        Scope::Queues,
    ),
    (
        "AWS::SNS::Topic",
        &[
            "sns:CreateTopic",
            "sns:DeleteTopic",
            "sns:GetTopicAttributes",
            "sns:SetTopicAttributes",
            "sns:Subscribe",
            "sns:Unsubscribe",
            "sns:ListSubscriptionsByTopic",
            "sns:ListTagsForResource",
            "sns:TagResource",
            "sns:UntagResource",
        ],
        Scope::Topics,
    ),
    (
        "AWS::SNS::Subscription",
        &[
            "sns:Subscribe",
            "sns:Unsubscribe",
            "sns:GetSubscriptionAttributes",
            "sns:SetSubscriptionAttributes",
        ],
        Scope::Topics,
    ),
    (
        "AWS::Events::Rule",
        &[
            "events:PutRule",
            "events:DescribeRule",
            "events:DeleteRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:ListTargetsByRule",
        ],
        Scope::Rules,
    ),
    ("AWS::ApiGateway::RestApi", API_GATEWAY, Scope::RestApis),
    ("AWS::ApiGateway::Resource", API_GATEWAY, Scope::RestApis),
    ("AWS::ApiGateway::Method", API_GATEWAY, Scope::RestApis),
    ("AWS::ApiGateway::Deployment", API_GATEWAY, Scope::RestApis),
];

const API_GATEWAY: &[&str] = &[
    "apigateway:GET",
    "apigateway:POST",
    "apigateway:PUT",
    "apigateway:PATCH",
    "apigateway:DELETE",
];

impl Scope {
    /// The ARNs of this scope for the settings (region and account `*`
    /// unless the settings name a region).
    fn resources(self, settings: &Settings, names: &Names) -> Vec<String> {
        let region = settings.aws.region.as_deref().unwrap_or("*");
        let partition = settings
            .aws
            .region
            .as_deref()
            .map(crate::clients::partition_of)
            .unwrap_or("aws");
        let arn = |service: &str, resource: &str| {
            format!("arn:{partition}:{service}:{region}:*:{resource}")
        };
        let trail = settings.trail.bucket.as_deref().unwrap_or("TRAIL-BUCKET");
        let artifact_bucket = if settings.artifacts.bucket == CREATE {
            let stack = names.stack.to_ascii_lowercase();
            format!("{stack}-artifacts-*")
        } else {
            settings.artifacts.bucket.clone()
        };
        match self {
            Scope::Any => vec!["*".into()],
            Scope::Stacks => vec![
                arn("cloudformation", &format!("stack/{}/*", names.stack)),
                arn("cloudformation", &format!("stack/{}/*", names.data_stack)),
                arn("cloudformation", "changeSet/tracker-*/*"),
            ],
            Scope::TrailBucket => vec![format!("arn:{partition}:s3:::{trail}")],
            Scope::TrailObjects => vec![format!(
                "arn:{partition}:s3:::{trail}/{}*",
                template::trail_prefix(settings)
            )],
            Scope::ArtifactBucket => vec![format!("arn:{partition}:s3:::{artifact_bucket}")],
            Scope::ArtifactObjects => vec![format!(
                "arn:{partition}:s3:::{artifact_bucket}/{}*",
                names.artifact_prefix
            )],
            Scope::Functions => vec![arn("lambda", &format!("function:{}-*", names.stack))],
            Scope::EventSourceMappings => vec![arn("lambda", "event-source-mapping:*")],
            Scope::Roles => vec![format!("arn:{partition}:iam::*:role/{}-*", names.stack)],
            Scope::Table => vec![
                arn("dynamodb", &format!("table/{}", names.table)),
                arn("dynamodb", &format!("table/{}/index/*", names.table)),
            ],
            Scope::LogGroups => vec![
                arn("logs", &format!("log-group:/aws/lambda/{}-*", names.stack)),
                arn(
                    "logs",
                    &format!("log-group:/aws/lambda/{}-*:*", names.stack),
                ),
            ],
            Scope::LogGroupListing => vec![arn("logs", "log-group:*")],
            Scope::Queues => vec![arn("sqs", &format!("{}-*", names.stack))],
            Scope::Rules => vec![arn("events", &format!("rule/{}-*", names.stack))],
            Scope::Topics => match &settings.alerts.topic_arn {
                Some(topic) => vec![topic.clone()],
                None => vec![arn("sns", &format!("{}-*", names.stack))],
            },
            Scope::RestApis => [
                "/restapis",
                "/restapis/*",
                "/apikeys",
                "/apikeys/*",
                "/usageplans",
                "/usageplans/*",
                "/tags/*",
            ]
            .iter()
            .map(|path| format!("arn:{partition}:apigateway:{region}::{path}"))
            .collect(),
            Scope::TrailKey => settings.trail.kms_key_arn.iter().cloned().collect(),
        }
    }
}

/// The policy document for these settings.
pub fn document(settings: &Settings) -> Value {
    let names = match Names::new(settings) {
        Ok(names) => names,
        Err(_) => return json!({}),
    };
    let mut by_scope: BTreeMap<Scope, BTreeSet<&str>> = BTreeMap::new();
    for (_, _, action, scope) in DIRECT_CALLS {
        if !action.is_empty() {
            by_scope.entry(*scope).or_default().insert(action);
        }
    }
    for (_, actions, scope) in VIA_STACKS {
        by_scope.entry(*scope).or_default().extend(actions.iter());
    }
    let mut statements: Vec<Value> = by_scope
        .into_iter()
        .map(|(scope, actions)| {
            json!({
                "Sid": format!("{scope:?}"),
                "Effect": "Allow",
                "Action": actions.into_iter().collect::<Vec<_>>(),
                "Resource": scope.resources(settings, &names),
            })
        })
        .collect();
    // Reading KMS-encrypted log files (backfill), only through S3.
    if settings.trail.kms_key_arn.is_some() {
        let region = settings.aws.region.as_deref().unwrap_or("*");
        statements.push(json!({
            "Sid": "TrailKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": Scope::TrailKey.resources(settings, &names),
            "Condition": {"StringLike": {"kms:ViaService": format!("s3.{region}.amazonaws.com")}},
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The policy as printed: indented canonical JSON.
pub fn render(settings: &Settings) -> String {
    template::render_pretty(&document(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_scoped_and_fits_a_managed_policy() {
        let mut settings = Settings::default();
        settings.trail.bucket = Some("my-trail".into());
        settings.aws.region = Some("eu-west-1".into());
        let text = template::render(&document(&settings));
        // IAM counts characters without white space; a managed policy holds 6,144.
        assert!(text.len() <= 6_144, "{} characters: {text}", text.len());
        assert!(text.contains("arn:aws:s3:::my-trail/AWSLogs/*"), "{text}");
        assert!(
            text.contains("arn:aws:lambda:eu-west-1:*:function:tracker-*"),
            "{text}"
        );
        assert!(
            text.contains("arn:aws:cloudformation:eu-west-1:*:stack/tracker-data/*"),
            "{text}"
        );
        assert!(!text.contains("kms:"), "no key, no kms: {text}");
        for statement in document(&settings)["Statement"].as_array().unwrap() {
            if statement["Sid"] != "Any" {
                assert!(
                    statement["Resource"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|r| r != "*"),
                    "{statement}"
                );
            }
        }
        settings.trail.kms_key_arn = Some("arn:aws:kms:eu-west-1:123456789012:key/k".into());
        let text = render(&settings);
        assert!(
            text.contains("kms:Decrypt") && text.contains("s3.eu-west-1.amazonaws.com"),
            "{text}"
        );
    }
}
