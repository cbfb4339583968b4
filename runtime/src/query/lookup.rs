//! Lookups and statistics over blocks: the rollups say which hours, and then
//! which blocks, can hold an event that passes every term; only those blocks
//! are read, and their events are matched on dictionary references. Whole
//! days and hours of an unfiltered (or single-term) count come from rollups
//! alone; only the hours a window cuts through are read block by block.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use super::QueryError;
use super::filter::Filters;
use super::rollup::{Rollups, of_attribute};
use super::stats::Tally;
use crate::attribute::{Attribute, Term, Wanted};
use crate::store::block::{BlockRow, KeyedBlock};
use crate::store::keys::{Hour, day_text};

/// Hours whose blocks are read at once.
const HOURS_AT_ONCE: usize = 24;

/// What a block query selects: events in `[from, to)` passing every term
/// and (read from the records) every `param`/`value` pair.
pub struct Selection<'a> {
    pub rollups: &'a Rollups,
    pub terms: &'a [Term],
    pub filters: &'a Filters,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Selection<'_> {
    fn micros(&self) -> (i64, i64) {
        (self.from.timestamp_micros(), self.to.timestamp_micros())
    }

    /// The hours that have blocks in the window, ascending, from `start` on.
    fn window_hours(&self, start: &DateTime<Utc>) -> Vec<Hour> {
        self.rollups
            .hours_overlapping(start.max(&self.from), &self.to)
    }

    /// Of these hours, those that may hold a match: the day rollups of
    /// their days say which hours hold each term's values.
    async fn candidate_hours(&self, hours: Vec<Hour>) -> Result<Vec<Hour>, QueryError> {
        if self.terms.is_empty() || hours.is_empty() {
            return Ok(hours);
        }
        let days: Vec<NaiveDate> = hours
            .iter()
            .map(|h| h.day)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let rollups = self.rollups.days_of(&days).await?;
        let mut masks: BTreeMap<NaiveDate, u32> = days.iter().map(|d| (*d, u32::MAX)).collect();
        for term in self.terms {
            for (day, mask) in &mut masks {
                *mask &= rollups.get(day).map_or(0, |r| r.hours_with(term));
            }
        }
        Ok(hours
            .into_iter()
            .filter(|h| masks.get(&h.day).is_some_and(|m| m & (1 << h.hour) != 0))
            .collect())
    }

    /// The blocks of these hours that may hold a match.
    async fn candidate_blocks(
        &self,
        hours: &[Hour],
    ) -> Result<Vec<(Hour, Vec<KeyedBlock>)>, QueryError> {
        // Which blocks: every block of the hour without terms (the hour
        // rollup lists them), else those holding every term's values.
        let rollups = self.rollups.hours_of(hours).await?;
        let mut keys: Vec<(NaiveDate, String)> = Vec::new();
        for hour in hours {
            let Some(rollup) = rollups.get(hour) else {
                continue;
            };
            let mut positions: Option<Vec<u32>> = None;
            for term in self.terms {
                let with = rollup.blocks_with(term);
                positions = Some(match positions {
                    None => with,
                    Some(before) => before
                        .into_iter()
                        .filter(|p| with.binary_search(p).is_ok())
                        .collect(),
                });
            }
            match positions {
                None => keys.extend(rollup.blocks.iter().map(|name| (hour.day, name.clone()))),
                Some(positions) => keys.extend(
                    positions
                        .iter()
                        .filter_map(|p| rollup.blocks.get(*p as usize))
                        .map(|name| (hour.day, name.clone())),
                ),
            }
        }
        // One read for the candidate blocks of every hour.
        let mut by_hour: BTreeMap<Hour, Vec<KeyedBlock>> =
            hours.iter().map(|h| (*h, Vec::new())).collect();
        for block in self.rollups.blocks(&keys).await? {
            if let Some(mine) = block.key.hour.and_then(|h| by_hour.get_mut(&h)) {
                mine.push(block);
            }
        }
        Ok(by_hour.into_iter().collect())
    }

    /// The matching events of some blocks, in the window, ascending by sort
    /// key (time, then id).
    async fn matches(
        &self,
        blocks: &[KeyedBlock],
        after: Option<&str>,
    ) -> Result<Vec<BlockRow>, QueryError> {
        let (from, to) = self.micros();
        let mut found = Vec::new();
        for keyed in blocks {
            let block = &keyed.block;
            let Some(resolved) = block.resolve(self.terms) else {
                continue;
            };
            for row in block.matching_rows(&resolved) {
                let time = block.time(row);
                if time < from || time >= to {
                    continue;
                }
                if after.is_some_and(|a| block.sort_key(row).as_str() <= a) {
                    continue;
                }
                found.push(BlockRow::new(Arc::clone(block), row));
            }
        }
        found.sort_by(|a, b| (a.time(), a.event_id()).cmp(&(b.time(), b.event_id())));
        found.dedup_by(|a, b| a.event_id() == b.event_id());
        if self.filters.params.is_empty() || found.is_empty() {
            return Ok(found);
        }
        // The record decides `param`/`value`: read those of the candidates.
        let ids: Vec<String> = found.iter().map(|e| e.event_id().to_owned()).collect();
        let stored = self.rollups.store().get_events(&ids).await?;
        let mut passing = BTreeSet::new();
        for event in &stored {
            if self.filters.params_match(event)? {
                passing.insert(event.event_id.as_str());
            }
        }
        found.retain(|e| passing.contains(e.event_id()));
        Ok(found)
    }

    /// One page: up to `limit + 1` matches after `after`, ascending; hours
    /// are read a few at first, then more at a time. Past `deadline` the page
    /// ends early with the position it stopped at (after the last hour read),
    /// so the client resumes there rather than waiting for a timeout.
    pub async fn page(
        &self,
        after: Option<&str>,
        limit: usize,
        deadline: Option<std::time::Instant>,
    ) -> Result<(Vec<BlockRow>, Option<String>), QueryError> {
        let start = after
            .and_then(|a| a.get(..27))
            .and_then(crate::time::parse_event_time)
            .unwrap_or(self.from);
        // The window's hours, a few at first, then more at a time (a page
        // is often full after its first hours): each time the candidates
        // among them, then their candidate blocks.
        let hours = self.window_hours(&start);
        let mut found = Vec::new();
        let mut rest = hours.as_slice();
        let mut batch = 2;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(batch.min(rest.len()));
            rest = later;
            batch = (batch * 2).min(HOURS_AT_ONCE * 8);
            let candidates = self.candidate_hours(now.to_vec()).await?;
            for chunk in candidates.chunks(HOURS_AT_ONCE) {
                for (_, blocks) in self.candidate_blocks(chunk).await? {
                    found.extend(self.matches(&blocks, after).await?);
                    if found.len() > limit {
                        found.truncate(limit + 1);
                        return Ok((found, None));
                    }
                }
            }
            if let (Some(deadline), Some(last)) = (deadline, now.last())
                && std::time::Instant::now() >= deadline
                && !rest.is_empty()
            {
                let end = last.end() - chrono::Duration::microseconds(1);
                // Sorts after every event of that last microsecond.
                return Ok((found, Some(format!("{}#~", crate::time::sortable(&end)))));
            }
        }
        Ok((found, None))
    }

    /// The counts of every match, by `by` when given.
    pub async fn tally(&self, by: Option<Attribute>) -> Result<Tally, QueryError> {
        let mut tally = Tally::default();
        // Failed calls counted by another attribute: the rollups keep
        // those counts too.
        let failed_by = match (self.terms, by) {
            ([term], Some(by))
                if term.attribute == Attribute::ErrorCode
                    && term.wanted == Wanted::Present
                    && by != Attribute::ErrorCode =>
            {
                Some(by)
            }
            _ => None,
        };
        let from_rollups = self.filters.params.is_empty()
            && (failed_by.is_some()
                || match self.terms {
                    [] => true,
                    [term] => by.is_none_or(|by| by == term.attribute) && counts_add_up(term),
                    _ => false,
                });
        let loose = if from_rollups {
            let spans = Spans::of(self.rollups.hours(), &self.from, &self.to);
            // Whole days and hours from rollups: the term's attribute's
            // counts (or `by`'s; every rollup holds the totals).
            let attribute = self
                .terms
                .first()
                .map(|t| t.attribute)
                .or(by)
                .unwrap_or(Attribute::Service);
            let term = self.terms.first();
            let accepted = |v: &str| term.is_none_or(|t| t.accepts(v));
            let days = self.rollups.days_of(&spans.days).await?;
            let hours = self.rollups.hours_of(&spans.hours).await?;
            let shares = days
                .iter()
                .map(|(day, r)| {
                    (
                        *day,
                        r.total,
                        counts(r.values(attribute)),
                        r.failed.as_slice(),
                    )
                })
                .chain(hours.iter().map(|(hour, r)| {
                    (
                        hour.day,
                        r.total,
                        counts(r.values(attribute)),
                        r.failed.as_slice(),
                    )
                }));
            // Each rollup's share: its matches (the events of the day, or
            // of the term's accepted values) and their keys by `by`: among
            // failed calls when asked for, else the term's attribute's.
            for (day, total, values, failed) in shares {
                let day = day_text(day);
                let mut matched = 0;
                for (value, count) in values.into_iter().filter(|(v, _)| accepted(v)) {
                    matched += count;
                    if by.is_some() && failed_by.is_none() {
                        tally.add_key(value, &day, count);
                    }
                }
                if let Some(by) = failed_by {
                    for (value, count) in of_attribute(failed, by) {
                        tally.add_key(value, &day, *count);
                    }
                }
                tally.add_day(&day, if term.is_some() { matched } else { total });
            }
            spans.cut
        } else {
            self.candidate_hours(self.window_hours(&self.from)).await?
        };
        let batches: Vec<Vec<Hour>> = loose.chunks(HOURS_AT_ONCE).map(<[Hour]>::to_vec).collect();
        let partial: Vec<Tally> = stream::iter(batches)
            .map(|batch| async move {
                let mut tally = Tally::default();
                for (hour, blocks) in self.candidate_blocks(&batch).await? {
                    // A block holds one hour's events: they share its day.
                    let day = day_text(hour.day);
                    for event in self.matches(&blocks, None).await? {
                        tally.add_day(&day, 1);
                        if let Some(by) = by {
                            for value in event.values(by) {
                                tally.add_key(value, &day, 1);
                            }
                        }
                    }
                }
                Ok::<_, QueryError>(tally)
            })
            .buffer_unordered(2)
            .try_collect()
            .await?;
        for part in partial {
            tally.merge(part);
        }
        Ok(tally)
    }
}

/// A rollup's counts of one attribute's values.
fn counts<M>(values: &[(String, u64, M)]) -> Vec<(&str, u64)> {
    values.iter().map(|(v, n, _)| (v.as_str(), *n)).collect()
}

/// Whether a term's matches are the sum of its values' counts: each event
/// has at most one value of a single-valued attribute, and a multi-valued
/// one counts an event once per distinct value, so only one accepted value.
fn counts_add_up(term: &Term) -> bool {
    !term.attribute.is_multi_valued()
        || matches!(&term.wanted, Wanted::AnyOf(values) if values.len() == 1)
}

/// A window cut into what rollups answer and what blocks must: whole days,
/// whole hours (of days the window does not cover whole) and the hours it
/// cuts through; only hours that have blocks.
struct Spans {
    days: Vec<NaiveDate>,
    hours: Vec<Hour>,
    cut: Vec<Hour>,
}

impl Spans {
    fn of(hours: impl Iterator<Item = Hour>, from: &DateTime<Utc>, to: &DateTime<Utc>) -> Spans {
        let mut spans = Spans {
            days: Vec::new(),
            hours: Vec::new(),
            cut: Vec::new(),
        };
        // Whether each day lies whole in the window, worked out once a day.
        let mut whole: Option<(NaiveDate, bool)> = None;
        for hour in hours {
            let whole_day = match whole {
                Some((day, whole_day)) if day == hour.day => whole_day,
                _ => {
                    let day_start = crate::time::start_of_day(hour.day);
                    let whole_day =
                        *from <= day_start && day_start + chrono::Duration::days(1) <= *to;
                    whole = Some((hour.day, whole_day));
                    whole_day
                }
            };
            if whole_day {
                if spans.days.last() != Some(&hour.day) {
                    spans.days.push(hour.day);
                }
            } else if *from <= hour.start() && hour.end() <= *to {
                spans.hours.push(hour);
            } else if hour.end() > *from && hour.start() < *to {
                spans.cut.push(hour);
            }
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        crate::time::parse_event_time(text).unwrap()
    }

    #[test]
    fn a_window_is_cut_into_days_hours_and_cut_hours() {
        let hours = [
            "2024-05-01T22:00:00Z",
            "2024-05-01T23:00:00Z",
            "2024-05-02T05:00:00Z",
            "2024-05-02T23:00:00Z",
            "2024-05-03T01:00:00Z",
            "2024-05-03T02:00:00Z",
        ]
        .map(|t| Hour::of(&at(t)));
        let spans = Spans::of(
            hours.into_iter(),
            &at("2024-05-01T22:30:00Z"),
            &at("2024-05-03T02:00:00Z"),
        );
        assert_eq!(spans.days, [hours[2].day]);
        assert_eq!(spans.hours, [hours[1], hours[4]]);
        assert_eq!(spans.cut, [hours[0]], "02:00 is outside [from, to)");
    }

    #[test]
    fn which_terms_add_up() {
        let single = Term {
            attribute: Attribute::EventName,
            wanted: Wanted::AnyOf(vec!["a".into(), "b".into()]),
        };
        assert!(counts_add_up(&single));
        assert!(counts_add_up(&Term::equals(Attribute::ResourceName, "x")));
        assert!(!counts_add_up(&Term {
            attribute: Attribute::ResourceType,
            wanted: Wanted::Present
        }));
    }
}
