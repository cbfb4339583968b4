//! The asynchronous half of ingest: runs the pipeline on a blocking thread
//! (so a slow download or a large file never stalls the runtime), and writes
//! what it yields in chunks — new catalog entries first, then the events and
//! the blocks that summarise them — so that an event is never stored without
//! the entries that make it reachable. Once a file's events are written, the
//! alerts its records raised are stored (each once: see [`super::alerts`])
//! and the new ones reported.

use std::collections::BTreeMap;

use foldhash::{HashSet, HashSetExt};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;

use super::alerts::{AlertRecorder, NewAlert, RaisedAlert};
use super::batcher::WriteBatcher;
use super::pipeline::{Pipeline, Prepared, RecordCounts};
use crate::cloudtrail::logfile::LogShape;
use crate::event::EventItem;
use crate::store::keys::{self, BlockKey};
use crate::store::{BlockWrite, CatalogEntry, EventStore, StoreError, WriteBatch, WriteStats};

/// Events handed from the parser to the writer at a time.
const CHUNK: usize = 500;

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Read to the end; its kept records are stored.
    Ingested,
    /// Not a log file (digest, Insights file, no `Records`): nothing to do.
    Skipped { reason: String },
    /// Could not be read or stored completely. `retry` says whether trying
    /// again may help (network, throttling) or not (corrupt content).
    Failed { reason: String, retry: bool },
}

/// The report of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// `s3://bucket/key` or a path.
    pub source: String,
    #[serde(flatten)]
    pub outcome: FileOutcome,
    #[serde(flatten)]
    pub counts: RecordCounts,
    /// Events written (after filtering).
    pub stored: u64,
    #[serde(skip)]
    pub writes: WriteStats,
    /// Alerts this file raised that were stored for the first time (none
    /// when the file was read before): what to notify.
    #[serde(skip)]
    pub new_alerts: Vec<NewAlert>,
}

impl FileReport {
    pub fn skipped(source: String, reason: impl Into<String>) -> FileReport {
        FileReport {
            source,
            outcome: FileOutcome::Skipped {
                reason: reason.into(),
            },
            counts: RecordCounts::default(),
            stored: 0,
            writes: WriteStats::default(),
            new_alerts: Vec::new(),
        }
    }

    pub fn failed(source: String, reason: impl Into<String>, retry: bool) -> FileReport {
        FileReport {
            source,
            outcome: FileOutcome::Failed {
                reason: reason.into(),
                retry,
            },
            counts: RecordCounts::default(),
            stored: 0,
            writes: WriteStats::default(),
            new_alerts: Vec::new(),
        }
    }

    pub fn needs_retry(&self) -> bool {
        matches!(self.outcome, FileOutcome::Failed { retry: true, .. })
    }
}

/// Parses and stores log files through a store. Cheap to share: keep one per
/// process so that catalog entries already written are not written again.
pub struct Ingestor {
    store: Arc<dyn EventStore>,
    pipeline: Arc<Pipeline>,
    /// Catalog entries known to be stored (by this process).
    known: Mutex<HashSet<CatalogEntry>>,
    /// When set, writes of many files are batched together.
    batcher: Option<WriteBatcher>,
    alerts: AlertRecorder,
}

impl Ingestor {
    pub fn new(store: Arc<dyn EventStore>, pipeline: Pipeline) -> Ingestor {
        Ingestor {
            store,
            pipeline: Arc::new(pipeline),
            known: Mutex::new(HashSet::new()),
            batcher: None,
            alerts: AlertRecorder::default(),
        }
    }

    /// Batches the writes of concurrent files together (see [`WriteBatcher`]):
    /// `files_at_once` is how many files the caller ingests at once. Must be
    /// called inside a tokio runtime.
    pub fn with_batching(mut self, flush_at: usize, files_at_once: usize) -> Ingestor {
        self.batcher = Some(WriteBatcher::start(
            Arc::clone(&self.store),
            flush_at,
            files_at_once,
        ));
        self
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// Writes what the batcher still holds and lets go of the store.
    pub async fn close(self) {
        if let Some(batcher) = self.batcher {
            batcher.close().await;
        }
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Reads one log file from `reader` (named `source` in reports) and
    /// stores its events. Never panics on content; every failure is in the
    /// report.
    pub async fn ingest_reader<R>(
        &self,
        source: String,
        reader: R,
        deadline: Option<Instant>,
    ) -> FileReport
    where
        R: Read + Send + 'static,
    {
        let (sender, mut receiver) = mpsc::channel::<Vec<Prepared>>(4);
        let pipeline = Arc::clone(&self.pipeline);
        let file = source.clone();
        let parser = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut raised: Vec<RaisedAlert> = Vec::new();
            let (counts, result) = pipeline.read_with_alerts(
                reader,
                &file,
                |prepared| {
                    chunk.push(prepared);
                    if chunk.len() == CHUNK {
                        // A closed channel means the writer failed; the rest is read but dropped.
                        let _ = sender.blocking_send(std::mem::replace(
                            &mut chunk,
                            Vec::with_capacity(CHUNK),
                        ));
                    }
                },
                |alert| raised.push(alert),
            );
            if !chunk.is_empty() {
                let _ = sender.blocking_send(chunk);
            }
            (counts, result, raised)
        });

        let mut stored = 0u64;
        let mut writes = WriteStats::default();
        let mut store_error: Option<StoreError> = None;
        let source_id = keys::source_id(&source);
        let mut part = 0u32;
        while let Some(chunk) = receiver.recv().await {
            let written = self.write_chunk(chunk, &source_id, part, deadline).await;
            part += 1;
            match written {
                Ok((n, stats)) => {
                    stored += n;
                    writes += stats;
                }
                Err(error) => {
                    store_error = Some(error);
                    break;
                }
            }
        }
        drop(receiver);

        let (counts, read_result, raised) = match parser.await {
            Ok(done) => done,
            Err(join_error) => {
                return FileReport::failed(
                    source,
                    format!("the parser stopped unexpectedly: {join_error}"),
                    true,
                );
            }
        };
        // The alerts of the records read (all of them, or those before a
        // read error), once their events are in; a failure fails the file
        // for a retry, as an event write does.
        let mut new_alerts = Vec::new();
        if store_error.is_none() {
            match self
                .alerts
                .record(self.store.as_ref(), raised, self.pipeline.retention_days)
                .await
            {
                Ok(new) => new_alerts = new,
                Err(error) => store_error = Some(error),
            }
        }
        let outcome = match (store_error, read_result) {
            (Some(error), _) => FileOutcome::Failed {
                reason: error.to_string(),
                retry: true,
            },
            (None, Err(error)) => FileOutcome::Failed {
                retry: error.is_transient(),
                reason: error.to_string(),
            },
            (None, Ok(LogShape::NoRecords)) => FileOutcome::Skipped {
                reason: "no `Records` array".into(),
            },
            (None, Ok(LogShape::Records(_))) => FileOutcome::Ingested,
        };
        FileReport {
            source,
            outcome,
            counts,
            stored,
            writes,
            new_alerts,
        }
    }

    /// Writes the new catalog entries of a chunk, then its events and their
    /// blocks (one per hour of their times; `part` numbers the chunks of a
    /// file, so the same file always makes the same blocks).
    async fn write_chunk(
        &self,
        chunk: Vec<Prepared>,
        source_id: &str,
        part: u32,
        deadline: Option<Instant>,
    ) -> Result<(u64, WriteStats), StoreError> {
        let mut fresh: HashSet<CatalogEntry> = HashSet::new();
        {
            let known = self
                .known
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for prepared in &chunk {
                for entry in &prepared.catalog {
                    if !known.contains(entry) && !fresh.contains(entry) {
                        fresh.insert(entry.clone());
                    }
                }
            }
        }
        let mut entries: Vec<CatalogEntry> = fresh.into_iter().collect();
        entries.sort();
        let count = chunk.len() as u64;
        let mut by_hour: BTreeMap<Option<keys::Hour>, Vec<EventItem>> = BTreeMap::new();
        for prepared in chunk {
            by_hour
                .entry(keys::hour_of(&prepared.event))
                .or_default()
                .push(prepared.event);
        }
        let batch = WriteBatch {
            entries: entries.clone(),
            blocks: by_hour
                .into_iter()
                .map(|(hour, events)| BlockWrite {
                    key: BlockKey {
                        hour,
                        source: source_id.to_owned(),
                        part,
                    },
                    events,
                })
                .collect(),
        };
        let stats = match &self.batcher {
            Some(batcher) => batcher.write(batch, deadline).await?,
            None => self.store.write(batch, deadline).await?,
        };
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(entries);
        Ok((count, stats))
    }
}
