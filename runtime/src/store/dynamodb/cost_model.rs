//! What a store's reads would cost on DynamoDB: any store (the embedded
//! one, in the benchmarks) wrapped so that each request it answers is
//! billed as the DynamoDB store's same request would be, item by item on
//! the shared key layout (the same item codec sizes them). This is how a
//! benchmark measures read units at a million events, which no emulator here
//! holds; `tests/read_units.rs` checks it against the DynamoDB store on moto.

use std::time::Instant;

use async_trait::async_trait;

use super::item::{self, billed_size, catalog_to_item, event_to_item, stored_to_item};
use super::metering::{Meter, ReadStats};
use crate::event::EventItem;
use crate::store::{
    CatalogEntry, CatalogKind, EventPage, EventStore, ItemRange, PartitionQuery, StoreError,
    StoredItem, WriteBatch, WriteStats,
};

/// DynamoDB stops a `Query` page at 1 MB.
const PAGE_BYTES: u64 = 1024 * 1024;

/// A store whose reads are metered by DynamoDB's billing rules.
pub struct DynamoCostModel<S> {
    inner: S,
    meter: Meter,
}

impl<S: EventStore> DynamoCostModel<S> {
    pub fn new(inner: S) -> DynamoCostModel<S> {
        DynamoCostModel {
            inner,
            meter: Meter::default(),
        }
    }

    /// What the reads so far would have cost.
    pub fn read_stats(&self) -> ReadStats {
        self.meter.stats()
    }

    /// One `Query` that read items of these sizes, in 1 MB pages.
    fn query(&self, sizes: impl IntoIterator<Item = u64>, consistent: bool) {
        let mut page = (0u64, 0u64);
        let mut pages = Vec::new();
        for size in sizes {
            if page.1 > 0 && page.1 + size > PAGE_BYTES {
                pages.push(page);
                page = (0, 0);
            }
            page = (page.0 + 1, page.1 + size);
        }
        pages.push(page);
        for (items, bytes) in pages {
            self.meter.read(items, bytes, consistent, None);
        }
    }

    /// `BatchGetItem` requests of 100 keys for `asked` keys (deduplicated)
    /// that found items of these sizes.
    fn batch_get(&self, asked: usize, sizes: Vec<u64>) {
        let requests = asked.div_ceil(100).max(1);
        let misses = asked.saturating_sub(sizes.len());
        for (i, chunk) in sizes
            .chunks(sizes.len().div_ceil(requests).max(1))
            .enumerate()
        {
            let missed = if i == 0 { misses } else { 0 };
            self.meter.batch_get(chunk, missed, &[]);
        }
        if sizes.is_empty() && asked > 0 {
            self.meter.batch_get(&[], misses, &[]);
        }
    }
}

fn distinct<T: Ord>(values: impl Iterator<Item = T>) -> usize {
    values.collect::<std::collections::BTreeSet<T>>().len()
}

fn event_size(event: &EventItem) -> u64 {
    billed_size(&event_to_item(event)) as u64
}

/// An item's size as DynamoDB keeps it: blocks compressed (a store may hand
/// them out uncompressed, as the embedded one does).
fn stored_size(stored: &StoredItem) -> u64 {
    let compressed;
    let item = if stored.partition.starts_with("B#") && !stored.value.is_empty() {
        compressed = StoredItem {
            value: crate::store::block::Block::decode(&stored.value)
                .map(|b| b.encode())
                .unwrap_or_else(|_| stored.value.clone()),
            ..stored.clone()
        };
        &compressed
    } else {
        stored
    };
    billed_size(&stored_to_item(item)) as u64
}

#[async_trait]
impl<S: EventStore> EventStore for DynamoCostModel<S> {
    fn describe(&self) -> String {
        format!("{} (billed as DynamoDB)", self.inner.describe())
    }

    fn has_partitions(&self) -> bool {
        self.inner.has_partitions()
    }

    async fn write(
        &self,
        batch: WriteBatch,
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        self.inner.write(batch, deadline).await
    }

    async fn get_event(&self, event_id: &str) -> Result<Option<EventItem>, StoreError> {
        let found = self.inner.get_event(event_id).await?;
        self.meter.read(
            u64::from(found.is_some()),
            found.as_ref().map_or(0, event_size),
            false,
            None,
        );
        Ok(found)
    }

    async fn get_events(&self, event_ids: &[String]) -> Result<Vec<EventItem>, StoreError> {
        let found = self.inner.get_events(event_ids).await?;
        self.batch_get(
            distinct(event_ids.iter()),
            found.iter().map(event_size).collect(),
        );
        Ok(found)
    }

    async fn catalog(
        &self,
        kind: CatalogKind,
        range: Option<(&str, &str)>,
    ) -> Result<Vec<String>, StoreError> {
        let values = self.inner.catalog(kind, range).await?;
        self.query(
            values.iter().map(|value| {
                billed_size(&catalog_to_item(&CatalogEntry {
                    kind,
                    value: value.clone(),
                })) as u64
            }),
            false,
        );
        Ok(values)
    }

    async fn query_partition(&self, query: &PartitionQuery) -> Result<EventPage, StoreError> {
        let page = self.inner.query_partition(query).await?;
        self.query(page.events.iter().map(event_size), false);
        Ok(page)
    }

    async fn read_items(&self, range: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
        let items = self.inner.read_items(range).await?;
        self.query(items.iter().map(stored_size), range.consistent);
        Ok(items)
    }

    async fn get_items(&self, keys: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError> {
        let items = self.inner.get_items(keys).await?;
        self.batch_get(
            distinct(keys.iter()),
            items.iter().map(stored_size).collect(),
        );
        Ok(items)
    }

    async fn put_items(&self, items: &[StoredItem]) -> Result<WriteStats, StoreError> {
        let written: Vec<item::Item> = items.iter().map(stored_to_item).collect();
        self.meter.wrote(&written);
        self.inner.put_items(items).await
    }

    async fn put_new_items(&self, items: &[StoredItem]) -> Result<Vec<bool>, StoreError> {
        let written: Vec<item::Item> = items.iter().map(stored_to_item).collect();
        self.meter.wrote(&written);
        self.inner.put_new_items(items).await
    }

    async fn read_items_page(
        &self,
        range: &ItemRange,
        limit: usize,
    ) -> Result<(Vec<StoredItem>, bool), StoreError> {
        let (items, more) = self.inner.read_items_page(range, limit).await?;
        self.query(items.iter().map(stored_size), range.consistent);
        Ok((items, more))
    }
}
