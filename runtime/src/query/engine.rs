//! Answers event queries over any store: plans the partitions a route and a
//! window touch (the catalog says which month×service partitions exist, so
//! empty ones are never read), merges them in `(eventTime, eventID)` order one
//! month at a time, applies the filters and stops as soon as a page is full.
//! Counting reads partitions concurrently, and lets the store count keys
//! without fetching events when there is nothing to filter.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};

use super::params::{EventQuery, Route};
use crate::event::{CorruptRecord, EventItem, principal_partition, time_partition};
use crate::store::{CatalogKind, EventStore, IndexName, PartitionQuery, StoreError};
use crate::time;

/// Largest page asked of a store at once.
const MAX_PAGE: usize = 1000;
/// Smallest page asked of a partition in a merge.
const MIN_PAGE: usize = 25;
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
    pub events: Vec<EventItem>,
    pub next_after: Option<String>,
}

/// Partitions of one month (or the single principal partition), merged together.
struct Group {
    month: Option<String>,
    partitions: Vec<(IndexName, String)>,
}

#[derive(Clone)]
pub struct QueryEngine {
    store: Arc<dyn EventStore>,
}

impl QueryEngine {
    pub fn new(store: Arc<dyn EventStore>) -> QueryEngine {
        QueryEngine { store }
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
        let months = time::months_between(&query.from, &query.to);
        let (Some(first), Some(last)) = (months.first(), months.last()) else {
            return Ok(Vec::new());
        };
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

    /// One page of matching events, ascending by time.
    pub async fn page(&self, query: &EventQuery) -> Result<Page, QueryError> {
        let from = time::sortable(&query.from);
        let to = time::sortable(&query.to);
        let wanted = query.limit + 1; // one more tells whether a next page exists
        let mut found: Vec<EventItem> = Vec::with_capacity(wanted.min(MAX_PAGE));
        for group in self.plan(query).await? {
            if let (Some(month), Some(after)) = (&group.month, &query.after)
                && after
                    .get(..7)
                    .is_some_and(|after_month| month.as_str() < after_month)
            {
                continue; // wholly before the previous page's end
            }
            let first_page = (wanted.div_ceil(group.partitions.len())).clamp(MIN_PAGE, MAX_PAGE);
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
                        limit: first_page,
                    },
                    buffer: VecDeque::new(),
                    exhausted: false,
                })
                .collect();
            loop {
                self.refill(&mut cursors).await?;
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
                if query.filters.matches(&event)? {
                    found.push(event);
                    if found.len() == wanted {
                        break;
                    }
                }
            }
            if found.len() == wanted {
                break;
            }
        }
        let next_after = if found.len() > query.limit {
            found.truncate(query.limit);
            found.last().and_then(|e| e.sort_key.clone())
        } else {
            None
        };
        Ok(Page {
            events: found,
            next_after,
        })
    }

    /// Fetches the next page of every cursor whose buffer ran dry, concurrently.
    async fn refill(&self, cursors: &mut [Cursor]) -> Result<(), StoreError> {
        let store = &self.store;
        let fetches = cursors
            .iter_mut()
            .filter(|c| c.buffer.is_empty() && !c.exhausted)
            .map(|cursor| async move {
                let page = store.query_partition(&cursor.query).await?;
                cursor.exhausted = !page.more || page.events.is_empty();
                if let Some(last) = page.events.last() {
                    cursor.query.after = last.sort_key.clone();
                }
                cursor.query.limit = (cursor.query.limit * 2).min(MAX_PAGE);
                cursor.buffer.extend(page.events);
                Ok::<(), StoreError>(())
            });
        futures::future::try_join_all(fetches).await?;
        Ok(())
    }

    /// How many events match, whatever the page size.
    pub async fn count(&self, query: &EventQuery) -> Result<u64, QueryError> {
        let from = time::sortable(&query.from);
        let to = time::sortable(&query.to);
        let partitions: Vec<PartitionQuery> = self
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
                limit: MAX_PAGE,
            })
            .collect();
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

struct Cursor {
    query: PartitionQuery,
    buffer: VecDeque<EventItem>,
    exhausted: bool,
}
