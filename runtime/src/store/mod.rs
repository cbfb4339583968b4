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

pub mod dry_run;
pub mod dynamodb;
pub mod embedded;

use std::time::Instant;

use async_trait::async_trait;

use crate::event::EventItem;

pub use dry_run::DryRunStore;
pub use dynamodb::DynamoStore;
pub use embedded::EmbeddedStore;

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

/// The storage seam. Implementations must make every write idempotent (the
/// same event or entry written twice leaves one copy).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// A human-readable name for messages (`DynamoDB table events`).
    fn describe(&self) -> String;

    /// Writes catalog entries. Callers write the entries of a batch of events
    /// before the events themselves, so an event is never unreachable.
    async fn put_catalog(
        &self,
        entries: &[CatalogEntry],
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError>;

    /// Writes events, overwriting any with the same `eventID`.
    async fn put_events(
        &self,
        events: &[EventItem],
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError>;

    /// Writes catalog entries and then the events they make reachable. No
    /// event is written before its entries; a store may send the last
    /// entries and the first events in the same request (DynamoDB does, so a
    /// write leaves at most one partly filled request).
    async fn put_catalog_and_events(
        &self,
        entries: &[CatalogEntry],
        events: &[EventItem],
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        if !entries.is_empty() {
            stats += self.put_catalog(entries, deadline).await?;
        }
        stats += self.put_events(events, deadline).await?;
        Ok(stats)
    }

    /// One event by `eventID`.
    async fn get_event(&self, event_id: &str) -> Result<Option<EventItem>, StoreError>;

    /// All values of a catalog list, ascending; with `range`, only values in
    /// `[start, end]`.
    async fn catalog(
        &self,
        kind: CatalogKind,
        range: Option<(&str, &str)>,
    ) -> Result<Vec<String>, StoreError>;

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
}
