//! The events table as deploy finds it before the data stack: a table kept
//! without its stack (`DeletionPolicy: Retain` after the stack was deleted
//! by hand, or a `teardown --delete-data` still deleting it) must not make
//! every deploy fail with "table already exists".
//!
//! - no data stack, a table being deleted: wait until it is gone, then create;
//! - no data stack, a table with tracker's layout: import it into a new data
//!   stack (an `IMPORT` change set) and keep its events;
//! - no data stack, a table with another layout: refuse, saying what to do.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::ResourceToImport;
use aws_sdk_dynamodb::types::{KeyType, TableDescription, TableStatus};
use tracker_runtime::store::dynamodb::schema;

use crate::clients::Aws;
use crate::console::step;
use crate::errors;
use crate::stack::State;
use crate::template::ids;

/// How long deploy waits for a table being deleted.
const MAX_DELETE_WAIT: Duration = Duration::from_secs(15 * 60);

/// The table, as DynamoDB describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableState {
    Missing,
    Deleting,
    /// It exists; `layout_problem` says how its keys or indexes differ from
    /// tracker's (None: the same).
    Present {
        layout_problem: Option<String>,
    },
}

/// What deploy does with the data stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStackAction {
    Create,
    Update,
    /// The table exists without its stack: adopt it.
    Import,
    /// The table is being deleted: wait until it is gone, then create.
    WaitThenCreate,
}

/// Reads the table's state.
pub async fn state(aws: &Aws, table: &str) -> anyhow::Result<TableState> {
    match aws.dynamodb.describe_table().table_name(table).send().await {
        Ok(output) => Ok(match output.table() {
            Some(t) if t.table_status() == Some(&TableStatus::Deleting) => TableState::Deleting,
            Some(t) => TableState::Present {
                layout_problem: layout_problem(t),
            },
            None => TableState::Missing,
        }),
        Err(e) if errors::is_not_found(&e) => Ok(TableState::Missing),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot read DynamoDB table `{table}`"),
        )),
    }
}

/// How a table's keys and indexes differ from the layout tracker renders
/// (from the same schema constants); None when they match.
pub fn layout_problem(table: &TableDescription) -> Option<String> {
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<String> {
        schema
            .iter()
            .map(|k| {
                let kind = if k.key_type() == &KeyType::Hash {
                    "HASH"
                } else {
                    "RANGE"
                };
                format!("{} {kind}", k.attribute_name())
            })
            .collect()
    };
    let found_key = keys(table.key_schema());
    let wanted_key = vec![
        format!("{} HASH", schema::PK),
        format!("{} RANGE", schema::SK),
    ];
    let mut found_indexes: Vec<String> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            format!(
                "{}({})",
                i.index_name().unwrap_or_default(),
                keys(i.key_schema()).join(", ")
            )
        })
        .collect();
    found_indexes.sort();
    let mut wanted_indexes: Vec<String> = schema::INDEXES
        .iter()
        .map(|(index, partition)| format!("{index}({partition} HASH, {} RANGE)", schema::TIME_SK))
        .collect();
    wanted_indexes.sort();
    if found_key == wanted_key && found_indexes == wanted_indexes {
        None
    } else {
        Some(format!(
            "its key is [{}] and its indexes [{}], where tracker's are [{}] and [{}]",
            found_key.join(", "),
            found_indexes.join("; "),
            wanted_key.join(", "),
            wanted_indexes.join("; ")
        ))
    }
}

/// Decides what to do with the data stack, or refuses with what to do.
pub fn data_stack_action(
    stack: &State,
    table: &TableState,
    table_name: &str,
    data_stack: &str,
) -> anyhow::Result<DataStackAction> {
    let stack_missing = matches!(
        stack,
        State::Missing | State::ReviewInProgress(_) | State::RollbackComplete(_)
    );
    match (stack_missing, table) {
        (false, _) => Ok(DataStackAction::Update),
        (true, TableState::Missing) => Ok(DataStackAction::Create),
        (true, TableState::Deleting) => Ok(DataStackAction::WaitThenCreate),
        (
            true,
            TableState::Present {
                layout_problem: None,
            },
        ) => Ok(DataStackAction::Import),
        (
            true,
            TableState::Present {
                layout_problem: Some(problem),
            },
        ) => anyhow::bail!(
            "DynamoDB table `{table_name}` exists without its stack `{data_stack}`, and {problem}: it is \
             not a table tracker made (or an older layout). Set `table.name` in the settings to \
             another name, or delete that table (`aws dynamodb delete-table --table-name \
             {table_name}`: its data is lost) and deploy again"
        ),
    }
}

/// What an `IMPORT` change set adopts: the table, by name.
pub fn resources_to_import(table: &str) -> Vec<ResourceToImport> {
    vec![
        ResourceToImport::builder()
            .resource_type("AWS::DynamoDB::Table")
            .logical_resource_id(ids::TABLE)
            .resource_identifier("TableName", table)
            .build(),
    ]
}

/// Waits until the table is gone (a `teardown --delete-data` just before).
pub async fn wait_gone(aws: &Aws, table: &str, poll: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    step(format!(
        "table `{table}` is being deleted (an earlier `teardown --delete-data`?): waiting until it is gone"
    ));
    loop {
        match state(aws, table).await? {
            TableState::Missing => return Ok(()),
            TableState::Deleting if started.elapsed() < MAX_DELETE_WAIT => {
                tokio::time::sleep(poll).await
            }
            TableState::Deleting => anyhow::bail!(
                "DynamoDB table `{table}` is still being deleted after {} minutes; run deploy again \
                 when `aws dynamodb describe-table --table-name {table}` says it does not exist",
                MAX_DELETE_WAIT.as_secs() / 60
            ),
            TableState::Present { .. } => anyhow::bail!(
                "DynamoDB table `{table}` was being deleted and exists again: someone else made it; \
                 set `table.name` to another name, or delete it, and deploy again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::KeySchemaElement;

    fn key(name: &str, kind: KeyType) -> KeySchemaElement {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    }

    fn description(indexes: &[(&str, &str)]) -> TableDescription {
        let mut table = TableDescription::builder()
            .key_schema(key(schema::PK, KeyType::Hash))
            .key_schema(key(schema::SK, KeyType::Range));
        for (index, partition) in indexes {
            table = table.global_secondary_indexes(
                aws_sdk_dynamodb::types::GlobalSecondaryIndexDescription::builder()
                    .index_name(*index)
                    .key_schema(key(partition, KeyType::Hash))
                    .key_schema(key(schema::TIME_SK, KeyType::Range))
                    .build(),
            );
        }
        table.build()
    }

    #[test]
    fn the_layout_is_compared_with_the_schema() {
        assert_eq!(layout_problem(&description(&schema::INDEXES)), None);
        let problem = layout_problem(&description(&schema::INDEXES[..1])).unwrap();
        assert!(problem.contains(schema::TIME_INDEX), "{problem}");
    }

    #[test]
    fn a_retained_table_is_imported_waited_for_or_refused() {
        let decide =
            |stack: State, table: TableState| data_stack_action(&stack, &table, "t", "s-data");
        let present = |problem: Option<&str>| TableState::Present {
            layout_problem: problem.map(str::to_owned),
        };
        assert_eq!(
            decide(State::Missing, TableState::Missing).unwrap(),
            DataStackAction::Create
        );
        assert_eq!(
            decide(State::Missing, present(None)).unwrap(),
            DataStackAction::Import
        );
        assert_eq!(
            decide(State::Missing, TableState::Deleting).unwrap(),
            DataStackAction::WaitThenCreate
        );
        let e = decide(State::Missing, present(Some("its key is [id HASH]")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("table.name")
                && e.contains("delete-table --table-name t")
                && e.contains("s-data"),
            "{e}"
        );
    }
}
