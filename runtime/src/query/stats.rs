//! Statistics: how many events a filtered window holds, counted by one
//! attribute (`/stats`) and per UTC day (`/stats/daily`). [`Tally`] is the
//! arithmetic, whatever feeds it: events one by one, or the partial counts
//! the engine keeps per hour and day (see [`super::rollup`]); the answers
//! are sorted by count descending, then key ascending.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::attribute::Attribute;

/// `/stats`: the top keys of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub by: &'static str,
    /// Events in the filtered window (with or without a value of `by`).
    pub total: u64,
    /// Distinct values of `by` among them.
    pub distinct: u64,
    pub items: Vec<KeyCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCount {
    pub key: String,
    pub count: u64,
}

/// `/stats/daily`: events per UTC day, and with `by` a series per top key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Daily {
    pub days: Vec<DayCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<Series>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub count: u64,
}

/// One key's events per day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    pub key: String,
    pub total: u64,
    pub days: Vec<DayCount>,
}

/// Counts being summed: the total per day and, for the attribute counted
/// by, per key and day. Days are `YYYY-MM-DD`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub days: BTreeMap<String, u64>,
    /// key → day → count.
    pub keys: HashMap<String, BTreeMap<String, u64>>,
}

impl Tally {
    /// Adds `count` events of `day`, of which `keys` hold each key.
    pub fn add_day(&mut self, day: &str, count: u64) {
        if count > 0 {
            *self.days.entry(day.to_owned()).or_default() += count;
        }
    }

    pub fn add_key(&mut self, key: &str, day: &str, count: u64) {
        if count > 0 {
            *self
                .keys
                .entry(key.to_owned())
                .or_default()
                .entry(day.to_owned())
                .or_default() += count;
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (day, n) in other.days {
            self.add_day(&day, n);
        }
        for (key, days) in other.keys {
            for (day, n) in days {
                self.add_key(&key, &day, n);
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.days.values().sum()
    }

    /// Keys with their totals, by count descending then key ascending.
    fn ranked(&self) -> Vec<KeyCount> {
        let mut items: Vec<KeyCount> = self
            .keys
            .iter()
            .map(|(key, days)| KeyCount {
                key: key.clone(),
                count: days.values().sum(),
            })
            .filter(|k| k.count > 0)
            .collect();
        items.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        items
    }

    /// The `/stats` answer: the top `top` keys of `by`.
    pub fn stats(&self, by: Attribute, top: usize) -> Stats {
        let mut items = self.ranked();
        let distinct = items.len() as u64;
        items.truncate(top);
        Stats {
            by: by.name(),
            total: self.total(),
            distinct,
            items,
        }
    }

    /// The `/stats/daily` answer; with `by`, a series for each of the top `top` keys.
    pub fn daily(&self, by: Option<Attribute>, top: usize) -> Daily {
        let days = |map: &BTreeMap<String, u64>| -> Vec<DayCount> {
            map.iter()
                .filter(|(_, n)| **n > 0)
                .map(|(day, n)| DayCount {
                    day: day.clone(),
                    count: *n,
                })
                .collect()
        };
        let series = by.map(|_| {
            let mut ranked = self.ranked();
            ranked.truncate(top);
            ranked
                .into_iter()
                .map(|k| Series {
                    days: self.keys.get(&k.key).map(days).unwrap_or_default(),
                    key: k.key,
                    total: k.count,
                })
                .collect()
        });
        Daily {
            days: days(&self.days),
            by: by.map(Attribute::name),
            series,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_count_then_key_and_cuts_at_top() {
        let mut tally = Tally::default();
        for (key, day, n) in [
            ("b", "2024-01-01", 2),
            ("a", "2024-01-02", 2),
            ("c", "2024-01-01", 5),
            ("d", "2024-01-01", 1),
        ] {
            tally.add_key(key, day, n);
        }
        tally.add_day("2024-01-01", 9);
        tally.add_day("2024-01-02", 3);
        let stats = tally.stats(Attribute::EventName, 3);
        assert_eq!(stats.total, 12, "events without the key count in the total");
        assert_eq!(stats.distinct, 4);
        let keys: Vec<_> = stats
            .items
            .iter()
            .map(|k| (k.key.as_str(), k.count))
            .collect();
        assert_eq!(keys, [("c", 5), ("a", 2), ("b", 2)]);
        let daily = tally.daily(Some(Attribute::EventName), 1);
        assert_eq!(daily.days.len(), 2);
        let series = daily.series.expect("series");
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].key, "c");
        assert_eq!(series[0].days[0].day, "2024-01-01");
    }

    #[test]
    fn merging_is_adding() {
        let mut a = Tally::default();
        a.add_day("d1", 1);
        a.add_key("k", "d1", 1);
        let mut b = Tally::default();
        b.add_day("d1", 2);
        b.add_key("k", "d1", 2);
        b.add_key("j", "d2", 0);
        a.merge(b);
        assert_eq!(a.days["d1"], 3);
        assert_eq!(a.keys["k"]["d1"], 3);
        assert!(!a.keys.contains_key("j"), "zero counts leave no key");
    }
}
