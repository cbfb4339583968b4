//! The DynamoDB implementation of the storage seam: one table, on-demand
//! billing, two global secondary indexes (by principal, by month×service).
//! Every read is a `GetItem` or a `Query`; nothing scans the table.

pub mod batch;
pub mod errors;
pub mod item;
pub mod schema;

use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity, Select};

use super::{
    CatalogEntry, CatalogKind, EventPage, EventStore, IndexName, PartitionQuery, StoreError,
    WriteStats,
};
use crate::event::EventItem;

/// Bytes per read unit step: reads are billed per started 4 KB.
pub const READ_UNIT_BYTES: u64 = 4096;

/// Read units DynamoDB bills for one eventually consistent `GetItem` or one
/// `Query` page (every read here is eventually consistent; index reads can
/// only be): the sizes of all items read — returned or only counted, index
/// entries for an index — summed, rounded up to the next 4 KB, half a unit
/// per 4 KB; at least half a unit, even when nothing is found.
pub fn eventually_consistent_read_units(bytes_read: u64) -> f64 {
    bytes_read.div_ceil(READ_UNIT_BYTES).max(1) as f64 * 0.5
}

/// What reading cost, summed over the requests of one store.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadStats {
    /// `GetItem` and `Query` requests sent (one per page).
    pub requests: u64,
    /// Items read: returned, or counted by a `Select=COUNT` page.
    pub items: u64,
    /// The size of the items read by DynamoDB's rule ([`item::billed_size`]),
    /// for those the store saw (not the items of `Select=COUNT` pages).
    pub bytes: u64,
    /// Read units by DynamoDB's billing rule ([`eventually_consistent_read_units`]
    /// per request) computed from the items read; for a `Select=COUNT` page,
    /// whose items the store does not see, the units the service reported
    /// (exact on AWS; see [`DynamoStore::metering_counts`] for emulators).
    pub read_units: f64,
    /// Read units as the service reported them (`ConsumedCapacity`). On AWS
    /// they equal `read_units`; moto reports constants (1 per `Query`, 0.5
    /// per `GetItem`), which is why they are not what `read_units` counts.
    pub reported_units: f64,
    /// Items counted by `Select=COUNT` pages, whose sizes are not in `bytes`.
    pub unsized_items: u64,
}

/// Events and catalog in one DynamoDB table.
pub struct DynamoStore {
    client: Client,
    table: String,
    /// What this store's reads cost so far.
    reads: Mutex<ReadStats>,
    /// Count by reading the items instead of `Select=COUNT` (see [`DynamoStore::metering_counts`]).
    count_by_reading: bool,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            reads: Mutex::new(ReadStats::default()),
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
        *self
            .reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records one request that read `items` items of `bytes` bytes in all.
    fn count_read(&self, items: u64, bytes: u64, reported: Option<&ConsumedCapacity>) {
        self.add_read(ReadStats {
            requests: 1,
            items,
            bytes,
            read_units: eventually_consistent_read_units(bytes),
            reported_units: reported_units(reported),
            unsized_items: 0,
        });
    }

    /// Records one `Select=COUNT` page: its items' sizes are unknown here, so
    /// its units are what the service reported (at least half a unit).
    fn count_unsized_read(&self, items: u64, reported: Option<&ConsumedCapacity>) {
        let reported = reported_units(reported);
        self.add_read(ReadStats {
            requests: 1,
            items,
            bytes: 0,
            read_units: ((reported * 2.0).ceil() / 2.0).max(0.5),
            reported_units: reported,
            unsized_items: items,
        });
    }

    fn add_read(&self, read: ReadStats) {
        let mut total = self
            .reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        total.requests += read.requests;
        total.items += read.items;
        total.bytes += read.bytes;
        total.read_units += read.read_units;
        total.reported_units += read.reported_units;
        total.unsized_items += read.unsized_items;
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

    async fn put_catalog_and_events(
        &self,
        entries: &[CatalogEntry],
        events: &[EventItem],
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        // The entries first, with the first events filling their last request;
        // the rest of the events once those are in.
        let mut first: Vec<item::Item> = entries.iter().map(item::catalog_to_item).collect();
        let fill = (batch::MAX_BATCH - first.len() % batch::MAX_BATCH) % batch::MAX_BATCH;
        let (with_entries, rest) = events.split_at(fill.min(events.len()));
        first.extend(with_entries.iter().map(item::event_to_item));
        let mut stats = batch::put_all(&self.client, &self.table, first, deadline).await?;
        if !rest.is_empty() {
            let rest = rest.iter().map(item::event_to_item).collect();
            stats += batch::put_all(&self.client, &self.table, rest, deadline).await?;
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
        self.count_read(
            u64::from(found.is_some()),
            found.map_or(0, |i| item::billed_size(i) as u64),
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
            // Only the sort key is projected, but DynamoDB bills the whole
            // item read: the catalog item is its key, rebuilt here.
            let bytes = page
                .iter()
                .map(|value| {
                    item::billed_size(&item::catalog_to_item(&CatalogEntry {
                        kind,
                        value: value.clone(),
                    })) as u64
                })
                .sum();
            self.count_read(
                output.items().len() as u64,
                bytes,
                output.consumed_capacity(),
            );
            values.extend(page);
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
        // The indexes project every attribute: an index entry is the item.
        self.count_read(
            output.items().len() as u64,
            items_size(output.items()),
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
                self.count_read(
                    counted,
                    items_size(output.items()),
                    output.consumed_capacity(),
                );
            } else {
                self.count_unsized_read(counted, output.consumed_capacity());
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

/// The summed size of items read, by DynamoDB's rule.
fn items_size(items: &[item::Item]) -> u64 {
    items.iter().map(|i| item::billed_size(i) as u64).sum()
}

fn reported_units(capacity: Option<&ConsumedCapacity>) -> f64 {
    capacity.and_then(|c| c.capacity_units()).unwrap_or(0.0)
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

    #[test]
    fn the_rule() {
        assert_eq!(
            eventually_consistent_read_units(0),
            0.5,
            "a miss costs half a unit"
        );
        assert_eq!(eventually_consistent_read_units(1), 0.5);
        assert_eq!(eventually_consistent_read_units(4096), 0.5);
        assert_eq!(eventually_consistent_read_units(4097), 1.0);
        assert_eq!(
            eventually_consistent_read_units(1024 * 1024),
            128.0,
            "a full 1 MB page"
        );
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
    async fn entries_then_events_fill_requests_and_entries_go_first() {
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
        let stats = store
            .put_catalog_and_events(&entries, &events, None)
            .await
            .expect("written");
        assert_eq!(
            (stats.requests, stats.items),
            (2, 33),
            "25 + 8, not 3 + 25 + 5"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].len(), 25);
        assert_eq!(
            seen[0].iter().filter(|k| k.starts_with("C#")).count(),
            3,
            "the entries are in the first request"
        );
        assert!(seen[1].iter().all(|k| k.starts_with("E#")));
    }
}
