//! Event ids that are not yet in the id index, and the journal that keeps
//! them through a crash.
//!
//! The index's keys are hashes, so any batch of ids merged into it lands
//! all over the B-tree and rewrites nearly every leaf: merging the ids of
//! each durable commit (every 32 writes) rewrote the whole index ~60 times
//! in a 1 M-event backfill, ~13 % of its CPU. The ids therefore wait in
//! memory, up to a number set by the store's memory setting
//! ([`UnindexedIds::is_full`]), and enter the index together, in key order.
//!
//! So that a crash loses none of them, each durable commit also appends the
//! ids of the writes it makes durable to a journal table (12 bytes an id, in
//! one value); the merge empties the journal, and opening the database reads
//! it back. The ids of writes since the last durable commit are lost with a
//! crash exactly as those writes are.

use std::sync::{Arc, Mutex};

use foldhash::HashMap;
use redb::{Database, Durability, ReadableTable, StorageError, TableDefinition};

/// Ids waiting for the index, by durable commit: (commit number) → the ids
/// as 12-byte entries (hash, then hour index, little-endian).
pub const ID_JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("id_journal");
/// Bytes of one journal entry.
const ENTRY: usize = 12;

/// The ids of one write: hash → (hour index, number of the log file).
pub type WriteIds = HashMap<u64, (u32, u64)>;

/// Where an id that the index lacks was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// In this hour from this log file (a write since the last durable commit).
    Exact(u32, u64),
    /// In this hour (read from the journal, which, like the index, does not
    /// keep the file).
    Hour(u32),
}

/// Ids stored but not yet in the id index.
#[derive(Default)]
pub struct UnindexedIds {
    /// Since the last durable commit, with their file.
    fresh: WriteIds,
    /// In the journal.
    journaled: HashMap<u64, u32>,
    /// How many ids may wait before a durable commit merges them.
    capacity: usize,
}

impl UnindexedIds {
    /// Ids that may wait: about 40 bytes of memory each (the map's slots
    /// included), so `memory_bytes / 40`.
    pub fn with_memory(memory_bytes: usize) -> UnindexedIds {
        UnindexedIds {
            capacity: (memory_bytes / 40).max(1),
            ..UnindexedIds::default()
        }
    }

    /// Reads the journal a database holds (empty in a new one).
    pub fn load(&mut self, journal: &impl ReadableTable<u64, &'static [u8]>) -> Result<(), String> {
        for entry in journal.iter().map_err(|e| e.to_string())? {
            let (commit, ids) = entry.map_err(|e| e.to_string())?;
            let ids = ids.value();
            if ids.len() % ENTRY != 0 {
                return Err(format!(
                    "entry {} of the id journal has {} bytes, not a multiple of {ENTRY}",
                    commit.value(),
                    ids.len()
                ));
            }
            for entry in ids.chunks_exact(ENTRY) {
                let (hash, hour) = entry.split_at(8);
                let hash = u64::from_le_bytes(hash.try_into().unwrap_or_default());
                let hour = u32::from_le_bytes(hour.try_into().unwrap_or_default());
                self.journaled.insert(hash, hour);
            }
        }
        Ok(())
    }

    pub fn get(&self, hash: u64) -> Option<Seen> {
        match self.fresh.get(&hash) {
            Some(&(hour, file)) => Some(Seen::Exact(hour, file)),
            None => self.journaled.get(&hash).map(|&hour| Seen::Hour(hour)),
        }
    }

    /// The hour an unindexed id was stored in.
    pub fn hour(&self, hash: u64) -> Option<u32> {
        self.get(hash).map(|seen| match seen {
            Seen::Exact(hour, _) | Seen::Hour(hour) => hour,
        })
    }

    pub fn len(&self) -> usize {
        self.fresh.len() + self.journaled.len()
    }

    pub fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        self.fresh.keys().chain(self.journaled.keys()).copied()
    }

    /// Whether a durable commit that adds `more` ids should merge them all
    /// into the index rather than journal them.
    pub fn is_full(&self, more: usize) -> bool {
        self.len() + more >= self.capacity
    }

    /// After a non-durable commit: its ids wait in memory only.
    pub fn add(&mut self, ids: WriteIds) {
        self.fresh.extend(ids);
    }

    /// In a durable commit's transaction: appends the ids since the last
    /// durable commit, and this write's, to the journal.
    pub fn write_journal(
        &self,
        journal: &mut redb::Table<u64, &[u8]>,
        ids: &WriteIds,
    ) -> Result<(), StorageError> {
        let mut bytes = Vec::with_capacity((self.fresh.len() + ids.len()) * ENTRY);
        for (hash, (hour, _)) in self.fresh.iter().chain(ids) {
            bytes.extend_from_slice(&hash.to_le_bytes());
            bytes.extend_from_slice(&hour.to_le_bytes());
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let next = journal.last()?.map_or(0, |(commit, _)| commit.value() + 1);
        journal.insert(next, bytes.as_slice())?;
        Ok(())
    }

    /// After the durable commit that wrote them to the journal.
    pub fn journaled(&mut self, ids: WriteIds) {
        let fresh = std::mem::take(&mut self.fresh);
        for (hash, (hour, _)) in fresh.into_iter().chain(ids) {
            self.journaled.insert(hash, hour);
        }
    }

    /// In a durable commit's transaction: inserts every waiting id, and
    /// this write's, into the index in key order (neighbours share a page),
    /// and empties the journal.
    pub fn merge(
        &self,
        index: &mut redb::Table<(u64, u32), ()>,
        journal: &mut redb::Table<u64, &[u8]>,
        ids: &WriteIds,
    ) -> Result<(), StorageError> {
        let mut keys: Vec<(u64, u32)> = self
            .fresh
            .iter()
            .chain(ids)
            .map(|(&hash, &(hour, _))| (hash, hour))
            .chain(self.journaled.iter().map(|(&hash, &hour)| (hash, hour)))
            .collect();
        keys.sort_unstable();
        for key in keys {
            index.insert(key, ())?;
        }
        journal.retain(|_, _| false)?;
        Ok(())
    }

    /// After the durable commit that merged them.
    pub fn merged(&mut self) {
        self.fresh.clear();
        self.journaled.clear();
    }
}

/// Held by every handle on a store: when the last one goes, journals the
/// ids of the writes since the last durable commit, which redb makes
/// durable as it closes the file (a store dropped without a flush, e.g.
/// after an ingest that failed half-way, would otherwise keep events the
/// index cannot find).
pub struct JournalOnClose {
    pub db: Arc<Database>,
    pub ids: Arc<Mutex<UnindexedIds>>,
}

impl Drop for JournalOnClose {
    fn drop(&mut self) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.fresh.is_empty() {
            return;
        }
        let journal = || -> Result<(), redb::Error> {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            ids.write_journal(&mut txn.open_table(ID_JOURNAL)?, &WriteIds::default())?;
            txn.commit()?;
            Ok(())
        };
        match journal() {
            Ok(()) => ids.journaled(WriteIds::default()),
            Err(e) => tracing::warn!(
                "closing the database, {} event ids could not be journaled ({e}): \
                 `/events/{{id}}` may not find those events; `tracker serve --logs` \
                 into a new database rebuilds it",
                ids.fresh.len()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_know_their_file_and_journaled_ones_only_their_hour() {
        let mut ids = UnindexedIds::with_memory(400);
        ids.add(WriteIds::from_iter([(1, (10, 7))]));
        assert_eq!(ids.get(1), Some(Seen::Exact(10, 7)));
        ids.journaled(WriteIds::from_iter([(2, (11, 8))]));
        assert_eq!(ids.get(1), Some(Seen::Hour(10)));
        assert_eq!(ids.get(2), Some(Seen::Hour(11)));
        assert_eq!(ids.hour(2), Some(11));
        assert_eq!(ids.get(3), None);
        assert_eq!(ids.len(), 2);
        assert!(!ids.is_full(7) && ids.is_full(8), "room for 10 ids");
        ids.merged();
        assert_eq!(ids.len(), 0);
    }
}
