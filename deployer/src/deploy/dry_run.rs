//! `--dry-run`: the templates on stdout, then what deploy would do (change
//! sets created, read and deleted, never executed). The plan's checks have
//! run already: a refused deploy is refused by its dry run too.

use super::plan::{Plan, is_new};
use super::summary::auth_name;
use crate::artifacts;
use crate::clients::Aws;
use crate::settings::{AuthMode, Settings};
use crate::stack::{self, State};
use crate::table::DataStackAction;
use crate::template;
use crate::trigger;

pub async fn print(aws: &Aws, settings: &Settings, plan: &Plan) -> anyhow::Result<()> {
    let names = &plan.names;
    println!("# stack `{}` (the events table)", names.data_stack);
    println!("{}", template::render_pretty(&plan.data.template));
    println!(
        "# stack `{}` (functions, roles, logs, queue, API)",
        names.stack
    );
    println!("{}", template::render_pretty(&plan.app.template));
    println!("# planned changes (dry run: nothing was changed)");
    for (name, rendered) in [(&names.data_stack, &plan.data), (&names.stack, &plan.app)] {
        let state = stack::state(&aws.cloudformation, name).await?;
        if name == &names.data_stack {
            match plan.data_stack {
                DataStackAction::Import => println!(
                    "stack `{name}`: would be made by importing the existing table `{}` (its events are kept)",
                    names.table
                ),
                DataStackAction::WaitThenCreate => println!(
                    "table `{}` is being deleted: deploy would wait until it is gone, then create stack `{name}`",
                    names.table
                ),
                _ => {}
            }
        }
        match state {
            ref s if is_new(s) => {
                println!("stack `{name}`: would be created with:");
                for (id, kind) in template::resource_list(&rendered.template) {
                    println!("  Add     {id:<32} {kind}");
                }
            }
            State::RollbackComplete(_) => println!(
                "stack `{name}`: is in ROLLBACK_COMPLETE; deploy would offer to delete it and create it again"
            ),
            _ => match stack::plan(&aws.cloudformation, name, &rendered.text).await? {
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
    let code = &plan.code;
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
        "api: auth \"{}\"{}; only stage `{}`",
        auth_name(settings.api.auth),
        if settings.api.auth == AuthMode::ApiKey {
            format!(
                " (API key `{}` in usage plan `{}`: {} requests/s, bursts of {}, {})",
                names.api_key,
                names.usage_plan,
                settings.api.throttle_rate,
                settings.api.throttle_burst,
                quota_text(settings.api.daily_quota)
            )
        } else {
            String::new()
        },
        settings.api.stage
    );
    let info = trigger::describe(settings, &aws.account, &plan.trail_bucket);
    println!(
        "trigger ({}): new {} would invoke `{}` (other notifications on the bucket are kept)",
        info.kind.name(),
        info.matches,
        names.ingest_function,
    );
    println!(
        "failures: ingest invocations still failing after {} retries would go to SQS queue `{}` \
         (replay with `tracker backfill --from-failures`)",
        template::INGEST_RETRIES,
        names.failure_queue
    );
    for warning in &plan.warnings {
        println!("warning: {warning}");
    }
    Ok(())
}

pub fn quota_text(quota: u32) -> String {
    if quota == 0 {
        "no daily quota".to_owned()
    } else {
        format!("{quota} requests/day")
    }
}
