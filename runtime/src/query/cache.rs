//! Decoded rollups and blocks kept between queries (in `tracker serve`, and
//! in a warm Lambda container), within a byte budget, oldest dropped first.
//! An entry is keyed by what makes it current — a rollup by its key (its
//! recorded generations are checked against the current ones on every use),
//! a block by its key and its hour's generation — so a stale entry is never
//! used, only never asked for again.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use super::rollup::{DayRollup, HourRollup};
use crate::store::block::Block;

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
    days: Mutex<Bounded<(String, String), DayRollup>>,
    hours: Mutex<Bounded<(String, String), HourRollup>>,
    blocks: Mutex<Bounded<(String, String, u64), Block>>,
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

    pub fn day(&self, key: &(String, String)) -> Option<Arc<DayRollup>> {
        lock(&self.days).get(key)
    }

    /// Keeps a decoded day rollup; `weight` is its encoded size (decoded
    /// is a few times larger).
    pub fn put_day(&self, key: (String, String), rollup: Arc<DayRollup>, weight: usize) {
        lock(&self.days).put(key, rollup, weight * 4);
    }

    pub fn hour(&self, key: &(String, String)) -> Option<Arc<HourRollup>> {
        lock(&self.hours).get(key)
    }

    pub fn put_hour(&self, key: (String, String), rollup: Arc<HourRollup>, weight: usize) {
        lock(&self.hours).put(key, rollup, weight * 4);
    }

    pub fn block(&self, key: &(String, String, u64)) -> Option<Arc<Block>> {
        lock(&self.blocks).get(key)
    }

    pub fn put_block(&self, key: (String, String, u64), block: Arc<Block>, weight: usize) {
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
