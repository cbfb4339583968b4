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

/// What writing `values` would cost, as DynamoDB items.
fn would_write<T>(values: &[T], to_item: impl Fn(&T) -> super::dynamodb::item::Item) -> WriteStats {
    WriteStats {
        items: values.len() as u64,
        billed_write_units: values.iter().map(|v| billed_write_units(&to_item(v))).sum(),
        ..WriteStats::default()
    }
}

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
        Ok(would_write(entries, catalog_to_item))
    }

    async fn put_events(
        &self,
        events: &[EventItem],
        _: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        Ok(would_write(events, event_to_item))
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
