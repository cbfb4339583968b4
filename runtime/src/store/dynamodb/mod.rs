//! The DynamoDB implementation of the storage seam: one table, on-demand
//! billing, two global secondary indexes (by principal, by month×service).
//! Every read is a `GetItem`, a `BatchGetItem` or a `Query`; nothing scans
//! the table. Events, catalog entries, blocks, generations and rollups are
//! items of the same table (the layout is `store::keys`).

pub mod batch;
pub mod conditional;
pub mod cost_model;
pub mod errors;
pub mod item;
pub mod layer;
pub mod metering;
pub mod schema;

use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, Select};

pub use metering::{READ_UNIT_BYTES, ReadStats, eventually_consistent_read_units};

use super::{
    CatalogEntry, CatalogKind, EventPage, EventStore, IndexName, ItemRange, PartitionQuery,
    StoreError, StoredItem, WriteBatch, WriteStats, keys,
};
use crate::event::EventItem;
use metering::{Meter, items_size};

/// Events and catalog in one DynamoDB table.
pub struct DynamoStore {
    client: Client,
    table: String,
    /// What this store's reads (and query-side writes) cost so far.
    meter: Meter,
    /// Count by reading the items instead of `Select=COUNT` (see [`DynamoStore::metering_counts`]).
    count_by_reading: bool,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            meter: Meter::default(),
            count_by_reading: false,
        }
    }

    /// Counts by reading the items rather than with `Select=COUNT`, so that
    /// the store sees their sizes and [`DynamoStore::read_units`] is computed
    /// by DynamoDB's rule for counts too, on an emulator whose reported
    /// capacity is wrong. DynamoDB bills and pages both ways the same (every
    /// item the count reads, by size, in pages of 1 MB); only the response is
    /// larger. For measurements, not for serving.
    pub fn metering_counts(mut self) -> DynamoStore {
        self.count_by_reading = true;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Read units consumed so far by reads through this store, by DynamoDB's
    /// billing rule (see [`ReadStats::read_units`]).
    pub fn read_units(&self) -> f64 {
        self.read_stats().read_units
    }

    /// What reads through this store cost so far.
    pub fn read_stats(&self) -> ReadStats {
        self.meter.stats()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn meter(&self) -> &Meter {
        &self.meter
    }

    pub(crate) fn error<E>(
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

    async fn write(
        &self,
        batch: WriteBatch,
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        // The entries first (their last request filled with the first
        // events), then the other events and the blocks in full requests;
        // then, once all of them are in, the generations of the hours the
        // blocks belong to.
        let (mut items, generations) = item::batch_items(&batch);
        let entries = batch.entries.len();
        let fill = (batch::MAX_BATCH - entries % batch::MAX_BATCH) % batch::MAX_BATCH;
        let rest = items.split_off((entries + fill).min(items.len()));
        let mut stats = batch::put_all(&self.client, &self.table, items, deadline).await?;
        for items in [rest, generations] {
            if !items.is_empty() {
                stats += batch::put_all(&self.client, &self.table, items, deadline).await?;
            }
        }
        Ok(stats)
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
        let found = output.item();
        self.meter.read(
            u64::from(found.is_some()),
            found.map_or(0, |i| item::billed_size(i) as u64),
            false,
            output.consumed_capacity(),
        );
        found.map(|i| self.decode(i)).transpose()
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
            let page: Vec<String> = output
                .items()
                .iter()
                .filter_map(|i| i.get(schema::SK).and_then(|v| v.as_s().ok()).cloned())
                .collect();
            let bytes = catalog_bytes(kind, &page);
            self.meter.read(
                output.items().len() as u64,
                bytes,
                false,
                output.consumed_capacity(),
            );
            values.extend(page);
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(values),
            }
        }
    }

    async fn get_events(&self, event_ids: &[String]) -> Result<Vec<EventItem>, StoreError> {
        let keys: Vec<(String, String)> = event_ids
            .iter()
            .map(|id| (keys::event_pk(id), schema::EVENT_SK.to_owned()))
            .collect();
        let items = layer::batch_get(self, &keys).await?;
        items.iter().map(|i| self.decode(i)).collect()
    }

    async fn read_items(&self, range: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
        layer::read_range(self, range).await
    }

    async fn get_items(&self, keys: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError> {
        let items = layer::batch_get(self, keys).await?;
        items
            .iter()
            .map(|i| layer::decode_stored(self, i))
            .collect()
    }

    async fn put_items(&self, items: &[StoredItem]) -> Result<WriteStats, StoreError> {
        let items: Vec<item::Item> = items.iter().map(item::stored_to_item).collect();
        self.meter.wrote(&items);
        batch::put_all(&self.client, &self.table, items, None).await
    }

    async fn put_new_items(&self, items: &[StoredItem]) -> Result<Vec<bool>, StoreError> {
        conditional::put_new_items(self, items).await
    }

    async fn delete_items(&self, keys: &[(String, String)]) -> Result<(), StoreError> {
        conditional::delete_items(self, keys).await
    }

    async fn read_items_page(
        &self,
        range: &ItemRange,
        limit: usize,
    ) -> Result<(Vec<StoredItem>, bool), StoreError> {
        layer::read_range_page(self, range, limit).await
    }

    async fn catalog_page(
        &self,
        kind: CatalogKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StoreError> {
        let mut values = Vec::new();
        let mut start = after.map(|after| {
            item::Item::from([
                (
                    schema::PK.to_owned(),
                    AttributeValue::S(kind.partition().to_owned()),
                ),
                (schema::SK.to_owned(), AttributeValue::S(after.to_owned())),
            ])
        });
        // One more than the page, which says whether more follow; DynamoDB
        // may stop sooner (1 MB) and say where to go on.
        while values.len() <= limit {
            let want = i32::try_from(limit + 1 - values.len()).unwrap_or(i32::MAX);
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", schema::PK)
                .expression_attribute_values(":p", AttributeValue::S(kind.partition().to_owned()))
                .projection_expression("#s")
                .expression_attribute_names("#s", schema::SK)
                .limit(want)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("Query", e))?;
            let page: Vec<String> = output
                .items()
                .iter()
                .filter_map(|i| i.get(schema::SK).and_then(|v| v.as_s().ok()).cloned())
                .collect();
            self.meter.read(
                page.len() as u64,
                catalog_bytes(kind, &page),
                false,
                output.consumed_capacity(),
            );
            values.extend(page);
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        let more = values.len() > limit;
        values.truncate(limit);
        Ok((values, more))
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
        // The indexes project every attribute: an index entry is the item.
        self.meter.read(
            output.items().len() as u64,
            items_size(output.items()),
            false,
            output.consumed_capacity(),
        );
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
            let request = self.partition_query(&query).set_exclusive_start_key(start);
            let output = if self.count_by_reading {
                request.send().await
            } else {
                request.select(Select::Count).send().await
            }
            .map_err(|e| self.error("Query", e))?;
            let counted = u64::try_from(output.count()).unwrap_or(0);
            if self.count_by_reading {
                self.meter.read(
                    counted,
                    items_size(output.items()),
                    false,
                    output.consumed_capacity(),
                );
            } else {
                self.meter
                    .unsized_count(counted, output.consumed_capacity());
            }
            total += counted;
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(total)
    }
}

/// What reading these catalog values costs: only the sort key is projected,
/// but DynamoDB bills the whole item read (the catalog item is its key).
fn catalog_bytes(kind: CatalogKind, values: &[String]) -> u64 {
    values
        .iter()
        .map(|value| {
            item::billed_size(&item::catalog_to_item(&CatalogEntry {
                kind,
                value: value.clone(),
            })) as u64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    //! Read units by DynamoDB's rule, whatever the service reports: item
    //! sizes of a page summed then rounded up to 4 KB, half a unit per 4 KB,
    //! half a unit at least. The responses are injected with aws-smithy-mocks
    //! (and report a wrong capacity on purpose, as moto does).
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::ConsumedCapacity;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    /// An event item of exactly `size` bytes by DynamoDB's rule.
    fn sized_event(id: &str, size: usize) -> item::Item {
        let mut item = item::Item::from([
            (schema::PK.to_owned(), AttributeValue::S(item::event_pk(id))),
            (
                schema::SK.to_owned(),
                AttributeValue::S(schema::EVENT_SK.into()),
            ),
            ("id".to_owned(), AttributeValue::S(id.into())),
            ("svc".to_owned(), AttributeValue::S("ec2".into())),
            ("u".to_owned(), AttributeValue::S("alice".into())),
            (
                schema::TIME_SK.to_owned(),
                AttributeValue::S(format!("2024-05-01T10:00:00.000000Z#{id}")),
            ),
            (
                schema::PRINCIPAL_PK.to_owned(),
                AttributeValue::S("U#alice".into()),
            ),
            ("rec".to_owned(), AttributeValue::B(Blob::new(Vec::new()))),
        ]);
        let padding = size - item::billed_size(&item);
        item.insert("rec".into(), AttributeValue::B(Blob::new(vec![0; padding])));
        assert_eq!(item::billed_size(&item), size);
        item
    }

    /// What moto says every read costs, whatever it read.
    fn moto_capacity() -> ConsumedCapacity {
        ConsumedCapacity::builder()
            .table_name("t")
            .capacity_units(1.0)
            .build()
    }

    fn user_query(limit: usize) -> PartitionQuery {
        PartitionQuery {
            index: IndexName::Principal,
            partition: "U#alice".into(),
            from: "2024".into(),
            to: "2025".into(),
            after: None,
            limit,
        }
    }

    #[tokio::test]
    async fn a_query_page_is_billed_on_its_summed_item_sizes() {
        let rule = mock!(aws_sdk_dynamodb::Client::query)
            .sequence()
            .output(|| {
                QueryOutput::builder()
                    .set_items(Some(
                        (0..5)
                            .map(|i| sized_event(&format!("e{i}"), 2000))
                            .collect(),
                    ))
                    .count(5)
                    .consumed_capacity(moto_capacity())
                    .build()
            })
            .output(|| {
                QueryOutput::builder()
                    .set_items(Some(Vec::new()))
                    .consumed_capacity(moto_capacity())
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let store = DynamoStore::new(client, "t");
        let page = store.query_partition(&user_query(5)).await.expect("page");
        assert_eq!(page.events.len(), 5);
        let stats = store.read_stats();
        // 5 × 2,000 = 10,000 bytes → 3 blocks of 4 KB → 1.5 units (not 5 × 0.5
        // rounded per item, nor moto's 1.0).
        assert_eq!(
            (stats.requests, stats.items, stats.bytes, stats.read_units),
            (1, 5, 10_000, 1.5)
        );
        assert_eq!(stats.reported_units, 1.0);
        let empty = store.query_partition(&user_query(5)).await.expect("page");
        assert!(empty.events.is_empty());
        assert_eq!(
            store.read_units(),
            2.0,
            "an empty page still costs half a unit, and pages are rounded one by one"
        );
        assert_eq!(store.read_stats().unsized_items, 0);
    }

    #[tokio::test]
    async fn get_item_is_billed_on_the_item_size_and_a_miss_on_half_a_unit() {
        let rule = mock!(aws_sdk_dynamodb::Client::get_item)
            .sequence()
            .output(|| {
                GetItemOutput::builder()
                    .set_item(Some(sized_event("a", 4096)))
                    .build()
            })
            .output(|| {
                GetItemOutput::builder()
                    .set_item(Some(sized_event("b", 4097)))
                    .build()
            })
            .output(|| GetItemOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let store = DynamoStore::new(client, "t");
        let mut units = Vec::new();
        for id in ["a", "b", "missing"] {
            let before = store.read_units();
            let found = store.get_event(id).await.expect("get");
            assert_eq!(found.is_some(), id != "missing");
            units.push(store.read_units() - before);
        }
        assert_eq!(units, [0.5, 1.0, 0.5]);
        let stats = store.read_stats();
        assert_eq!(
            (stats.requests, stats.items, stats.bytes),
            (3, 2, 4096 + 4097)
        );
    }

    #[tokio::test]
    async fn catalog_reads_are_billed_on_the_whole_item_not_the_projection() {
        let rule = mock!(aws_sdk_dynamodb::Client::query).then_output(|| {
            QueryOutput::builder()
                .set_items(Some(
                    ["alice", "bob"]
                        .iter()
                        .map(|v| {
                            item::Item::from([(
                                schema::SK.to_owned(),
                                AttributeValue::S((*v).into()),
                            )])
                        })
                        .collect(),
                ))
                .consumed_capacity(moto_capacity())
                .build()
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let store = DynamoStore::new(client, "t");
        let users = store.catalog(CatalogKind::User, None).await.expect("list");
        assert_eq!(users, ["alice", "bob"]);
        let stats = store.read_stats();
        // Each item is pk = "C#user" and sk = the value: (2 + 6) + (2 + len).
        assert_eq!(stats.bytes, (8 + 2 + 5) + (8 + 2 + 3));
        assert_eq!((stats.requests, stats.items, stats.read_units), (1, 2, 0.5));
    }

    #[tokio::test]
    async fn counts_are_billed_on_what_they_read() {
        // Serving: `Select=COUNT`, whose items the store never sees; it takes
        // the service's word (exact on AWS).
        let count_rule = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|input: &QueryInput| input.select() == Some(&Select::Count))
            .then_output(|| {
                QueryOutput::builder()
                    .count(300)
                    .scanned_count(300)
                    .consumed_capacity(
                        ConsumedCapacity::builder()
                            .table_name("t")
                            .capacity_units(27.5)
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&count_rule]);
        let store = DynamoStore::new(client, "t");
        assert_eq!(store.count_partition(&user_query(1000)).await.unwrap(), 300);
        let stats = store.read_stats();
        assert_eq!(
            (
                stats.requests,
                stats.items,
                stats.unsized_items,
                stats.read_units
            ),
            (1, 300, 300, 27.5)
        );

        // Metering: the same pages read with their items, billed by the rule.
        let read_rule = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|input: &QueryInput| input.select().is_none())
            .sequence()
            .output(|| {
                QueryOutput::builder()
                    .set_items(Some(
                        (0..300)
                            .map(|i| sized_event(&format!("e{i}"), 750))
                            .collect(),
                    ))
                    .count(300)
                    .last_evaluated_key("pk", AttributeValue::S("E#e299".into()))
                    .consumed_capacity(moto_capacity())
                    .build()
            })
            .output(|| {
                QueryOutput::builder()
                    .set_items(Some(vec![sized_event("last", 750)]))
                    .count(1)
                    .consumed_capacity(moto_capacity())
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&read_rule]);
        let store = DynamoStore::new(client, "t").metering_counts();
        assert_eq!(store.count_partition(&user_query(1000)).await.unwrap(), 301);
        let stats = store.read_stats();
        // 300 × 750 = 225,000 bytes → 55 blocks → 27.5; then 750 bytes → 0.5.
        assert_eq!(
            (
                stats.requests,
                stats.items,
                stats.bytes,
                stats.unsized_items
            ),
            (2, 301, 301 * 750, 0)
        );
        assert_eq!(stats.read_units, 28.0);
        assert_eq!(stats.reported_units, 2.0, "what moto would have said");
    }

    #[tokio::test]
    async fn entries_then_events_then_blocks_then_generations() {
        use aws_sdk_dynamodb::operation::batch_write_item::{
            BatchWriteItemInput, BatchWriteItemOutput,
        };
        use std::sync::{Arc, Mutex};
        let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let record = Arc::clone(&seen);
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .match_requests(move |input: &BatchWriteItemInput| {
                let keys = input
                    .request_items()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .flatten()
                    .filter_map(|w| w.put_request())
                    .filter_map(|p| p.item().get(schema::PK))
                    .filter_map(|v| v.as_s().ok().cloned())
                    .collect();
                record.lock().unwrap().push(keys);
                true
            })
            .then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let store = DynamoStore::new(client, "t");
        let entries: Vec<CatalogEntry> = (0..3)
            .map(|i| CatalogEntry {
                kind: CatalogKind::User,
                value: format!("u{i}"),
            })
            .collect();
        let events: Vec<EventItem> = (0..30)
            .map(|i| {
                let text = format!(r#"{{"eventID":"e{i}","eventTime":"2024-01-01T00:00:00Z"}}"#);
                crate::event::event_from_json(text)
            })
            .collect();
        let batch = crate::store::WriteBatch {
            entries,
            blocks: vec![crate::store::BlockWrite {
                key: keys::BlockKey {
                    hour: events[0].sort_key.as_deref().and_then(|k| {
                        crate::time::parse_event_time(&k[..27]).map(|t| keys::Hour::of(&t))
                    }),
                    source: "s".into(),
                    part: 0,
                },
                events,
            }],
        };
        let stats = store.write(batch, None).await.expect("written");
        assert_eq!(
            (stats.requests, stats.items),
            (3, 35),
            "25 + (8 events + 1 block), then the hour's generation; not 3 + 25 + 6"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].len(), 25);
        assert_eq!(
            seen[0].iter().filter(|k| k.starts_with("C#")).count(),
            3,
            "the entries are in the first request"
        );
        assert_eq!(seen[1].iter().filter(|k| k.starts_with("E#")).count(), 8);
        assert_eq!(seen[1].iter().filter(|k| k.starts_with("B#")).count(), 1);
        assert_eq!(seen[2], ["G#2024"], "the generation after the block");
    }
}
