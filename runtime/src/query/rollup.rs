//! Rollups: per attribute, how many events of an hour (or a day) hold each
//! value, and where they are (which blocks of the hour; which hours of the
//! day). Statistics over whole hours and days read rollups instead of
//! blocks, and lookups read them to skip every hour and block that cannot
//! hold a match, so what a query reads follows its answer.
//!
//! Rollups are derived data, built on the query side and kept in the store
//! for the next query. Each records the generations of the hours it was
//! built from; an hour's generation changes whenever a block of that hour is
//! written (see `store::keys`), so a rollup is used only while every
//! generation it recorded is still current, and rebuilt otherwise. That
//! keeps statistics exact under duplicate deliveries, retries, late files
//! and concurrent writers: a rollup is a function of the blocks, and blocks
//! are idempotent.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};

use super::cache::DecodeCache;
use crate::attribute::{Attribute, Term, Wanted};
use crate::store::block::{Block, KeyedBlock};
use crate::store::keys::{self, BlockKey, Hour};
use crate::store::{EventStore, ItemRange, StoreError, StoredItem};

/// Largest encoded rollup a decoder accepts.
const MAX_DECODED: usize = 64 * 1024 * 1024;
/// Hours or days read or rebuilt at once.
const CONCURRENCY: usize = 8;

/// Where each value of one attribute is, within an hour: its count, and
/// the blocks holding it (positions in [`HourRollup::blocks`]).
pub type HourValues = Vec<(String, u64, Vec<u32>)>;
/// Within a day: each value's count, and the hours holding it (bit `h` for hour `h`).
pub type DayValues = Vec<(String, u64, u32)>;
/// Each value's count among the events that failed (have an `errorCode`).
pub type FailedValues = Vec<(String, u64)>;

/// Every attribute over one hour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourRollup {
    /// The hour's generation when the rollup was built.
    pub generation: u64,
    /// Events of the hour.
    pub total: u64,
    /// The sort keys of the hour's blocks (in partition `B#<day>`).
    pub blocks: Vec<String>,
    /// Per attribute (its index in `Attribute::ALL`), each value ascending.
    pub attributes: Vec<HourValues>,
    /// The same counts among failed calls only (`errorCode=*`, the
    /// responder's usual filter), so that statistics of failures over whole
    /// hours and days need no block.
    pub failed: Vec<FailedValues>,
}

/// Every attribute over one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRollup {
    /// `(hour, generation)` of every hour of the day that has blocks.
    pub generations: Vec<(u8, u64)>,
    /// Events of the day.
    pub total: u64,
    /// Per attribute (its index in `Attribute::ALL`), each value ascending.
    pub attributes: Vec<DayValues>,
    /// The same counts among failed calls only (see [`HourRollup::failed`]).
    pub failed: Vec<FailedValues>,
}

/// One attribute's entry of a per-attribute list (empty when absent).
pub fn of_attribute<T>(lists: &[Vec<T>], attribute: Attribute) -> &[T] {
    lists
        .get(attribute.index())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The entries of a rollup's value list (ascending by value) that a term
/// accepts: its values looked up, or every non-empty value.
fn accepted<'a, T>(
    values: &'a [(String, u64, T)],
    term: &'a Term,
) -> Box<dyn Iterator<Item = &'a (String, u64, T)> + 'a> {
    match &term.wanted {
        Wanted::AnyOf(wanted) => Box::new(wanted.iter().filter_map(|value| {
            values
                .binary_search_by(|(v, _, _)| v.as_str().cmp(value))
                .ok()
                .map(|i| &values[i])
        })),
        Wanted::Present => Box::new(values.iter().filter(|(v, _, _)| !v.is_empty())),
    }
}

/// A rollup could not be decoded (it is then rebuilt).
#[derive(Debug)]
struct Undecodable;

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let bytes = postcard::to_allocvec(value).unwrap_or_default();
    zstd::bulk::compress(&bytes, 3).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Undecodable> {
    let size = zstd::zstd_safe::get_frame_content_size(bytes)
        .ok()
        .flatten()
        .filter(|&n| n <= MAX_DECODED as u64)
        .ok_or(Undecodable)?;
    let raw = zstd::bulk::decompress(bytes, size as usize).map_err(|_| Undecodable)?;
    postcard::from_bytes(&raw).map_err(|_| Undecodable)
}

impl HourRollup {
    /// The rollup of one hour, from its blocks.
    fn build(generation: u64, blocks: &[KeyedBlock]) -> HourRollup {
        // Which rows are failed calls, looked up once for every attribute.
        let failed_rows: Vec<Vec<bool>> = blocks
            .iter()
            .map(|keyed| {
                (0..keyed.block.len())
                    .map(|row| {
                        keyed
                            .block
                            .values(Attribute::ErrorCode, row)
                            .next()
                            .is_some()
                    })
                    .collect()
            })
            .collect();
        let (attributes, failed) = Attribute::ALL
            .into_iter()
            .map(|attribute| {
                // Blocks in position order: each adds its position once per value.
                let mut values: BTreeMap<&str, (u64, Vec<u32>)> = BTreeMap::new();
                let mut failed: BTreeMap<&str, u64> = BTreeMap::new();
                for (position, (keyed, failed_rows)) in blocks.iter().zip(&failed_rows).enumerate()
                {
                    for (value, n, n_failed) in keyed.block.value_counts(attribute, failed_rows) {
                        let slot = values.entry(value).or_default();
                        slot.0 += n;
                        if slot.1.last() != Some(&(position as u32)) {
                            slot.1.push(position as u32);
                        }
                        if n_failed > 0 {
                            *failed.entry(value).or_default() += n_failed;
                        }
                    }
                }
                let values: HourValues = values
                    .into_iter()
                    .map(|(v, (n, at))| (v.to_owned(), n, at))
                    .collect();
                let failed: FailedValues =
                    failed.into_iter().map(|(v, n)| (v.to_owned(), n)).collect();
                (values, failed)
            })
            .unzip();
        HourRollup {
            generation,
            total: blocks.iter().map(|b| b.block.len() as u64).sum(),
            blocks: blocks.iter().map(|b| b.key.sort()).collect(),
            attributes,
            failed,
        }
    }

    /// One attribute's values among failed calls.
    pub fn failed_values(&self, attribute: Attribute) -> &[(String, u64)] {
        of_attribute(&self.failed, attribute)
    }

    /// One attribute's values.
    pub fn values(&self, attribute: Attribute) -> &[(String, u64, Vec<u32>)] {
        of_attribute(&self.attributes, attribute)
    }

    /// The positions (in [`Self::blocks`]) of the blocks holding a value
    /// the term accepts, ascending.
    pub fn blocks_with(&self, term: &Term) -> Vec<u32> {
        let mut positions: Vec<u32> = accepted(self.values(term.attribute), term)
            .flat_map(|(_, _, at)| at.iter().copied())
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions
    }
}

impl DayRollup {
    fn build(generations: Vec<(u8, u64)>, hours: &BTreeMap<u8, &HourRollup>) -> DayRollup {
        let attributes = Attribute::ALL
            .into_iter()
            .map(|attribute| {
                let mut values: BTreeMap<&str, (u64, u32)> = BTreeMap::new();
                for (hour, rollup) in hours {
                    for (value, count, _) in rollup.values(attribute) {
                        let slot = values.entry(value).or_default();
                        slot.0 += count;
                        slot.1 |= 1 << hour;
                    }
                }
                values
                    .into_iter()
                    .map(|(v, (n, mask))| (v.to_owned(), n, mask))
                    .collect()
            })
            .collect();
        let failed = Attribute::ALL
            .into_iter()
            .map(|attribute| {
                let mut values: BTreeMap<&str, u64> = BTreeMap::new();
                for rollup in hours.values() {
                    for (value, count) in rollup.failed_values(attribute) {
                        *values.entry(value).or_default() += count;
                    }
                }
                values.into_iter().map(|(v, n)| (v.to_owned(), n)).collect()
            })
            .collect();
        DayRollup {
            generations,
            total: hours.values().map(|r| r.total).sum(),
            attributes,
            failed,
        }
    }

    /// One attribute's values among failed calls.
    pub fn failed_values(&self, attribute: Attribute) -> &[(String, u64)] {
        of_attribute(&self.failed, attribute)
    }

    /// One attribute's values.
    pub fn values(&self, attribute: Attribute) -> &[(String, u64, u32)] {
        of_attribute(&self.attributes, attribute)
    }

    /// The hours holding a value the term accepts, as a mask.
    pub fn hours_with(&self, term: &Term) -> u32 {
        accepted(self.values(term.attribute), term).fold(0, |mask, (_, _, hours)| mask | hours)
    }
}

/// The rollups, generations and blocks of a window, read (and rebuilt
/// when stale) on behalf of one query.
pub struct Rollups {
    store: Arc<dyn EventStore>,
    /// Decoded rollups and blocks kept between queries.
    cache: Arc<DecodeCache>,
    /// The current generation of every hour of the window that has
    /// blocks, ascending by hour.
    generations: Vec<(Hour, u64)>,
    /// What this query has read already.
    day_memo: Mutex<BTreeMap<NaiveDate, Arc<DayRollup>>>,
    hour_memo: Mutex<BTreeMap<Hour, Arc<HourRollup>>>,
}

impl Rollups {
    /// Reads the generations of the hours of `[from, to)` (consistently:
    /// what is read next must be at least as new).
    pub async fn load(
        store: Arc<dyn EventStore>,
        cache: Arc<DecodeCache>,
        from: &DateTime<Utc>,
        to: &DateTime<Utc>,
    ) -> Result<Rollups, StoreError> {
        let mut generations = store.hour_generations(from, to).await?;
        generations.sort_unstable_by_key(|(hour, _)| *hour);
        generations.dedup_by_key(|(hour, _)| *hour);
        Ok(Rollups::new(store, cache, generations))
    }

    fn new(
        store: Arc<dyn EventStore>,
        cache: Arc<DecodeCache>,
        generations: Vec<(Hour, u64)>,
    ) -> Rollups {
        Rollups {
            store,
            cache,
            generations,
            day_memo: Mutex::default(),
            hour_memo: Mutex::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The hours of the window that have blocks, ascending.
    pub fn hours(&self) -> impl Iterator<Item = Hour> + '_ {
        self.generations.iter().map(|(hour, _)| *hour)
    }

    /// The hours with blocks that overlap `[from, to)`, ascending (one run
    /// of the ascending hours, found by two searches).
    pub fn hours_overlapping(&self, from: &DateTime<Utc>, to: &DateTime<Utc>) -> Vec<Hour> {
        let first = self.generations.partition_point(|(h, _)| h.end() <= *from);
        let end = self.generations.partition_point(|(h, _)| h.start() < *to);
        self.generations
            .get(first..end.max(first))
            .unwrap_or_default()
            .iter()
            .map(|(hour, _)| *hour)
            .collect()
    }

    /// The days of the window that have blocks, ascending.
    pub fn days(&self) -> Vec<NaiveDate> {
        let mut days: Vec<NaiveDate> = self.generations.iter().map(|(h, _)| h.day).collect();
        days.dedup();
        days
    }

    /// The current generation of one hour.
    fn generation_of(&self, hour: &Hour) -> Option<u64> {
        self.generations
            .binary_search_by_key(hour, |(h, _)| *h)
            .ok()
            .map(|i| self.generations[i].1)
    }

    /// The generations of one day's hours.
    fn day_slice(&self, day: NaiveDate) -> &[(Hour, u64)] {
        let low = self.generations.partition_point(|(h, _)| h.day < day);
        let high = self.generations.partition_point(|(h, _)| h.day <= day);
        &self.generations[low..high]
    }

    fn day_generations(&self, day: NaiveDate) -> Vec<(u8, u64)> {
        self.day_slice(day)
            .iter()
            .map(|(h, g)| (h.hour, *g))
            .collect()
    }

    /// Whether a day rollup was built from the day's current hours.
    fn is_current(&self, day: NaiveDate, rollup: &DayRollup) -> bool {
        let current = self.day_slice(day);
        current.len() == rollup.generations.len()
            && current
                .iter()
                .zip(&rollup.generations)
                .all(|((h, g), (hour, generation))| h.hour == *hour && g == generation)
    }

    /// The rollups of these days, current (rebuilt where stale); read once
    /// per query.
    pub async fn days_of(
        &self,
        days: &[NaiveDate],
    ) -> Result<BTreeMap<NaiveDate, Arc<DayRollup>>, StoreError> {
        let mut found = BTreeMap::new();
        let mut missing = Vec::new();
        {
            let memo = self.day_memo.lock().unwrap_or_else(|p| p.into_inner());
            for day in days {
                match memo.get(day) {
                    Some(rollup) => {
                        found.insert(*day, Arc::clone(rollup));
                    }
                    None => missing.push(*day),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let fresh = self.read_days(&missing).await?;
        let mut memo = self.day_memo.lock().unwrap_or_else(|p| p.into_inner());
        for (day, rollup) in fresh {
            memo.insert(day, Arc::clone(&rollup));
            found.insert(day, rollup);
        }
        Ok(found)
    }

    async fn read_days(
        &self,
        days: &[NaiveDate],
    ) -> Result<BTreeMap<NaiveDate, Arc<DayRollup>>, StoreError> {
        let mut found: BTreeMap<NaiveDate, Arc<DayRollup>> = BTreeMap::new();
        let mut by_year: BTreeMap<i32, Vec<NaiveDate>> = BTreeMap::new();
        for day in days {
            if let Some(rollup) = self.cache.day(*day).filter(|r| self.is_current(*day, r)) {
                found.insert(*day, rollup);
                continue;
            }
            by_year
                .entry(chrono::Datelike::year(day))
                .or_default()
                .push(*day);
        }
        let stored: Vec<Vec<StoredItem>> = stream::iter(by_year.into_values())
            .map(|days| async move {
                let first = keys::day_rollup_key(days[0]);
                let last = keys::day_rollup_key(days[days.len() - 1]);
                let range = ItemRange {
                    partition: first.0,
                    start: first.1,
                    end: last.1,
                    consistent: false,
                };
                self.store.read_items(&range).await
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        let by_key: HashMap<(String, String), StoredItem> = stored
            .into_iter()
            .flatten()
            .map(|i| ((i.partition.clone(), i.sort.clone()), i))
            .collect();
        let mut stale = Vec::new();
        let missing: Vec<NaiveDate> = days
            .iter()
            .filter(|d| !found.contains_key(d))
            .copied()
            .collect();
        for day in &missing {
            let key = keys::day_rollup_key(*day);
            let stored = by_key.get(&key);
            let cached = stored
                .and_then(|item| decode::<DayRollup>(&item.value).ok())
                .filter(|rollup| self.is_current(*day, rollup));
            match (cached, stored) {
                (Some(rollup), Some(item)) => {
                    let rollup = Arc::new(rollup);
                    self.cache
                        .put_day(*day, Arc::clone(&rollup), item.value.len());
                    found.insert(*day, rollup);
                }
                _ => stale.push(*day),
            }
        }
        if stale.is_empty() {
            return Ok(found);
        }
        // The stale days from their hours' rollups (one read for all), kept
        // for the next query (one write for all).
        let hours: Vec<Hour> = stale
            .iter()
            .flat_map(|day| {
                self.day_generations(*day)
                    .into_iter()
                    .map(move |(hour, _)| Hour { day: *day, hour })
            })
            .collect();
        let hour_rollups = self.hours_of(&hours).await?;
        let mut items = Vec::with_capacity(stale.len());
        for day in stale {
            let generations = self.day_generations(day);
            let by_hour: BTreeMap<u8, &HourRollup> = hour_rollups
                .range(Hour { day, hour: 0 }..=Hour { day, hour: 23 })
                .map(|(h, r)| (h.hour, r.as_ref()))
                .collect();
            let rollup = Arc::new(DayRollup::build(generations, &by_hour));
            let (partition, sort) = keys::day_rollup_key(day);
            let version = rollup
                .generations
                .iter()
                .fold(0u64, |acc, (h, g)| acc.rotate_left(5) ^ g ^ u64::from(*h));
            let value = encode(rollup.as_ref());
            self.cache.put_day(day, Arc::clone(&rollup), value.len());
            items.push(StoredItem {
                partition,
                sort,
                version,
                value,
                expires_at: None,
            });
            found.insert(day, rollup);
        }
        self.store.put_items(&items).await?;
        Ok(found)
    }

    /// The rollups of these hours, current (rebuilt where stale); read once
    /// per query.
    pub async fn hours_of(
        &self,
        hours: &[Hour],
    ) -> Result<BTreeMap<Hour, Arc<HourRollup>>, StoreError> {
        let mut found = BTreeMap::new();
        let mut missing = Vec::new();
        {
            let memo = self.hour_memo.lock().unwrap_or_else(|p| p.into_inner());
            for hour in hours {
                match memo.get(hour) {
                    Some(rollup) => {
                        found.insert(*hour, Arc::clone(rollup));
                    }
                    None if self.generation_of(hour).is_some() => missing.push(*hour),
                    None => {}
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let fresh = self.read_hours(&missing).await?;
        let mut memo = self.hour_memo.lock().unwrap_or_else(|p| p.into_inner());
        for (hour, rollup) in fresh {
            memo.insert(hour, Arc::clone(&rollup));
            found.insert(hour, rollup);
        }
        Ok(found)
    }

    async fn read_hours(
        &self,
        hours: &[Hour],
    ) -> Result<BTreeMap<Hour, Arc<HourRollup>>, StoreError> {
        let mut found = BTreeMap::new();
        let mut wanted: Vec<(Hour, u64)> = Vec::new();
        for hour in hours {
            let Some(generation) = self.generation_of(hour) else {
                continue;
            };
            match self
                .cache
                .hour(*hour)
                .filter(|r| r.generation == generation)
            {
                Some(rollup) => {
                    found.insert(*hour, rollup);
                }
                None => wanted.push((*hour, generation)),
            }
        }
        if wanted.is_empty() {
            return Ok(found);
        }
        let keys: Vec<(String, String)> = wanted
            .iter()
            .map(|(h, _)| keys::hour_rollup_key(h))
            .collect();
        let stored: HashMap<(String, String), StoredItem> = self
            .store
            .get_items(&keys)
            .await?
            .into_iter()
            .map(|i| ((i.partition.clone(), i.sort.clone()), i))
            .collect();
        let mut stale = Vec::new();
        for (hour, generation) in wanted {
            let key = keys::hour_rollup_key(&hour);
            let item = stored.get(&key);
            let cached = item
                .and_then(|item| decode::<HourRollup>(&item.value).ok())
                .filter(|rollup| rollup.generation == generation);
            match (cached, item) {
                (Some(rollup), Some(item)) => {
                    let rollup = Arc::new(rollup);
                    self.cache
                        .put_hour(hour, Arc::clone(&rollup), item.value.len());
                    found.insert(hour, rollup);
                }
                _ => stale.push((hour, generation)),
            }
        }
        if stale.is_empty() {
            return Ok(found);
        }
        // A stale hour from its blocks (read consistently, after its
        // generation); every rebuilt hour kept in one write.
        let rebuilt: Vec<(Hour, HourRollup)> = stream::iter(stale)
            .map(|(hour, generation)| async move {
                let blocks = self.hour_blocks(&hour, true).await?;
                Ok::<_, StoreError>((hour, HourRollup::build(generation, &blocks)))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut items = Vec::with_capacity(rebuilt.len());
        for (hour, rollup) in rebuilt {
            let (partition, sort) = keys::hour_rollup_key(&hour);
            let value = encode(&rollup);
            let rollup = Arc::new(rollup);
            self.cache.put_hour(hour, Arc::clone(&rollup), value.len());
            items.push(StoredItem {
                partition,
                sort,
                version: rollup.generation,
                value,
                expires_at: None,
            });
            found.insert(hour, rollup);
        }
        self.store.put_items(&items).await?;
        Ok(found)
    }

    /// Every block of one hour.
    pub async fn hour_blocks(
        &self,
        hour: &Hour,
        consistent: bool,
    ) -> Result<Vec<KeyedBlock>, StoreError> {
        let range = ItemRange::prefix(
            keys::block_partition(hour.day),
            &keys::block_hour_prefix(hour.hour),
            consistent,
        );
        let items = self.store.read_items(&range).await?;
        items.iter().map(|item| self.decode_block(item)).collect()
    }

    /// These blocks (by day and sort key), in key order; those decoded
    /// before (with their hour's generation unchanged) are not read again.
    pub async fn blocks(
        &self,
        wanted: &[(NaiveDate, String)],
    ) -> Result<Vec<KeyedBlock>, StoreError> {
        let mut blocks = Vec::with_capacity(wanted.len());
        let mut keys: Vec<(String, String)> = Vec::new();
        for (day, sort) in wanted {
            let generation = keys::block_hour(*day, sort)
                .and_then(|hour| self.generation_of(&hour))
                .unwrap_or(0);
            match self.cache.block(&(*day, sort.clone(), generation)) {
                Some(keyed) => blocks.push(KeyedBlock::clone(&keyed)),
                None => keys.push((keys::block_partition(*day), sort.clone())),
            }
        }
        if !keys.is_empty() {
            for item in self.store.get_items(&keys).await? {
                blocks.push(self.decode_block(&item)?);
            }
        }
        blocks.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(blocks)
    }

    fn decode_block(&self, item: &StoredItem) -> Result<KeyedBlock, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            store: self.store.describe(),
            key: format!("{} {}", item.partition, item.sort),
            message,
        };
        let key = BlockKey::parse(&item.partition, &item.sort)
            .ok_or_else(|| corrupt("not a block key".into()))?;
        let block = Arc::new(Block::decode(&item.value).map_err(|e| corrupt(e.to_string()))?);
        let keyed = KeyedBlock { key, block };
        if let Some(hour) = keyed.key.hour {
            let generation = self.generation_of(&hour).unwrap_or(0);
            self.cache.put_block(
                (hour.day, item.sort.clone(), generation),
                Arc::new(keyed.clone()),
                item.value.len(),
            );
        }
        Ok(keyed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollups_round_trip_and_tell_where_values_are() {
        let mut attributes = vec![Vec::new(); Attribute::ALL.len()];
        attributes[Attribute::EventName.index()] =
            vec![("x".into(), 2, vec![0, 1]), ("y".into(), 1, vec![1])];
        let hour = HourRollup {
            generation: 7,
            total: 3,
            blocks: vec!["13#a#0".into(), "13#b#0".into()],
            attributes,
            failed: {
                let mut failed = vec![Vec::new(); Attribute::ALL.len()];
                failed[Attribute::EventName.index()] = vec![("y".into(), 1)];
                failed
            },
        };
        let back: HourRollup = decode(&encode(&hour)).expect("decodes");
        assert_eq!(back, hour);
        assert_eq!(
            hour.blocks_with(&Term::equals(Attribute::EventName, "y")),
            [1]
        );
        let either = Term {
            attribute: Attribute::EventName,
            wanted: Wanted::AnyOf(vec!["y".into(), "x".into(), "w".into()]),
        };
        assert_eq!(hour.blocks_with(&either), [0, 1]);
        assert!(hour.values(Attribute::Region).is_empty());
        let day = DayRollup::build(vec![(13, 7)], &BTreeMap::from([(13, &hour)]));
        assert_eq!(day.total, 3);
        assert_eq!(
            day.hours_with(&Term::equals(Attribute::EventName, "x")),
            1 << 13
        );
        assert_eq!(day.hours_with(&Term::equals(Attribute::EventName, "z")), 0);
        let present = Term {
            attribute: Attribute::EventName,
            wanted: Wanted::Present,
        };
        assert_eq!(day.hours_with(&present), 1 << 13);
        assert_eq!(
            day.failed_values(Attribute::EventName),
            [("y".to_owned(), 1)]
        );
        assert!(day.failed_values(Attribute::Region).is_empty());
        assert!(decode::<DayRollup>(b"junk").is_err());
        // A rollup written before the failed counts existed does not
        // decode, so it is rebuilt (never read without them).
        #[derive(Serialize)]
        struct Before {
            generations: Vec<(u8, u64)>,
            total: u64,
            attributes: Vec<DayValues>,
        }
        let before = encode(&Before {
            generations: day.generations.clone(),
            total: day.total,
            attributes: day.attributes.clone(),
        });
        assert!(decode::<DayRollup>(&before).is_err());
    }
}
