//! The alerts a log file raises: each (rule, record) match becomes an
//! [`AlertRow`], stored once with the store's conditional write, and those
//! stored for the first time are reported as [`NewAlert`]s (what SNS
//! publishes). A file delivered again, or retried after a failure, raises
//! the same alerts, finds them stored and reports none of them again.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use super::notify::NoticeEvent;
use super::rules::RuleInfo;
use crate::alert::AlertRow;
use crate::cloudtrail::Record;
use crate::event::key_safe;
use crate::store::alerts::{alert_item, alert_month, month_marker};
use crate::store::{EventStore, StoreError, StoredItem};

/// One rule matching one record of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaisedAlert {
    pub rule: Arc<RuleInfo>,
    pub row: AlertRow,
}

impl RaisedAlert {
    /// The alert `rule` raises on `record`, read from `file`.
    pub fn new(rule: Arc<RuleInfo>, record: &Record, file: &str) -> RaisedAlert {
        let row = AlertRow {
            rule_id: rule.id.clone(),
            title: rule.title.clone(),
            level: rule.level.clone(),
            author: rule.author.clone(),
            references: rule.references.clone(),
            // As the event is stored (and looked up with `/events/{eventID}`).
            event_id: key_safe(record.event_id.clone()),
            event_time: record.event_time.clone(),
            event_name: record.event_name.clone(),
            event_source: record.event_source.clone(),
            principal: key_safe(record.principal.clone()),
            source_ip_address: record.source_ip.clone(),
            aws_region: record.aws_region.clone(),
            file: file.to_owned(),
        };
        RaisedAlert { rule, row }
    }
}

/// An alert stored for the first time: what is notified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub rule: Arc<RuleInfo>,
    pub event: NoticeEvent,
    /// The stored item's (partition, sort) key: deleted again when the
    /// notification cannot be published, so the file's retry announces it.
    pub key: (String, String),
}

impl NewAlert {
    fn from_raised(raised: RaisedAlert, key: (String, String)) -> NewAlert {
        let row = raised.row;
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
        NewAlert {
            rule: raised.rule,
            event: NoticeEvent {
                event_id: row.event_id,
                event_time: or_dash(row.event_time),
                event_name: or_dash(row.event_name),
                principal: row.principal,
                source_ip: or_dash(row.source_ip_address),
            },
            key,
        }
    }
}

/// Stores alerts once each and remembers which months are known to hold
/// alerts (so each month's marker is written once per process).
#[derive(Default)]
pub struct AlertRecorder {
    known_months: Mutex<HashSet<String>>,
}

impl AlertRecorder {
    /// Writes the markers of the alerts' months, then the alerts (each only
    /// if not stored yet), and returns those written now, in the order
    /// raised. The markers go first so that an alert is never stored in a
    /// month `GET /alerts` would not read.
    pub async fn record(
        &self,
        store: &dyn EventStore,
        raised: Vec<RaisedAlert>,
        retention_days: u32,
    ) -> Result<Vec<NewAlert>, StoreError> {
        if raised.is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<StoredItem> = raised
            .iter()
            .map(|r| alert_item(&r.row, retention_days))
            .collect();
        let months: BTreeSet<String> = {
            let known = self
                .known_months
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            items
                .iter()
                .filter_map(alert_month)
                .filter(|month| !known.contains(*month))
                .map(str::to_owned)
                .collect()
        };
        if !months.is_empty() {
            let markers: Vec<StoredItem> = months.iter().map(|m| month_marker(m)).collect();
            store.put_items(&markers).await?;
            self.known_months
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend(months);
        }
        let written = store.put_new_items(&items).await?;
        Ok(raised
            .into_iter()
            .zip(items)
            .zip(written)
            .filter(|(_, new)| *new)
            .map(|((raised, item), _)| NewAlert::from_raised(raised, (item.partition, item.sort)))
            .collect())
    }
}
