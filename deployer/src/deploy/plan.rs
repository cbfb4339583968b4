//! Step 1 of deploy, read-only: everything that can be known and refused
//! before anything is created.

use anyhow::Context;
use serde_json::Value;

use super::DeployArgs;
use crate::artifacts::{self, ArtifactBucket, BucketState};
use crate::clients::Aws;
use crate::console::step;
use crate::encryption;
use crate::names::Names;
use crate::package::{self, Package};
use crate::settings::Settings;
use crate::stack::{self, State};
use crate::table::{self, DataStackAction};
use crate::template::{self, CodeLocation};
use crate::trigger;

/// A template and the exact text sent for it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub template: Value,
    pub text: String,
}

impl Rendered {
    fn of(template: Value) -> Rendered {
        let text = template::render(&template);
        Rendered { template, text }
    }
}

/// What deploy will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub names: Names,
    pub trail_bucket: String,
    pub package: Package,
    pub artifacts: ArtifactBucket,
    pub code: CodeLocation,
    pub data: Rendered,
    pub app: Rendered,
    pub data_stack: DataStackAction,
    /// Things deploy could not be sure of (printed, never fatal).
    pub warnings: Vec<String>,
}

/// Checks the settings against the account and renders the templates.
pub async fn prepare(aws: &Aws, settings: &Settings, args: &DeployArgs) -> anyhow::Result<Plan> {
    let trail_bucket = settings.trail.bucket.clone().context(
        "`trail.bucket` is not set in the settings: set it to the S3 bucket your CloudTrail trail writes to",
    )?;
    let names = Names::new(settings)?;
    let rules = crate::rules::check(&settings.rules.options())?;
    step(format!(
        "{} detection rule(s) for the ingest function ({} file(s) of yours shipped with it)",
        rules.loaded,
        rules
            .files
            .iter()
            .filter(|f| !f.path.ends_with('/'))
            .count()
    ));
    let package = package_binary(settings, args, rules.files).await?;
    step(format!(
        "deploying stack `{}` to account {} in {}",
        names.stack, aws.account, aws.region
    ));
    check_trail_bucket(aws, &trail_bucket).await?;
    let mut warnings: Vec<String> = rules
        .skipped
        .iter()
        .map(|skipped| format!("rule left out (`[rules] skip_invalid`): {skipped}"))
        .collect();
    let found = encryption::bucket_encryption(aws, &trail_bucket).await?;
    warnings.extend(encryption::check(settings, &trail_bucket, &found)?);
    trigger::check(aws, settings, &names, &trail_bucket).await?;
    let data_stack = table::data_stack_action(
        &stack::state(&aws.cloudformation, &names.data_stack).await?,
        &table::state(aws, &names.table).await?,
        &names.table,
        &names.data_stack,
    )?;
    for warning in &warnings {
        step(format!("warning: {warning}"));
    }
    let artifacts = ArtifactBucket::new(settings, &names, aws);
    let code = artifacts::location(&artifacts, &names, &package);
    Ok(Plan {
        data: Rendered::of(template::data_template(settings, &names)),
        app: Rendered::of(template::app_template(settings, &names, &code)),
        names,
        trail_bucket,
        package,
        artifacts,
        code,
        data_stack,
        warnings,
    })
}

/// The binary checked and zipped (on a blocking thread: it is large).
async fn package_binary(
    settings: &Settings,
    args: &DeployArgs,
    rule_files: Vec<crate::package::ExtraFile>,
) -> anyhow::Result<Package> {
    let binary = package::default_binary(args.lambda_binary.as_deref())?;
    step(format!("checking and zipping {}", binary.display()));
    let architecture = settings.lambda.architecture;
    Ok(tokio::task::spawn_blocking(move || {
        package::package_with(&binary, architecture, &rule_files)
    })
    .await
    .context("packaging the function code stopped unexpectedly")??)
}

/// The trail bucket exists, in the deploy's region.
async fn check_trail_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    match artifacts::bucket_state(aws, bucket).await? {
        BucketState::Missing => anyhow::bail!(
            "the trail bucket `{bucket}` (settings `trail.bucket`) does not exist: set it to the \
             S3 bucket your CloudTrail trail writes to (`aws cloudtrail describe-trails` shows it)"
        ),
        BucketState::Exists { region } => artifacts::check_same_region(
            aws,
            bucket,
            region.as_deref(),
            "S3 can only trigger a Lambda function in the bucket's own region",
        ),
    }
}

/// Whether the stack is to be created (for `--dry-run`'s wording).
pub fn is_new(state: &State) -> bool {
    matches!(state, State::Missing | State::ReviewInProgress(_))
}
