//! CloudFormation stacks: created and updated through change sets, waited
//! on while their events are printed as they happen, failing with the first
//! failed resource's reason; deleted and waited on.
//!
//! A template that changes nothing is success: AWS reports it as a FAILED
//! change set ("The submitted information didn't contain changes"), moto
//! (with stack parameters) as a ValidationError on `CreateChangeSet` ("No
//! updates are to be performed"); both are [`Outcome::Unchanged`].

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, ResourceToImport, StackEvent, StackStatus,
};

use crate::console::step;
use crate::errors;

/// How long a stack operation may take before deploy gives up waiting.
const MAX_WAIT: Duration = Duration::from_secs(60 * 60);

/// A stack that cannot be deployed or deleted as it is.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "stack `{stack}` is in ROLLBACK_COMPLETE: its creation failed{reason} and CloudFormation cannot update it. \
         Delete it with `tracker teardown` (or `aws cloudformation delete-stack --stack-name {stack}`), then deploy again"
    )]
    RollbackComplete { stack: String, reason: String },
    #[error(
        "stack `{stack}` is busy ({status}): wait until that operation ends (CloudFormation console, or \
         `aws cloudformation describe-stacks --stack-name {stack}`), then run the command again"
    )]
    Busy { stack: String, status: String },
    #[error("stack `{stack}` is in {status}{reason}; {advice}")]
    Stuck {
        stack: String,
        status: String,
        reason: String,
        advice: &'static str,
    },
    #[error("{operation} of stack `{stack}` failed ({status}): {reason}")]
    Failed {
        stack: String,
        operation: &'static str,
        status: String,
        reason: String,
    },
    #[error("CloudFormation could not plan the changes to stack `{stack}`: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error(
        "stack `{stack}` is still {status} after {minutes} minutes; tracker stopped waiting (the operation goes on: \
         watch it in the CloudFormation console and run the command again when it has ended)"
    )]
    TimedOut {
        stack: String,
        status: String,
        minutes: u64,
    },
}

/// What describe-stacks says about a stack.
#[derive(Debug, Clone)]
pub struct StackInfo {
    pub name: String,
    pub id: String,
    pub status: String,
    pub reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
}

impl StackInfo {
    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs.get(key).map(String::as_str)
    }
}

/// Where a stack stands before a deploy.
#[derive(Debug, Clone)]
pub enum State {
    /// No such stack (or deleted).
    Missing,
    /// Made by a change set that was never executed: create it again.
    ReviewInProgress(StackInfo),
    /// Can be updated.
    Ready(StackInfo),
    /// Its creation failed: it can only be deleted.
    RollbackComplete(StackInfo),
}

/// What a deploy did to a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// Made by adopting existing resources (an `IMPORT` change set), then
    /// brought up to date.
    Imported,
    Updated,
    Unchanged,
}

/// The kind of change set: what CloudFormation does with the template.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new stack.
    Create,
    /// An existing stack.
    Update,
    /// A new stack adopting existing resources (each must have a
    /// `DeletionPolicy` in the template, and match it).
    Import(Vec<ResourceToImport>),
}

impl Change {
    fn change_set_type(&self) -> ChangeSetType {
        match self {
            Change::Create => ChangeSetType::Create,
            Change::Update => ChangeSetType::Update,
            Change::Import(_) => ChangeSetType::Import,
        }
    }

    /// The operation's name in messages, and the status it ends in.
    fn operation(&self) -> (&'static str, &'static str) {
        match self {
            Change::Create => ("creation", "CREATE_COMPLETE"),
            Change::Update => ("update", "UPDATE_COMPLETE"),
            Change::Import(_) => ("import", "IMPORT_COMPLETE"),
        }
    }
}

/// One resource change of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    /// `Add`, `Modify`, `Remove`…
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` for modifications.
    pub replacement: Option<String>,
}

impl std::fmt::Display for PlannedChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<7} {:<32} {}",
            self.action, self.logical_id, self.resource_type
        )?;
        match self.replacement.as_deref() {
            Some("True") => write!(f, " (replaced)"),
            Some("Conditional") => write!(f, " (may be replaced)"),
            _ => Ok(()),
        }
    }
}

/// Describes a stack; None when it does not exist.
pub async fn describe(client: &Client, name: &str) -> anyhow::Result<Option<StackInfo>> {
    let output = match client.describe_stacks().stack_name(name).send().await {
        Ok(output) => output,
        Err(e) if errors::is_stack_missing(&e) => return Ok(None),
        Err(e) => {
            return Err(errors::explain(
                e,
                &format!("cannot read CloudFormation stack `{name}`"),
            ));
        }
    };
    let Some(stack) = output.stacks().first() else {
        return Ok(None);
    };
    let status = stack
        .stack_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    if status == StackStatus::DeleteComplete.as_str() {
        return Ok(None);
    }
    Ok(Some(StackInfo {
        name: stack.stack_name().unwrap_or(name).to_owned(),
        id: stack.stack_id().unwrap_or(name).to_owned(),
        status,
        reason: stack.stack_status_reason().map(str::to_owned),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
    }))
}

/// The physical id of one of the stack's resources (e.g. the REST API's
/// id). Read from the resource rather than the stack's outputs, which some
/// emulators leave empty for stacks made by change sets.
pub async fn physical_id(
    client: &Client,
    stack: &str,
    logical_id: &str,
) -> anyhow::Result<Option<String>> {
    match client
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
    {
        Ok(output) => Ok(output
            .stack_resource_detail()
            .and_then(|d| d.physical_resource_id())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)),
        Err(e) if errors::is_stack_missing(&e) => Ok(None),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot read resource `{logical_id}` of stack `{stack}`"),
        )),
    }
}

/// Where the stack stands; a busy or stuck stack is an error saying what to do.
pub async fn state(client: &Client, name: &str) -> anyhow::Result<State> {
    let Some(info) = describe(client, name).await? else {
        return Ok(State::Missing);
    };
    let status = info.status.as_str();
    let reason = info
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let stuck = |advice| StackError::Stuck {
        stack: name.to_owned(),
        status: status.to_owned(),
        reason: reason.clone(),
        advice,
    };
    match status {
        "REVIEW_IN_PROGRESS" => Ok(State::ReviewInProgress(info)),
        "ROLLBACK_COMPLETE" => Ok(State::RollbackComplete(info)),
        s if s.ends_with("_IN_PROGRESS") => Err(StackError::Busy {
            stack: name.to_owned(),
            status: s.to_owned(),
        }
        .into()),
        "UPDATE_ROLLBACK_FAILED" => Err(stuck(
            "continue the rollback (`aws cloudformation continue-update-rollback`) or delete the stack with `tracker teardown`",
        )
        .into()),
        "ROLLBACK_FAILED" | "DELETE_FAILED" | "CREATE_FAILED" => Err(stuck(
            "delete it with `tracker teardown` (see the CloudFormation console for the resource that failed)",
        )
        .into()),
        _ => Ok(State::Ready(info)),
    }
}

/// Creates, updates or imports (`change`) the stack named `name` to
/// `template` through a change set, printing the planned changes and then
/// the stack's events until it is done.
pub async fn apply(
    client: &Client,
    name: &str,
    template: &str,
    change: Change,
) -> anyhow::Result<(Outcome, StackInfo)> {
    let planned = match create_change_set(client, name, template, &change).await? {
        None => {
            let info = describe(client, name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("stack `{name}` disappeared during the deploy"))?;
            step(format!("stack `{name}`: no changes"));
            return Ok((Outcome::Unchanged, info));
        }
        Some(planned) => planned,
    };
    step(format!(
        "stack `{name}`: {} {} change(s)",
        match change {
            Change::Create => "creating with",
            Change::Update => "applying",
            Change::Import(_) => "importing with",
        },
        planned.changes.len()
    ));
    for change in &planned.changes {
        step(format!("  {change}"));
    }
    let seen = event_ids(client, &planned.stack_id).await?;
    client
        .execute_change_set()
        .change_set_name(&planned.change_set_id)
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!("cannot execute the change set of stack `{name}`"),
            )
        })?;
    let (operation, ok) = change.operation();
    let status = wait(client, name, &planned.stack_id, seen, operation).await?;
    let info = describe(client, &planned.stack_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("stack `{name}` disappeared during the deploy"))?;
    if status != ok {
        return Err(StackError::Failed {
            stack: name.to_owned(),
            operation,
            status,
            reason: "the stack did not complete".into(),
        }
        .into());
    }
    let outcome = match change {
        Change::Create => Outcome::Created,
        Change::Update => Outcome::Updated,
        Change::Import(_) => Outcome::Imported,
    };
    Ok((outcome, info))
}

/// The changes deploy would make to an existing stack, from a change set
/// that is deleted again without being executed. None when nothing changes.
pub async fn plan(
    client: &Client,
    name: &str,
    template: &str,
) -> anyhow::Result<Option<Vec<PlannedChange>>> {
    let Some(planned) = create_change_set(client, name, template, &Change::Update).await? else {
        return Ok(None);
    };
    delete_change_set(client, name, &planned.change_set_id).await;
    Ok(Some(planned.changes))
}

struct Planned {
    change_set_id: String,
    stack_id: String,
    changes: Vec<PlannedChange>,
}

/// Creates a change set and waits until it is ready; None when it would
/// change nothing (the change set is then deleted).
async fn create_change_set(
    client: &Client,
    name: &str,
    template: &str,
    change: &Change,
) -> anyhow::Result<Option<Planned>> {
    let change_set_name = format!(
        "tracker-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    );
    let created = client
        .create_change_set()
        .stack_name(name)
        .change_set_name(&change_set_name)
        .change_set_type(change.change_set_type())
        .set_resources_to_import(match change {
            Change::Import(resources) => Some(resources.clone()),
            _ => None,
        })
        .template_body(template)
        .capabilities(Capability::CapabilityIam)
        .description("tracker deploy")
        .send()
        .await;
    let created = match created {
        Ok(created) => created,
        Err(e) if errors::is_no_changes(&e) => return Ok(None),
        Err(e) => {
            return Err(errors::explain(
                e,
                &format!("cannot create a change set for stack `{name}`"),
            ));
        }
    };
    let change_set_id = created.id().unwrap_or(&change_set_name).to_owned();
    let stack_id = created.stack_id().unwrap_or(name).to_owned();
    let started = Instant::now();
    let mut delay = Delay::default();
    loop {
        let (status, reason, changes) = describe_change_set(client, name, &change_set_id).await?;
        match status {
            Some(ChangeSetStatus::CreateComplete) => {
                return Ok(Some(Planned {
                    change_set_id,
                    stack_id,
                    changes,
                }));
            }
            Some(ChangeSetStatus::Failed) => {
                delete_change_set(client, name, &change_set_id).await;
                if errors::is_no_changes_text(&reason) {
                    return Ok(None);
                }
                return Err(StackError::ChangeSetFailed {
                    stack: name.to_owned(),
                    reason,
                }
                .into());
            }
            _ if started.elapsed() > MAX_WAIT => {
                return Err(StackError::TimedOut {
                    stack: name.to_owned(),
                    status: "creating a change set".into(),
                    minutes: MAX_WAIT.as_secs() / 60,
                }
                .into());
            }
            _ => delay.sleep().await,
        }
    }
}

/// Status, reason and every change of a change set (all pages).
async fn describe_change_set(
    client: &Client,
    stack: &str,
    change_set_id: &str,
) -> anyhow::Result<(Option<ChangeSetStatus>, String, Vec<PlannedChange>)> {
    let mut changes = Vec::new();
    let mut next_token = None;
    loop {
        let output = client
            .describe_change_set()
            .change_set_name(change_set_id)
            .stack_name(stack)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| {
                errors::explain(e, &format!("cannot read the change set of stack `{stack}`"))
            })?;
        changes.extend(output.changes().iter().filter_map(|c| {
            let r = c.resource_change()?;
            Some(PlannedChange {
                action: r
                    .action()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: r.resource_type().unwrap_or_default().to_owned(),
                replacement: r.replacement().map(|x| x.as_str().to_owned()),
            })
        }));
        next_token = output.next_token().map(str::to_owned);
        if next_token.is_none() {
            let reason = output.status_reason().unwrap_or_default().to_owned();
            return Ok((output.status().cloned(), reason, changes));
        }
    }
}

/// Best effort: a change set left behind does no harm, so a failure to
/// delete one is only reported.
async fn delete_change_set(client: &Client, stack: &str, change_set_id: &str) {
    if let Err(e) = client
        .delete_change_set()
        .change_set_name(change_set_id)
        .stack_name(stack)
        .send()
        .await
    {
        step(format!(
            "note: could not delete an unused change set of stack `{stack}`: {}",
            errors::describe(&e)
        ));
    }
}

/// Deletes the stack and waits until it is gone. Returns false when there
/// was no stack.
pub async fn delete(client: &Client, name: &str) -> anyhow::Result<bool> {
    let Some(info) = describe(client, name).await? else {
        return Ok(false);
    };
    if info.status.ends_with("_IN_PROGRESS") && info.status != "REVIEW_IN_PROGRESS" {
        return Err(StackError::Busy {
            stack: name.to_owned(),
            status: info.status,
        }
        .into());
    }
    step(format!("deleting stack `{name}` ({})", info.status));
    let seen = event_ids(client, &info.id).await?;
    client
        .delete_stack()
        .stack_name(&info.id)
        .send()
        .await
        .map_err(|e| errors::explain(e, &format!("cannot delete stack `{name}`")))?;
    let status = wait(client, name, &info.id, seen, "deletion").await?;
    if status != "DELETE_COMPLETE" {
        return Err(StackError::Failed {
            stack: name.to_owned(),
            operation: "deletion",
            status,
            reason: "the stack was not deleted".into(),
        }
        .into());
    }
    Ok(true)
}

/// Ids of the stack's most recent events (to print only newer ones).
async fn event_ids(client: &Client, stack_id: &str) -> anyhow::Result<HashSet<String>> {
    Ok(recent_events(client, stack_id)
        .await?
        .iter()
        .filter_map(|e| e.event_id().map(str::to_owned))
        .collect())
}

/// The most recent page of events, newest first; empty once the stack is gone.
async fn recent_events(client: &Client, stack_id: &str) -> anyhow::Result<Vec<StackEvent>> {
    match client
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
    {
        Ok(output) => Ok(output.stack_events().to_vec()),
        Err(e) if errors::is_stack_missing(&e) => Ok(Vec::new()),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot read the events of stack `{stack_id}`"),
        )),
    }
}

/// Waits until the stack's operation ends, printing new events; returns
/// the final status, or the failure with the first failed resource's reason.
async fn wait(
    client: &Client,
    name: &str,
    stack_id: &str,
    mut seen: HashSet<String>,
    operation: &'static str,
) -> anyhow::Result<String> {
    let started = Instant::now();
    let mut delay = Delay::default();
    let mut first_failure: Option<String> = None;
    loop {
        let mut new_events: Vec<StackEvent> = recent_events(client, stack_id)
            .await?
            .into_iter()
            .filter(|e| e.event_id().is_some_and(|id| !seen.contains(id)))
            .collect();
        new_events.reverse();
        for event in &new_events {
            seen.extend(event.event_id().map(str::to_owned));
            step(format!("  {}", format_event(event)));
            let status = event
                .resource_status()
                .map(|s| s.as_str())
                .unwrap_or_default();
            let reason = event.resource_status_reason().unwrap_or_default();
            if first_failure.is_none()
                && status.ends_with("_FAILED")
                && !reason.contains("cancelled")
                && !reason.is_empty()
            {
                first_failure = Some(format!(
                    "{} ({}): {reason}",
                    event.logical_resource_id().unwrap_or_default(),
                    event.resource_type().unwrap_or_default()
                ));
            }
        }
        let status = match describe(client, stack_id).await? {
            None => "DELETE_COMPLETE".to_owned(),
            Some(info) => {
                if !info.status.ends_with("_IN_PROGRESS") {
                    let failed =
                        info.status.contains("ROLLBACK") || info.status.ends_with("_FAILED");
                    if failed {
                        return Err(StackError::Failed {
                            stack: name.to_owned(),
                            operation,
                            status: info.status,
                            reason: first_failure
                                .or(info.reason)
                                .unwrap_or_else(|| "see the stack's events above".into()),
                        }
                        .into());
                    }
                }
                info.status
            }
        };
        if !status.ends_with("_IN_PROGRESS") {
            return Ok(status);
        }
        if started.elapsed() > MAX_WAIT {
            return Err(StackError::TimedOut {
                stack: name.to_owned(),
                status,
                minutes: MAX_WAIT.as_secs() / 60,
            }
            .into());
        }
        delay.sleep().await;
    }
}

/// `12:00:01  CREATE_COMPLETE  AWS::Lambda::Function  IngestFunction  reason`
fn format_event(event: &StackEvent) -> String {
    let time = event
        .timestamp()
        .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
        .and_then(|t| t.get(11..19).map(str::to_owned))
        .unwrap_or_default();
    let mut line = format!(
        "{time}  {:<20} {:<28} {}",
        event
            .resource_status()
            .map(|s| s.as_str())
            .unwrap_or_default(),
        event.resource_type().unwrap_or_default(),
        event.logical_resource_id().unwrap_or_default()
    );
    if let Some(reason) = event.resource_status_reason().filter(|r| !r.is_empty()) {
        line.push_str("  ");
        line.push_str(reason);
    }
    line
}

/// Polling delays: quick at first (emulators finish at once), then every
/// five seconds.
#[derive(Default)]
struct Delay {
    polls: u32,
}

impl Delay {
    async fn sleep(&mut self) {
        let millis = match self.polls {
            0 => 200,
            1 => 500,
            2 => 1000,
            3 => 2000,
            _ => 5000,
        };
        self.polls += 1;
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}
