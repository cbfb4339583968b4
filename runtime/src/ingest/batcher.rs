//! Write batching across files. CloudTrail files are small (a median of ~4
//! events), so writing each file on its own costs a request per file; a
//! backfill instead hands every file's events to one batcher, which writes
//! them together in full `BatchWriteItem` calls and tells each file when its
//! events are stored (so a file is only counted as done once it is).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::event::EventItem;
use crate::store::{CatalogEntry, EventStore, StoreError, WriteStats};

/// How long the batcher waits for more work before writing a partial batch.
const LINGER: Duration = Duration::from_millis(20);

struct Job {
    catalog: Vec<CatalogEntry>,
    events: Vec<EventItem>,
    deadline: Option<Instant>,
    done: oneshot::Sender<Result<WriteStats, StoreError>>,
}

/// A handle to the batching task; cheap to clone.
#[derive(Clone)]
pub struct WriteBatcher {
    sender: mpsc::Sender<Job>,
}

impl WriteBatcher {
    /// Starts the batching task on the current runtime; it writes once
    /// `flush_at` events are waiting, or when no more arrive for a moment.
    pub fn start(store: Arc<dyn EventStore>, flush_at: usize) -> WriteBatcher {
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(run(store, receiver, flush_at.max(1)));
        WriteBatcher { sender }
    }

    /// Writes catalog entries, then events, together with other callers'.
    pub async fn write(
        &self,
        catalog: Vec<CatalogEntry>,
        events: Vec<EventItem>,
        deadline: Option<Instant>,
    ) -> Result<WriteStats, StoreError> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Permanent {
            operation: "batch write",
            store: "the write batcher".into(),
            message: "the batching task stopped".into(),
        };
        self.sender
            .send(Job {
                catalog,
                events,
                deadline,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(store: Arc<dyn EventStore>, mut receiver: mpsc::Receiver<Job>, flush_at: usize) {
    while let Some(first) = receiver.recv().await {
        let mut waiting = first.events.len();
        let mut jobs = vec![first];
        while waiting < flush_at {
            match tokio::time::timeout(LINGER, receiver.recv()).await {
                Ok(Some(job)) => {
                    waiting += job.events.len();
                    jobs.push(job);
                }
                _ => break,
            }
        }
        let catalog: Vec<CatalogEntry> = jobs
            .iter()
            .flat_map(|j| j.catalog.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let events: Vec<EventItem> = jobs
            .iter_mut()
            .flat_map(|j| std::mem::take(&mut j.events))
            .collect();
        let deadline = jobs.iter().filter_map(|j| j.deadline).min();
        let result = store
            .put_catalog_and_events(&catalog, &events, deadline)
            .await;
        // The whole batch's cost is reported once (to the first caller), so sums stay right.
        let mut first = true;
        for job in jobs {
            let answer = match &result {
                Ok(stats) if first => Ok(*stats),
                Ok(_) => Ok(WriteStats::default()),
                Err(error) => Err(error.clone()),
            };
            first = false;
            let _ = job.done.send(answer);
        }
    }
}
