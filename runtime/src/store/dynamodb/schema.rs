//! The DynamoDB table layout, in one place: attribute and index names used by
//! the item codec, the queries, the table created in tests and local tools,
//! and the CloudFormation template the deployer renders.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

/// Table partition key: `E#<eventID>` for events, `C#<list>` for catalog entries.
pub const PK: &str = "pk";
/// Table sort key: `E` for events, the value for catalog entries.
pub const SK: &str = "sk";
/// Partition key of the by-principal index: `U#<principal>`.
pub const PRINCIPAL_PK: &str = "upk";
/// Partition key of the by-time index: `T#<YYYY-MM>#<service>`.
pub const TIME_PK: &str = "tpk";
/// Sort key of both indexes: `<UTC time, fixed width>#<eventID>`.
pub const TIME_SK: &str = "tsk";
/// TTL attribute (epoch seconds), set when retention is configured.
pub const TTL: &str = "ttl";

pub const PRINCIPAL_INDEX: &str = "by_principal";
pub const TIME_INDEX: &str = "by_time";

/// Sort key value of event items.
pub const EVENT_SK: &str = "E";

/// `(name, partition key)` of each global secondary index; both sort on [`TIME_SK`]
/// and project all attributes (so a query needs no second read).
pub const INDEXES: [(&str, &str); 2] = [(PRINCIPAL_INDEX, PRINCIPAL_PK), (TIME_INDEX, TIME_PK)];

/// Creates the table as the deployer would (on-demand billing, both indexes).
/// Meant for tests and emulators; in AWS the CloudFormation stack owns the table.
pub async fn create_table(client: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?);
    for name in [PK, SK, PRINCIPAL_PK, TIME_PK, TIME_SK] {
        request = request.attribute_definitions(string_attr(name)?);
    }
    for (index, partition) in INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(TIME_SK, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?,
        );
    }
    request.send().await?;
    Ok(())
}
