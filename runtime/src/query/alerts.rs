//! `GET /alerts`: the alerts of a window, oldest first as the event routes
//! list, filtered by rule and minimum level, one page at a time. Only the
//! months of the window that hold alerts are read (their markers say which),
//! each from where the previous page stopped.

use super::engine::QueryError;
use super::params::AlertQuery;
use crate::alert::{AlertRow, Level};
use crate::store::alerts::decode_alert;
use crate::store::{EventStore, ItemRange, StoreError, keys};
use crate::time;

/// Items asked of a month at a time when filters may drop some.
const FILTERED_READ: usize = 1000;

/// One page of alerts with their sort keys, and where the next page starts.
#[derive(Debug, Default)]
pub struct AlertPage {
    pub alerts: Vec<(String, AlertRow)>,
    pub next_after: Option<String>,
}

/// Whether an alert passes the query's `rule` and `level` filters. An
/// alert whose level is not a Sigma level passes only when no level is asked.
fn wanted(query: &AlertQuery, row: &AlertRow) -> bool {
    query.rule.as_ref().is_none_or(|rule| *rule == row.rule_id)
        && query
            .level
            .is_none_or(|least| Level::from_name(&row.level).is_some_and(|l| l >= least))
}

/// One page of the alerts a query asks for.
pub async fn alert_page(
    store: &dyn EventStore,
    query: &AlertQuery,
) -> Result<AlertPage, QueryError> {
    if query.from >= query.to {
        return Ok(AlertPage::default());
    }
    let from = time::sortable(&query.from);
    // Alert sort keys are `<time>#…`: none equals `to`'s time itself, so an
    // inclusive end at `to` excludes every alert at or after it.
    let to = time::sortable(&query.to);
    let first = time::month_bucket(&query.from);
    let last = time::month_bucket(&(query.to - chrono::Duration::microseconds(1)));
    let months = store
        .read_items(&ItemRange {
            partition: keys::ALERT_MONTHS_PARTITION.to_owned(),
            start: first,
            end: last,
            consistent: false,
        })
        .await?;
    let filtered = query.rule.is_some() || query.level.is_some();
    let mut found: Vec<(String, AlertRow)> = Vec::new();
    for month in months {
        let month = month.sort;
        if let Some(after) = &query.after
            && after.get(..7).is_some_and(|m| month.as_str() < m)
        {
            continue; // wholly before the previous page's end
        }
        // Ranges include their start: the key a read resumes at (the
        // previous page's last, or this page's previous read's last) is
        // skipped.
        let mut skip = query.after.clone().filter(|after| *after >= from);
        let mut start = skip.clone().unwrap_or_else(|| from.clone());
        if start > to {
            continue;
        }
        loop {
            // One more than the page holds tells whether a next page exists.
            let need = query.limit + 1 - found.len();
            let asked = if filtered {
                need.max(FILTERED_READ)
            } else {
                need
            } + usize::from(skip.is_some());
            let range = ItemRange {
                partition: keys::alert_partition(&month),
                start: start.clone(),
                end: to.clone(),
                consistent: false,
            };
            let (items, more) = store.read_items_page(&range, asked).await?;
            let Some(last_item) = items.last() else { break };
            let resume = last_item.sort.clone();
            for item in items {
                if skip.as_ref() == Some(&item.sort) {
                    continue;
                }
                let row = decode_alert(&item).map_err(|message| StoreError::Corrupt {
                    store: store.describe(),
                    key: format!("{} {}", item.partition, item.sort),
                    message,
                })?;
                if wanted(query, &row) {
                    found.push((item.sort, row));
                    if found.len() > query.limit {
                        found.truncate(query.limit);
                        let next_after = found.last().map(|(key, _)| key.clone());
                        return Ok(AlertPage {
                            alerts: found,
                            next_after,
                        });
                    }
                }
            }
            if !more {
                break;
            }
            start = resume.clone();
            skip = Some(resume);
        }
    }
    Ok(AlertPage {
        alerts: found,
        next_after: None,
    })
}
