//! The embedded store for local mode: one redb file (default `tracker.db`)
//! holding the same logical items as the DynamoDB table (catalog entries,
//! blocks, generations, rollups; see `store::keys`), laid out for size:
//!
//! - each UTC hour's blocks are one compressed value, and its records another
//!   ([`packs`]): every event is stored once, its record compressed with its
//!   hour's neighbours;
//! - an event id maps to its hour through a small index (a 64-bit hash of
//!   the id → its hour, 12 bytes an event), for `/events/{id}`; the
//!   ids of recent writes wait in memory (and in a journal table) and enter
//!   the index together, in key order ([`unindexed`]);
//! - there are no per-event index entries: every event query is answered
//!   from blocks and rollups (the store has no partitions), which is what
//!   keeps the file a small multiple of the gzip'd logs;
//! - rollups, derived data that the query side rebuilds whenever they are
//!   missing, are kept in memory only (at most a set number of bytes), not
//!   in the file.
//!
//! An event whose id is already stored from another log file is not stored
//! again. The store also remembers which log files it has ingested, so a
//! restart over the same folder reads nothing twice. A database written by
//! an older release is refused with how to rebuild it.

mod id_filter;
pub mod packs;
mod unindexed;
mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableHandle,
};

use id_filter::IdFilter;

use super::block::Block;
use super::keys::{self, BlockKey, Hour};
use super::{
    CatalogKind, EventPage, EventStore, ItemRange, PartitionQuery, StoreError, StoredItem,
    WriteBatch, WriteStats,
};
use crate::event::{EventItem, StoredRecord};
use packs::{Records, Summaries, hour_index};
use unindexed::{ID_JOURNAL, JournalOnClose, Seen, UnindexedIds, WriteIds};

/// What this release writes; any other database is refused.
/// (3: the id index is a plain table of fixed-width keys, ~30 % smaller
/// than the multimap of 2; 4: its keys lost the file, 20 → 12 bytes; 5:
/// ids wait for the index in a journal table, which a release of format 4
/// would not read. A database of format 4 is read, and marked 5.)
const FORMAT: &str = "tracker-embedded-5";
/// The format before the id journal: the same tables less the journal.
const FORMAT_WITHOUT_JOURNAL: &str = "tracker-embedded-4";
/// Memory for redb's page cache and for rollups, each, unless the caller
/// sets it.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const CATALOG: TableDefinition<(&str, &str), ()> = TableDefinition::new("catalog");
const FILES: TableDefinition<&str, &str> = TableDefinition::new("ingested_files");
/// An item of the block and rollup layer as stored: (version, expiry, value).
type ItemValue<'a> = (u64, Option<i64>, &'a [u8]);
/// Generations and rollups, by (partition, sort).
const ITEMS: TableDefinition<(&str, &str), ItemValue> = TableDefinition::new("items");
/// Each hour's packs, cut in pieces of at most [`PIECE`] bytes: (hour index,
/// [`SUMMARIES`] or [`RECORDS`], piece number) → bytes. Small values in key
/// order fill the B-tree's pages; one large value would get a page of its
/// own, rounded up to a power of two.
const PACKS: TableDefinition<(u32, u8, u16), &[u8]> = TableDefinition::new("packs");
/// The pack of an hour's blocks ([`packs::Summaries`]).
const SUMMARIES: u8 = 0;
/// The pack of an hour's records ([`packs::Records`]).
const RECORDS: u8 = 1;
/// Largest piece of a pack.
const PIECE: usize = 1000;
/// (hash of an event id, hour index): the id index, read by the range of a
/// hash. Fixed-width keys and no values keep it at 12 bytes per event. Which
/// file an id came from is not kept: when it matters (an id met again in
/// its own hour), the hour's blocks of that file say ([`FileIds`]).
const EVENT_IDS: TableDefinition<(u64, u32), ()> = TableDefinition::new("event_ids");

/// The id index's keys for the ids of hash `hash`.
fn id_range(hash: u64) -> std::ops::RangeInclusive<(u64, u32)> {
    (hash, 0)..=(hash, u32::MAX)
}
/// The ids an hour's blocks hold from one log file (blocks `<HH>#<source>#<part>`),
/// read from the hour's summaries the first time they are asked for.
struct FileIds {
    prefix: String,
    ids: Option<foldhash::HashSet<String>>,
}

impl FileIds {
    fn new(key: &BlockKey) -> FileIds {
        let hour = key.hour.map_or(0, |h| h.hour);
        FileIds {
            prefix: format!("{}{}#", keys::block_hour_prefix(hour), key.source),
            ids: None,
        }
    }

    fn contains(&mut self, summaries: &Summaries, id: &str) -> Result<bool, String> {
        if self.ids.is_none() {
            let mut ids = foldhash::HashSet::default();
            for (_, bytes) in summaries
                .blocks
                .range(self.prefix.clone()..)
                .take_while(|(sort, _)| sort.starts_with(&self.prefix))
            {
                let block = Block::decode(bytes).map_err(|e| e.to_string())?;
                ids.extend((0..block.len()).map(|row| block.event_id(row).to_owned()));
            }
            self.ids = Some(ids);
        }
        Ok(self.ids.as_ref().is_some_and(|ids| ids.contains(id)))
    }
}

/// Events without a usable time (in no hour): id → compressed record.
const TIMELESS: TableDefinition<&str, &[u8]> = TableDefinition::new("timeless");
/// The number of events stored, in `META`.
const EVENT_COUNT: &str = "events";
/// Writes are committed without waiting for the disk, but redb only reuses
/// the pages a write frees once a commit is durable: every this many writes,
/// one is, so rewritten hour packs do not grow the file for the whole run.
const DURABLE_EVERY: u64 = 32;

/// The space one table takes (see [`EmbeddedStore::space`]).
#[derive(Debug, Clone, Copy)]
pub struct TableSpace {
    pub table: &'static str,
    pub entries: u64,
    /// Keys and values.
    pub stored: u64,
    /// The B-tree's own bytes (page headers, offsets).
    pub metadata: u64,
    /// Allocated in the table's pages but unused.
    pub fragmented: u64,
}

/// Events in a local redb database.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    cache_bytes: usize,
    rollups: Arc<Mutex<RollupMemory>>,
    /// Write transactions so far (every [`DURABLE_EVERY`]th is durable).
    writes: Arc<std::sync::atomic::AtomicU64>,
    /// Every hour's generation, read once from the database and then kept
    /// current by this process's writes (redb lets one process open the
    /// file): a query reads one per hour of its window. None until asked.
    generations: Arc<Mutex<Option<BTreeMap<Hour, u64>>>>,
    /// Ids not yet in the id index (see [`unindexed`]).
    unindexed: Arc<Mutex<UnindexedIds>>,
    /// Which ids a write need not look up (built by the first write).
    id_filter: Arc<Mutex<Option<IdFilter>>>,
    /// Journals the unindexed ids when the last handle goes.
    journal_on_close: Arc<JournalOnClose>,
}

/// The rollups kept in memory, oldest dropped first past a byte budget.
#[derive(Default)]
struct RollupMemory {
    items: BTreeMap<(String, String), StoredItem>,
    order: VecDeque<(String, String)>,
    bytes: usize,
    budget: usize,
}

impl RollupMemory {
    fn put(&mut self, item: StoredItem) {
        let key = (item.partition.clone(), item.sort.clone());
        self.bytes += item.value.len();
        if let Some(old) = self.items.insert(key.clone(), item) {
            self.bytes -= old.value.len();
        } else {
            self.order.push_back(key);
        }
        while self.bytes > self.budget {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(old) = self.items.remove(&oldest) {
                self.bytes -= old.value.len();
            }
        }
    }
}

/// Whether a partition holds rollups (kept in memory).
fn is_rollup(partition: &str) -> bool {
    partition.starts_with("R#")
}

/// A 64-bit hash of an event id (the id index's key): XXH3, whose output
/// is specified (std's hasher may change between Rust releases).
fn id_hash(event_id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(event_id.as_bytes())
}

/// A log file's identity as a number (block sources are 16 hex digits).
fn source_number(source: &str) -> u64 {
    u64::from_str_radix(source, 16).unwrap_or_else(|_| id_hash(source))
}

impl EmbeddedStore {
    /// Opens (or creates) the database at `path` with redb's default cache.
    pub fn open(path: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the database at `path`, keeping at most
    /// `cache_bytes` of its pages, and as much of rollups, in memory.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<EmbeddedStore, StoreError> {
        let failed = |message: String| StoreError::Permanent {
            operation: "open",
            store: format!("database {}", path.display()),
            message,
        };
        let db = redb::Builder::new()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(|e| {
                failed(format!(
                    "{e}; is another tracker using it, or is it not a tracker database?"
                ))
            })?;
        let db = Arc::new(db);
        let unindexed = Arc::new(Mutex::new(UnindexedIds::with_memory(cache_bytes / 2)));
        let store = EmbeddedStore {
            journal_on_close: Arc::new(JournalOnClose {
                db: Arc::clone(&db),
                ids: Arc::clone(&unindexed),
            }),
            db,
            path: path.to_owned(),
            cache_bytes,
            rollups: Arc::new(Mutex::new(RollupMemory {
                budget: cache_bytes,
                ..RollupMemory::default()
            })),
            writes: Arc::default(),
            generations: Arc::default(),
            unindexed,
            id_filter: Arc::default(),
        };
        store.check_format().map_err(failed)?;
        store
            .read("read the id journal", |txn| {
                let journal = txn.open_table(ID_JOURNAL)?;
                store
                    .unindexed_ids()
                    .load(&journal)
                    .map_err(redb::Error::Corrupted)
            })
            .map_err(|e| failed(e.to_string()))?;
        Ok(store)
    }

    /// Creates the tables of a new database, or checks that an existing one
    /// was written in this release's format.
    fn check_format(&self) -> Result<(), String> {
        let rebuild = format!(
            "delete {} and ingest the logs again (`tracker serve --logs DIR` or `tracker backfill --db`)",
            self.path.display()
        );
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let tables: Vec<String> = txn
            .list_tables()
            .map_err(|e| e.to_string())?
            .map(|t| t.name().to_owned())
            .collect();
        let format = match txn.open_table(META) {
            Ok(meta) => meta
                .get("format")
                .map_err(|e| e.to_string())?
                .map(|v| v.value().to_owned()),
            Err(_) => None,
        };
        drop(txn);
        match format.as_deref() {
            Some(FORMAT) => Ok(()),
            Some(FORMAT_WITHOUT_JOURNAL) => self
                .write(|txn| {
                    txn.open_table(META)?.insert("format", FORMAT)?;
                    txn.open_table(ID_JOURNAL)?;
                    Ok(())
                })
                .map_err(|e| e.to_string()),
            Some(other) => Err(format!(
                "it was written in format `{other}`, which this release cannot read; {rebuild}"
            )),
            None if tables.is_empty() => self
                .write(|txn| {
                    txn.open_table(META)?.insert("format", FORMAT)?;
                    txn.open_table(CATALOG)?;
                    txn.open_table(FILES)?;
                    txn.open_table(ITEMS)?;
                    txn.open_table(PACKS)?;
                    txn.open_table(EVENT_IDS)?;
                    txn.open_table(ID_JOURNAL)?;
                    txn.open_table(TIMELESS)?;
                    Ok(())
                })
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "it was written by an older release of tracker (its tables: {}); {rebuild}",
                tables.join(", ")
            )),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the file's bytes go, table by table: what is stored, what the
    /// B-tree spends on its structure, and what is allocated but unused.
    pub fn space(&self) -> Result<Vec<TableSpace>, StoreError> {
        self.read("measure", |txn| {
            let mut tables = Vec::new();
            let mut add = |name: &'static str, stats: redb::TableStats| {
                tables.push(TableSpace {
                    table: name,
                    entries: 0,
                    stored: stats.stored_bytes(),
                    metadata: stats.metadata_bytes(),
                    fragmented: stats.fragmented_bytes(),
                });
            };
            add("catalog", txn.open_table(CATALOG)?.stats()?);
            add("ingested_files", txn.open_table(FILES)?.stats()?);
            add("items", txn.open_table(ITEMS)?.stats()?);
            add("packs", txn.open_table(PACKS)?.stats()?);
            add("event_ids", txn.open_table(EVENT_IDS)?.stats()?);
            add("timeless", txn.open_table(TIMELESS)?.stats()?);
            add("id_journal", txn.open_table(ID_JOURNAL)?.stats()?);
            let counts = [
                txn.open_table(CATALOG)?.len()?,
                txn.open_table(FILES)?.len()?,
                txn.open_table(ITEMS)?.len()?,
                txn.open_table(PACKS)?.len()?,
                txn.open_table(EVENT_IDS)?.len()?,
                txn.open_table(TIMELESS)?.len()?,
                txn.open_table(ID_JOURNAL)?.len()?,
            ];
            for (table, count) in tables.iter_mut().zip(counts) {
                table.entries = count;
            }
            Ok(tables)
        })
    }

    /// How many events the database holds.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        self.read("count", |txn| {
            Ok(txn
                .open_table(META)?
                .get(EVENT_COUNT)?
                .and_then(|v| v.value().parse().ok())
                .unwrap_or(0))
        })
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

    /// Makes every write durable and, when much of the file is wasted
    /// (pages freed as hour packs were rewritten, B-tree pages left part
    /// full by writes in random order), writes the whole database again in
    /// key order into a new file that replaces it: full pages, nothing free.
    /// Needs the only handle on the database: close the ingestor (and
    /// anything else holding a clone) first.
    pub fn compact(self) -> Result<EmbeddedStore, StoreError> {
        self.flush()?;
        let used: u64 = self.space()?.iter().map(|t| t.stored + t.metadata).sum();
        let file = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        // A new database file is at least 1 MB (redb's first allocation).
        // Past 5 % of waste the file is rewritten: on 1 M events that is
        // ~10 MB of part-full pages for a few seconds' copy.
        if file <= (used + used / 20).max(1 << 20) {
            return Ok(self);
        }
        self.rebuild()
    }

    /// Writes the database again, table by table in key order, into a new
    /// file that then replaces this one.
    fn rebuild(self) -> Result<EmbeddedStore, StoreError> {
        let describe = self.describe();
        let failed = |message: String| StoreError::Permanent {
            operation: "compact",
            store: describe.clone(),
            message,
        };
        let EmbeddedStore {
            db,
            path,
            cache_bytes,
            rollups,
            writes,
            generations,
            unindexed: _,
            id_filter: _,
            journal_on_close,
        } = self;
        // Nothing to journal after the flush; its handle on the database goes.
        drop(journal_on_close);
        let db = Arc::try_unwrap(db)
            .map_err(|_| failed("the database is still in use (close the ingest first)".into()))?;
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(".compacting");
        let fresh_path = path.with_file_name(name);
        let _ = std::fs::remove_file(&fresh_path);
        let copy = || -> Result<(), redb::Error> {
            let mut fresh = redb::Builder::new()
                .set_cache_size(cache_bytes)
                .create(&fresh_path)?;
            let from = db.begin_read()?;
            let mut to = fresh.begin_write()?;
            to.set_durability(Durability::Immediate)?;
            copy_table(&from, &to, META)?;
            copy_table(&from, &to, CATALOG)?;
            copy_table(&from, &to, FILES)?;
            copy_table(&from, &to, ITEMS)?;
            copy_table(&from, &to, PACKS)?;
            copy_table(&from, &to, TIMELESS)?;
            copy_table(&from, &to, EVENT_IDS)?;
            copy_table(&from, &to, ID_JOURNAL)?;
            to.commit()?;
            while fresh
                .compact()
                .map_err(|e| redb::Error::Corrupted(e.to_string()))?
            {}
            Ok(())
        };
        copy().map_err(|e| failed(format!("writing {} failed: {e}", fresh_path.display())))?;
        drop(db);
        std::fs::rename(&fresh_path, &path).map_err(|e| {
            failed(format!(
                "could not replace it with {}: {e}",
                fresh_path.display()
            ))
        })?;
        let mut store = EmbeddedStore::open_with_cache(&path, cache_bytes)?;
        store.rollups = rollups;
        store.writes = writes;
        // The same items, copied: the generations known stay current.
        store.generations = generations;
        Ok(store)
    }

    /// Makes every earlier write durable (writes are committed without
    /// waiting for the disk; this waits once).
    pub fn flush(&self) -> Result<(), StoreError> {
        let commit = || -> Result<(), redb::Error> {
            let mut txn = self.db.begin_write()?;
            // After the write lock, as in `write_blocking`.
            let mut unindexed = self.unindexed_ids();
            txn.set_durability(Durability::Immediate)?;
            unindexed.merge(
                &mut txn.open_table(EVENT_IDS)?,
                &mut txn.open_table(ID_JOURNAL)?,
                &WriteIds::default(),
            )?;
            txn.commit()?;
            unindexed.merged();
            Ok(())
        };
        commit().map_err(|e| self.error("flush", e))
    }

    fn unindexed_ids(&self) -> std::sync::MutexGuard<'_, UnindexedIds> {
        self.unindexed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, operation: &'static str, error: redb::Error) -> StoreError {
        StoreError::Permanent {
            operation,
            store: self.describe(),
            message: error.to_string(),
        }
    }

    fn corrupt(&self, key: String, message: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            store: self.describe(),
            key,
            message: message.to_string(),
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

    /// At most `limit` items of a range kept in the database as they are
    /// (not rollups, not blocks), and whether more follow.
    fn scan_items(
        &self,
        range: &ItemRange,
        limit: usize,
    ) -> Result<(Vec<StoredItem>, bool), StoreError> {
        self.read("read items", |txn| {
            let table = txn.open_table(ITEMS)?;
            let bounds = (range.partition.as_str(), range.start.as_str())
                ..=(range.partition.as_str(), range.end.as_str());
            let mut found = Vec::new();
            for entry in table.range(bounds)? {
                if found.len() == limit {
                    return Ok((found, true));
                }
                let (key, value) = entry?;
                found.push(stored(key.value(), value.value()));
            }
            Ok((found, false))
        })
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

    /// Runs a blocking job on a blocking thread (redb is synchronous).
    async fn off_thread<T: Send + 'static>(
        &self,
        operation: &'static str,
        job: impl FnOnce(&EmbeddedStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || job(&store))
            .await
            .map_err(|e| StoreError::Permanent {
                operation,
                store: self.describe(),
                message: e.to_string(),
            })?
    }

    /// The blocks of one hour, decoded from its pack.
    fn summaries(&self, packs: &impl PackTable, hour: u32) -> Result<Summaries, StoreError> {
        match read_pack(packs, hour, SUMMARIES).map_err(|e| self.error("read blocks", e.into()))? {
            Some(bytes) => packs::decode(&bytes, false)
                .map_err(|e| self.corrupt(format!("summaries of hour {hour}"), e)),
            None => Ok(Summaries::default()),
        }
    }

    fn records(&self, packs: &impl PackTable, hour: u32) -> Result<Records, StoreError> {
        match read_pack(packs, hour, RECORDS).map_err(|e| self.error("read records", e.into()))? {
            Some(bytes) => packs::decode_frames(&bytes)
                .map_err(|e| self.corrupt(format!("records of hour {hour}"), e)),
            None => Ok(Records::default()),
        }
    }

    /// Catalog entries, then blocks (their hours' packs rewritten), event
    /// ids and the hours' new generations, in one transaction.
    fn write_blocking(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let mut by_hour: BTreeMap<Hour, Vec<&super::BlockWrite>> = BTreeMap::new();
        let mut timeless = Vec::new();
        for write in &batch.blocks {
            match write.key.hour {
                Some(hour) => by_hour.entry(hour).or_default().push(write),
                None => timeless.extend(write.events.iter()),
            }
        }
        let generations: Vec<(Hour, u64)> = by_hour
            .keys()
            .map(|hour| (*hour, super::new_generation()))
            .collect();
        let count = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let durable = count % DURABLE_EVERY == DURABLE_EVERY - 1;
        let txn = self
            .db
            .begin_write()
            .map_err(|e| self.error("write", e.into()))?;
        // Taken after the write lock (as `flush` does): writes are one at a
        // time anyway, and a reader waits for one write at most.
        let mut waiting = self.unindexed_ids();
        // This write's ids that the index has not got yet.
        let mut new_ids = WriteIds::default();
        // A durable commit merges the waiting ids into the index once they
        // (and at most this write's events) fill the memory they may take.
        let events: usize = batch.blocks.iter().map(|write| write.events.len()).sum();
        let merge = durable && waiting.is_full(events);
        let mut id_filter = self.id_filter.lock().unwrap_or_else(|p| p.into_inner());
        let body = || -> Result<(), StoreError> {
            let failed = |e: redb::StorageError| self.error("write", e.into());
            let table_failed = |e: redb::TableError| self.error("write", e.into());
            let mut catalog = txn.open_table(CATALOG).map_err(table_failed)?;
            for entry in &batch.entries {
                catalog
                    .insert((entry.kind.partition(), entry.value.as_str()), ())
                    .map_err(failed)?;
            }
            let mut ids = txn.open_table(EVENT_IDS).map_err(table_failed)?;
            // The first write fills the filter from the index and the
            // unindexed ids (half the store's memory setting, the cache the other).
            if id_filter.is_none() {
                let mut filter = IdFilter::with_bytes(self.cache_bytes / 2);
                for key in ids.iter().map_err(failed)? {
                    filter.insert(key.map_err(failed)?.0.value().0);
                }
                waiting.hashes().for_each(|hash| filter.insert(hash));
                *id_filter = Some(filter);
            }
            let filter = id_filter.get_or_insert_with(|| IdFilter::with_bytes(0)); // filled above
            let mut packs_table = txn.open_table(PACKS).map_err(table_failed)?;
            let mut added = 0u64;
            for (hour, writes) in &by_hour {
                let index = hour_index(hour);
                let mut summaries = self.summaries(&packs_table, index)?;
                // This write's records: one frame appended after the hour's others.
                let mut records = Records::default();
                for write in writes {
                    let here = (index, source_number(&write.key.source));
                    let mut this_file = FileIds::new(&write.key);
                    // Keep an event unless its id is stored from another file
                    // or hour (the first delivery of an event wins).
                    let mut kept: Vec<&EventItem> = Vec::with_capacity(write.events.len());
                    // The hash of each kept event's id, if the index lacks it.
                    let mut unindexed: Vec<Option<u64>> = Vec::with_capacity(write.events.len());
                    for event in &write.events {
                        let hash = id_hash(&event.event_id);
                        let (mut elsewhere, mut indexed) = (false, false);
                        // An id stored in hour `at`, its file unknown: this
                        // file's own if it is in this hour's blocks of it.
                        let mut stored_in = |at: u32| -> Result<(), StoreError> {
                            let mine = at == index
                                && this_file
                                    .contains(&summaries, &event.event_id)
                                    .map_err(|e| self.corrupt(format!("hour {index}"), e))?;
                            elsewhere |= !mine;
                            indexed |= mine;
                            Ok(())
                        };
                        let seen = match new_ids.get(&hash) {
                            Some(&(hour, file)) => Some(Seen::Exact(hour, file)),
                            None => waiting.get(hash),
                        };
                        match seen {
                            Some(Seen::Exact(hour, file)) => {
                                let at = (hour, file);
                                (elsewhere, indexed) = (at != here, at == here);
                            }
                            Some(Seen::Hour(at)) => stored_in(at)?,
                            None if filter.may_contain(hash) => {
                                for found in ids.range(id_range(hash)).map_err(failed)? {
                                    stored_in(found.map_err(failed)?.0.value().1)?;
                                }
                            }
                            None => {}
                        }
                        if !elsewhere {
                            kept.push(event);
                            unindexed.push((!indexed).then_some(hash));
                        }
                    }
                    let (block, order) = Block::build_ordered(&kept);
                    let sort = write.key.sort();
                    if block.is_empty() {
                        summaries.blocks.remove(&sort);
                        continue;
                    }
                    let mut texts = Vec::with_capacity(order.len());
                    for position in order {
                        let event = kept[position];
                        let text = event
                            .record_json()
                            .map_err(|e| self.corrupt(event.event_id.clone(), e))?;
                        texts.push(text);
                        if let Some(hash) = unindexed[position] {
                            added += u64::from(new_ids.insert(hash, here).is_none());
                            filter.insert(hash);
                        }
                    }
                    summaries.blocks.insert(sort.clone(), block.encode_raw());
                    records.blocks.insert(sort, texts);
                }
                write_pack(
                    &mut packs_table,
                    index,
                    SUMMARIES,
                    &packs::encode(&summaries, false),
                )
                .map_err(failed)?;
                if !records.blocks.is_empty() {
                    append_pack(
                        &mut packs_table,
                        index,
                        RECORDS,
                        &packs::encode_frame(&records),
                    )
                    .map_err(failed)?;
                }
            }
            let mut timeless_table = txn.open_table(TIMELESS).map_err(table_failed)?;
            for event in timeless {
                let existed = timeless_table
                    .insert(
                        event.event_id.as_str(),
                        event.record.compressed().as_slice(),
                    )
                    .map_err(failed)?
                    .is_some();
                added += u64::from(!existed);
            }
            let mut items = txn.open_table(ITEMS).map_err(table_failed)?;
            for (hour, generation) in &generations {
                items
                    .insert(
                        (
                            keys::generation_partition(hour.day).as_str(),
                            keys::generation_sort(hour).as_str(),
                        ),
                        (*generation, None, &[][..]),
                    )
                    .map_err(failed)?;
            }
            if durable {
                let mut journal = txn.open_table(ID_JOURNAL).map_err(table_failed)?;
                if merge {
                    waiting
                        .merge(&mut ids, &mut journal, &new_ids)
                        .map_err(failed)?;
                } else {
                    waiting
                        .write_journal(&mut journal, &new_ids)
                        .map_err(failed)?;
                }
            }
            if added > 0 {
                let mut meta = txn.open_table(META).map_err(table_failed)?;
                let count: u64 = meta
                    .get(EVENT_COUNT)
                    .map_err(failed)?
                    .and_then(|v| v.value().parse().ok())
                    .unwrap_or(0);
                meta.insert(EVENT_COUNT, (count + added).to_string().as_str())
                    .map_err(failed)?;
            }
            Ok(())
        };
        body()?;
        let mut txn = txn;
        let durability = if durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        txn.set_durability(durability)
            .map_err(|e| self.error("write", e.into()))?;
        txn.commit().map_err(|e| self.error("write", e.into()))?;
        match (durable, merge) {
            (true, true) => waiting.merged(),
            (true, false) => waiting.journaled(new_ids),
            (false, _) => waiting.add(new_ids),
        }
        drop(waiting);
        // After the commit, so that a generation seen is never ahead of the
        // blocks a reader finds (see `generations_blocking`).
        let mut known = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = known.as_mut() {
            known.extend(generations);
        }
        Ok(())
    }

    /// The generations of the hours of `first..=last`, from memory; the
    /// first call reads them all from the database while holding the lock,
    /// so that a write committed meanwhile is applied after, never lost.
    fn generations_blocking(
        &self,
        first: Hour,
        last: Hour,
    ) -> Result<Vec<(Hour, u64)>, StoreError> {
        let mut known = self.generations.lock().unwrap_or_else(|p| p.into_inner());
        if known.is_none() {
            let all = self.read("read generations", |txn| {
                let table = txn.open_table(ITEMS)?;
                let mut all = BTreeMap::new();
                for entry in table.range(("G#", "")..("G$", ""))? {
                    let (key, value) = entry?;
                    let (partition, sort) = key.value();
                    let (version, _, _) = value.value();
                    if let Some(hour) = keys::parse_generation(partition, sort)
                        && version != 0
                    {
                        all.insert(hour, version);
                    }
                }
                Ok(all)
            })?;
            *known = Some(all);
        }
        Ok(known
            .as_ref()
            .map(|all| all.range(first..=last).map(|(h, g)| (*h, *g)).collect())
            .unwrap_or_default())
    }

    /// The blocks of a range of one day's partition, as stored items.
    fn read_blocks(&self, range: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
        let Some(day) = range
            .partition
            .strip_prefix("B#")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            return Ok(Vec::new());
        };
        // Sort keys start with the hour (`HH#…`).
        let hour_of = |key: &str, default: u8| -> u8 {
            key.get(..2)
                .and_then(|h| h.parse().ok())
                .unwrap_or(default)
                .min(23)
        };
        let (first_hour, last_hour) = (hour_of(&range.start, 0), hour_of(&range.end, 23));
        let txn = self
            .db
            .begin_read()
            .map_err(|e| self.error("read blocks", e.into()))?;
        let tables = txn
            .open_table(PACKS)
            .map_err(|e| self.error("read blocks", e.into()))?;
        let mut found = Vec::new();
        for hour in first_hour..=last_hour {
            let index = hour_index(&Hour { day, hour });
            for (sort, bytes) in self.summaries(&tables, index)?.blocks {
                if range.start.as_str() <= sort.as_str() && sort.as_str() <= range.end.as_str() {
                    found.push(StoredItem {
                        partition: range.partition.clone(),
                        sort,
                        version: 0,
                        value: bytes,
                        expires_at: None,
                    });
                }
            }
        }
        Ok(found)
    }

    /// Events by id, each with its record (read from its hour's packs).
    fn events_blocking(&self, event_ids: &[String]) -> Result<Vec<EventItem>, StoreError> {
        // The hours of ids not yet in the index, read before the transaction
        // begins: an id leaves them only once its durable commit is done, so
        // each id is seen here or in the transaction.
        let unindexed: Vec<Option<u32>> = {
            let unindexed = self.unindexed_ids();
            event_ids
                .iter()
                .map(|id| unindexed.hour(id_hash(id)))
                .collect()
        };
        let txn = self
            .db
            .begin_read()
            .map_err(|e| self.error("get events", e.into()))?;
        let failed = |e: redb::StorageError| self.error("get events", e.into());
        let tables = txn
            .open_table(PACKS)
            .map_err(|e| self.error("get events", e.into()))?;
        let ids = txn
            .open_table(EVENT_IDS)
            .map_err(|e| self.error("get events", e.into()))?;
        let timeless = txn
            .open_table(TIMELESS)
            .map_err(|e| self.error("get events", e.into()))?;
        let mut wanted_by_hour: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
        let mut found = Vec::new();
        for (id, unindexed) in event_ids.iter().zip(unindexed) {
            if let Some(hour) = unindexed {
                wanted_by_hour.entry(hour).or_default().insert(id.as_str());
            }
            if let Some(bytes) = timeless.get(id.as_str()).map_err(failed)? {
                found.push(
                    timeless_event(id, bytes.value()).map_err(|e| self.corrupt(id.clone(), e))?,
                );
                continue;
            }
            for entry in ids.range(id_range(id_hash(id))).map_err(failed)? {
                let (_, hour) = entry.map_err(failed)?.0.value();
                wanted_by_hour.entry(hour).or_default().insert(id.as_str());
            }
        }
        for (hour, wanted) in wanted_by_hour {
            let summaries = self.summaries(&tables, hour)?;
            let mut records: Option<Records> = None;
            for (sort, bytes) in &summaries.blocks {
                let block =
                    Block::decode(bytes).map_err(|e| self.corrupt(format!("block {sort}"), e))?;
                for row in 0..block.len() {
                    if !wanted.contains(block.event_id(row)) {
                        continue;
                    }
                    if records.is_none() {
                        records = Some(self.records(&tables, hour)?);
                    }
                    let text = records
                        .as_ref()
                        .and_then(|r| r.blocks.get(sort))
                        .and_then(|texts| texts.get(row))
                        .ok_or_else(|| {
                            self.corrupt(format!("block {sort}"), "a record is missing")
                        })?;
                    let mut event = block.event(row);
                    event.record = StoredRecord::Text(text.clone());
                    found.push(event);
                }
            }
        }
        Ok(found)
    }
}

/// An event without a usable time, rebuilt from its record.
fn timeless_event(id: &str, compressed: &[u8]) -> Result<EventItem, String> {
    let text =
        String::from_utf8(crate::event::decompress(compressed)?).map_err(|e| e.to_string())?;
    let raw = serde_json::value::RawValue::from_string(text).map_err(|e| e.to_string())?;
    let record = crate::cloudtrail::Record::from_raw(&raw).map_err(|e| e.to_string())?;
    let mut event = EventItem::from_record(record, 0);
    event.event_id = id.to_owned();
    Ok(event)
}

/// Appends to an hour's pack of one kind (its last piece filled first).
fn append_pack(
    table: &mut redb::Table<(u32, u8, u16), &'static [u8]>,
    hour: u32,
    kind: u8,
    bytes: &[u8],
) -> Result<(), redb::StorageError> {
    let last = table
        .range((hour, kind, 0)..=(hour, kind, u16::MAX))?
        .next_back()
        .transpose()?
        .map(|(key, value)| (key.value().2, value.value().to_vec()));
    let (mut number, mut piece) = last.unwrap_or((0, Vec::new()));
    let mut rest = bytes;
    loop {
        let room = PIECE.saturating_sub(piece.len());
        let (now, later) = rest.split_at(room.min(rest.len()));
        piece.extend_from_slice(now);
        table.insert((hour, kind, number), piece.as_slice())?;
        rest = later;
        if rest.is_empty() {
            return Ok(());
        }
        number = number.checked_add(1).ok_or_else(|| {
            redb::StorageError::Io(std::io::Error::other(format!(
                "the records of hour {hour} are over {} bytes",
                PIECE * usize::from(u16::MAX)
            )))
        })?;
        piece.clear();
    }
}

/// Copies a whole table, in key order.
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &redb::ReadTransaction,
    to: &redb::WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<(), redb::Error> {
    let source = from.open_table(table)?;
    let mut target = to.open_table(table)?;
    // Ascending keys through the gap at the end of the new table: redb
    // builds full pages from the run instead of descending the tree for each.
    let mut end = target.upper_bound_mut(std::ops::Bound::<K::SelfType<'_>>::Unbounded)?;
    for entry in source.iter()? {
        let (key, value) = entry?;
        end.insert_before(key.value(), value.value())?;
    }
    end.close()?;
    Ok(())
}

/// The packs table, from a read or a write transaction.
trait PackTable: ReadableTable<(u32, u8, u16), &'static [u8]> {}
impl<T: ReadableTable<(u32, u8, u16), &'static [u8]>> PackTable for T {}

/// An hour's pack of one kind, its pieces joined (`None`: no pack yet).
fn read_pack(
    table: &impl PackTable,
    hour: u32,
    kind: u8,
) -> Result<Option<Vec<u8>>, redb::StorageError> {
    let mut pack: Option<Vec<u8>> = None;
    for piece in table.range((hour, kind, 0)..=(hour, kind, u16::MAX))? {
        let (_, bytes) = piece?;
        pack.get_or_insert_with(Vec::new)
            .extend_from_slice(bytes.value());
    }
    Ok(pack)
}

/// Replaces an hour's pack of one kind.
fn write_pack(
    table: &mut redb::Table<(u32, u8, u16), &'static [u8]>,
    hour: u32,
    kind: u8,
    bytes: &[u8],
) -> Result<(), redb::StorageError> {
    table.retain_in((hour, kind, 0)..=(hour, kind, u16::MAX), |_, _| false)?;
    for (number, piece) in bytes.chunks(PIECE).enumerate() {
        let number = u16::try_from(number).map_err(|_| {
            redb::StorageError::Io(std::io::Error::other(format!(
                "the pack of hour {hour} is over {} bytes",
                PIECE * usize::from(u16::MAX)
            )))
        })?;
        table.insert((hour, kind, number), piece)?;
    }
    Ok(())
}

#[async_trait]
impl EventStore for EmbeddedStore {
    fn describe(&self) -> String {
        format!("database {}", self.path.display())
    }

    fn has_partitions(&self) -> bool {
        false
    }

    async fn write(
        &self,
        batch: WriteBatch,
        _deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let items = batch.entries.len() + batch.event_count();
        self.off_thread("write", move |store| store.write_blocking(&batch))
            .await?;
        Ok(WriteStats {
            requests: 1,
            items: items as u64,
            ..WriteStats::default()
        })
    }

    async fn get_event(&self, event_id: &str) -> Result<Option<EventItem>, StoreError> {
        Ok(self
            .get_events(&[event_id.to_owned()])
            .await?
            .into_iter()
            .next())
    }

    async fn get_events(&self, event_ids: &[String]) -> Result<Vec<EventItem>, StoreError> {
        let ids = event_ids.to_vec();
        self.off_thread("get events", move |store| store.events_blocking(&ids))
            .await
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

    async fn catalog_page(
        &self,
        kind: CatalogKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StoreError> {
        let partition = kind.partition();
        self.read("read catalog", |txn| {
            let table = txn.open_table(CATALOG)?;
            let mut values = Vec::new();
            for entry in table.range((partition, after.unwrap_or(""))..)? {
                let (key, _) = entry?;
                let (p, value) = key.value();
                if p != partition {
                    break;
                }
                if after == Some(value) {
                    continue;
                }
                if values.len() == limit {
                    return Ok((values, true));
                }
                values.push(value.to_owned());
            }
            Ok((values, false))
        })
    }

    async fn query_partition(&self, query: &PartitionQuery) -> Result<EventPage, StoreError> {
        Err(StoreError::Permanent {
            operation: "query",
            store: self.describe(),
            message: format!(
                "partition {} cannot be read: the embedded store answers from blocks",
                query.partition
            ),
        })
    }

    async fn read_items(&self, range: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
        if is_rollup(&range.partition) {
            let memory = self.rollups.lock().unwrap_or_else(|p| p.into_inner());
            let bounds = (range.partition.clone(), range.start.clone())
                ..=(range.partition.clone(), range.end.clone());
            return Ok(memory.items.range(bounds).map(|(_, i)| i.clone()).collect());
        }
        if range.partition.starts_with("B#") {
            let range = range.clone();
            return self
                .off_thread("read blocks", move |store| store.read_blocks(&range))
                .await;
        }
        Ok(self.scan_items(range, usize::MAX)?.0)
    }

    async fn hour_generations(
        &self,
        from: &chrono::DateTime<chrono::Utc>,
        to: &chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(Hour, u64)>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let first = Hour::of(from);
        let last = Hour::of(&(*to - chrono::Duration::microseconds(1)));
        let loaded = self
            .generations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if loaded {
            return self.generations_blocking(first, last);
        }
        self.off_thread("read generations", move |store| {
            store.generations_blocking(first, last)
        })
        .await
    }

    async fn get_items(&self, keys: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError> {
        let (rollups, keys): (Vec<&(String, String)>, Vec<&(String, String)>) =
            keys.iter().partition(|(p, _)| is_rollup(p));
        let (blocks, others): (Vec<&(String, String)>, Vec<&(String, String)>) =
            keys.into_iter().partition(|(p, _)| p.starts_with("B#"));
        let mut found: Vec<StoredItem> = {
            let memory = self.rollups.lock().unwrap_or_else(|p| p.into_inner());
            rollups
                .into_iter()
                .filter_map(|key| memory.items.get(key).cloned())
                .collect()
        };
        found.extend(self.read("get items", |txn| {
            let table = txn.open_table(ITEMS)?;
            let mut found = Vec::with_capacity(others.len());
            for (partition, sort) in others {
                if let Some(value) = table.get((partition.as_str(), sort.as_str()))? {
                    found.push(stored((partition, sort), value.value()));
                }
            }
            Ok(found)
        })?);
        if !blocks.is_empty() {
            let mut by_hour: HashMap<u32, BTreeSet<(String, String)>> = HashMap::new();
            for (partition, sort) in blocks {
                if let Some(BlockKey {
                    hour: Some(hour), ..
                }) = BlockKey::parse(partition, sort)
                {
                    by_hour
                        .entry(hour_index(&hour))
                        .or_default()
                        .insert((partition.clone(), sort.clone()));
                }
            }
            let store = self.clone();
            let blocks = self
                .off_thread("get blocks", move |_| {
                    let txn = store
                        .db
                        .begin_read()
                        .map_err(|e| store.error("get blocks", e.into()))?;
                    let tables = txn
                        .open_table(PACKS)
                        .map_err(|e| store.error("get blocks", e.into()))?;
                    let mut found = Vec::new();
                    for (hour, wanted) in by_hour {
                        let mut summaries = store.summaries(&tables, hour)?;
                        for (partition, sort) in wanted {
                            if let Some(value) = summaries.blocks.remove(&sort) {
                                found.push(StoredItem {
                                    partition,
                                    sort,
                                    version: 0,
                                    value,
                                    expires_at: None,
                                });
                            }
                        }
                    }
                    Ok(found)
                })
                .await?;
            found.extend(blocks);
        }
        Ok(found)
    }

    async fn put_items(&self, items: &[StoredItem]) -> Result<WriteStats, StoreError> {
        let (rollups, items): (Vec<StoredItem>, Vec<StoredItem>) =
            items.iter().cloned().partition(|i| is_rollup(&i.partition));
        let count = (rollups.len() + items.len()) as u64;
        {
            let mut memory = self.rollups.lock().unwrap_or_else(|p| p.into_inner());
            for item in rollups {
                memory.put(item);
            }
        }
        self.off_thread("put items", move |store| {
            store
                .write(|txn| {
                    let mut table = txn.open_table(ITEMS)?;
                    for item in &items {
                        table.insert(
                            (item.partition.as_str(), item.sort.as_str()),
                            (
                                item.version,
                                item.expires_at,
                                values::to_file(&item.partition, &item.value).as_ref(),
                            ),
                        )?;
                    }
                    Ok(())
                })
                .map_err(|e| store.error("put items", e))
        })
        .await?;
        Ok(WriteStats {
            requests: 1,
            items: count,
            ..WriteStats::default()
        })
    }

    /// One transaction: each item is inserted unless its key is there.
    async fn put_new_items(&self, items: &[StoredItem]) -> Result<Vec<bool>, StoreError> {
        let items = items.to_vec();
        self.off_thread("put new items", move |store| {
            let mut written = Vec::with_capacity(items.len());
            store
                .write(|txn| {
                    let mut table = txn.open_table(ITEMS)?;
                    for item in &items {
                        let key = (item.partition.as_str(), item.sort.as_str());
                        let absent = table.get(key)?.is_none();
                        if absent {
                            table.insert(
                                key,
                                (
                                    item.version,
                                    item.expires_at,
                                    values::to_file(&item.partition, &item.value).as_ref(),
                                ),
                            )?;
                        }
                        written.push(absent);
                    }
                    Ok(())
                })
                .map_err(|e| store.error("put new items", e))?;
            Ok(written)
        })
        .await
    }

    async fn delete_items(&self, keys: &[(String, String)]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        self.off_thread("delete items", move |store| {
            store
                .write(|txn| {
                    let mut table = txn.open_table(ITEMS)?;
                    for (partition, sort) in &keys {
                        table.remove((partition.as_str(), sort.as_str()))?;
                    }
                    Ok(())
                })
                .map_err(|e| store.error("delete items", e))
        })
        .await
    }

    async fn read_items_page(
        &self,
        range: &ItemRange,
        limit: usize,
    ) -> Result<(Vec<StoredItem>, bool), StoreError> {
        if is_rollup(&range.partition) || range.partition.starts_with("B#") {
            let mut items = self.read_items(range).await?;
            let more = items.len() > limit;
            items.truncate(limit);
            return Ok((items, more));
        }
        self.scan_items(range, limit)
    }
}

/// An item of the block and rollup layer, from its key and stored value.
fn stored((partition, sort): (&str, &str), (version, expires_at, value): ItemValue) -> StoredItem {
    StoredItem {
        partition: partition.to_owned(),
        sort: sort.to_owned(),
        version,
        value: values::from_file(value),
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollups_in_memory_stay_within_their_budget() {
        let mut memory = RollupMemory {
            budget: 250,
            ..RollupMemory::default()
        };
        for i in 0..10 {
            memory.put(StoredItem {
                partition: "R#2024".into(),
                sort: format!("D#{i:02}"),
                version: 1,
                value: vec![0; 100],
                expires_at: None,
            });
        }
        assert_eq!(memory.items.len(), 2, "the oldest are dropped");
        assert!(memory.bytes <= 250);
        assert!(memory.items.contains_key(&("R#2024".into(), "D#09".into())));
    }

    /// One file's write of events `ids`, all at 00:00 on 2024-01-01.
    fn file_write(source: &str, ids: &[&str]) -> WriteBatch {
        let events: Vec<EventItem> = ids
            .iter()
            .map(|id| {
                let text = format!(r#"{{"eventID":"{id}","eventTime":"2024-01-01T00:00:00Z"}}"#);
                crate::event::event_from_json(text)
            })
            .collect();
        let time = crate::time::parse_event_time("2024-01-01T00:00:00Z").unwrap();
        WriteBatch {
            entries: Vec::new(),
            blocks: vec![super::super::BlockWrite {
                key: BlockKey {
                    hour: Some(Hour::of(&time)),
                    source: source.into(),
                    part: 0,
                },
                events,
            }],
        }
    }

    fn found(store: &EmbeddedStore, ids: &[&str]) -> Vec<String> {
        let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let mut found: Vec<String> = store
            .events_blocking(&ids)
            .unwrap()
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        found.sort();
        found
    }

    /// Writes until the next durable commit is done.
    fn write_until_durable(store: &EmbeddedStore, file: &str, id: &str) {
        while !store
            .writes
            .load(std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(DURABLE_EVERY)
        {
            store.write_blocking(&file_write(file, &[id])).unwrap();
        }
    }

    fn journal_entries(store: &EmbeddedStore) -> u64 {
        store
            .read("count", |txn| Ok(txn.open_table(ID_JOURNAL)?.len()?))
            .unwrap()
    }

    fn index_entries(store: &EmbeddedStore) -> u64 {
        store
            .read("count", |txn| Ok(txn.open_table(EVENT_IDS)?.len()?))
            .unwrap()
    }

    #[test]
    fn ids_waiting_for_the_index_still_find_and_deduplicate_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.db");
        let store = EmbeddedStore::open(&path).unwrap();
        store
            .write_blocking(&file_write("a1", &["e1", "e2"]))
            .unwrap();
        assert_eq!(store.unindexed_ids().len(), 2, "not yet in the index");
        assert_eq!(found(&store, &["e1", "e2", "e9"]), ["e1", "e2"]);
        // Delivered again in another file: not stored twice.
        store
            .write_blocking(&file_write("b2", &["e2", "e3"]))
            .unwrap();
        assert_eq!(store.event_count().unwrap(), 3);
        // The same file read again keeps its events.
        store
            .write_blocking(&file_write("a1", &["e1", "e2"]))
            .unwrap();
        assert_eq!(store.event_count().unwrap(), 3);
        // A durable write journals the waiting ids; they stay out of the
        // index (there is room for many more in memory).
        write_until_durable(&store, "c3", "e4");
        assert_eq!(journal_entries(&store), 1);
        assert_eq!(index_entries(&store), 0);
        assert_eq!(store.unindexed_ids().len(), 4);
        // Journaled ids only know their hour: the same file read again is
        // told apart by the hour's blocks, another file is not stored.
        store
            .write_blocking(&file_write("a1", &["e1", "e2"]))
            .unwrap();
        store
            .write_blocking(&file_write("f6", &["e3", "e5"]))
            .unwrap();
        assert_eq!(store.event_count().unwrap(), 5);
        assert_eq!(
            found(&store, &["e1", "e2", "e3", "e4", "e5"]),
            ["e1", "e2", "e3", "e4", "e5"]
        );
        // Dropped without a flush: the last handle journals what waits.
        drop(store);
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(store.unindexed_ids().len(), 5, "read back from the journal");
        assert_eq!(
            found(&store, &["e1", "e2", "e3", "e4", "e5"]),
            ["e1", "e2", "e3", "e4", "e5"]
        );
        store
            .write_blocking(&file_write("g7", &["e4", "e6"]))
            .unwrap();
        assert_eq!(
            store.event_count().unwrap(),
            6,
            "e4 is found in the journal"
        );
        // The flush merges everything into the index and empties the journal.
        store.flush().unwrap();
        assert_eq!(store.unindexed_ids().len(), 0, "merged by the flush");
        assert_eq!(journal_entries(&store), 0);
        assert_eq!(index_entries(&store), 6);
        drop(store);
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(store.event_count().unwrap(), 6);
        store
            .write_blocking(&file_write("h8", &["e3", "e7"]))
            .unwrap();
        assert_eq!(store.event_count().unwrap(), 7, "e3 is found in the index");
        // Its own file read again: the index has the ids without their file,
        // the hour's blocks of that file tell them apart.
        store
            .write_blocking(&file_write("a1", &["e1", "e2"]))
            .unwrap();
        assert_eq!(store.event_count().unwrap(), 7);
        assert_eq!(found(&store, &["e1", "e2", "e7"]), ["e1", "e2", "e7"]);
    }

    #[test]
    fn a_durable_write_merges_the_ids_once_they_fill_their_memory() {
        let dir = tempfile::tempdir().unwrap();
        // Room for 2,000 / 2 / 40 = 25 waiting ids.
        let store = EmbeddedStore::open_with_cache(&dir.path().join("m.db"), 2_000).unwrap();
        let ids: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        store.write_blocking(&file_write("a1", &ids)).unwrap();
        write_until_durable(&store, "b2", "n0");
        assert_eq!(index_entries(&store), 31);
        assert_eq!(journal_entries(&store), 0);
        assert_eq!(store.unindexed_ids().len(), 0);
        assert_eq!(found(&store, &["m0", "m29", "n0"]), ["m0", "m29", "n0"]);
    }

    #[test]
    fn a_format_4_database_is_read_and_marked_5() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("four.db");
        let store = EmbeddedStore::open(&path).unwrap();
        store
            .write_blocking(&file_write("a1", &["e1", "e2"]))
            .unwrap();
        store.flush().unwrap();
        store
            .write(|txn| {
                txn.open_table(META)?
                    .insert("format", FORMAT_WITHOUT_JOURNAL)?;
                txn.delete_table(ID_JOURNAL)?;
                Ok(())
            })
            .unwrap();
        drop(store);
        let store = EmbeddedStore::open(&path).unwrap();
        let format = store
            .read("format", |txn| {
                Ok(txn
                    .open_table(META)?
                    .get("format")?
                    .map(|v| v.value().to_owned()))
            })
            .unwrap();
        assert_eq!(format.as_deref(), Some(FORMAT));
        assert_eq!(found(&store, &["e1", "e2"]), ["e1", "e2"]);
        store
            .write_blocking(&file_write("b2", &["e2", "e3"]))
            .unwrap();
        assert_eq!(store.event_count().unwrap(), 3);
    }

    #[test]
    fn an_older_database_is_refused_with_how_to_rebuild_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(TableDefinition::<&str, &[u8]>::new("events"))
                .unwrap();
            txn.commit().unwrap();
        }
        let error = EmbeddedStore::open(&path)
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("older release"), "{error}");
        assert!(error.contains("tracker serve --logs"), "{error}");
        let fresh = dir.path().join("new.db");
        EmbeddedStore::open(&fresh).expect("created");
        EmbeddedStore::open(&fresh).expect("reopened");
    }
}
