//! Stacks as AWS runs them where moto differs (aws-smithy-mocks): a
//! template that changes nothing (a FAILED change set on AWS, a
//! ValidationError on moto) is success; a failed update names the first
//! failed resource; a stack in ROLLBACK_COMPLETE or busy says what to do.

use aws_smithy_mocks::{Rule, mock};
use tracker_deployer::sdk::cloudformation;
use tracker_deployer::stack::{self, Outcome};

use super::support::*;

pub fn stack_output(
    status: cloudformation::types::StackStatus,
) -> cloudformation::operation::describe_stacks::DescribeStacksOutput {
    cloudformation::operation::describe_stacks::DescribeStacksOutput::builder()
        .stacks(
            cloudformation::types::Stack::builder()
                .stack_name("t")
                .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/t/1")
                .stack_status(status)
                .creation_time(aws_smithy_types_now())
                .build(),
        )
        .build()
}

pub fn aws_smithy_types_now() -> cloudformation::primitives::DateTime {
    cloudformation::primitives::DateTime::from_secs(1_700_000_000)
}

pub fn change_set_created() -> Rule {
    mock!(cloudformation::Client::create_change_set).then_output(|| {
        cloudformation::operation::create_change_set::CreateChangeSetOutput::builder()
            .id("arn:aws:cloudformation:us-east-1:123456789012:changeSet/tracker-1/1")
            .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/t/1")
            .build()
    })
}

/// AWS reports a template that changes nothing as a FAILED change set.
#[tokio::test]
async fn failed_no_change_change_set_is_success() {
    use cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use cloudformation::types::{ChangeSetStatus, StackStatus};
    let create = change_set_created();
    let describe = mock!(cloudformation::Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::Failed)
            .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
            .build()
    });
    let delete = mock!(cloudformation::Client::delete_change_set).then_output(|| {
        cloudformation::operation::delete_change_set::DeleteChangeSetOutput::builder().build()
    });
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::UpdateComplete));
    let execute = mock!(cloudformation::Client::execute_change_set).then_output(|| {
        cloudformation::operation::execute_change_set::ExecuteChangeSetOutput::builder().build()
    });
    let aws = mocked(MockRules {
        cloudformation: &[&create, &describe, &delete, &stacks, &execute],
        ..MockRules::default()
    });
    let (outcome, info) = stack::apply(&aws.cloudformation, "t", "{}", stack::Change::Update)
        .await
        .expect("no change is success");
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(info.status, "UPDATE_COMPLETE");
    assert_eq!(execute.num_calls(), 0, "nothing is executed");
    assert_eq!(delete.num_calls(), 1, "the empty change set is deleted");
    // The dry-run plan says the same.
    assert_eq!(
        stack::plan(&aws.cloudformation, "t", "{}").await.unwrap(),
        None
    );
}

/// moto (with stack parameters) refuses the change set itself instead.
#[tokio::test]
async fn no_updates_validation_error_is_success() {
    use cloudformation::error::ErrorMetadata;
    use cloudformation::operation::create_change_set::CreateChangeSetError;
    use cloudformation::types::StackStatus;
    let create = mock!(cloudformation::Client::create_change_set).then_error(|| {
        CreateChangeSetError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("No updates are to be performed.")
                .build(),
        )
    });
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::CreateComplete));
    let aws = mocked(MockRules {
        cloudformation: &[&create, &stacks],
        ..MockRules::default()
    });
    let (outcome, _) = stack::apply(&aws.cloudformation, "t", "{}", stack::Change::Update)
        .await
        .expect("no change is success");
    assert_eq!(outcome, Outcome::Unchanged);
}

/// A failed update reports the first failed resource and its reason (not
/// the cancellations that follow it).
#[tokio::test]
async fn failed_update_names_the_first_failed_resource() {
    use cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
    use cloudformation::types::{
        Change, ChangeAction, ChangeSetStatus, ResourceChange, ResourceStatus, StackEvent,
        StackStatus,
    };
    let event = |id: &str, logical: &str, status: ResourceStatus, reason: &str| {
        StackEvent::builder()
            .event_id(id)
            .stack_id("s")
            .stack_name("t")
            .logical_resource_id(logical)
            .resource_type("AWS::Lambda::Function")
            .resource_status(status)
            .resource_status_reason(reason)
            .timestamp(aws_smithy_types_now())
            .build()
    };
    let create = change_set_created();
    let describe = mock!(cloudformation::Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .changes(
                Change::builder()
                    .resource_change(
                        ResourceChange::builder()
                            .action(ChangeAction::Modify)
                            .logical_resource_id("IngestFunction")
                            .resource_type("AWS::Lambda::Function")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let execute = mock!(cloudformation::Client::execute_change_set).then_output(|| {
        cloudformation::operation::execute_change_set::ExecuteChangeSetOutput::builder().build()
    });
    let events = mock!(cloudformation::Client::describe_stack_events)
        .sequence()
        .output(|| DescribeStackEventsOutput::builder().build())
        .output(move || {
            // Newest first, as CloudFormation lists them.
            DescribeStackEventsOutput::builder()
                .stack_events(event("4", "t", ResourceStatus::UpdateRollbackComplete, ""))
                .stack_events(event(
                    "3",
                    "QueryFunction",
                    ResourceStatus::UpdateFailed,
                    "Resource update cancelled",
                ))
                .stack_events(event(
                    "2",
                    "IngestFunction",
                    ResourceStatus::UpdateFailed,
                    "Error occurred while GetObject. S3 Error Code: NoSuchKey",
                ))
                .stack_events(event(
                    "1",
                    "IngestFunction",
                    ResourceStatus::UpdateInProgress,
                    "",
                ))
                .build()
        })
        .repeatedly()
        .build();
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::UpdateRollbackComplete));
    let aws = mocked(MockRules {
        cloudformation: &[&create, &describe, &execute, &events, &stacks],
        ..MockRules::default()
    });
    let e = stack::apply(&aws.cloudformation, "t", "{}", stack::Change::Update)
        .await
        .unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.contains("IngestFunction") && text.contains("NoSuchKey"),
        "{text}"
    );
    assert!(text.contains("UPDATE_ROLLBACK_COMPLETE"), "{text}");
    assert!(!text.contains("cancelled"), "{text}");
}

/// A stack whose creation failed cannot be updated: deploy says to delete
/// it (or deletes it when the operator agrees).
#[tokio::test]
async fn rollback_complete_says_what_to_do() {
    use cloudformation::types::StackStatus;
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::RollbackComplete));
    let aws = mocked(MockRules {
        cloudformation: &[&stacks],
        ..MockRules::default()
    });
    let state = stack::state(&aws.cloudformation, "t").await.unwrap();
    assert!(matches!(state, stack::State::RollbackComplete(_)));
    let text = stack::StackError::RollbackComplete {
        stack: "t".into(),
        reason: String::new(),
    }
    .to_string();
    assert!(text.contains("tracker teardown"), "{text}");
    let busy = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::UpdateInProgress));
    let aws = mocked(MockRules {
        cloudformation: &[&busy],
        ..MockRules::default()
    });
    let e = stack::state(&aws.cloudformation, "t").await.unwrap_err();
    assert!(e.to_string().contains("busy"), "{e}");
}
