//! `tracker deploy`: everything from the settings, created or updated in
//! place, safe to run again.
//!
//! 1. package the binary (checked: ELF, architecture, glibc ≤ 2.34) and
//!    find the account, the trail bucket and its region;
//! 2. upload the zip under its content hash (skipped when already there);
//! 3. the data stack (the table), then TTL;
//! 4. the application stack (roles, functions, log groups, REST API);
//! 5. the API key and usage plan (`api.auth = "api_key"`);
//! 6. the S3 trigger (permission, merged bucket notification);
//! 7. older zips removed; the summary printed.
//!
//! `--dry-run` renders the templates and plans the changes (change sets
//! created, read and deleted, never executed) without uploading or writing
//! anything.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;

use crate::apikey::{self, ApiKeyInfo};
use crate::artifacts::{self, ArtifactBucket, BucketState};
use crate::clients::{self, Aws};
use crate::console::{Confirm, step};
use crate::names::Names;
use crate::package;
use crate::settings::{AuthMode, Settings};
use crate::stack::{self, Outcome, StackError, State};
use crate::template::{self, CodeLocation};
use crate::trigger;
use crate::ttl;

/// `tracker deploy` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DeployArgs {
    /// Print the rendered templates and the planned changes; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The binary the functions run [default: this tracker executable]. It
    /// must be a Linux ELF for lambda.architecture needing at most
    /// GLIBC_2.34, e.g. from `cargo zigbuild --release --target
    /// x86_64-unknown-linux-gnu.2.34`.
    #[arg(long, value_name = "PATH")]
    pub lambda_binary: Option<PathBuf>,
}

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
    pub table: String,
    pub retention_days: u32,
    pub ingest_function: String,
    pub query_function: String,
    pub log_retention_days: u32,
    pub trail_bucket: String,
    /// Key prefixes whose new `.json.gz` objects trigger ingest.
    pub trigger_prefixes: Vec<String>,
    pub code: CodeLocation,
    /// Lambda's `CodeSha256` of the deployed zip.
    pub code_sha256: String,
    pub uploaded: bool,
    pub data_stack_outcome: Outcome,
    pub app_stack_outcome: Outcome,
    pub elapsed: Duration,
    /// `--region R [--profile P]` for the AWS CLI lines of the summary.
    pub cli_options: String,
}

/// Runs `tracker deploy` with the standard AWS configuration chain,
/// asking on the terminal if a question comes up, and prints the summary.
pub async fn deploy(settings: &Settings, args: &DeployArgs) -> anyhow::Result<()> {
    let sdk = clients::load_sdk_config(settings).await;
    if let Some(deployment) = deploy_with(&sdk, settings, args, Confirm::Terminal).await? {
        print!("{}", summary(&deployment));
    }
    Ok(())
}

/// The deploy itself, with a given SDK configuration and way to ask
/// questions. Returns None for `--dry-run`.
pub async fn deploy_with(
    sdk: &SdkConfig,
    settings: &Settings,
    args: &DeployArgs,
    confirm: Confirm,
) -> anyhow::Result<Option<Deployment>> {
    let started = Instant::now();
    let trail_bucket = settings.trail.bucket.clone().context(
        "`trail.bucket` is not set in the settings: set it to the S3 bucket your CloudTrail trail writes to",
    )?;
    let names = Names::new(settings)?;
    let binary = package::default_binary(args.lambda_binary.as_deref())?;
    step(format!("checking and zipping {}", binary.display()));
    let architecture = settings.lambda.architecture;
    let package = tokio::task::spawn_blocking(move || package::package(&binary, architecture))
        .await
        .context("packaging the function code stopped unexpectedly")??;
    let aws = Aws::connect(sdk, settings).await?;
    step(format!(
        "deploying stack `{}` to account {} in {}",
        names.stack, aws.account, aws.region
    ));
    match artifacts::bucket_state(&aws, &trail_bucket).await? {
        BucketState::Missing => anyhow::bail!(
            "the trail bucket `{trail_bucket}` (settings `trail.bucket`) does not exist: set it to the \
             S3 bucket your CloudTrail trail writes to (`aws cloudtrail describe-trails` shows it)"
        ),
        BucketState::Exists { region } => artifacts::check_same_region(
            &aws,
            &trail_bucket,
            region.as_deref(),
            "S3 can only trigger a Lambda function in the bucket's own region",
        )?,
    }
    let accounts = if settings.trail.accounts.is_empty() {
        vec![aws.account.clone()]
    } else {
        settings.trail.accounts.clone()
    };
    let bucket = ArtifactBucket::new(settings, &names, &aws);
    let code = artifacts::location(&bucket, &names, &package);
    let data_template = template::data_template(settings, &names);
    let app_template = template::app_template(settings, &names, &code);
    let data_text = serde_json::to_string_pretty(&data_template)?;
    let app_text = serde_json::to_string_pretty(&app_template)?;

    if args.dry_run {
        dry_run(
            &aws,
            settings,
            &names,
            &code,
            (&data_template, &data_text),
            (&app_template, &app_text),
            &accounts,
        )
        .await?;
        return Ok(None);
    }

    artifacts::ensure_bucket(&aws, &bucket).await?;
    let uploaded = artifacts::upload(&aws, &code, &package).await?;

    let create = ready_for_deploy(&aws, &names.data_stack, confirm).await?;
    let (data_stack_outcome, _) =
        stack::apply(&aws.cloudformation, &names.data_stack, &data_text, create).await?;
    match ttl::ensure(&aws, &names.table, settings.table.retention_days > 0).await? {
        ttl::TtlChange::Enabled => step(format!(
            "table `{}`: TTL on (events expire {} days after their eventTime)",
            names.table, settings.table.retention_days
        )),
        ttl::TtlChange::Disabled => step(format!("table `{}`: TTL off", names.table)),
        ttl::TtlChange::Unchanged => {}
    }

    let create = ready_for_deploy(&aws, &names.stack, confirm).await?;
    let (app_stack_outcome, _) =
        stack::apply(&aws.cloudformation, &names.stack, &app_text, create).await?;
    let api_id = stack::physical_id(&aws.cloudformation, &names.stack, template::ids::API)
        .await?
        .with_context(|| {
            format!(
                "stack `{}` has no REST API `{}`: run deploy again",
                names.stack,
                template::ids::API
            )
        })?;
    let api_url = aws.api_url(&api_id, &settings.api.stage);
    let ingest_arn = aws.function_arn(&names.ingest_function);

    let api_key = match settings.api.auth {
        AuthMode::ApiKey => {
            Some(apikey::ensure(&aws.apigateway, &names, &api_id, &settings.api.stage).await?)
        }
        AuthMode::Iam | AuthMode::None => {
            let removed = apikey::remove(&aws.apigateway, &names).await?;
            if removed.api_key || removed.usage_plan {
                step(format!(
                    "removed the API key and usage plan (api.auth is now \"{}\")",
                    auth_name(settings.api.auth)
                ));
            }
            None
        }
    };

    match trigger::ensure_permission(
        &aws,
        &names.ingest_function,
        &names.s3_permission_sid,
        &trail_bucket,
    )
    .await?
    {
        trigger::PermissionChange::Added => step(format!(
            "allowed s3://{trail_bucket} to invoke `{}`",
            names.ingest_function
        )),
        trigger::PermissionChange::Replaced { previous_bucket } => {
            step(format!(
                "allowed s3://{trail_bucket} (instead of {}) to invoke `{}`",
                previous_bucket
                    .as_deref()
                    .map(|b| format!("s3://{b}"))
                    .unwrap_or_else(|| "another bucket".into()),
                names.ingest_function
            ));
            // `trail.bucket` changed: the old bucket's entries would fire a
            // function that no longer lets that bucket invoke it.
            if let Some(old) = previous_bucket.filter(|b| *b != trail_bucket) {
                match trigger::apply_notifications(&aws, &old, &[], &names.notification_id_prefix)
                    .await
                {
                    Ok(change) if change.written => {
                        step(format!("removed our notification entries from s3://{old}"))
                    }
                    Ok(_) => {}
                    Err(e) => step(format!(
                        "note: could not remove our notification entries from s3://{old}: {e:#}"
                    )),
                }
            }
        }
        trigger::PermissionChange::Unchanged => {}
    }
    let ours = trigger::our_configurations(
        |account| names.notification_id(account),
        |account| template::account_log_prefix(settings, account),
        &accounts,
        &ingest_arn,
    )?;
    let change =
        trigger::apply_notifications(&aws, &trail_bucket, &ours, &names.notification_id_prefix)
            .await?;
    if change.written {
        step(format!(
            "s3://{trail_bucket}: new CloudTrail logs now trigger `{}` ({} other notification(s) kept)",
            names.ingest_function, change.kept
        ));
    }
    let pruned = artifacts::prune(&aws, &names, &code).await?;
    if pruned > 0 {
        step(format!("removed {pruned} older code zip(s)"));
    }

    Ok(Some(Deployment {
        stack: names.stack.clone(),
        data_stack: names.data_stack.clone(),
        region: aws.region.clone(),
        account: aws.account.clone(),
        api_id,
        api_url,
        auth: settings.api.auth,
        api_key,
        table: names.table.clone(),
        retention_days: settings.table.retention_days,
        ingest_function: names.ingest_function.clone(),
        query_function: names.query_function.clone(),
        log_retention_days: settings.lambda.log_retention_days,
        trail_bucket,
        trigger_prefixes: accounts
            .iter()
            .map(|a| template::account_log_prefix(settings, a))
            .collect(),
        code,
        code_sha256: package.code_sha256(),
        uploaded,
        data_stack_outcome,
        app_stack_outcome,
        elapsed: started.elapsed(),
        cli_options: aws.cli_options(),
    }))
}

/// Whether the stack must be created (true) or updated (false). A stack
/// whose creation failed is deleted first if the operator agrees.
async fn ready_for_deploy(aws: &Aws, name: &str, confirm: Confirm) -> anyhow::Result<bool> {
    match stack::state(&aws.cloudformation, name).await? {
        State::Missing | State::ReviewInProgress(_) => Ok(true),
        State::Ready(_) => Ok(false),
        State::RollbackComplete(info) => {
            let reason = info
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let question = format!(
                "stack `{name}` is in ROLLBACK_COMPLETE: its creation failed{reason} and it can only be \
                 deleted. Delete it now and create it again?"
            );
            match confirm.ask(&question)? {
                Some(true) => {
                    stack::delete(&aws.cloudformation, name).await?;
                    Ok(true)
                }
                _ => Err(StackError::RollbackComplete {
                    stack: name.to_owned(),
                    reason,
                }
                .into()),
            }
        }
    }
}

/// `--dry-run`: the templates on stdout, then what deploy would do.
async fn dry_run(
    aws: &Aws,
    settings: &Settings,
    names: &Names,
    code: &CodeLocation,
    data: (&serde_json::Value, &str),
    app: (&serde_json::Value, &str),
    accounts: &[String],
) -> anyhow::Result<()> {
    println!("# stack `{}` (the events table)", names.data_stack);
    println!("{}", data.1);
    println!("# stack `{}` (functions, roles, logs, API)", names.stack);
    println!("{}", app.1);
    println!("# planned changes (dry run: nothing was changed)");
    for (name, (template, text)) in [(&names.data_stack, data), (&names.stack, app)] {
        match stack::state(&aws.cloudformation, name).await? {
            State::Missing | State::ReviewInProgress(_) => {
                println!("stack `{name}`: would be created with:");
                for (id, kind) in template::resource_list(template) {
                    println!("  Add     {id:<32} {kind}");
                }
            }
            State::RollbackComplete(_) => println!(
                "stack `{name}`: is in ROLLBACK_COMPLETE; deploy would offer to delete it and create it again"
            ),
            State::Ready(_) => match stack::plan(&aws.cloudformation, name, text).await? {
                None => println!("stack `{name}`: no changes"),
                Some(changes) => {
                    println!("stack `{name}`: {} change(s):", changes.len());
                    for change in changes {
                        println!("  {change}");
                    }
                }
            },
        }
    }
    if artifacts::exists(aws, code).await? {
        println!(
            "code: s3://{}/{} is already uploaded",
            code.bucket, code.key
        );
    } else {
        println!("code: would upload s3://{}/{}", code.bucket, code.key);
    }
    println!(
        "table `{}`: TTL would be {}",
        names.table,
        if settings.table.retention_days > 0 {
            format!("on ({} days)", settings.table.retention_days)
        } else {
            "off".to_owned()
        }
    );
    println!(
        "api: auth \"{}\"{}",
        auth_name(settings.api.auth),
        if settings.api.auth == AuthMode::ApiKey {
            format!(
                " (API key `{}` in usage plan `{}`)",
                names.api_key, names.usage_plan
            )
        } else {
            String::new()
        }
    );
    let bucket = settings.trail.bucket.as_deref().unwrap_or_default();
    let present = trigger::our_entries(aws, bucket, &names.notification_id_prefix).await?;
    println!(
        "trigger: s3://{bucket} would invoke `{}` for new objects ending in {} under {} \
         (our entries there now: {}; other entries are kept)",
        names.ingest_function,
        trigger::SUFFIX,
        accounts
            .iter()
            .map(|a| template::account_log_prefix(settings, a))
            .collect::<Vec<_>>()
            .join(", "),
        if present.is_empty() {
            "none".to_owned()
        } else {
            present.join(", ")
        }
    );
    Ok(())
}

fn auth_name(auth: AuthMode) -> &'static str {
    match auth {
        AuthMode::ApiKey => "api_key",
        AuthMode::Iam => "iam",
        AuthMode::None => "none",
    }
}

fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Created => "created",
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
        "  trigger     new {}",
        d.trigger_prefixes
            .iter()
            .map(|p| format!("s3://{}/{p}…{}", d.trail_bucket, trigger::SUFFIX))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    line(format!(
        "  code        s3://{}/{}{}",
        d.code.bucket,
        d.code.key,
        if d.uploaded { "" } else { " (unchanged)" }
    ));
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
