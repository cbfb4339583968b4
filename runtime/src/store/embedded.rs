//! The embedded store for local mode: one redb file (default `tracker.db`)
//! with the same layout as the DynamoDB table — events by `eventID`, the two
//! time-ordered indexes as `(partition, sort key) → eventID` tables, and the
//! catalog — so the query engine cannot tell the two stores apart. It also
//! remembers which log files it has ingested, so a restart over the same
//! folder reads nothing twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};

use super::block::Block;
use super::{
    CatalogKind, EventPage, EventStore, IndexName, ItemRange, PartitionQuery, StoreError,
    StoredItem, WriteBatch, WriteStats, keys,
};
use crate::event::EventItem;

const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("events");
const BY_PRINCIPAL: TableDefinition<(&str, &str), &str> = TableDefinition::new("by_principal");
const BY_TIME: TableDefinition<(&str, &str), &str> = TableDefinition::new("by_time");
const CATALOG: TableDefinition<(&str, &str), ()> = TableDefinition::new("catalog");
const FILES: TableDefinition<&str, &str> = TableDefinition::new("ingested_files");
/// An item of the block and rollup layer as stored: (version, expiry, value).
type ItemValue<'a> = (u64, Option<i64>, &'a [u8]);
/// Items of the block and rollup layer, by (partition, sort).
const ITEMS: TableDefinition<(&str, &str), ItemValue> = TableDefinition::new("items");

fn index_table(
    index: IndexName,
) -> TableDefinition<'static, (&'static str, &'static str), &'static str> {
    match index {
        IndexName::Principal => BY_PRINCIPAL,
        IndexName::Time => BY_TIME,
    }
}

/// Events in a local redb database.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<EmbeddedStore, StoreError> {
        let failed = |e: redb::Error| StoreError::Permanent {
            operation: "open",
            store: format!("database {}", path.display()),
            message: format!("{e}; is another tracker using it, or is it not a tracker database?"),
        };
        let db = Database::create(path).map_err(|e| failed(e.into()))?;
        let store = EmbeddedStore {
            db: Arc::new(db),
            path: path.to_owned(),
        };
        store
            .write(|txn| {
                txn.open_table(EVENTS)?;
                txn.open_table(BY_PRINCIPAL)?;
                txn.open_table(BY_TIME)?;
                txn.open_table(CATALOG)?;
                txn.open_table(FILES)?;
                txn.open_table(ITEMS)?;
                Ok(())
            })
            .map_err(failed)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many events the database holds.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        self.read("count", |txn| Ok(txn.open_table(EVENTS)?.len()?))
    }

    /// The fingerprint recorded for an ingested file, if any.
    pub fn file_fingerprint(&self, file: &str) -> Result<Option<String>, StoreError> {
        self.read("read ingested files", |txn| {
            Ok(txn
                .open_table(FILES)?
                .get(file)?
                .map(|v| v.value().to_owned()))
        })
    }

    /// Records that `file` (with this fingerprint) is fully ingested.
    pub fn record_file(&self, file: &str, fingerprint: &str) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(FILES)?.insert(file, fingerprint)?;
            Ok(())
        })
        .map_err(|e| self.error("record ingested file", e))
    }

    /// Makes every earlier write durable (writes are committed without
    /// waiting for the disk; this waits once).
    pub fn flush(&self) -> Result<(), StoreError> {
        let commit = || -> Result<(), redb::Error> {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.commit()?;
            Ok(())
        };
        commit().map_err(|e| self.error("flush", e))
    }

    fn error(&self, operation: &'static str, error: redb::Error) -> StoreError {
        StoreError::Permanent {
            operation,
            store: self.describe(),
            message: error.to_string(),
        }
    }

    fn read<T>(
        &self,
        operation: &'static str,
        body: impl FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| self.error(operation, e.into()))?;
        body(&txn).map_err(|e| self.error(operation, e))
    }

    /// One write transaction, committed without an fsync (see [`Self::flush`]):
    /// redb keeps commits atomic and in order, so a crash loses a suffix, never a middle.
    fn write(
        &self,
        body: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), redb::Error> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::None)?;
        body(&txn)?;
        txn.commit()?;
        Ok(())
    }

    fn decode(&self, bytes: &[u8], id: &str) -> Result<EventItem, StoreError> {
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
            store: self.describe(),
            key: id.to_owned(),
            message: e.to_string(),
        })
    }

    /// Runs a write on a blocking thread (redb is synchronous), counting `items`.
    async fn write_off_thread(
        &self,
        operation: &'static str,
        items: usize,
        write: impl FnOnce(&EmbeddedStore) -> Result<(), redb::Error> + Send + 'static,
    ) -> Result<WriteStats, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || write(&store).map_err(|e| store.error(operation, e)))
            .await
            .map_err(|e| StoreError::Permanent {
                operation,
                store: self.describe(),
                message: e.to_string(),
            })??;
        Ok(WriteStats {
            requests: 1,
            items: items as u64,
            ..WriteStats::default()
        })
    }

    /// Catalog entries, events, blocks and the blocks' hours' generations,
    /// in one transaction.
    fn write_blocking(&self, batch: &WriteBatch) -> Result<(), redb::Error> {
        self.write(|txn| {
            let mut catalog = txn.open_table(CATALOG)?;
            for entry in &batch.entries {
                catalog.insert((entry.kind.partition(), entry.value.as_str()), ())?;
            }
            let mut by_id = txn.open_table(EVENTS)?;
            let mut by_principal = txn.open_table(BY_PRINCIPAL)?;
            let mut by_time = txn.open_table(BY_TIME)?;
            for event in batch.events() {
                // An overwrite moves the event: drop the index entries of the old copy.
                let old = by_id
                    .get(event.event_id.as_str())?
                    .and_then(|bytes| postcard::from_bytes::<EventItem>(bytes.value()).ok());
                if let Some(old) = old
                    && let Some(sort_key) = &old.sort_key
                {
                    by_principal.remove((old.principal_partition().as_str(), sort_key.as_str()))?;
                    if let Some(partition) = old.time_partition() {
                        by_time.remove((partition.as_str(), sort_key.as_str()))?;
                    }
                }
                let bytes = postcard::to_allocvec(event)
                    .map_err(|e| redb::Error::Corrupted(e.to_string()))?;
                by_id.insert(event.event_id.as_str(), bytes.as_slice())?;
                if let Some(sort_key) = &event.sort_key {
                    let id = event.event_id.as_str();
                    by_principal.insert(
                        (event.principal_partition().as_str(), sort_key.as_str()),
                        id,
                    )?;
                    if let Some(partition) = event.time_partition() {
                        by_time.insert((partition.as_str(), sort_key.as_str()), id)?;
                    }
                }
            }
            let mut items = txn.open_table(ITEMS)?;
            let mut hours = std::collections::BTreeSet::new();
            for write in &batch.blocks {
                let Some(hour) = write.key.hour else { continue };
                let block = Block::build(&write.events);
                if block.is_empty() {
                    continue;
                }
                let value = block.encode();
                items.insert(
                    (write.key.partition().as_str(), write.key.sort().as_str()),
                    (0, block.expires_at(), value.as_slice()),
                )?;
                hours.insert(hour);
            }
            for hour in hours {
                items.insert(
                    (
                        keys::generation_partition(hour.day).as_str(),
                        keys::generation_sort(&hour).as_str(),
                    ),
                    (super::new_generation(), None, &[][..]),
                )?;
            }
            Ok(())
        })
    }
}

#[async_trait]
impl EventStore for EmbeddedStore {
    fn describe(&self) -> String {
        format!("database {}", self.path.display())
    }

    async fn write(
        &self,
        batch: &WriteBatch,
        _deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let batch = batch.clone();
        let items = batch.entries.len() + batch.event_count();
        self.write_off_thread("write", items, move |store| store.write_blocking(&batch))
            .await
    }

    async fn get_event(&self, event_id: &str) -> Result<Option<EventItem>, StoreError> {
        let bytes = self.read("get event", |txn| {
            Ok(txn
                .open_table(EVENTS)?
                .get(event_id)?
                .map(|v| v.value().to_vec()))
        })?;
        bytes.map(|b| self.decode(&b, event_id)).transpose()
    }

    async fn catalog(
        &self,
        kind: CatalogKind,
        range: Option<(&str, &str)>,
    ) -> Result<Vec<String>, StoreError> {
        let partition = kind.partition();
        self.read("read catalog", |txn| {
            let table = txn.open_table(CATALOG)?;
            let mut values = Vec::new();
            let (low, high) = range.unwrap_or(("", ""));
            for entry in table.range((partition, low)..)? {
                let (key, _) = entry?;
                let (p, value) = key.value();
                if p != partition || (range.is_some() && value > high) {
                    break;
                }
                values.push(value.to_owned());
            }
            Ok(values)
        })
    }

    async fn read_items(&self, range: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
        self.read("read items", |txn| {
            let table = txn.open_table(ITEMS)?;
            let bounds = (range.partition.as_str(), range.start.as_str())
                ..=(range.partition.as_str(), range.end.as_str());
            let mut found = Vec::new();
            for entry in table.range(bounds)? {
                let (key, value) = entry?;
                found.push(stored(key.value(), value.value()));
            }
            Ok(found)
        })
    }

    async fn get_items(&self, keys: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError> {
        self.read("get items", |txn| {
            let table = txn.open_table(ITEMS)?;
            let mut found = Vec::with_capacity(keys.len());
            for (partition, sort) in keys {
                if let Some(value) = table.get((partition.as_str(), sort.as_str()))? {
                    found.push(stored((partition, sort), value.value()));
                }
            }
            Ok(found)
        })
    }

    async fn put_items(&self, items: &[StoredItem]) -> Result<WriteStats, StoreError> {
        let items = items.to_vec();
        self.write_off_thread("put items", items.len(), move |store| {
            store.write(|txn| {
                let mut table = txn.open_table(ITEMS)?;
                for item in &items {
                    table.insert(
                        (item.partition.as_str(), item.sort.as_str()),
                        (item.version, item.expires_at, item.value.as_slice()),
                    )?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn query_partition(&self, query: &PartitionQuery) -> Result<EventPage, StoreError> {
        let page = self.read("query", |txn| {
            let index = txn.open_table(index_table(query.index))?;
            let by_id = txn.open_table(EVENTS)?;
            let lower = query.after.as_deref().unwrap_or(&query.from);
            let mut events = Vec::with_capacity(query.limit.min(1024));
            let mut more = false;
            let range =
                (query.partition.as_str(), lower)..(query.partition.as_str(), query.to.as_str());
            for entry in index.range(range)? {
                let (key, id) = entry?;
                if query.after.as_deref() == Some(key.value().1) {
                    continue;
                }
                if events.len() == query.limit {
                    more = true;
                    break;
                }
                let id = id.value();
                if let Some(bytes) = by_id.get(id)? {
                    // Decoded in place, straight from the page.
                    events.push(
                        postcard::from_bytes::<EventItem>(bytes.value())
                            .map_err(|e| (id.to_owned(), e)),
                    );
                }
            }
            Ok((events, more))
        })?;
        let (decoded, more) = page;
        let events = decoded
            .into_iter()
            .map(|r| {
                r.map_err(|(id, e)| StoreError::Corrupt {
                    store: self.describe(),
                    key: id,
                    message: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(EventPage { events, more })
    }

    async fn count_partition(&self, query: &PartitionQuery) -> Result<u64, StoreError> {
        self.read("count", |txn| {
            let index = txn.open_table(index_table(query.index))?;
            let range = index.range(
                (query.partition.as_str(), query.from.as_str())
                    ..(query.partition.as_str(), query.to.as_str()),
            )?;
            let mut n = 0u64;
            for entry in range {
                entry?;
                n += 1;
            }
            Ok(n)
        })
    }
}

/// An item of the block and rollup layer, from its key and stored value.
fn stored(
    (partition, sort): (&str, &str),
    (version, expires_at, value): (u64, Option<i64>, &[u8]),
) -> StoredItem {
    StoredItem {
        partition: partition.to_owned(),
        sort: sort.to_owned(),
        version,
        value: value.to_vec(),
        expires_at,
    }
}
