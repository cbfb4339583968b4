//! Step 2 of deploy: the code uploaded, the data stack (and TTL), the
//! application stack.

use std::time::Duration;

use anyhow::Context;

use super::plan::Plan;
use crate::artifacts;
use crate::clients::Aws;
use crate::console::{Confirm, step};
use crate::settings::Settings;
use crate::stack::{self, Change, Outcome, StackError, State};
use crate::table::{self, DataStackAction};
use crate::template;
use crate::ttl;

/// How often deploy looks whether a table being deleted is gone.
const TABLE_POLL: Duration = Duration::from_secs(5);

/// What the stacks became.
#[derive(Debug, Clone)]
pub struct Applied {
    pub uploaded: bool,
    pub data_stack: Outcome,
    pub app_stack: Outcome,
    pub api_id: String,
}

/// Uploads the code and creates or updates both stacks.
pub async fn apply(
    aws: &Aws,
    settings: &Settings,
    plan: &Plan,
    confirm: Confirm,
) -> anyhow::Result<Applied> {
    artifacts::ensure_bucket(aws, &plan.artifacts).await?;
    let uploaded = artifacts::upload(aws, &plan.code, &plan.package).await?;
    let data_stack = data_stack(aws, settings, plan, confirm).await?;
    retention(aws, settings, plan).await?;
    let create = ready_for_deploy(aws, &plan.names.stack, confirm).await?;
    let (app_stack, _) = stack::apply(
        &aws.cloudformation,
        &plan.names.stack,
        &plan.app.text,
        if create {
            Change::Create
        } else {
            Change::Update
        },
    )
    .await?;
    let api_id = stack::physical_id(&aws.cloudformation, &plan.names.stack, template::ids::API)
        .await?
        .with_context(|| {
            format!(
                "stack `{}` has no REST API `{}`: run deploy again",
                plan.names.stack,
                template::ids::API
            )
        })?;
    Ok(Applied {
        uploaded,
        data_stack,
        app_stack,
        api_id,
    })
}

/// The data stack: created, updated, or made by importing the retained
/// table (then updated to add its outputs).
async fn data_stack(
    aws: &Aws,
    settings: &Settings,
    plan: &Plan,
    confirm: Confirm,
) -> anyhow::Result<Outcome> {
    let names = &plan.names;
    let create = ready_for_deploy(aws, &names.data_stack, confirm).await?;
    let action = if create {
        plan.data_stack.clone()
    } else {
        DataStackAction::Update
    };
    let apply = |change| {
        stack::apply(
            &aws.cloudformation,
            &names.data_stack,
            &plan.data.text,
            change,
        )
    };
    match action {
        DataStackAction::Update => Ok(apply(Change::Update).await?.0),
        DataStackAction::Create => Ok(apply(Change::Create).await?.0),
        DataStackAction::WaitThenCreate => {
            table::wait_gone(aws, &names.table, TABLE_POLL).await?;
            Ok(apply(Change::Create).await?.0)
        }
        DataStackAction::Import => {
            step(format!(
                "table `{}` exists without its stack `{}`: importing it (its events are kept)",
                names.table, names.data_stack
            ));
            let import = template::render(&template::import_template(settings, names));
            stack::apply(
                &aws.cloudformation,
                &names.data_stack,
                &import,
                Change::Import(table::resources_to_import(&names.table)),
            )
            .await?;
            apply(Change::Update).await?;
            Ok(Outcome::Imported)
        }
    }
}

/// TTL on the table as `table.retention_days` says.
async fn retention(aws: &Aws, settings: &Settings, plan: &Plan) -> anyhow::Result<()> {
    let table = &plan.names.table;
    match ttl::ensure(aws, table, settings.table.retention_days > 0).await? {
        ttl::TtlChange::Enabled => step(format!(
            "table `{table}`: TTL on (events expire {} days after their eventTime)",
            settings.table.retention_days
        )),
        ttl::TtlChange::Disabled => step(format!("table `{table}`: TTL off")),
        ttl::TtlChange::Unchanged => {}
    }
    Ok(())
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
