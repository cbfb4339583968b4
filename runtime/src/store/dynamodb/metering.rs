//! What reads and query-side writes cost, by DynamoDB's billing rules
//! (emulators report constants, so the store computes units itself from
//! the items it reads and writes).

use std::sync::Mutex;

use aws_sdk_dynamodb::types::ConsumedCapacity;

use super::item;

/// Bytes per read unit step: reads are billed per started 4 KB.
pub const READ_UNIT_BYTES: u64 = 4096;

/// Read units DynamoDB bills for one eventually consistent `GetItem` or one
/// `Query` page (index reads can only be eventually consistent): the sizes
/// of all items read — returned or only counted, index entries for an index —
/// summed, rounded up to the next 4 KB, half a unit per 4 KB; at least half
/// a unit, even when nothing is found.
pub fn eventually_consistent_read_units(bytes_read: u64) -> f64 {
    bytes_read.div_ceil(READ_UNIT_BYTES).max(1) as f64 * 0.5
}

/// A strongly consistent read costs twice as much: a unit per 4 KB.
pub fn strongly_consistent_read_units(bytes_read: u64) -> f64 {
    2.0 * eventually_consistent_read_units(bytes_read)
}

/// What reading cost, summed over the requests of one store.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadStats {
    /// `GetItem`, `BatchGetItem` and `Query` requests sent (one per page).
    pub requests: u64,
    /// Items read: returned, or counted by a `Select=COUNT` page.
    pub items: u64,
    /// The size of the items read by DynamoDB's rule ([`item::billed_size`]),
    /// for those the store saw (not the items of `Select=COUNT` pages).
    pub bytes: u64,
    /// Read units by DynamoDB's billing rule computed from the items read
    /// (see [`eventually_consistent_read_units`]); for a `Select=COUNT`
    /// page, whose items the store does not see, the units the service
    /// reported (exact on AWS; see `DynamoStore::metering_counts`).
    pub read_units: f64,
    /// Read units as the service reported them (`ConsumedCapacity`). On AWS
    /// they equal `read_units`; moto reports constants (1 per `Query`, 0.5
    /// per `GetItem`), which is why they are not what `read_units` counts.
    pub reported_units: f64,
    /// Items counted by `Select=COUNT` pages, whose sizes are not in `bytes`.
    pub unsized_items: u64,
    /// Write units of what the query side wrote (rollups it rebuilt), by
    /// DynamoDB's rule: one per started KB of each item.
    pub write_units: u64,
}

impl std::ops::AddAssign for ReadStats {
    fn add_assign(&mut self, read: ReadStats) {
        self.requests += read.requests;
        self.items += read.items;
        self.bytes += read.bytes;
        self.read_units += read.read_units;
        self.reported_units += read.reported_units;
        self.unsized_items += read.unsized_items;
        self.write_units += read.write_units;
    }
}

/// Sums what a store's reads cost; shared by its concurrent requests.
#[derive(Debug, Default)]
pub struct Meter {
    total: Mutex<ReadStats>,
}

impl Meter {
    pub fn stats(&self) -> ReadStats {
        *self
            .total
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add(&self, read: ReadStats) {
        *self
            .total
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) += read;
    }

    /// One request that read `items` whose summed size is `bytes`.
    pub fn read(
        &self,
        items: u64,
        bytes: u64,
        consistent: bool,
        reported: Option<&ConsumedCapacity>,
    ) {
        let read_units = if consistent {
            strongly_consistent_read_units(bytes)
        } else {
            eventually_consistent_read_units(bytes)
        };
        self.add(ReadStats {
            requests: 1,
            items,
            bytes,
            read_units,
            reported_units: reported_units(reported),
            ..ReadStats::default()
        });
    }

    /// One `BatchGetItem` request: each item found is billed on its own
    /// size, rounded up to 4 KB (half a unit per 4 KB, eventually
    /// consistent), and each key not found half a unit, as a `GetItem` miss.
    pub fn batch_get(&self, sizes: &[u64], misses: usize, reported: &[ConsumedCapacity]) {
        self.add(ReadStats {
            requests: 1,
            items: sizes.len() as u64,
            bytes: sizes.iter().sum(),
            read_units: sizes
                .iter()
                .map(|&size| eventually_consistent_read_units(size))
                .sum::<f64>()
                + 0.5 * misses as f64,
            reported_units: reported.iter().filter_map(|c| c.capacity_units()).sum(),
            ..ReadStats::default()
        });
    }

    /// One `Select=COUNT` page: its items' sizes are unknown here, so its
    /// units are what the service reported (at least half a unit).
    pub fn unsized_count(&self, items: u64, reported: Option<&ConsumedCapacity>) {
        let reported = reported_units(reported);
        self.add(ReadStats {
            requests: 1,
            items,
            read_units: ((reported * 2.0).ceil() / 2.0).max(0.5),
            reported_units: reported,
            unsized_items: items,
            ..ReadStats::default()
        });
    }

    /// Items written by the query side.
    pub fn wrote(&self, items: &[item::Item]) {
        self.add(ReadStats {
            write_units: items.iter().map(item::billed_write_units).sum(),
            ..ReadStats::default()
        });
    }
}

/// The summed size of items read, by DynamoDB's rule.
pub fn items_size(items: &[item::Item]) -> u64 {
    items.iter().map(|i| item::billed_size(i) as u64).sum()
}

fn reported_units(capacity: Option<&ConsumedCapacity>) -> f64 {
    capacity.and_then(|c| c.capacity_units()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert_eq!(
            eventually_consistent_read_units(0),
            0.5,
            "a miss costs half a unit"
        );
        assert_eq!(eventually_consistent_read_units(1), 0.5);
        assert_eq!(eventually_consistent_read_units(4096), 0.5);
        assert_eq!(eventually_consistent_read_units(4097), 1.0);
        assert_eq!(
            eventually_consistent_read_units(1024 * 1024),
            128.0,
            "a full 1 MB page"
        );
        assert_eq!(strongly_consistent_read_units(4097), 2.0);
        let meter = Meter::default();
        meter.batch_get(&[10, 5000], 1, &[]);
        assert_eq!(
            meter.stats().read_units,
            2.0,
            "BatchGetItem rounds each item on its own, and a miss costs half a unit"
        );
    }
}
