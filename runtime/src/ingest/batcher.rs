//! Write batching across files. CloudTrail files are small (a median of ~4
//! events), so writing each file on its own costs a request per file; a
//! backfill instead hands every file's blocks to one batcher, which writes
//! them together in full `BatchWriteItem` calls and tells each file when its
//! blocks are stored (so a file is only counted as done once it is). A block
//! (its events and its summary) is written whole, in one write; the tail of
//! a flush that would only partly fill a request waits for the next files
//! (at most one more moment), so nearly every request carries 25 items.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::store::dynamodb::batch::MAX_BATCH;
use crate::store::{BlockWrite, CatalogEntry, EventStore, StoreError, WriteBatch, WriteStats};

/// How long the batcher waits for more work before writing a partial batch.
const LINGER: Duration = Duration::from_millis(20);

struct Job {
    batch: WriteBatch,
    deadline: Option<Instant>,
    done: oneshot::Sender<Result<WriteStats, StoreError>>,
}

/// A handle to the batching task.
pub struct WriteBatcher {
    sender: mpsc::Sender<Job>,
    task: tokio::task::JoinHandle<()>,
}

impl WriteBatcher {
    /// Starts the batching task on the current runtime; it writes once
    /// `flush_at` events are waiting, once each of the `writers` (the files
    /// written at once) is waiting on it, or when no more arrive for a moment.
    pub fn start(store: Arc<dyn EventStore>, flush_at: usize, writers: usize) -> WriteBatcher {
        let (sender, receiver) = mpsc::channel(64);
        let limits = Limits {
            flush_at: flush_at.max(1),
            writers: writers.max(1),
        };
        let task = tokio::spawn(run(store, receiver, limits));
        WriteBatcher { sender, task }
    }

    /// Writes what is waiting and stops the task, which then lets go of the
    /// store (a local database can then be compacted).
    pub async fn close(self) {
        drop(self.sender);
        // The task ends once the channel is empty and closed; a panic in it
        // has already failed the writes it was answering.
        let _ = self.task.await;
    }

    /// Writes a batch (catalog entries, then blocks) together with other callers'.
    pub async fn write(
        &self,
        batch: WriteBatch,
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
                batch,
                deadline,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Items a block becomes in DynamoDB: its events and its summary.
fn items_of(block: &BlockWrite) -> usize {
    block.events.len() + 1
}

/// What the batching task holds: jobs not yet answered, in arrival order, and
/// what of theirs is not yet written.
#[derive(Default)]
struct Batch {
    /// Each job with how many of its blocks are still unwritten.
    jobs: Vec<(Job, usize)>,
    /// Catalog entries not yet written (written with every flush).
    catalog: BTreeSet<CatalogEntry>,
    /// Blocks not yet written, in the order of `jobs`.
    blocks: Vec<BlockWrite>,
    /// Events in `blocks`.
    events: usize,
    /// Cost of writes whose jobs are not answered yet.
    owed: WriteStats,
}

impl Batch {
    fn add(&mut self, mut job: Job) {
        let batch = std::mem::take(&mut job.batch);
        self.catalog.extend(batch.entries);
        self.events += batch.blocks.iter().map(|b| b.events.len()).sum::<usize>();
        self.jobs.push((job, batch.blocks.len()));
        self.blocks.extend(batch.blocks);
    }

    /// How many of the waiting blocks to write now. Requests are filled as
    /// whole as blocks allow (catalog entries first, as the store writes
    /// them) and the tail that would only partly fill one waits for the next
    /// files, but only when writing the rest answers at least one job: that
    /// job's file then makes room for the next one, so the tail never waits
    /// for nothing.
    fn blocks_to_write(&self, more_may_come: bool) -> usize {
        let all = self.blocks.len();
        if !more_may_come {
            return all;
        }
        let items: usize = self.catalog.len() + self.blocks.iter().map(items_of).sum::<usize>();
        let whole = items / MAX_BATCH * MAX_BATCH;
        let mut filled = self.catalog.len();
        let take = self
            .blocks
            .iter()
            .take_while(|block| {
                filled += items_of(block);
                filled <= whole
            })
            .count();
        if take == 0 {
            return all;
        }
        let mut left = take;
        let answers_one = self.jobs.iter().any(|(_, unwritten)| {
            let done = *unwritten <= left;
            left = left.saturating_sub(*unwritten);
            done
        });
        if answers_one { take } else { all }
    }

    /// Writes the catalog and the first `count` blocks, then answers the
    /// jobs that have nothing left to write. On an error, every waiting job
    /// fails (its file is then reported as failed and can be read again).
    async fn flush(&mut self, store: &dyn EventStore, count: usize) {
        let blocks: Vec<BlockWrite> = self.blocks.drain(..count).collect();
        self.events -= blocks.iter().map(|b| b.events.len()).sum::<usize>();
        let batch = WriteBatch {
            entries: std::mem::take(&mut self.catalog).into_iter().collect(),
            blocks,
        };
        let deadline = self.jobs.iter().filter_map(|(job, _)| job.deadline).min();
        match store.write(batch, deadline).await {
            Ok(stats) => {
                self.owed += stats;
                let mut written = count;
                for (_, unwritten) in &mut self.jobs {
                    let now = (*unwritten).min(written);
                    *unwritten -= now;
                    written -= now;
                }
                let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.jobs)
                    .into_iter()
                    .partition(|(_, u)| *u == 0);
                self.jobs = waiting;
                for (job, _) in done {
                    // The batch's cost is reported once (to the first job answered), so sums stay right.
                    let _ = job.done.send(Ok(std::mem::take(&mut self.owed)));
                }
            }
            Err(error) => {
                for (job, _) in std::mem::take(&mut self.jobs) {
                    let _ = job.done.send(Err(error.clone()));
                }
                self.blocks.clear();
                self.events = 0;
                self.owed = WriteStats::default();
            }
        }
    }
}

/// When the batching task writes without waiting for more.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Events that fill a batch.
    flush_at: usize,
    /// Callers that write at once: once that many jobs wait, no more can
    /// come until they are answered, so lingering would only idle.
    writers: usize,
}

async fn run(store: Arc<dyn EventStore>, mut receiver: mpsc::Receiver<Job>, limits: Limits) {
    let mut batch = Batch::default();
    let mut open = true;
    loop {
        if batch.jobs.is_empty() {
            match receiver.recv().await {
                Some(job) => batch.add(job),
                None => return,
            }
        }
        while open && batch.events < limits.flush_at && batch.jobs.len() < limits.writers {
            match tokio::time::timeout(LINGER, receiver.recv()).await {
                Ok(Some(job)) => batch.add(job),
                Ok(None) => open = false,
                Err(_) => break,
            }
        }
        let count = batch.blocks_to_write(open);
        batch.flush(store.as_ref(), count).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use futures::StreamExt;

    use super::*;
    use crate::event::EventItem;
    use crate::store::keys::BlockKey;
    use crate::store::{CatalogKind, EventPage, ItemRange, PartitionQuery, StoredItem};

    /// Remembers each write: how many entries and blocks, and which events.
    #[derive(Default)]
    struct Recorder {
        writes: Mutex<Vec<(usize, Vec<String>)>>,
        fail: bool,
    }

    #[async_trait]
    impl EventStore for Recorder {
        fn describe(&self) -> String {
            "recorder".into()
        }
        async fn write(
            &self,
            batch: WriteBatch,
            _: Option<Instant>,
        ) -> Result<WriteStats, StoreError> {
            if self.fail {
                return Err(StoreError::Transient {
                    operation: "write",
                    store: "recorder".into(),
                    message: "refused".into(),
                });
            }
            let ids: Vec<String> = batch.events().map(|e| e.event_id.clone()).collect();
            let items = batch.entries.len() + ids.len() + batch.blocks.len();
            self.writes
                .lock()
                .unwrap()
                .push((batch.entries.len() + batch.blocks.len(), ids));
            Ok(WriteStats {
                requests: items.div_ceil(MAX_BATCH) as u64,
                items: items as u64,
                ..WriteStats::default()
            })
        }
        async fn get_event(&self, _: &str) -> Result<Option<EventItem>, StoreError> {
            Ok(None)
        }
        async fn catalog(
            &self,
            _: CatalogKind,
            _: Option<(&str, &str)>,
        ) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
        async fn query_partition(&self, _: &PartitionQuery) -> Result<EventPage, StoreError> {
            Ok(EventPage::default())
        }
        async fn read_items(&self, _: &ItemRange) -> Result<Vec<StoredItem>, StoreError> {
            Ok(Vec::new())
        }
        async fn get_items(&self, _: &[(String, String)]) -> Result<Vec<StoredItem>, StoreError> {
            Ok(Vec::new())
        }
        async fn put_items(&self, _: &[StoredItem]) -> Result<WriteStats, StoreError> {
            Ok(WriteStats::default())
        }
        async fn put_new_items(&self, items: &[StoredItem]) -> Result<Vec<bool>, StoreError> {
            Ok(vec![true; items.len()])
        }
    }

    fn event(id: usize) -> EventItem {
        let text = format!(
            r#"{{"eventID":"e{id:05}","eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","userIdentity":{{"type":"Root"}}}}"#
        );
        crate::event::event_from_json(text)
    }

    /// 200 "files" of 1 to 7 events, 16 at a time, as a backfill sends them.
    async fn write_files(store: Arc<Recorder>) -> Vec<Result<WriteStats, StoreError>> {
        let batcher = Arc::new(WriteBatcher::start(store, 500, 16));
        let mut next_id = 0;
        let files: Vec<Vec<EventItem>> = (0..200)
            .map(|file| {
                (0..1 + file % 7)
                    .map(|_| {
                        next_id += 1;
                        event(next_id)
                    })
                    .collect()
            })
            .collect();
        futures::stream::iter(files.into_iter().enumerate())
            .map(|(file, events)| {
                let batcher = Arc::clone(&batcher);
                let catalog = vec![CatalogEntry {
                    kind: CatalogKind::User,
                    value: format!("user-{}", file % 10),
                }];
                let batch = WriteBatch {
                    entries: catalog,
                    blocks: vec![BlockWrite {
                        key: BlockKey {
                            hour: None,
                            source: format!("f{file}"),
                            part: 0,
                        },
                        events,
                    }],
                };
                async move { batcher.write(batch, None).await }
            })
            .buffer_unordered(16)
            .collect()
            .await
    }

    #[tokio::test]
    async fn fills_requests_and_answers_every_file_once_its_events_are_in() {
        let store = Arc::new(Recorder::default());
        let answers = write_files(Arc::clone(&store)).await;
        let writes = store.writes.lock().unwrap().clone();

        let mut ids: Vec<String> = writes.iter().flat_map(|(_, ids)| ids.clone()).collect();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "an event was written twice");
        let expected: usize = (0..200).map(|file| 1 + file % 7).sum();
        assert_eq!(total, expected);

        let answered: WriteStats = answers
            .into_iter()
            .fold(WriteStats::default(), |mut sum, a| {
                sum += a.expect("every file's write succeeds");
                sum
            });
        let requests: u64 = writes
            .iter()
            .map(|(entries, ids)| (entries + ids.len()).div_ceil(MAX_BATCH) as u64)
            .sum();
        assert_eq!(
            answered.requests, requests,
            "each write's cost is reported once"
        );
        let items: usize = writes
            .iter()
            .map(|(entries, ids)| entries + ids.len())
            .sum();
        let partly_filled = writes
            .iter()
            .filter(|(entries, ids)| (entries + ids.len()) % MAX_BATCH != 0)
            .count();
        assert!(
            (requests as usize) <= items.div_ceil(MAX_BATCH) + 5,
            "{requests} requests for {items} items: {partly_filled} partly filled of {} writes",
            writes.len()
        );
    }

    /// One file at a time (`--concurrency 1`): each file's write is made at
    /// once, not after waiting for files that cannot come (a backfill of
    /// 5,000 files spent 100 s idle that way).
    #[tokio::test(start_paused = true)]
    async fn a_lone_writer_never_waits_for_company() {
        let store = Arc::new(Recorder::default());
        let batcher = WriteBatcher::start(Arc::clone(&store) as Arc<dyn EventStore>, 500, 1);
        let started = tokio::time::Instant::now();
        for file in 0..10 {
            let batch = WriteBatch {
                entries: Vec::new(),
                blocks: vec![BlockWrite {
                    key: BlockKey {
                        hour: None,
                        source: format!("f{file}"),
                        part: 0,
                    },
                    events: vec![event(file)],
                }],
            };
            batcher
                .write(batch, None)
                .await
                .expect("the write succeeds");
        }
        assert!(
            started.elapsed() < LINGER,
            "ten lone writes waited {:?} (paused clock)",
            started.elapsed()
        );
        batcher.close().await;
        assert_eq!(store.writes.lock().unwrap().len(), 10);
    }

    #[tokio::test]
    async fn a_failed_write_fails_every_waiting_file() {
        let store = Arc::new(Recorder {
            fail: true,
            ..Recorder::default()
        });
        let answers = write_files(store).await;
        assert_eq!(answers.len(), 200);
        assert!(answers.iter().all(Result::is_err));
    }
}
