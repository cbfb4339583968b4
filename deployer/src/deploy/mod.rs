//! `tracker deploy`: everything from the settings, created or updated in
//! place, safe to run again. The steps, each its own module:
//!
//! 1. [`plan`] (read-only): the binary checked and zipped; the trail bucket
//!    found in the deploy's region, its encryption and notifications read
//!    (a KMS key not in the settings, or a notification S3 would refuse to
//!    share the keys with, stop the deploy here, before anything exists); the
//!    templates rendered; what to do with the data stack decided (create,
//!    update, import a retained table, or wait for one being deleted);
//! 2. [`stacks`]: the zip uploaded under its content hash (skipped when
//!    already there), the data stack (the table) and TTL, then the
//!    application stack (roles, functions, logs, on-failure queue, trail
//!    rule, REST API);
//! 3. the API's protection: API key and usage plan (with throttle and
//!    quota) for `api.auth = "api_key"`, and no stage but `api.stage`;
//! 4. the trigger on the trail bucket ([`crate::trigger`]);
//! 5. outputs: older zips removed, the summary ([`summary`]).
//!
//! `--dry-run` stops after the plan: it prints the templates and the planned
//! changes (change sets created, read and deleted, never executed) and
//! uploads and writes nothing. `--print-policy` prints the IAM policy the
//! deploying credentials need ([`crate::policy`]) without calling AWS.

pub mod dry_run;
pub mod plan;
pub mod stacks;
pub mod summary;

use std::path::PathBuf;
use std::time::Instant;

use aws_config::SdkConfig;

use crate::apikey::{self, ApiKeyInfo};
use crate::artifacts;
use crate::clients::{self, Aws};
use crate::console::{Confirm, step};
use crate::settings::{AuthMode, Settings};
use crate::trigger;
pub use summary::{Deployment, summary};

/// `tracker deploy` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DeployArgs {
    /// Print the rendered templates and the planned changes; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the IAM policy the credentials running deploy, backfill and
    /// teardown need (for these settings), and exit without calling AWS.
    #[arg(long, conflicts_with = "dry_run")]
    pub print_policy: bool,
    /// The binary the functions run [default: this tracker executable]. It
    /// must be a Linux ELF for lambda.architecture needing at most
    /// GLIBC_2.34, e.g. from `cargo zigbuild --release --target
    /// x86_64-unknown-linux-gnu.2.34`.
    #[arg(long, value_name = "PATH")]
    pub lambda_binary: Option<PathBuf>,
}

/// Runs `tracker deploy` with the standard AWS configuration chain,
/// asking on the terminal if a question comes up, and prints the summary.
pub async fn deploy(settings: &Settings, args: &DeployArgs) -> anyhow::Result<()> {
    if args.print_policy {
        println!("{}", crate::policy::render(settings));
        return Ok(());
    }
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
    let aws = Aws::connect(sdk, settings).await?;
    deploy_on(&aws, settings, args, confirm).await
}

/// The deploy with given clients (tests wrap them to observe the calls).
pub async fn deploy_on(
    aws: &Aws,
    settings: &Settings,
    args: &DeployArgs,
    confirm: Confirm,
) -> anyhow::Result<Option<Deployment>> {
    let started = Instant::now();
    let plan = plan::prepare(aws, settings, args).await?;
    if args.dry_run {
        dry_run::print(aws, settings, &plan).await?;
        return Ok(None);
    }
    let applied = stacks::apply(aws, settings, &plan, confirm).await?;
    let api_key = protect_api(aws, settings, &plan, &applied.api_id).await?;
    let trigger = trigger::connect(
        aws,
        settings,
        &plan.names,
        &plan.trail_bucket,
        &plan.artifacts,
    )
    .await?;
    let pruned = artifacts::prune(aws, &plan.names, &plan.code).await?;
    if pruned > 0 {
        step(format!("removed {pruned} older code zip(s)"));
    }
    Ok(Some(Deployment::new(
        aws, settings, plan, applied, api_key, trigger, started,
    )))
}

/// The API key and usage plan (`api.auth = "api_key"`) or their removal,
/// and no stage but `api.stage`.
async fn protect_api(
    aws: &Aws,
    settings: &Settings,
    plan: &plan::Plan,
    api_id: &str,
) -> anyhow::Result<Option<ApiKeyInfo>> {
    let names = &plan.names;
    let key = match settings.api.auth {
        AuthMode::ApiKey => Some(
            apikey::ensure(
                &aws.apigateway,
                names,
                api_id,
                &settings.api.stage,
                apikey::Limits::of(&settings.api),
            )
            .await?,
        ),
        AuthMode::Iam | AuthMode::None => {
            let removed = apikey::remove(&aws.apigateway, names).await?;
            if removed.api_key || removed.usage_plan {
                step(format!(
                    "removed the API key and usage plan (api.auth is now \"{}\")",
                    summary::auth_name(settings.api.auth)
                ));
            }
            None
        }
    };
    apikey::remove_other_stages(&aws.apigateway, api_id, &settings.api.stage).await?;
    Ok(key)
}
