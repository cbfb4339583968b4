//! `tracker teardown`: removes what `deploy` made and nothing else, in
//! visible steps:
//!
//! 1. [`find`] (read-only) what exists, and [`Found::plan`] say so; with
//!    nothing to remove it says that and succeeds, so a second teardown is
//!    harmless;
//! 2. the operator confirms (a question on a terminal, or `--yes`);
//! 3. [`remove`], in this order: the trigger (our entries in the trail
//!    bucket's notification configuration — others stay —, the bucket's
//!    EventBridge delivery if deploy turned it on, the S3 permission), the
//!    API key and usage plan, the application stack (waited on; with it the
//!    functions, the trail rule and the on-failure queue, whose unreplayed
//!    messages the plan counts), the REST API if an emulator left it behind,
//!    the uploaded zips (and the artifact bucket if deploy created it). The
//!    data stack and its table are kept unless `--delete-data`.

use aws_config::SdkConfig;

use crate::apikey;
use crate::artifacts::{self, ArtifactBucket, BucketState};
use crate::clients::{self, Aws};
use crate::console::{Confirm, step};
use crate::errors;
use crate::names::Names;
use crate::settings::Settings;
use crate::stack;
use crate::template;
use crate::trigger;

/// `tracker teardown` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TeardownArgs {
    /// Also delete the events table and all its data (kept otherwise).
    #[arg(long)]
    pub delete_data: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// What a teardown removed and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeardownReport {
    /// One line per thing removed; empty when there was nothing to remove.
    pub removed: Vec<String>,
    /// The table, when it exists and was kept.
    pub kept_table: Option<String>,
}

/// Runs `tracker teardown` with the standard AWS configuration chain,
/// asking on the terminal unless `--yes`.
pub async fn teardown(settings: &Settings, args: &TeardownArgs) -> anyhow::Result<()> {
    let sdk = clients::load_sdk_config(settings).await;
    let confirm = if args.yes {
        Confirm::Always(true)
    } else {
        Confirm::Terminal
    };
    teardown_with(&sdk, settings, args, confirm).await?;
    Ok(())
}

/// What exists of a deployment.
pub struct Found {
    app: Option<stack::StackInfo>,
    trigger: trigger::Found,
    /// Failed ingest invocations and dead-lettered backfill batches.
    unreplayed_failures: Option<u64>,
    /// Backfill batches queued and not ingested yet.
    pending_backfill: Option<u64>,
    api_key: bool,
    usage_plan: bool,
    artifacts: Vec<String>,
    artifact_bucket: ArtifactBucket,
    artifact_bucket_exists: bool,
    data: Option<stack::StackInfo>,
    table: bool,
}

impl Found {
    /// What teardown would remove, one line each.
    pub fn plan(&self, names: &Names, delete_data: bool) -> Vec<String> {
        let mut plan = Vec::new();
        for (bucket, ids) in &self.trigger.entries {
            plan.push(format!(
                "notification entr{} {} on s3://{bucket} (other entries are kept)",
                if ids.len() == 1 { "y" } else { "ies" },
                ids.join(", ")
            ));
        }
        for bucket in &self.trigger.eventbridge {
            plan.push(format!(
                "the EventBridge delivery of s3://{bucket} (deploy turned it on)"
            ));
        }
        if self.trigger.permission {
            plan.push(format!(
                "permission `{}` (S3 may invoke `{}`)",
                names.s3_permission_sid, names.ingest_function
            ));
        }
        if self.usage_plan {
            plan.push(format!("usage plan `{}`", names.usage_plan));
        }
        if self.api_key {
            plan.push(format!("API key `{}`", names.api_key));
        }
        if let Some(app) = &self.app {
            plan.push(format!(
                "stack `{}` ({}): functions `{}` and `{}`, their roles and log groups, the REST API, \
                 the failure queue `{}`, the backfill queues `{}` and `{}`{}{}",
                names.stack,
                app.status,
                names.ingest_function,
                names.query_function,
                names.failure_queue,
                names.backfill_queue,
                names.backfill_dead_queue,
                match self.unreplayed_failures {
                    Some(n) if n > 0 => format!(
                        " WITH {n} FAILED INGEST(S) NOT REPLAYED (`tracker backfill --from-failures` first)"
                    ),
                    _ => String::new(),
                },
                match self.pending_backfill {
                    Some(n) if n > 0 => format!(
                        " WITH {n} BACKFILL BATCH(ES) NOT INGESTED YET (wait for them: `tracker backfill --fan-out` shows them)"
                    ),
                    _ => String::new(),
                }
            ));
        }
        let zips = self
            .artifacts
            .iter()
            .filter(|k| artifacts::is_code_zip(names, k))
            .count();
        if zips > 0 {
            plan.push(format!(
                "{zips} code zip(s) under s3://{}/{}",
                self.artifact_bucket.name, names.artifact_prefix
            ));
        }
        if self.artifact_bucket.created && self.artifact_bucket_exists {
            plan.push(format!(
                "artifact bucket s3://{} (if nothing else is in it)",
                self.artifact_bucket.name
            ));
        }
        if delete_data {
            if let Some(data) = &self.data {
                plan.push(format!("stack `{}` ({})", names.data_stack, data.status));
            }
            if self.table {
                plan.push(format!(
                    "DynamoDB table `{}` AND ALL ITS EVENTS",
                    names.table
                ));
            }
        }
        plan
    }
}

/// The teardown itself, with a given SDK configuration and way to confirm.
pub async fn teardown_with(
    sdk: &SdkConfig,
    settings: &Settings,
    args: &TeardownArgs,
    confirm: Confirm,
) -> anyhow::Result<TeardownReport> {
    let aws = Aws::connect(sdk, settings).await?;
    teardown_on(&aws, settings, args, confirm).await
}

/// The teardown with given clients.
pub async fn teardown_on(
    aws: &Aws,
    settings: &Settings,
    args: &TeardownArgs,
    confirm: Confirm,
) -> anyhow::Result<TeardownReport> {
    let names = Names::new(settings)?;
    let found = find(aws, settings, &names).await?;
    let plan = found.plan(&names, args.delete_data);
    let kept_table = (found.table && !args.delete_data).then(|| names.table.clone());
    let keep_note = || {
        if let Some(table) = &kept_table {
            step(format!(
                "kept: table `{table}` and its events (stack `{}`); `tracker teardown --delete-data` removes them",
                names.data_stack
            ));
        }
    };
    if plan.is_empty() {
        step(format!(
            "nothing to remove: stack `{}` is not deployed in account {} / {}",
            names.stack, aws.account, aws.region
        ));
        keep_note();
        return Ok(TeardownReport {
            removed: Vec::new(),
            kept_table,
        });
    }
    step(format!(
        "teardown of `{}` in account {} / {} will remove:",
        names.stack, aws.account, aws.region
    ));
    for line in &plan {
        step(format!("  - {line}"));
    }
    confirmed(confirm, args)?;
    remove(aws, &names, &found, args.delete_data).await?;
    step(format!("removed {} item(s)", plan.len()));
    keep_note();
    Ok(TeardownReport {
        removed: plan,
        kept_table,
    })
}

/// The operator's yes, or why there is none.
fn confirmed(confirm: Confirm, args: &TeardownArgs) -> anyhow::Result<()> {
    match confirm.ask("Remove all of this?")? {
        Some(true) => Ok(()),
        Some(false) => anyhow::bail!("teardown cancelled: nothing was removed"),
        None => anyhow::bail!(
            "teardown needs confirmation and stdin is not a terminal: run `tracker teardown --yes` \
             to remove the above{}",
            if args.delete_data {
                " (including the table and its data)"
            } else {
                ""
            }
        ),
    }
}

/// Removes what was found, in dependency order.
async fn remove(aws: &Aws, names: &Names, found: &Found, delete_data: bool) -> anyhow::Result<()> {
    trigger::disconnect(aws, names, &found.trigger, &found.artifact_bucket).await?;
    if found.api_key || found.usage_plan {
        apikey::remove(&aws.apigateway, names).await?;
    }
    if found.app.is_some() {
        let api_id =
            stack::physical_id(&aws.cloudformation, &names.stack, template::ids::API).await?;
        stack::delete(&aws.cloudformation, &names.stack).await?;
        if let Some(api_id) = api_id
            && apikey::remove_leftover_api(&aws.apigateway, &api_id).await?
        {
            step(format!(
                "deleted REST API {api_id}, left behind by its stack"
            ));
        }
    }
    if !found.artifacts.is_empty() {
        artifacts::delete_keys(aws, &found.artifact_bucket.name, &found.artifacts).await?;
    }
    if found.artifact_bucket.created && found.artifact_bucket_exists {
        artifacts::delete_created_bucket(aws, &found.artifact_bucket.name).await?;
    }
    if delete_data {
        if found.data.is_some() {
            stack::delete(&aws.cloudformation, &names.data_stack).await?;
        }
        if found.table {
            // The stack keeps the table (DeletionPolicy: Retain): delete it.
            match aws
                .dynamodb
                .delete_table()
                .table_name(&names.table)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if errors::is_not_found(&e) => {}
                Err(e) => {
                    return Err(errors::explain(
                        e,
                        &format!("cannot delete DynamoDB table `{}`", names.table),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Finds, read-only, what exists of the deployment.
pub async fn find(aws: &Aws, settings: &Settings, names: &Names) -> anyhow::Result<Found> {
    let app = stack::describe(&aws.cloudformation, &names.stack).await?;
    let artifact_bucket = ArtifactBucket::new(settings, names, aws);
    let trigger = trigger::find(aws, settings, names, &artifact_bucket).await?;
    let (unreplayed_failures, pending_backfill) = match &app {
        Some(_) => (
            crate::queues::waiting(aws, names).await?,
            crate::queues::backfill_pending(aws, names).await?,
        ),
        None => (None, None),
    };
    let (key, plan) = apikey::existing(&aws.apigateway, names).await?;
    let artifact_bucket_exists = matches!(
        artifacts::bucket_state(aws, &artifact_bucket.name).await?,
        BucketState::Exists { .. }
    );
    let artifacts = if artifact_bucket_exists {
        artifacts::list(aws, &artifact_bucket.name, &names.artifact_prefix).await?
    } else {
        Vec::new()
    };
    let data = stack::describe(&aws.cloudformation, &names.data_stack).await?;
    let table = match aws
        .dynamodb
        .describe_table()
        .table_name(&names.table)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) if errors::is_not_found(&e) => false,
        Err(e) => {
            return Err(errors::explain(
                e,
                &format!("cannot read DynamoDB table `{}`", names.table),
            ));
        }
    };
    Ok(Found {
        app,
        trigger,
        unreplayed_failures,
        pending_backfill,
        api_key: key.is_some(),
        usage_plan: plan.is_some(),
        artifacts,
        artifact_bucket,
        artifact_bucket_exists,
        data,
        table,
    })
}
