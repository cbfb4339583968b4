//! A store that writes nothing: `--dry-run` runs the whole pipeline into it
//! and reports what would have been written.

use std::time::Instant;

use async_trait::async_trait;

use super::dynamodb::item::{billed_write_units, catalog_to_item, event_to_item};
use super::{
    CatalogEntry, CatalogKind, EventPage, EventStore, PartitionQuery, StoreError, WriteStats,
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

    async fn put_catalog(
        &self,
        entries: &[CatalogEntry],
        _: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let billed = entries
            .iter()
            .map(|e| billed_write_units(&catalog_to_item(e)))
            .sum();
        Ok(WriteStats {
            items: entries.len() as u64,
            billed_write_units: billed,
            ..WriteStats::default()
        })
    }

    async fn put_events(
        &self,
        events: &[EventItem],
        _: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let billed = events
            .iter()
            .map(|e| billed_write_units(&event_to_item(e)))
            .sum();
        Ok(WriteStats {
            items: events.len() as u64,
            billed_write_units: billed,
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
}
