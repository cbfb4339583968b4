//! A Bloom filter over the id index's hashes, so that a write asks the
//! index (a B-tree lookup on a random page) only about ids it may hold:
//! nearly every event of a backfill is new, and each lookup was ~6 % of
//! the load's CPU.
//!
//! Its size is fixed by the store's memory setting, not by the number of
//! events: at the default (8 MiB, 3 probes) one lookup in 10,000 is wasted
//! at 1 M events, one in 20 at 10 M; the answer is never wrong, a
//! "maybe" only costs the lookup it would have cost anyway.

/// Probes per hash.
const PROBES: u64 = 3;

pub struct IdFilter {
    bits: Vec<u64>,
    /// Number of bits − 1 (a power of two minus one).
    mask: u64,
}

impl IdFilter {
    /// A filter of at most `bytes` (at least 64 bits).
    pub fn with_bytes(bytes: usize) -> IdFilter {
        let wanted = bytes.max(8).saturating_mul(8);
        let bits = 1usize << (usize::BITS - 1 - wanted.leading_zeros());
        IdFilter {
            bits: vec![0; bits / 64],
            mask: bits as u64 - 1,
        }
    }

    /// The bit positions of a hash (double hashing on its two halves).
    fn positions(&self, hash: u64) -> impl Iterator<Item = u64> + '_ {
        let step = hash.rotate_left(32) | 1;
        (0..PROBES).map(move |i| hash.wrapping_add(i.wrapping_mul(step)) & self.mask)
    }

    pub fn insert(&mut self, hash: u64) {
        let positions: [u64; PROBES as usize] = {
            let mut all = self.positions(hash);
            std::array::from_fn(|_| all.next().unwrap_or(0))
        };
        for bit in positions {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    /// False when `hash` was never inserted; true when it may have been.
    pub fn may_contain(&self, hash: u64) -> bool {
        self.positions(hash)
            .all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_hashes_are_found_and_few_others() {
        let mut filter = IdFilter::with_bytes(64 * 1024);
        let hash = |i: u64| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes());
        for i in 0..10_000 {
            filter.insert(hash(i));
        }
        assert!((0..10_000).all(|i| filter.may_contain(hash(i))));
        let false_positives = (10_000..110_000)
            .filter(|&i| filter.may_contain(hash(i)))
            .count();
        // 512 Ki bits, 10 k hashes, 3 probes: ~0.02 % expected.
        assert!(false_positives < 100, "{false_positives} in 100,000");
    }

    #[test]
    fn a_tiny_budget_still_makes_a_working_filter() {
        let mut filter = IdFilter::with_bytes(0);
        filter.insert(42);
        assert!(filter.may_contain(42));
    }
}
