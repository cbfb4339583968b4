//! A table kept without its data stack (`DeletionPolicy: Retain` after the
//! stack was deleted by hand, or `teardown --delete-data` still deleting it)
//! does not block deploy.
//!
//! Against moto: a table of tracker's layout without its stack is planned
//! for import; a table of another layout is refused before anything is
//! made, saying what to do. moto runs `IMPORT` change sets as creations
//! (and fails: the table exists), so the import itself, and the wait for a
//! table being deleted, run on aws-smithy-mocks.

use std::time::Duration;

use aws_sdk_dynamodb::operation::describe_table::{DescribeTableError, DescribeTableOutput};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TableDescription, TableStatus,
};
use aws_smithy_mocks::mock;
use tracker_deployer::console::Confirm;
use tracker_deployer::deploy::deploy_with;
use tracker_deployer::names::Names;
use tracker_deployer::sdk::cloudformation;
use tracker_deployer::stack::{self, Change, Outcome};
use tracker_deployer::table::{self, DataStackAction, TableState};
use tracker_deployer::template::ids;

use super::stacks::stack_output;
use super::support::*;
use crate::support::{new_bucket, s3_client, sdk_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_table_is_imported_or_refused() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let cfn = cloudformation::Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let trail = new_bucket(&s3).await;
    let settings = settings(&trail);
    let names = Names::new(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());
    let aws = tracker_deployer::clients::Aws::connect(&sdk, &settings)
        .await
        .unwrap();

    // tracker's own table, its stack deleted by hand: the table stays.
    deploy(&settings, &binary).await;
    stack::delete(&cfn, &names.data_stack).await.unwrap();
    assert!(table_exists(&dynamodb, &names.table).await, "retained");
    let action = table::data_stack_action(
        &stack::state(&cfn, &names.data_stack).await.unwrap(),
        &table::state(&aws, &names.table).await.unwrap(),
        &names.table,
        &names.data_stack,
    )
    .unwrap();
    assert_eq!(action, DataStackAction::Import);
    teardown(&settings, true).await;
    assert!(!table_exists(&dynamodb, &names.table).await);

    // Someone else's table of the same name: refused, nothing made.
    dynamodb
        .create_table()
        .table_name(&names.table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create a foreign table");
    let e = deploy_with(&sdk, &settings, &args(&binary), Confirm::Nobody)
        .await
        .expect_err("a foreign table is not adopted");
    let text = format!("{e:#}");
    assert!(
        text.contains("id HASH")
            && text.contains("table.name")
            && text.contains(&format!("delete-table --table-name {}", names.table)),
        "{text}"
    );
    for stack in [&names.stack, &names.data_stack] {
        assert!(stack::describe(&cfn, stack).await.unwrap().is_none());
    }
    dynamodb
        .delete_table()
        .table_name(&names.table)
        .send()
        .await
        .expect("clean up");
}

/// The import: an `IMPORT` change set naming the table, executed, ending in
/// IMPORT_COMPLETE.
#[tokio::test]
async fn the_import_change_set_names_the_table() {
    use cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
    use cloudformation::types::{
        Change as ResourceChangeEntry, ChangeAction, ChangeSetStatus, ChangeSetType,
        ResourceChange, StackStatus,
    };
    let create = mock!(cloudformation::Client::create_change_set)
        .match_requests(|request| {
            request.change_set_type() == Some(&ChangeSetType::Import)
                && request.resources_to_import().iter().any(|r| {
                    r.logical_resource_id() == Some(ids::TABLE)
                        && r.resource_type() == Some("AWS::DynamoDB::Table")
                        && r.resource_identifier()
                            .and_then(|i| i.get("TableName"))
                            .map(String::as_str)
                            == Some("events")
                })
        })
        .then_output(|| {
            cloudformation::operation::create_change_set::CreateChangeSetOutput::builder()
                .id("arn:aws:cloudformation:us-east-1:123456789012:changeSet/tracker-1/1")
                .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/t-data/1")
                .build()
        });
    let describe = mock!(cloudformation::Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .changes(
                ResourceChangeEntry::builder()
                    .resource_change(
                        ResourceChange::builder()
                            .action(ChangeAction::Import)
                            .logical_resource_id(ids::TABLE)
                            .resource_type("AWS::DynamoDB::Table")
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
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let stacks = mock!(cloudformation::Client::describe_stacks)
        .then_output(|| stack_output(StackStatus::ImportComplete));
    let aws = mocked(MockRules {
        cloudformation: &[&create, &describe, &execute, &events, &stacks],
        ..MockRules::default()
    });
    let (outcome, info) = stack::apply(
        &aws.cloudformation,
        "t-data",
        "{}",
        Change::Import(table::resources_to_import("events")),
    )
    .await
    .expect("the import");
    assert_eq!(outcome, Outcome::Imported);
    assert_eq!(info.status, "IMPORT_COMPLETE");
    assert_eq!(
        create.num_calls(),
        1,
        "the change set was an import of the table"
    );
    assert_eq!(execute.num_calls(), 1);
}

/// `teardown --delete-data` then `deploy` at once: deploy waits for the
/// table to be gone before creating it again.
#[tokio::test]
async fn a_table_being_deleted_is_waited_for() {
    let deleting = || {
        DescribeTableOutput::builder()
            .table(
                TableDescription::builder()
                    .table_name("events")
                    .table_status(TableStatus::Deleting)
                    .build(),
            )
            .build()
    };
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .sequence()
        .output(deleting)
        .output(deleting)
        .error(|| {
            DescribeTableError::ResourceNotFoundException(
                aws_sdk_dynamodb::types::error::ResourceNotFoundException::builder()
                    .message("Requested resource not found")
                    .meta(meta(
                        "ResourceNotFoundException",
                        "Requested resource not found",
                    ))
                    .build(),
            )
        })
        .build();
    let aws = mocked(MockRules {
        dynamodb: &[&describe],
        ..MockRules::default()
    });
    assert_eq!(
        table::state(&aws, "events").await.unwrap(),
        TableState::Deleting
    );
    table::wait_gone(&aws, "events", Duration::from_millis(1))
        .await
        .expect("gone at the third look");
    assert_eq!(describe.num_calls(), 3);
}
