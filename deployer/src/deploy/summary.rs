//! What a deploy made, and the summary printed at the end: the URL, how to
//! read the API key, the table, the functions, the trigger, the failure
//! queue, and a curl line that works.

use std::time::{Duration, Instant};

use super::dry_run::quota_text;
use super::plan::Plan;
use super::stacks::Applied;
use crate::apikey::ApiKeyInfo;
use crate::clients::Aws;
use crate::settings::{AuthMode, Settings};
use crate::stack::Outcome;
use crate::template::CodeLocation;
use crate::trigger::TriggerInfo;

/// What a deploy made, for the summary (and for tests).
#[derive(Debug, Clone)]
pub struct Deployment {
    pub stack: String,
    pub data_stack: String,
    pub region: String,
    pub account: String,
    pub api_id: String,
    pub api_url: String,
    pub auth: AuthMode,
    pub api_key: Option<ApiKeyInfo>,
    /// The usage plan's limits, in words.
    pub api_limits: String,
    pub table: String,
    pub retention_days: u32,
    pub ingest_function: String,
    pub query_function: String,
    pub log_retention_days: u32,
    pub trail_bucket: String,
    pub trigger: TriggerInfo,
    pub failure_queue: String,
    pub code: CodeLocation,
    /// Lambda's `CodeSha256` of the deployed zip.
    pub code_sha256: String,
    pub uploaded: bool,
    pub data_stack_outcome: Outcome,
    pub app_stack_outcome: Outcome,
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    /// `--region R [--profile P]` for the AWS CLI lines of the summary.
    pub cli_options: String,
}

impl Deployment {
    pub(super) fn new(
        aws: &Aws,
        settings: &Settings,
        plan: Plan,
        applied: Applied,
        api_key: Option<ApiKeyInfo>,
        trigger: TriggerInfo,
        started: Instant,
    ) -> Deployment {
        let names = plan.names;
        Deployment {
            api_url: aws.api_url(&applied.api_id, &settings.api.stage),
            api_id: applied.api_id,
            region: aws.region.clone(),
            account: aws.account.clone(),
            auth: settings.api.auth,
            api_key,
            api_limits: format!(
                "{} requests/s, bursts of {}, {}",
                settings.api.throttle_rate,
                settings.api.throttle_burst,
                quota_text(settings.api.daily_quota)
            ),
            table: names.table,
            retention_days: settings.table.retention_days,
            ingest_function: names.ingest_function,
            query_function: names.query_function,
            log_retention_days: settings.lambda.log_retention_days,
            trail_bucket: plan.trail_bucket,
            trigger,
            failure_queue: names.failure_queue,
            code_sha256: plan.package.code_sha256(),
            code: plan.code,
            uploaded: applied.uploaded,
            data_stack_outcome: applied.data_stack,
            app_stack_outcome: applied.app_stack,
            warnings: plan.warnings,
            elapsed: started.elapsed(),
            cli_options: aws.cli_options(),
            stack: names.stack,
            data_stack: names.data_stack,
        }
    }
}

pub fn auth_name(auth: AuthMode) -> &'static str {
    match auth {
        AuthMode::ApiKey => "api_key",
        AuthMode::Iam => "iam",
        AuthMode::None => "none",
    }
}

fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Created => "created",
        Outcome::Imported => "made by importing the existing table",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
    }
}

/// What the user needs after a deploy: URL, key, table, functions, a curl
/// line that works.
pub fn summary(d: &Deployment) -> String {
    let mut text = String::new();
    let mut line = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(format!(
        "tracker deployed in {:.1} s: stack `{}` {}, stack `{}` {} (account {}, {})",
        d.elapsed.as_secs_f64(),
        d.stack,
        outcome_text(d.app_stack_outcome),
        d.data_stack,
        outcome_text(d.data_stack_outcome),
        d.account,
        d.region
    ));
    line(String::new());
    line(format!(
        "  API         {}   (auth: {})",
        d.api_url,
        auth_name(d.auth)
    ));
    let key_command = d.api_key.as_ref().map(|k| {
        format!(
            "aws apigateway get-api-key --api-key {} --include-value --query value --output text {}",
            k.key_id, d.cli_options
        )
    });
    match (&d.auth, &key_command) {
        (AuthMode::ApiKey, Some(command)) => {
            line(format!("  API key     {command}"));
            line(format!("  limits      {} per key (api.throttle_rate, api.throttle_burst, api.daily_quota)", d.api_limits));
        }
        (AuthMode::Iam, _) => line(
            "  access      SigV4-signed requests by IAM principals allowed execute-api:Invoke on this API"
                .to_owned(),
        ),
        _ => line("  access      public: anyone with the URL".to_owned()),
    }
    line(format!(
        "  table       {}{} (kept by `tracker teardown` unless --delete-data)",
        d.table,
        if d.retention_days > 0 {
            format!(", events expire after {} days", d.retention_days)
        } else {
            String::new()
        }
    ));
    line(format!(
        "  functions   {} (ingest), {} (query); logs kept {} days in /aws/lambda/<function>",
        d.ingest_function, d.query_function, d.log_retention_days
    ));
    line(format!(
        "  trigger     new {} (trail.trigger = \"{}\")",
        d.trigger.matches,
        d.trigger.kind.name()
    ));
    line(format!(
        "  failures    SQS queue {}: ingest invocations that still fail after Lambda's retries; \
         `tracker backfill --from-failures` replays them",
        d.failure_queue
    ));
    line(format!(
        "  code        s3://{}/{}{}",
        d.code.bucket,
        d.code.key,
        if d.uploaded { "" } else { " (unchanged)" }
    ));
    for warning in &d.warnings {
        line(format!("  warning     {warning}"));
    }
    line(String::new());
    line("Try it (new CloudTrail logs arrive about every 5 minutes; `tracker backfill` loads older ones):".to_owned());
    let url = format!("{}/users", d.api_url);
    match (&d.auth, key_command) {
        (AuthMode::ApiKey, Some(command)) => {
            line(format!("  curl -H \"x-api-key: $({command})\" '{url}'"));
        }
        (AuthMode::Iam, _) => line(format!(
            "  curl --aws-sigv4 'aws:amz:{}:execute-api' --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" \
             -H \"x-amz-security-token: $AWS_SESSION_TOKEN\" '{url}'",
            d.region
        )),
        _ => line(format!("  curl '{url}'")),
    }
    text
}
