//! Decoded rollups and blocks kept between queries (in `tracker serve`, and
//! in a warm Lambda container), within a byte budget, oldest dropped first.
//! An entry is keyed by what makes it current — a rollup by its day or hour
//! (its recorded generations are checked against the current ones on every
//! use), a block by its day, sort key and its hour's generation — so a stale
//! entry is never used, only never asked for again. Keys are plain values,
//! not the stores' key texts: a whole-range query looks up thousands.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use foldhash::{HashMap, HashMapExt};

use super::rollup::{DayRollup, HourRollup};
use crate::store::block::KeyedBlock;
use crate::store::keys::Hour;

/// The default budget: enough for a year of busy days' rollups.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;

/// A bounded map from keys to shared values, each with its weight in bytes.
struct Bounded<K, V> {
    entries: HashMap<K, (Arc<V>, usize)>,
    order: VecDeque<K>,
    bytes: usize,
    budget: usize,
}

impl<K: Clone + Eq + Hash, V> Bounded<K, V> {
    fn new(budget: usize) -> Self {
        Bounded {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    fn get(&self, key: &K) -> Option<Arc<V>> {
        self.entries.get(key).map(|(v, _)| Arc::clone(v))
    }

    fn put(&mut self, key: K, value: Arc<V>, weight: usize) {
        if weight > self.budget {
            return;
        }
        self.bytes += weight;
        match self.entries.insert(key.clone(), (value, weight)) {
            Some((_, old)) => self.bytes -= old,
            None => self.order.push_back(key),
        }
        while self.bytes > self.budget {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, weight)) = self.entries.remove(&oldest) {
                self.bytes -= weight;
            }
        }
    }
}

/// The engine's cache of decoded rollups and blocks.
pub struct DecodeCache {
    days: Mutex<Bounded<NaiveDate, DayRollup>>,
    hours: Mutex<Bounded<Hour, HourRollup>>,
    /// By day, sort key and the hour's generation.
    blocks: Mutex<Bounded<(NaiveDate, String, u64), KeyedBlock>>,
}

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache::with_budget(DEFAULT_BUDGET)
    }
}

impl DecodeCache {
    /// A cache of about `budget` bytes: a quarter for rollups, the rest
    /// for blocks.
    pub fn with_budget(budget: usize) -> DecodeCache {
        DecodeCache {
            days: Mutex::new(Bounded::new(budget / 8)),
            hours: Mutex::new(Bounded::new(budget / 8)),
            blocks: Mutex::new(Bounded::new(budget - budget / 4)),
        }
    }

    pub fn day(&self, day: NaiveDate) -> Option<Arc<DayRollup>> {
        lock(&self.days).get(&day)
    }

    /// Keeps a decoded day rollup; `weight` is its encoded size (decoded
    /// is a few times larger).
    pub fn put_day(&self, day: NaiveDate, rollup: Arc<DayRollup>, weight: usize) {
        lock(&self.days).put(day, rollup, weight * 4);
    }

    pub fn hour(&self, hour: Hour) -> Option<Arc<HourRollup>> {
        lock(&self.hours).get(&hour)
    }

    pub fn put_hour(&self, hour: Hour, rollup: Arc<HourRollup>, weight: usize) {
        lock(&self.hours).put(hour, rollup, weight * 4);
    }

    pub fn block(&self, key: &(NaiveDate, String, u64)) -> Option<Arc<KeyedBlock>> {
        lock(&self.blocks).get(key)
    }

    pub fn put_block(&self, key: (NaiveDate, String, u64), block: Arc<KeyedBlock>, weight: usize) {
        lock(&self.blocks).put(key, block, weight * 4);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_budget_dropping_the_oldest() {
        let mut cache: Bounded<u32, u32> = Bounded::new(100);
        for i in 0..10 {
            cache.put(i, Arc::new(i), 30);
        }
        assert!(cache.bytes <= 100);
        assert!(cache.get(&9).is_some() && cache.get(&0).is_none());
        cache.put(9, Arc::new(99), 30);
        assert_eq!(*cache.get(&9).unwrap(), 99, "a key put again is replaced");
        cache.put(100, Arc::new(0), 1000);
        assert!(
            cache.get(&100).is_none(),
            "larger than the budget: not kept"
        );
    }
}
