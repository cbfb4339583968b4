//! The synchronous half of ingest: read a log file, extract each record,
//! evaluate the detection rules on it, apply the skip list, redact, and turn
//! what is kept into stored events and the catalog entries that make them
//! reachable.

use std::io::Read;

use super::alerts::RaisedAlert;
use super::rules::{EventKeys, RuleSet};
use crate::cloudtrail::logfile::LogShape;
use crate::cloudtrail::{LogReadError, Record, read_log_records};
use crate::event::{EventItem, key_safe};
use crate::store::{CatalogEntry, CatalogKind};

/// Case-insensitive `eventName` prefixes whose events are not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipList {
    prefixes: Vec<String>,
}

impl SkipList {
    pub fn new<S: AsRef<str>>(prefixes: impl IntoIterator<Item = S>) -> SkipList {
        let prefixes = prefixes
            .into_iter()
            .map(|p| p.as_ref().trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        SkipList { prefixes }
    }

    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// True when an event with this name is filtered out. Events without a
    /// name are kept.
    pub fn skips(&self, event_name: Option<&str>) -> bool {
        let Some(name) = event_name else { return false };
        if self.prefixes.is_empty() {
            return false;
        }
        let name = name.to_lowercase();
        self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }
}

/// How records are turned into stored events.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub skip: SkipList,
    /// Days to keep events (DynamoDB TTL); 0 keeps them forever.
    pub retention_days: u32,
    /// Only records whose `eventTime` falls in this window are kept (backfill
    /// `--since`/`--until`); records without a usable time are then left out too.
    pub window: Option<TimeWindow>,
    /// Detection rules, evaluated on every record, stored or not (empty by
    /// default: no alerts).
    pub rules: RuleSet,
}

/// A half-open window `[from, to)` of event times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
}

impl TimeWindow {
    pub fn contains(&self, instant: Option<&chrono::DateTime<chrono::Utc>>) -> bool {
        instant.is_some_and(|t| self.from <= *t && *t < self.to)
    }
}

/// An event ready to store, with the catalog entries that make it reachable.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event: EventItem,
    pub catalog: Vec<CatalogEntry>,
}

/// What happened to the records of one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecordCounts {
    /// Records read.
    pub records: u64,
    /// Records dropped by the skip list (or outside the time window).
    pub filtered: u64,
    /// Records that were not JSON objects.
    pub rejected: u64,
}

impl std::ops::AddAssign for RecordCounts {
    fn add_assign(&mut self, other: RecordCounts) {
        self.records += other.records;
        self.filtered += other.filtered;
        self.rejected += other.rejected;
    }
}

impl Pipeline {
    /// Reads one log file, calling `emit` for each event to store. Records
    /// read before an error are still emitted. Alerts are not asked for
    /// (see [`Pipeline::read_with_alerts`]).
    pub fn read<R: Read>(
        &self,
        reader: R,
        emit: impl FnMut(Prepared),
    ) -> (RecordCounts, Result<LogShape, LogReadError>) {
        self.read_with_alerts(reader, "", emit, |_| {})
    }

    /// Reads one log file (named `file` in alerts), calling `emit` for each
    /// event to store and `raise` for each alert a rule raises. Rules see
    /// every record that is a JSON object, before the skip list and the
    /// time window: an event not stored (say, `GetCallerIdentity` skipped)
    /// still alerts.
    pub fn read_with_alerts<R: Read>(
        &self,
        reader: R,
        file: &str,
        mut emit: impl FnMut(Prepared),
        mut raise: impl FnMut(RaisedAlert),
    ) -> (RecordCounts, Result<LogShape, LogReadError>) {
        let mut counts = RecordCounts::default();
        let result = read_log_records(reader, |raw| {
            counts.records += 1;
            let record = match Record::from_raw(raw) {
                Ok(record) => record,
                Err(error) => {
                    counts.rejected += 1;
                    tracing::warn!(%error, "Skipping a record.");
                    return;
                }
            };
            if !self.rules.is_empty() {
                let matches = if record.event_keys_top_level {
                    let keys = EventKeys {
                        event_name: record.event_name.as_deref(),
                        event_source: record.event_source.as_deref(),
                    };
                    self.rules.evaluate_keyed(raw.get(), keys)
                } else {
                    self.rules.evaluate(raw.get())
                };
                for matched in matches {
                    raise(RaisedAlert::new(matched.rule, &record, file));
                }
            }
            if self.skip.skips(record.event_name.as_deref())
                || self
                    .window
                    .is_some_and(|w| !w.contains(record.instant.as_ref()))
            {
                counts.filtered += 1;
                return;
            }
            emit(self.prepare(record));
        });
        (counts, result)
    }

    /// Turns one kept record into its stored event and catalog entries.
    pub fn prepare(&self, mut record: Record) -> Prepared {
        let names = std::mem::take(&mut record.param_names);
        let event = EventItem::from_record(record, self.retention_days);
        let mut catalog = Vec::with_capacity(names.len() + 3);
        catalog.push(CatalogEntry {
            kind: CatalogKind::User,
            value: event.principal.clone(),
        });
        catalog.push(CatalogEntry {
            kind: CatalogKind::Service,
            value: event.service.clone(),
        });
        if let Some(month) = &event.month {
            catalog.push(CatalogEntry {
                kind: CatalogKind::Bucket,
                value: format!("{month}#{}", event.service),
            });
        }
        // An empty field name cannot be a key (nor be asked for).
        catalog.extend(
            names
                .into_iter()
                .filter(|name| !name.is_empty())
                .map(|value| CatalogEntry {
                    kind: CatalogKind::Param,
                    value: key_safe(value),
                }),
        );
        Prepared { event, catalog }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_list_is_case_insensitive_prefixes() {
        let skip = SkipList::new(["Get", "describe", " ", "checkmfa"]);
        assert_eq!(skip.prefixes(), ["get", "describe", "checkmfa"]);
        assert!(skip.skips(Some("GetObject")));
        assert!(skip.skips(Some("DescribeInstances")));
        assert!(skip.skips(Some("CheckMfa")));
        assert!(!skip.skips(Some("RunInstances")));
        assert!(!skip.skips(None));
        assert!(!SkipList::default().skips(Some("GetObject")));
    }

    #[test]
    fn filters_and_counts() {
        let doc = br#"{"Records":[
            {"eventID":"1","eventName":"GetObject","eventTime":"2024-01-01T00:00:00Z"},
            {"eventID":"2","eventName":"RunInstances","eventTime":"2024-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","requestParameters":{"instanceType":"t2.micro"}},
            42
        ]}"#;
        let pipeline = Pipeline {
            skip: SkipList::new(["get"]),
            ..Pipeline::default()
        };
        let mut kept = Vec::new();
        let (counts, result) = pipeline.read(&doc[..], |p| kept.push(p));
        assert!(result.is_ok());
        assert_eq!(
            counts,
            RecordCounts {
                records: 3,
                filtered: 1,
                rejected: 1
            }
        );
        assert_eq!(kept.len(), 1);
        let values: Vec<_> = kept[0]
            .catalog
            .iter()
            .map(|c| (c.kind, c.value.as_str()))
            .collect();
        assert!(values.contains(&(CatalogKind::Bucket, "2024-01#ec2")));
        assert!(values.contains(&(CatalogKind::Param, "requestParameters.instanceType")));
        assert!(values.contains(&(CatalogKind::User, "(none)")));
    }

    #[test]
    fn every_catalog_value_fits_in_a_key() {
        // Found by fuzzing: a record with an empty field name made an empty
        // catalog key, which DynamoDB refuses, failing the file forever.
        let long = "k".repeat(2000);
        let doc = format!(
            r#"{{"Records":[{{"eventID":"1","":"x","{long}":1,"requestParameters":{{"":1,"{long}":2}}}}]}}"#
        );
        let mut kept = Vec::new();
        let (_, result) = Pipeline::default().read(doc.as_bytes(), |p| kept.push(p));
        assert!(result.is_ok());
        for entry in &kept[0].catalog {
            assert!(
                !entry.value.is_empty() && entry.value.len() <= crate::event::MAX_KEY_VALUE_BYTES,
                "{entry:?}"
            );
        }
        assert!(
            kept[0]
                .catalog
                .iter()
                .any(|e| e.value == "requestParameters.")
        );
    }

    #[test]
    fn a_window_keeps_records_by_their_own_time() {
        let doc = br#"{"Records":[
            {"eventID":"1","eventTime":"2024-01-01T23:59:59Z"},
            {"eventID":"2","eventTime":"2024-01-02T00:00:00Z"},
            {"eventID":"3","eventTime":"2024-01-03T00:00:00Z"},
            {"eventID":"4"}
        ]}"#;
        let day = |d: u32| {
            crate::time::start_of_day(chrono::NaiveDate::from_ymd_opt(2024, 1, d).unwrap())
        };
        let pipeline = Pipeline {
            window: Some(TimeWindow {
                from: day(2),
                to: day(3),
            }),
            ..Pipeline::default()
        };
        let mut kept = Vec::new();
        let (counts, _) = pipeline.read(&doc[..], |p| kept.push(p.event.event_id));
        assert_eq!(
            kept,
            ["2"],
            "[from, to): the end is excluded, a record without a time is not in it"
        );
        assert_eq!(counts.filtered, 3);
    }
}
