//! The storage seam: a small trait that both the DynamoDB table (in AWS,
//! [`dynamodb`]) and the embedded database (local mode, [`embedded`]) implement. Stores only keep and range-read
//! time-ordered partitions; what a route means is decided once, above them,
//! in [`crate::query`], so both stores answer every route the same way.
//!
//! Layout (the same keys in both stores):
//! - each event once by `eventID` (point lookups, idempotent overwrites);
//! - index *by principal*: partition `U#<principal>`, sort key `<time>#<eventID>`;
//! - index *by time*: partition `T#<YYYY-MM>#<service>`, same sort key;
//! - catalog entries (users, services, parameter names, month×service
//!   buckets), each its own item written with an idempotent put — never a
//!   read-modify-write row.

pub mod alerts;
pub mod block;
pub mod dry_run;
pub mod dynamodb;
pub mod embedded;
pub mod keys;

use std::time::Instant;

use async_trait::async_trait;

use crate::event::EventItem;
use keys::BlockKey;

pub use dry_run::DryRunStore;
pub use dynamodb::DynamoStore;
pub use embedded::EmbeddedStore;

/// A new generation for an hour whose blocks changed: any value but the
/// last one will do, so a random one (never 0, which means "no blocks").
pub fn new_generation() -> u64 {
    fastrand::u64(1..)
}

/// Which time-ordered index a partition belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexName {
    /// Partitions `U#<principal>`.
    Principal,
    /// Partitions `T#<YYYY-MM>#<service>`.
    Time,
}

/// The lists the catalog keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CatalogKind {
    /// Principals (`/users`).
    User,
    /// Short service names (`/services`).
    Service,
    /// Names usable in `param` (`/parameters`).
    Param,
    /// `YYYY-MM#service` pairs that hold events: which time partitions exist.
    Bucket,
}

impl CatalogKind {
    pub const ALL: [CatalogKind; 4] = [
        CatalogKind::User,
        CatalogKind::Service,
        CatalogKind::Param,
        CatalogKind::Bucket,
    ];

    /// The partition key of this list's items.
    pub fn partition(self) -> &'static str {
        match self {
            CatalogKind::User => "C#user",
            CatalogKind::Service => "C#service",
            CatalogKind::Param => "C#param",
            CatalogKind::Bucket => "C#bucket",
        }
    }
}

/// One catalog item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CatalogEntry {
    pub kind: CatalogKind,
    pub value: String,
}

/// A range read of one partition: sort keys in `[from, to)`, strictly after
/// `after` when given, ascending, at most `limit` events.
#[derive(Debug, Clone)]
pub struct PartitionQuery {
    pub index: IndexName,
    pub partition: String,
    pub from: String,
    pub to: String,
    pub after: Option<String>,
    pub limit: usize,
}

/// One page of a partition read.
#[derive(Debug, Default)]
pub struct EventPage {
    pub events: Vec<EventItem>,
    /// More events may follow the last one returned.
    pub more: bool,
}

/// What writing cost, summed over calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteStats {
    /// Write requests sent (e.g. `BatchWriteItem` calls, retries included).
    pub requests: u64,
    /// Items written (events and catalog entries).
    pub items: u64,
    /// Write capacity units consumed, indexes included, as the store reports them.
    pub write_units: f64,
    /// Write units by DynamoDB's billing rule (1 per started KB of each item,
    /// once for the table and once per index the item is in), computed from
    /// the items sent; independent of what an emulator reports.
    pub billed_write_units: u64,
    /// Requests repeated because of throttling or unprocessed items.
    pub retries: u64,
}

impl std::ops::AddAssign for WriteStats {
    fn add_assign(&mut self, other: WriteStats) {
        self.requests += other.requests;
        self.items += other.items;
        self.write_units += other.write_units;
        self.billed_write_units += other.billed_write_units;
        self.retries += other.retries;
    }
}

/// Why a store call failed. Callers branch on [`StoreError::is_transient`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Throttling, a 5xx or a network failure: retrying later may succeed.
    #[error("{operation} on {store} failed for now (throttled or unavailable): {message}")]
    Transient {
        operation: &'static str,
        store: String,
        message: String,
    },
    /// Writes were still being refused when the time budget ran out.
    #[error(
        "{store}: {unwritten} item(s) still unwritten when the time budget ran out ({message})"
    )]
    DeadlineExceeded {
        store: String,
        unwritten: usize,
        message: String,
    },
    /// Misconfiguration or a refused request: retrying will not help.
    #[error("{operation} on {store} failed: {message}")]
    Permanent {
        operation: &'static str,
        store: String,
        message: String,
    },
    /// A stored item could not be decoded.
    #[error("{store}: item {key} is corrupt: {message}")]
    Corrupt {
        store: String,
        key: String,
        message: String,
    },
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Transient { .. } | StoreError::DeadlineExceeded { .. }
        )
    }
}

/// What one write stores: catalog entries first, then blocks with their
/// events (each event in exactly one block; a block's key says which file,
/// part and hour it comes from).
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub entries: Vec<CatalogEntry>,
    pub blocks: Vec<BlockWrite>,
}

impl WriteBatch {
    pub fn events(&self) -> impl Iterator<Item = &EventItem> {
        self.blocks.iter().flat_map(|b| b.events.iter())
    }

    pub fn event_count(&self) -> usize {
        self.blocks.iter().map(|b| b.events.len()).sum()
    }

    pub fn extend(&mut self, other: WriteBatch) {
        self.entries.extend(other.entries);
        self.blocks.extend(other.blocks);
    }
}

/// One block to write: its key and its events.
#[derive(Debug, Clone)]
pub struct BlockWrite {
    pub key: BlockKey,
    pub events: Vec<EventItem>,
}

/// An item of the block and rollup layer (blocks, hour generations,
/// rollups; see [`keys`]): bytes under a key, with a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub partition: String,
    pub sort: String,
    /// An hour's generation, or the generations a rollup was built from.
    pub version: u64,
    pub value: Vec<u8>,
    /// Epoch seconds after which the item may be deleted (retention).
    pub expires_at: Option<i64>,
}

/// The items of one partition whose sort keys are in `[start, end]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRange {
    pub partition: String,
    pub start: String,
    pub end: String,
    /// Read every write acknowledged before the read (DynamoDB's strongly
    /// consistent read; twice the cost).
    pub consistent: bool,
}

impl ItemRange {
    /// The items whose sort keys start with `prefix`.
    pub fn prefix(partition: String, prefix: &str, consistent: bool) -> ItemRange {
        ItemRange {
            partition,
            start: prefix.to_owned(),
            // Sort keys are ASCII letters, digits, `#`, `-` and `T`: `~` sorts after all.
            end: format!("{prefix}~"),
            consistent,
        }
    }
}

/// The storage seam. Implementations must make every write idempotent (the
/// same event, entry or block written twice leaves one copy).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// A human-readable name for messages (`DynamoDB table events`).
    fn describe(&self) -> String;

    /// Whether events can be read by principal and by month×service
    /// ([`EventStore::query_partition`]); a store without these indexes
    /// answers every event query from blocks.
    fn has_partitions(&self) -> bool {
        true
    }

    /// Writes catalog entries, then the events, then the blocks, then gives
    /// every hour a block was written for a new generation (a fresh random
    /// number: rollups built from an hour's blocks record the generation
    /// they saw, and any change means rebuild). No event is written before
    /// its entries, and no generation before its blocks.
    async fn write(
        &self,
        batch: WriteBatch,
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError>;

    /// One event by `eventID`.
    async fn get_event(&self, event_id: &str) -> Result<Option<EventItem>, StoreError>;

    /// Events by `eventID`, those found, in any order.
    async fn get_events(&self, event_ids: &[String]) -> Result<Vec<EventItem>, StoreError> {
        let mut found = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            found.extend(self.get_event(id).await?);
        }
        Ok(found)
    }

    /// All values of a catalog list, ascending; with `range`, only values in
    /// `[start, end]`.
    async fn catalog(
        &self,
        kind: CatalogKind,
        range: Option<(&str, &str)>,
    ) -> Result<Vec<String>, StoreError>;

    /// At most `limit` values of a catalog list after `after` (exclusive),
    /// ascending, and whether more follow.
    async fn catalog_page(
        &self,
        kind: CatalogKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StoreError> {
        let mut values = self.catalog(kind, None).await?;
        if let Some(after) = after {
            values.retain(|v| v.as_str() > after);
        }
        let more = values.len() > limit;
        values.truncate(limit);
        Ok((values, more))
    }

    /// One page of a partition, ascending by sort key.
    async fn query_partition(&self, query: &PartitionQuery) -> Result<EventPage, StoreError>;

    /// How many events a partition holds in `[from, to)` (`after` and `limit`
    /// are ignored).
    async fn count_partition(&self, query: &PartitionQuery) -> Result<u64, StoreError> {
        let mut query = PartitionQuery {
            after: None,
            limit: 1000,
            ..query.clone()
        };
        let mut total = 0u64;
        loop {
            let page = self.query_partition(&query).await?;
            total += page.events.len() as u64;
            match (page.more, page.events.last()) {
                (true, Some(last)) => query.after = last.sort_key.clone(),
                _ => return Ok(total),
            }
        }
    }

    /// Every item of a range, ascending by sort key.
    async fn read_items(&self, range: &ItemRange) -> Result<Vec<StoredItem>, StoreError>;

    /// The current generation of every hour with blocks in `[from, to)`
    /// (hours the window touches), read consistently: what is read next is
    /// at least as new. By default the generation items of the years whose
    /// months hold events (the catalog's `YYYY-MM#service` entries, written
    /// before any event), one range read per year.
    async fn hour_generations(
        &self,
        from: &chrono::DateTime<chrono::Utc>,
        to: &chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(keys::Hour, u64)>, StoreError> {
        use futures::{StreamExt, TryStreamExt};
        if from >= to {
            return Ok(Vec::new());
        }
        let last_instant = *to - chrono::Duration::microseconds(1);
        let (first, last) = (
            crate::time::month_bucket(from),
            crate::time::month_bucket(&last_instant),
        );
        let buckets = self
            .catalog(
                CatalogKind::Bucket,
                Some((first.as_str(), &format!("{last}$"))),
            )
            .await?;
        let years: std::collections::BTreeSet<i32> = buckets
            .iter()
            .filter_map(|b| b.get(..4)?.parse().ok())
            .collect();
        let (first_day, last_day) = (from.date_naive(), last_instant.date_naive());
        let read: Vec<Vec<StoredItem>> = futures::stream::iter(years)
            .map(|year| async move {
                let day = |m, d| chrono::NaiveDate::from_ymd_opt(year, m, d);
                let start = first_day.max(day(1, 1).unwrap_or(first_day));
                let end = last_day.min(day(12, 31).unwrap_or(last_day));
                let range = ItemRange {
                    partition: keys::generation_partition(start),
                    start: keys::generation_sort(&keys::Hour {
                        day: start,
                        hour: 0,
                    }),
                    end: keys::generation_sort(&keys::Hour { day: end, hour: 23 }),
                    consistent: true,
                };
                self.read_items(&range).await
            })
            .buffered(8)
            .try_collect()
            .await?;
        Ok(read
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let hour = keys::parse_generation(&item.partition, &item.sort)?;
                (hour.end() > *from && hour.start() < *to && item.version != 0)
                    .then_some((hour, item.version))
            })
            .collect())
    }

    /// Items by key (partition, sort), those found, in any order.
    async fn get_items(&self, keys: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError>;

    /// Writes items of the block and rollup layer (rollups, from the query
    /// side), replacing any with the same key.
    async fn put_items(&self, items: &[StoredItem]) -> Result<WriteStats, StoreError>;

    /// Writes each item only if no item has its key yet (a conditional
    /// write, atomic per item), and says for each whether it was written
    /// now (`true`) or was there already (`false`; it is left as it was).
    /// Alerts go through it: a log file delivered or retried again records,
    /// and so notifies, each (rule, event) once. The same key twice in
    /// `items` is written once: the first is new, the second not.
    async fn put_new_items(&self, items: &[StoredItem]) -> Result<Vec<bool>, StoreError>;

    /// Removes the items with these keys (absent ones are no error). Used to
    /// un-record alerts whose notification could not be published, so that
    /// the retry of their file announces them. Stores that never publish
    /// (test doubles) need not support it.
    async fn delete_items(&self, keys: &[(String, String)]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        Err(StoreError::Permanent {
            operation: "delete items",
            store: self.describe(),
            message: "this store cannot delete items".into(),
        })
    }

    /// At most `limit` items of a range, ascending by sort key, and whether
    /// more follow.
    async fn read_items_page(
        &self,
        range: &ItemRange,
        limit: usize,
    ) -> Result<(Vec<StoredItem>, bool), StoreError> {
        let mut items = self.read_items(range).await?;
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((items, more))
    }
}
