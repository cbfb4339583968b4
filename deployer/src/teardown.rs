//! `tracker teardown`: removes what `deploy` made and nothing else.
//!
//! It first finds what exists (read-only) and says so; with nothing to
//! remove it says that and succeeds, so a second teardown is harmless.
//! Otherwise, once confirmed (a question on a terminal, or `--yes`), it
//! removes, in this order: our entries in the trail bucket's notification
//! configuration (others stay), the S3 permission on the ingest function,
//! the API key and usage plan, the application stack (waited on), the REST
//! API if an emulator left it behind, the uploaded zips (and the artifact
//! bucket if deploy created it). The data stack and its table are kept
//! unless `--delete-data`.

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
struct Found {
    app: Option<stack::StackInfo>,
    /// Our notification entries, by bucket.
    notifications: Vec<(String, Vec<String>)>,
    permission: bool,
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
    fn plan(&self, names: &Names, delete_data: bool) -> Vec<String> {
        let mut plan = Vec::new();
        for (bucket, ids) in &self.notifications {
            plan.push(format!(
                "notification entr{} {} on s3://{bucket} (other entries are kept)",
                if ids.len() == 1 { "y" } else { "ies" },
                ids.join(", ")
            ));
        }
        if self.permission {
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
                "stack `{}` ({}): functions `{}` and `{}`, their roles and log groups, the REST API",
                names.stack, app.status, names.ingest_function, names.query_function
            ));
        }
        if !self.artifacts.is_empty() {
            plan.push(format!(
                "{} code zip(s) under s3://{}/{}",
                self.artifacts.len(),
                self.artifact_bucket.name,
                names.artifact_prefix
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
    let names = Names::new(settings)?;
    let aws = Aws::connect(sdk, settings).await?;
    let found = find(&aws, settings, &names).await?;
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
    match confirm.ask("Remove all of this?")? {
        Some(true) => {}
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

    for (bucket, _) in &found.notifications {
        trigger::apply_notifications(&aws, bucket, &[], &names.notification_id_prefix).await?;
    }
    if found.permission {
        trigger::remove_permission(&aws, &names.ingest_function, &names.s3_permission_sid).await?;
    }
    if found.api_key || found.usage_plan {
        apikey::remove(&aws.apigateway, &names).await?;
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
        artifacts::delete_keys(&aws, &found.artifact_bucket.name, &found.artifacts).await?;
    }
    if found.artifact_bucket.created && found.artifact_bucket_exists {
        artifacts::delete_created_bucket(&aws, &found.artifact_bucket.name).await?;
    }
    if args.delete_data {
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
    step(format!("removed {} item(s)", plan.len()));
    keep_note();
    Ok(TeardownReport {
        removed: plan,
        kept_table,
    })
}

/// Finds, read-only, what exists of the deployment.
async fn find(aws: &Aws, settings: &Settings, names: &Names) -> anyhow::Result<Found> {
    let app = stack::describe(&aws.cloudformation, &names.stack).await?;
    let statement =
        trigger::find_statement(aws, &names.ingest_function, &names.s3_permission_sid).await?;
    // The trail bucket of the settings, and the one the deployed permission
    // names (they differ if `trail.bucket` was changed since the deploy).
    let mut buckets: Vec<String> = settings.trail.bucket.iter().cloned().collect();
    if let Some(bucket) = statement.as_ref().and_then(trigger::statement_bucket)
        && !buckets.contains(&bucket)
    {
        buckets.push(bucket);
    }
    let mut notifications = Vec::new();
    for bucket in buckets {
        let ids = trigger::our_entries(aws, &bucket, &names.notification_id_prefix).await?;
        if !ids.is_empty() {
            notifications.push((bucket, ids));
        }
    }
    let permission = statement.is_some();
    let (key, plan) = apikey::existing(&aws.apigateway, names).await?;
    let artifact_bucket = ArtifactBucket::new(settings, names, aws);
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
        notifications,
        permission,
        api_key: key.is_some(),
        usage_plan: plan.is_some(),
        artifacts,
        artifact_bucket,
        artifact_bucket_exists,
        data,
        table,
    })
}
