//! Answers event queries over any store: plans the partitions a route and a
//! window touch (the catalog says which month×service partitions exist, so
//! empty ones are never read), merges them in `(eventTime, eventID)` order one
//! month at a time, applies the filters and stops as soon as a page is full.
//! Counting reads partitions concurrently, and lets the store count keys
//! without fetching events when there is nothing to filter.
//!
//! A page reads little more than it returns (DynamoDB bills every item read):
//! no partition is asked for more events than the page may still need (its
//! remaining events plus the one that tells whether a next page exists), so a
//! lone partition is read in one request of exactly that size. Merged
//! partitions are first asked for half an even share each; a partition that
//! runs dry is then asked for its share of what the merge took since its
//! last read, applied to what the page still needs, with a margin
//! ([`next_read`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt, stream};

use super::MAX_LIMIT;
use super::cache::DecodeCache;
use super::filter::Filters;
use super::lookup::Selection;
use super::params::{EventQuery, Route, StatsQuery};
use super::rollup::Rollups;
use super::stats::Tally;
use crate::attribute::Term;
use crate::event::{CorruptRecord, EventItem, EventSummary, principal_partition, time_partition};
use crate::store::block::BlockRow;
use crate::store::{CatalogKind, EventStore, IndexName, PartitionQuery, StoreError};
use crate::time;

/// Largest read asked of a partition: a page of the largest limit and the
/// event after it (DynamoDB stops sooner, at 1 MB, and the page resumes).
const MAX_READ: usize = MAX_LIMIT + 1;
/// Smallest read asked of a partition in a merge when the page needs more:
/// about one 4 KB read-unit block of events, which costs as much as one event.
const MIN_READ: usize = 8;
/// Events per read of a filtered count (DynamoDB stops sooner, at 1 MB).
const COUNT_READ: usize = 1000;
/// Partitions counted at once.
const COUNT_CONCURRENCY: usize = 8;

/// A query could not be answered (not the client's fault).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] CorruptRecord),
}

/// One page of events, and where the next page starts when there is one.
#[derive(Debug)]
pub struct Page {
    pub events: Vec<PageEvent>,
    pub next_after: Option<String>,
}

/// An event of a page: read from a partition, or a row of a block (kept
/// in its block and written from there).
#[derive(Debug)]
pub enum PageEvent {
    Stored(Box<EventItem>),
    InBlock(BlockRow),
}

impl PageEvent {
    pub fn event_id(&self) -> &str {
        match self {
            PageEvent::Stored(event) => &event.event_id,
            PageEvent::InBlock(row) => row.event_id(),
        }
    }

    /// Where the next page starts when this event ends one.
    pub fn sort_key(&self) -> Option<String> {
        match self {
            PageEvent::Stored(event) => event.sort_key.clone(),
            PageEvent::InBlock(row) => Some(row.sort_key()),
        }
    }

    /// What an event route returns for it.
    pub fn summary(&self) -> EventSummary<'_> {
        match self {
            PageEvent::Stored(event) => event.summary(),
            PageEvent::InBlock(row) => row.summary(),
        }
    }
}

/// Partitions of one month (or the single principal partition), merged together.
struct Group {
    month: Option<String>,
    partitions: Vec<(IndexName, String)>,
}

#[derive(Clone)]
pub struct QueryEngine {
    store: Arc<dyn EventStore>,
    /// Decoded rollups and blocks, kept between queries.
    cache: Arc<DecodeCache>,
}

impl QueryEngine {
    pub fn new(store: Arc<dyn EventStore>) -> QueryEngine {
        QueryEngine {
            store,
            cache: Arc::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    async fn plan(&self, query: &EventQuery) -> Result<Vec<Group>, StoreError> {
        if let Route::User(user) = &query.route {
            return Ok(vec![Group {
                month: None,
                partitions: vec![(IndexName::Principal, principal_partition(user))],
            }]);
        }
        if query.from >= query.to {
            return Ok(Vec::new());
        }
        let first = time::month_bucket(&query.from);
        let last = time::month_bucket(&(query.to - chrono::Duration::microseconds(1)));
        // Bucket values are `YYYY-MM#service`; `$` sorts just after `#`.
        let buckets = self
            .store
            .catalog(
                CatalogKind::Bucket,
                Some((first.as_str(), &format!("{last}$"))),
            )
            .await?;
        let mut groups: BTreeMap<String, Vec<(IndexName, String)>> = BTreeMap::new();
        for bucket in buckets {
            let Some((month, service)) = bucket.split_once('#') else {
                continue;
            };
            if let Route::Service(wanted) = &query.route
                && wanted != service
            {
                continue;
            }
            groups
                .entry(month.to_owned())
                .or_default()
                .push((IndexName::Time, time_partition(month, service)));
        }
        Ok(groups
            .into_iter()
            .map(|(month, partitions)| Group {
                month: Some(month),
                partitions,
            })
            .collect())
    }

    /// One page of matching events, ascending by time. Past `deadline` (the
    /// time a response must leave by) a page that has read for long ends
    /// early, with where it stopped as its next position.
    pub async fn page(
        &self,
        query: &EventQuery,
        deadline: Option<Instant>,
    ) -> Result<Page, QueryError> {
        if self.uses_blocks(query) {
            return self.block_page(query, deadline).await;
        }
        let from = time::sortable(&query.from);
        let to = time::sortable(&query.to);
        let wanted = query.limit + 1; // one more tells whether a next page exists
        let filtered = !query.filters.is_empty();
        let mut found: Vec<EventItem> = Vec::with_capacity(wanted.min(1024));
        let mut examined = 0usize;
        let mut stopped: Option<String> = None;
        for group in self.plan(query).await? {
            if let (Some(month), Some(after)) = (&group.month, &query.after)
                && after
                    .get(..7)
                    .is_some_and(|after_month| month.as_str() < after_month)
            {
                continue; // wholly before the previous page's end
            }
            let mut cursors: Vec<Cursor> = group
                .partitions
                .into_iter()
                .map(|(index, partition)| Cursor {
                    query: PartitionQuery {
                        index,
                        partition,
                        from: from.clone(),
                        to: to.clone(),
                        after: query.after.clone(),
                        limit: 0,
                    },
                    buffer: VecDeque::new(),
                    exhausted: false,
                    last_read: 0,
                    merged_before: 0,
                })
                .collect();
            let mut merged = 0usize; // events taken from this group's cursors
            loop {
                let need = events_to_examine(wanted - found.len(), examined, found.len(), filtered);
                self.refill(&mut cursors, need, merged, filtered).await?;
                let Some(next) = cursors
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| c.buffer.front().map(|e| (i, e.sort_key.as_deref())))
                    .min_by(|a, b| a.1.cmp(&b.1))
                    .map(|(i, _)| i)
                else {
                    break;
                };
                let Some(event) = cursors[next].buffer.pop_front() else {
                    break;
                };
                merged += 1;
                examined += 1;
                let position = event.sort_key.clone();
                if query.filters.matches(&event)? {
                    found.push(event);
                    if found.len() == wanted {
                        break;
                    }
                }
                if deadline.is_some_and(|d| Instant::now() >= d) && examined.is_multiple_of(256) {
                    // A filter that matches little has read for long: the
                    // page ends where it stopped reading.
                    stopped = position;
                    break;
                }
            }
            if found.len() == wanted || stopped.is_some() {
                break;
            }
        }
        let next_after = if found.len() > query.limit {
            found.truncate(query.limit);
            found.last().and_then(|e| e.sort_key.clone())
        } else {
            stopped
        };
        Ok(Page {
            events: found
                .into_iter()
                .map(|event| PageEvent::Stored(Box::new(event)))
                .collect(),
            next_after,
        })
    }

    /// Reads the next events of every cursor whose buffer ran dry,
    /// concurrently, each as many as [`next_read`] says. `need` is how many
    /// more events the page may have to examine; `merged` how many the group
    /// has taken so far.
    async fn refill(
        &self,
        cursors: &mut [Cursor],
        need: usize,
        merged: usize,
        filtered: bool,
    ) -> Result<(), StoreError> {
        let live = cursors.iter().filter(|c| !c.exhausted).count();
        let store = &self.store;
        let fetches = cursors
            .iter_mut()
            .filter(|c| c.buffer.is_empty() && !c.exhausted)
            .map(|cursor| {
                cursor.query.limit = next_read(cursor, need, live, merged, filtered);
                cursor.merged_before = merged;
                async move {
                    let page = store.query_partition(&cursor.query).await?;
                    cursor.exhausted = !page.more || page.events.is_empty();
                    if let Some(last) = page.events.last() {
                        cursor.query.after = last.sort_key.clone();
                    }
                    cursor.last_read = page.events.len();
                    cursor.buffer.extend(page.events);
                    Ok::<(), StoreError>(())
                }
            });
        futures::future::try_join_all(fetches).await?;
        Ok(())
    }

    /// The counts of the events a statistics query selects (from rollups
    /// and blocks, see [`super::lookup`]).
    pub async fn tally(&self, query: &StatsQuery) -> Result<Tally, QueryError> {
        let terms = terms_of(&query.route, &query.filters);
        let rollups = Rollups::load(
            Arc::clone(&self.store),
            Arc::clone(&self.cache),
            &query.from,
            &query.to,
        )
        .await?;
        Selection {
            rollups: &rollups,
            terms: &terms,
            filters: &query.filters,
            from: query.from,
            to: query.to,
        }
        .tally(query.by)
        .await
    }

    /// Whether an event query is answered from blocks: when it has lookup
    /// terms (the indexes cannot narrow them), or when the store has no
    /// partitions at all.
    fn uses_blocks(&self, query: &EventQuery) -> bool {
        !query.filters.terms.is_empty() || !self.store.has_partitions()
    }

    async fn block_page(
        &self,
        query: &EventQuery,
        deadline: Option<Instant>,
    ) -> Result<Page, QueryError> {
        let terms = terms_of(&query.route, &query.filters);
        let rollups = Rollups::load(
            Arc::clone(&self.store),
            Arc::clone(&self.cache),
            &query.from,
            &query.to,
        )
        .await?;
        let (mut found, stopped) = Selection {
            rollups: &rollups,
            terms: &terms,
            filters: &query.filters,
            from: query.from,
            to: query.to,
        }
        .page(query.after.as_deref(), query.limit, deadline)
        .await?;
        let next_after = if found.len() > query.limit {
            found.truncate(query.limit);
            found.last().map(BlockRow::sort_key)
        } else {
            stopped
        };
        Ok(Page {
            events: found.into_iter().map(PageEvent::InBlock).collect(),
            next_after,
        })
    }

    /// Every partition a query reads, for its whole window.
    async fn partitions_of(&self, query: &EventQuery) -> Result<Vec<PartitionQuery>, StoreError> {
        let from = time::sortable(&query.from);
        let to = time::sortable(&query.to);
        Ok(self
            .plan(query)
            .await?
            .into_iter()
            .flat_map(|g| g.partitions)
            .map(|(index, partition)| PartitionQuery {
                index,
                partition,
                from: from.clone(),
                to: to.clone(),
                after: None,
                limit: COUNT_READ,
            })
            .collect())
    }

    /// How many events match, whatever the page size.
    pub async fn count(&self, query: &EventQuery) -> Result<u64, QueryError> {
        if self.uses_blocks(query) {
            let stats = StatsQuery {
                route: query.route.clone(),
                from: query.from,
                to: query.to,
                filters: query.filters.clone(),
                by: None,
                top: 1,
            };
            return Ok(self.tally(&stats).await?.total());
        }
        let partitions = self.partitions_of(query).await?;
        let store = &self.store;
        let filters = &query.filters;
        stream::iter(partitions)
            .map(|partition| async move {
                if filters.is_empty() {
                    return Ok::<u64, QueryError>(store.count_partition(&partition).await?);
                }
                let mut partition = partition;
                let mut matched = 0u64;
                loop {
                    let page = store.query_partition(&partition).await?;
                    for event in &page.events {
                        matched += u64::from(filters.matches(event)?);
                    }
                    match (page.more, page.events.last()) {
                        (true, Some(last)) => partition.after = last.sort_key.clone(),
                        _ => return Ok(matched),
                    }
                }
            })
            .buffer_unordered(COUNT_CONCURRENCY)
            .try_fold(0u64, |total, n| async move { Ok(total + n) })
            .await
    }
}

/// The lookup terms of a query: its filters' and its route's.
fn terms_of(route: &Route, filters: &Filters) -> Vec<Term> {
    let mut terms = filters.terms.clone();
    terms.extend(route.term());
    terms.sort();
    terms
}

/// One partition in a merge.
struct Cursor {
    /// Its next read; `limit` is the size of the last one (0 before the first).
    query: PartitionQuery,
    /// Events read and not yet merged.
    buffer: VecDeque<EventItem>,
    /// Nothing more to read.
    exhausted: bool,
    /// Events its last read returned.
    last_read: usize,
    /// Events the group had merged when it was last read.
    merged_before: usize,
}

/// How many events to ask of a dry cursor, when the page may still have to
/// examine `need` events and `live` cursors of the group are not exhausted.
///
/// Never more than `need`: a lone partition is read once for exactly what
/// the page needs. Merged partitions rarely share a page evenly (a window's
/// events cluster by service), so a first read asks half an even share. A
/// cursor that runs dry is asked for its share of the events merged since
/// its last read, applied to `need`, plus half (so that the next read
/// usually suffices), and at most twice its last read (so a partition that
/// has the page to itself still needs only a few reads). On the shared
/// sample a merged page of 1,000 reads about a fifth more events than it
/// returns (tests/read_units.rs holds it to half). With filters `need` is an
/// estimate (see [`events_to_examine`]) and first reads take a whole even
/// share. Never less than [`MIN_READ`] (reading fewer costs as much) unless
/// the page needs fewer.
fn next_read(cursor: &Cursor, need: usize, live: usize, merged: usize, filtered: bool) -> usize {
    let live = live.max(1);
    let size = if cursor.query.limit == 0 {
        match (live, filtered) {
            (1, _) => need,
            (_, true) => need.div_ceil(live),
            (_, false) => need.div_ceil(2 * live),
        }
    } else {
        let since = (merged - cursor.merged_before).max(cursor.last_read).max(1);
        // last_read / since of the merge came from this cursor: ask for 1.5×
        // that share of `need`.
        let share = (3 * cursor.last_read as u128 * need as u128).div_ceil(2 * since as u128);
        usize::try_from(share)
            .unwrap_or(usize::MAX)
            .min(cursor.query.limit.saturating_mul(2))
    };
    size.max(MIN_READ).min(need).clamp(1, MAX_READ)
}

/// How many more events a page may have to examine to find `missing` more
/// matches: `missing` without filters; with filters, scaled by how many of
/// the events examined so far matched (all of them before any is examined).
fn events_to_examine(missing: usize, examined: usize, matched: usize, filtered: bool) -> usize {
    if !filtered {
        return missing;
    }
    let scaled = (missing as u128 * (examined as u128 + 1)).div_ceil(matched as u128 + 1);
    usize::try_from(scaled).unwrap_or(usize::MAX).max(missing)
}

#[cfg(test)]
mod tests {
    //! Pages equal a reference merge whatever the reads' sizes, over a store
    //! that pages like DynamoDB (a read that reaches its limit says more may
    //! follow even when nothing does; some reads stop short, as at 1 MB), and
    //! no partition is asked for more than the page may still need.
    use std::sync::Mutex;
    use std::time::Instant;

    use async_trait::async_trait;
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use super::*;
    use crate::query::Filters;
    use crate::store::{EventPage, ItemRange, StoredItem, WriteBatch, WriteStats};

    struct Fake {
        /// Events by partition, ascending by sort key.
        partitions: BTreeMap<String, Vec<EventItem>>,
        buckets: Vec<String>,
        rng: Mutex<fastrand::Rng>,
        /// `(partition, limit asked, events returned)` of every read.
        reads: Mutex<Vec<(String, usize, usize)>>,
    }

    #[async_trait]
    impl EventStore for Fake {
        fn describe(&self) -> String {
            "fake".into()
        }
        async fn write(&self, _: WriteBatch, _: Option<Instant>) -> Result<WriteStats, StoreError> {
            unreachable!()
        }
        async fn read_items(&self, _: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
            unreachable!()
        }
        async fn get_items(&self, _: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError> {
            unreachable!()
        }
        async fn put_items(&self, _: &[StoredItem]) -> Result<WriteStats, StoreError> {
            unreachable!()
        }
        async fn put_new_items(&self, _: &[StoredItem]) -> Result<Vec<bool>, StoreError> {
            unreachable!()
        }
        async fn get_event(&self, _: &str) -> Result<Option<EventItem>, StoreError> {
            unreachable!()
        }
        async fn catalog(
            &self,
            kind: CatalogKind,
            range: Option<(&str, &str)>,
        ) -> Result<Vec<String>, StoreError> {
            assert_eq!(kind, CatalogKind::Bucket);
            let (low, high) = range.expect("a range");
            Ok(self
                .buckets
                .iter()
                .filter(|b| low <= b.as_str() && b.as_str() <= high)
                .cloned()
                .collect())
        }
        async fn query_partition(&self, query: &PartitionQuery) -> Result<EventPage, StoreError> {
            assert!(query.limit >= 1);
            let short = {
                let mut rng = self.rng.lock().unwrap();
                rng.u8(..4) == 0
            };
            let all = self
                .partitions
                .get(&query.partition)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let key = |e: &EventItem| e.sort_key.clone().unwrap_or_default();
            let lower = match &query.after {
                Some(after) if *after >= query.from => all.partition_point(|e| key(e) <= *after),
                _ => all.partition_point(|e| key(e) < query.from),
            };
            let matching: Vec<&EventItem> = all[lower..]
                .iter()
                .take_while(|e| key(e) < query.to)
                .collect();
            let take = if short {
                query.limit.div_ceil(2)
            } else {
                query.limit
            };
            let events: Vec<EventItem> = matching.iter().take(take).map(|e| (*e).clone()).collect();
            let more = events.len() == take; // DynamoDB: limit reached, more may follow
            self.reads
                .lock()
                .unwrap()
                .push((query.partition.clone(), query.limit, events.len()));
            Ok(EventPage { events, more })
        }
    }

    fn event(time: DateTime<Utc>, id: usize, service: &str, name: &str) -> EventItem {
        let text = serde_json::json!({
            "eventID": format!("e{id:05}"),
            "eventTime": time::sortable(&time),
            "eventSource": format!("{service}.amazonaws.com"),
            "eventName": name,
            "userIdentity": {"type": "IAMUser", "userName": "alice"},
        })
        .to_string();
        crate::event::event_from_json(text)
    }

    /// Events over three months and five services, clustered in bursts.
    fn fake(seed: u64) -> (Fake, Vec<EventItem>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let start = Utc.with_ymd_and_hms(2024, 1, 20, 0, 0, 0).unwrap();
        let services = ["ec2", "s3", "rds", "iam", "sts"];
        let mut events = Vec::new();
        for id in 0..rng.usize(0..1500) {
            // Half the events in a few bursts, the rest spread over 70 days.
            let offset = if rng.bool() {
                Duration::hours(24 * rng.i64(0..5) * 14) + Duration::seconds(rng.i64(0..600))
            } else {
                Duration::seconds(rng.i64(0..70 * 86_400))
            };
            let service = services[rng.usize(..services.len().min(1 + id % 7))];
            let name = if rng.u8(..10) == 0 { "Rare" } else { "Common" };
            events.push(event(start + offset, id, service, name));
        }
        events.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
        let mut partitions: BTreeMap<String, Vec<EventItem>> = BTreeMap::new();
        let mut buckets = std::collections::BTreeSet::new();
        for e in &events {
            let month = e.month.clone().unwrap();
            buckets.insert(format!("{month}#{}", e.service));
            partitions
                .entry(e.time_partition().unwrap())
                .or_default()
                .push(e.clone());
            partitions
                .entry(e.principal_partition())
                .or_default()
                .push(e.clone());
        }
        let store = Fake {
            partitions,
            buckets: buckets.into_iter().collect(),
            rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x5eed)),
            reads: Mutex::new(Vec::new()),
        };
        (store, events)
    }

    #[tokio::test]
    async fn pages_equal_a_reference_merge() {
        for seed in 0..40u64 {
            let (store, events) = fake(seed);
            let store = Arc::new(store);
            let engine = QueryEngine::new(Arc::clone(&store) as Arc<dyn EventStore>);
            let mut rng = fastrand::Rng::with_seed(seed);
            let principal = events
                .first()
                .map(|e| e.principal.clone())
                .unwrap_or_default();
            for _ in 0..12 {
                let from = Utc.with_ymd_and_hms(2024, 1, 15, 0, 0, 0).unwrap()
                    + Duration::hours(rng.i64(0..24 * 40));
                let to = from + Duration::hours(rng.i64(1..24 * 60));
                let route = match rng.u8(..3) {
                    0 => Route::Scan,
                    1 => Route::User(principal.clone()),
                    _ => Route::Service(["ec2", "s3", "rds"][rng.usize(..3)].into()),
                };
                // A filter on the record (lookup terms are answered from blocks).
                let filters = Filters {
                    params: match rng.u8(..3) {
                        0 => vec![("eventName".into(), "Rare".into())],
                        _ => Vec::new(),
                    },
                    ..Filters::default()
                };
                let limit = [1, 2, 5, 17, 100, 333, 1000][rng.usize(..7)];
                let (lo, hi) = (time::sortable(&from), time::sortable(&to));
                let expected: Vec<&str> = events
                    .iter()
                    .filter(|e| {
                        let key = e.sort_key.as_deref().unwrap();
                        lo.as_str() <= key && key < hi.as_str()
                    })
                    .filter(|e| match &route {
                        Route::Service(s) => &e.service == s,
                        _ => true,
                    })
                    .filter(|e| filters.matches(e).unwrap())
                    .map(|e| e.event_id.as_str())
                    .collect();
                let mut query = EventQuery {
                    route: route.clone(),
                    from,
                    to,
                    filters: filters.clone(),
                    count: false,
                    limit,
                    after: None,
                };
                let mut got: Vec<String> = Vec::new();
                loop {
                    store.reads.lock().unwrap().clear();
                    let page = engine.page(&query, None).await.unwrap();
                    let missing = expected.len() - got.len();
                    assert_eq!(
                        page.events.len(),
                        limit.min(missing),
                        "seed {seed}: {query:?}"
                    );
                    assert_eq!(
                        page.next_after.is_some(),
                        missing > limit,
                        "seed {seed}: {query:?}"
                    );
                    for (partition, asked, _) in store.reads.lock().unwrap().iter() {
                        assert!(
                            *asked <= limit + 1 || !filters.is_empty(),
                            "seed {seed}: {partition} asked for {asked} for a page of {limit}"
                        );
                    }
                    if matches!(route, Route::User(_)) && filters.is_empty() {
                        let reads = store.reads.lock().unwrap();
                        let read: usize = reads.iter().map(|r| r.2).sum();
                        assert!(
                            read <= (limit + 1).min(missing),
                            "seed {seed}: a lone partition reads what the page needs: {reads:?}"
                        );
                    }
                    got.extend(page.events.iter().map(|e| e.event_id().to_owned()));
                    match page.next_after {
                        Some(after) => query.after = Some(after),
                        None => break,
                    }
                }
                assert_eq!(
                    got, expected,
                    "seed {seed}: {route:?} {lo}..{hi} limit {limit}"
                );
            }
        }
    }
}
