//! `tracker backfill --fan-out`: for buckets of millions of log files. The
//! CLI only lists (day folders in parallel, [`super::listing`]) and queues:
//! the keys go, `--keys-per-message` to a message, to the stack's backfill
//! work queue, and Lambda's SQS event source runs the deployed ingest
//! function on them, `lambda.backfill_concurrency` invocations at once
//! ([`crate::template::fan_out`]). SQS brings the retries (a batch comes
//! back after its visibility timeout) and the dead-letter queue (`tracker
//! backfill --from-failures` replays it).
//!
//! Resumable: each key is written to the checkpoint once SQS has accepted
//! its message, so running the same command again queues only what is not
//! queued yet — and then shows the queues again. Unless `--no-wait`, the
//! command stays until the work queue is empty, showing batches waiting,
//! being ingested and dead-lettered; it exits non-zero if any batch is in
//! the dead-letter queue.

use std::fmt;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::StreamExt;
use tokio::sync::mpsc;

use tracker_runtime::ingest::{FileLedger, ObjectBatch, Progress};

use super::listing::{DeliveryDays, LogObject, list_logs};
use super::tokio_stream_of;
use crate::errors;
use crate::queues::{self, Depth};

/// Messages per `SendMessageBatch` (SQS's maximum).
const MESSAGES_PER_SEND: usize = 10;
/// Bytes of bodies per `SendMessageBatch`: SQS allows 256 KiB per call.
const BYTES_PER_SEND: usize = 240 * 1024;
/// `SendMessageBatch` calls at once.
const SENDS_AT_ONCE: usize = 8;
/// Attempts at a message SQS refused for a reason of its own.
const SEND_ATTEMPTS: u32 = 3;

/// What to queue, where, and whether to wait for the ingest.
pub struct FanOut<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub days: DeliveryDays,
    pub keys_per_message: usize,
    /// The work queue and its dead-letter queue.
    pub queue: &'a str,
    pub dead_queue: &'a str,
    pub ledger: Option<&'a dyn FileLedger>,
    /// Part of each key's checkpoint fingerprint (target, window, options).
    pub salt: &'a str,
    /// List and count; queue nothing.
    pub dry_run: bool,
    /// How often to look at the queues until the work queue is empty; None
    /// returns once everything is queued.
    pub watch_every: Option<Duration>,
}

/// What a fan-out did.
#[derive(Debug, Clone, Default)]
pub struct FanOutSummary {
    pub dry_run: bool,
    /// Log files listed (digests and Insights files are never listed).
    pub listed: u64,
    /// Queued by an earlier run of the same command (from the checkpoint).
    pub already_queued: u64,
    /// Queued by this run, in `messages` messages.
    pub queued: u64,
    pub messages: u64,
    pub bytes: u64,
    /// The work queue when the command returned (None: not looked at).
    pub pending: Option<Depth>,
    /// Batches in the dead-letter queue when the command returned.
    pub dead: u64,
    pub elapsed: Duration,
}

impl fmt::Display for FanOutSummary {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let verb = if self.dry_run {
            "would queue"
        } else {
            "queued"
        };
        writeln!(
            f,
            "files: {} listed ({:.1} MB), {} {verb} in {} message(s), {} queued before; {:.1?}",
            self.listed,
            self.bytes as f64 / 1e6,
            self.queued,
            self.messages,
            self.already_queued,
            self.elapsed,
        )?;
        if let Some(pending) = self.pending {
            writeln!(
                f,
                "work queue: {} batch(es) waiting, {} being ingested; {} dead-lettered",
                pending.waiting, pending.in_flight, self.dead
            )?;
        }
        Ok(())
    }
}

/// Lists, queues, and (unless told not to) watches the ingest.
pub async fn run(fan_out: FanOut<'_>) -> anyhow::Result<FanOutSummary> {
    let started = Instant::now();
    let missing = |queue: &str| {
        format!(
            "SQS queue `{queue}` does not exist: deploy this version first (`tracker deploy` adds \
             the backfill work queue to the stack), or check [stack] name and [aws] region"
        )
    };
    let url = queues::url(fan_out.sqs, fan_out.queue)
        .await?
        .with_context(|| missing(fan_out.queue))?;
    let dead_url = queues::url(fan_out.sqs, fan_out.dead_queue)
        .await?
        .with_context(|| missing(fan_out.dead_queue))?;
    let mut summary = queue_keys(&fan_out, &url).await?;
    if let Some(every) = fan_out.watch_every.filter(|_| !fan_out.dry_run) {
        let (pending, dead) = watch(&fan_out, &url, &dead_url, every).await?;
        summary.pending = Some(pending);
        summary.dead = dead;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Lists the keys and sends those not queued yet, a batch per message.
async fn queue_keys(fan_out: &FanOut<'_>, url: &str) -> anyhow::Result<FanOutSummary> {
    let FanOut {
        bucket,
        prefix,
        ledger,
        salt,
        ..
    } = *fan_out;
    let listed = AtomicU64::new(0);
    let already = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let sent = Mutex::new((0u64, 0u64));
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let progress = Progress::start(&format!("queueing s3://{bucket}/{prefix}"), 0, 0);
    let (sender, receiver) = mpsc::channel::<LogObject>(1024);
    let lister = list_logs(fan_out.s3, bucket, prefix, fan_out.days, sender);
    let fingerprint = |object: &LogObject| format!("{}{salt}", object.etag);
    let sending = tokio_stream_of(receiver)
        .filter(|object| {
            listed.fetch_add(1, Ordering::Relaxed);
            bytes.fetch_add(object.size, Ordering::Relaxed);
            progress.add_total(1, object.size);
            let queued = ledger.is_some_and(|l| {
                l.is_done(
                    &format!("s3://{bucket}/{}", object.key),
                    &fingerprint(object),
                )
            });
            if queued {
                already.fetch_add(1, Ordering::Relaxed);
                progress.file_done(object.size, 0);
            }
            futures::future::ready(!queued)
        })
        .chunks(fan_out.keys_per_message)
        .chunks(MESSAGES_PER_SEND)
        .for_each_concurrent(SENDS_AT_ONCE, |messages| {
            let (progress, sent, failure) = (&progress, &sent, &failure);
            async move {
                let keys: u64 = messages.iter().map(|m| m.len() as u64).sum();
                if fan_out.dry_run {
                    let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
                    sent.0 += messages.len() as u64;
                    sent.1 += keys;
                    return;
                }
                match send(fan_out.sqs, url, fan_out.queue, bucket, &messages).await {
                    Ok(()) => {
                        for object in messages.iter().flatten() {
                            if let Some(ledger) = ledger {
                                let source = format!("s3://{bucket}/{}", object.key);
                                ledger.mark_done(&source, &fingerprint(object));
                            }
                            progress.file_done(object.size, 0);
                        }
                        let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
                        sent.0 += messages.len() as u64;
                        sent.1 += keys;
                    }
                    Err(e) => {
                        failure
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                    }
                }
            }
        });
    let (listing, ()) = tokio::join!(lister, sending);
    progress.finish();
    listing?;
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e.context(
            "queueing stopped; what was queued is in the checkpoint: run the same command again \
             to queue the rest",
        ));
    }
    let (messages, queued) = sent.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(FanOutSummary {
        dry_run: fan_out.dry_run,
        listed: listed.into_inner(),
        already_queued: already.into_inner(),
        queued,
        messages,
        bytes: bytes.into_inner(),
        ..FanOutSummary::default()
    })
}

/// Sends up to ten batches, in as few calls as SQS's size limit allows;
/// entries SQS refuses for a reason of its own are sent again.
async fn send(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    queue: &str,
    bucket: &str,
    messages: &[Vec<LogObject>],
) -> anyhow::Result<()> {
    let bodies: Vec<String> = messages
        .iter()
        .map(|objects| {
            ObjectBatch::new(bucket, objects.iter().map(|o| o.key.clone()).collect()).to_body()
        })
        .collect();
    for group in by_size(&bodies, BYTES_PER_SEND) {
        let mut pending: Vec<(usize, &String)> = group;
        for attempt in 1..=SEND_ATTEMPTS {
            let entries = pending
                .iter()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body.as_str())
                        .build()
                        .context("an SQS batch entry")
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let output = sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| errors::explain(e, &format!("cannot send to SQS queue `{queue}`")))?;
            let failed = output.failed();
            if failed.is_empty() {
                break;
            }
            let refused = &failed[0];
            if refused.sender_fault() || attempt == SEND_ATTEMPTS {
                anyhow::bail!(
                    "SQS queue `{queue}` refused a batch of keys ({}: {})",
                    refused.code(),
                    refused.message().unwrap_or_default()
                );
            }
            pending.retain(|(i, _)| failed.iter().any(|f| f.id() == i.to_string()));
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }
    Ok(())
}

/// Bodies grouped so that no group's bytes exceed `limit` (a body larger
/// than the limit goes alone).
fn by_size(bodies: &[String], limit: usize) -> Vec<Vec<(usize, &String)>> {
    let mut groups: Vec<Vec<(usize, &String)>> = Vec::new();
    let mut size = 0;
    for (i, body) in bodies.iter().enumerate() {
        match groups.last_mut() {
            Some(group) if size + body.len() <= limit => group.push((i, body)),
            _ => {
                groups.push(vec![(i, body)]);
                size = 0;
            }
        }
        size += body.len();
    }
    groups
}

/// Shows the queues until the work queue is empty; returns its last depth
/// and the dead-letter queue's count.
async fn watch(
    fan_out: &FanOut<'_>,
    url: &str,
    dead_url: &str,
    every: Duration,
) -> anyhow::Result<(Depth, u64)> {
    let terminal = std::io::stderr().is_terminal();
    let spinner = match terminal {
        true => indicatif::ProgressBar::new_spinner(),
        false => indicatif::ProgressBar::hidden(),
    };
    loop {
        let pending = queues::depth(fan_out.sqs, url, fan_out.queue).await?;
        let dead = queues::depth(fan_out.sqs, dead_url, fan_out.dead_queue)
            .await?
            .total();
        let line = format!(
            "ingest by `{}`: {} batch(es) waiting, {} being ingested, {dead} dead-lettered",
            fan_out.queue, pending.waiting, pending.in_flight
        );
        if terminal {
            spinner.set_message(line);
            spinner.tick();
        } else {
            eprintln!("{line}");
        }
        if pending.total() == 0 {
            spinner.finish_and_clear();
            return Ok((pending, dead));
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_stay_under_the_size_limit() {
        let bodies: Vec<String> = [40, 40, 30, 100, 10].map(|n| "x".repeat(n)).to_vec();
        let groups = by_size(&bodies, 100);
        let sizes: Vec<Vec<usize>> = groups
            .iter()
            .map(|g| g.iter().map(|(i, _)| *i).collect())
            .collect();
        assert_eq!(sizes, [vec![0, 1], vec![2], vec![3], vec![4]]);
        assert_eq!(by_size(&[], 100).len(), 0);
    }
}
