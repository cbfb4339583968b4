//! The DynamoDB implementation of the storage seam: one table, on-demand
//! billing, two global secondary indexes (by principal, by month×service).
//! Every read is a `GetItem` or a `Query`; nothing scans the table.

pub mod batch;
pub mod errors;
pub mod item;
pub mod schema;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, Select};

use super::{
    CatalogEntry, CatalogKind, EventPage, EventStore, IndexName, PartitionQuery, StoreError,
    WriteStats,
};
use crate::event::EventItem;

/// Events and catalog in one DynamoDB table.
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Read capacity consumed by this store's queries, in thousandths of a unit.
    read_milli_units: AtomicU64,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            read_milli_units: AtomicU64::new(0),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Read units consumed so far by reads through this store.
    pub fn read_units(&self) -> f64 {
        self.read_milli_units.load(Ordering::Relaxed) as f64 / 1000.0
    }

    fn count_reads(&self, capacity: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) {
        if let Some(units) = capacity.and_then(|c| c.capacity_units()) {
            self.read_milli_units
                .fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }

    fn error<E>(
        &self,
        operation: &'static str,
        error: aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StoreError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let store = self.describe();
        let message = errors::describe(&error);
        if errors::is_retryable(&error) {
            StoreError::Transient {
                operation,
                store,
                message,
            }
        } else if errors::is_missing_table(&error) {
            StoreError::Permanent {
                operation,
                store,
                message: format!(
                    "{message} — does the table exist in this region? Deploy first (`tracker deploy`) or fix the table name"
                ),
            }
        } else {
            StoreError::Permanent {
                operation,
                store,
                message,
            }
        }
    }

    fn decode(&self, item: &item::Item) -> Result<EventItem, StoreError> {
        item::item_to_event(item).map_err(|message| StoreError::Corrupt {
            store: self.describe(),
            key: item::key_of(item).0,
            message,
        })
    }

    fn partition_query(
        &self,
        query: &PartitionQuery,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let (index, partition_attr) = match query.index {
            IndexName::Principal => (schema::PRINCIPAL_INDEX, schema::PRINCIPAL_PK),
            IndexName::Time => (schema::TIME_INDEX, schema::TIME_PK),
        };
        // BETWEEN is inclusive at both ends. The upper bound `to` is a bare
        // time (27 chars) and every sort key is a time followed by `#id`, so no
        // sort key equals it: BETWEEN here is exactly `[lower, to)`.
        let lower = query.after.as_deref().unwrap_or(&query.from);
        self.client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#p = :p AND #s BETWEEN :lo AND :hi")
            .expression_attribute_names("#p", partition_attr)
            .expression_attribute_names("#s", schema::TIME_SK)
            .expression_attribute_values(":p", AttributeValue::S(query.partition.clone()))
            .expression_attribute_values(":lo", AttributeValue::S(lower.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(query.to.clone()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    fn describe(&self) -> String {
        format!("DynamoDB table `{}`", self.table)
    }

    async fn put_catalog(
        &self,
        entries: &[CatalogEntry],
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let items = entries.iter().map(item::catalog_to_item).collect();
        batch::put_all(&self.client, &self.table, items, deadline).await
    }

    async fn put_events(
        &self,
        events: &[EventItem],
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let items = events.iter().map(item::event_to_item).collect();
        batch::put_all(&self.client, &self.table, items, deadline).await
    }

    async fn get_event(&self, event_id: &str) -> Result<Option<EventItem>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(schema::PK, AttributeValue::S(item::event_pk(event_id)))
            .key(schema::SK, AttributeValue::S(schema::EVENT_SK.to_owned()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.error("GetItem", e))?;
        self.count_reads(output.consumed_capacity());
        output.item().map(|i| self.decode(i)).transpose()
    }

    async fn catalog(
        &self,
        kind: CatalogKind,
        range: Option<(&str, &str)>,
    ) -> Result<Vec<String>, StoreError> {
        let mut values = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#p", schema::PK)
                .expression_attribute_values(":p", AttributeValue::S(kind.partition().to_owned()))
                .projection_expression("#s")
                .expression_attribute_names("#s", schema::SK)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start);
            request = match range {
                Some((low, high)) => request
                    .key_condition_expression("#p = :p AND #s BETWEEN :lo AND :hi")
                    .expression_attribute_values(":lo", AttributeValue::S(low.to_owned()))
                    .expression_attribute_values(":hi", AttributeValue::S(high.to_owned())),
                None => request.key_condition_expression("#p = :p"),
            };
            let output = request.send().await.map_err(|e| self.error("Query", e))?;
            self.count_reads(output.consumed_capacity());
            values.extend(
                output
                    .items()
                    .iter()
                    .filter_map(|i| i.get(schema::SK).and_then(|v| v.as_s().ok()).cloned()),
            );
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(values),
            }
        }
    }

    async fn query_partition(&self, query: &PartitionQuery) -> Result<EventPage, StoreError> {
        // Ask for one more than needed when resuming: the first item may be
        // `after` itself (BETWEEN includes its lower bound).
        let extra = usize::from(query.after.is_some());
        let limit = i32::try_from(query.limit + extra)
            .unwrap_or(i32::MAX)
            .max(1);
        let output = self
            .partition_query(query)
            .limit(limit)
            .send()
            .await
            .map_err(|e| self.error("Query", e))?;
        self.count_reads(output.consumed_capacity());
        let mut events = Vec::with_capacity(output.items().len());
        for raw in output.items() {
            let event = self.decode(raw)?;
            if query.after.is_some() && event.sort_key == query.after {
                continue;
            }
            events.push(event);
        }
        events.truncate(query.limit);
        let more = output.last_evaluated_key().is_some_and(|k| !k.is_empty());
        Ok(EventPage { events, more })
    }

    async fn count_partition(&self, query: &PartitionQuery) -> Result<u64, StoreError> {
        let query = PartitionQuery {
            after: None,
            ..query.clone()
        };
        let mut total = 0u64;
        let mut start = None;
        loop {
            let output = self
                .partition_query(&query)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("Query", e))?;
            self.count_reads(output.consumed_capacity());
            total += u64::try_from(output.count()).unwrap_or(0);
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(total)
    }
}
