//! A store that writes nothing: `--dry-run` runs the whole pipeline into it
//! and reports what would have been written (as DynamoDB items).

use std::time::Instant;

use async_trait::async_trait;

use super::dynamodb::item::{batch_items, billed_write_units};
use super::{
    CatalogKind, EventPage, EventStore, ItemRange, PartitionQuery, StoreError, StoredItem,
    WriteBatch, WriteStats,
};
use crate::event::EventItem;

/// Counts writes (and what they would cost in DynamoDB) and keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct DryRunStore;

#[async_trait]
impl EventStore for DryRunStore {
    fn describe(&self) -> String {
        "dry run (nothing is written)".into()
    }

    async fn write(&self, batch: WriteBatch, _: Option<Instant>) -> Result<WriteStats, StoreError> {
        let (items, generations) = batch_items(&batch);
        let all = items.iter().chain(&generations);
        Ok(WriteStats {
            items: (items.len() + generations.len()) as u64,
            billed_write_units: all.map(billed_write_units).sum(),
            ..WriteStats::default()
        })
    }

    async fn get_event(&self, _: &str) -> Result<Option<EventItem>, StoreError> {
        Ok(None)
    }

    async fn catalog(
        &self,
        _: CatalogKind,
        _: Option<(&str, &str)>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    async fn query_partition(&self, _: &PartitionQuery) -> Result<EventPage, StoreError> {
        Ok(EventPage::default())
    }

    async fn read_items(&self, _: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
        Ok(Vec::new())
    }

    async fn get_items(&self, _: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError> {
        Ok(Vec::new())
    }

    async fn put_items(&self, _: &[StoredItem]) -> Result<WriteStats, StoreError> {
        Ok(WriteStats::default())
    }

    /// Nothing is stored, so everything would be new.
    async fn put_new_items(&self, items: &[StoredItem]) -> Result<Vec<bool>, StoreError> {
        Ok(vec![true; items.len()])
    }
}
