//! `tracker backfill --from-failures`: the ingest invocations that failed
//! after Lambda's retries (a KMS key not granted yet, a throttled table, a
//! bug) wait in the on-failure queue ([`crate::queues`]), each message
//! holding the original S3 or EventBridge event; the batches of `backfill
//! --fan-out` whose receives were used up wait in the work queue's
//! dead-letter queue, as they were queued. This reads them, ingests the
//! objects they name through the same pipeline as the function, and deletes
//! a message once nothing in it is left to retry (every object ingested,
//! skipped, gone, or corrupt — those are listed in the summary). A message
//! whose object fails again in a way that may pass stays in the queue for
//! the next run, as does one that cannot be read.

use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message};
use futures::StreamExt;

use tracker_runtime::ingest::{
    FileReport, Ingestor, Progress, RunSummary, open_s3_object, recovered_objects,
};

use crate::errors;
use crate::queues;

/// Messages read at a time (SQS's maximum).
const BATCH: i32 = 10;
/// How long a message being replayed is hidden from other readers.
const VISIBILITY: Duration = Duration::from_secs(300);
/// Long polling: an empty answer after this long means the queue is empty.
const WAIT: Duration = Duration::from_secs(1);

/// Where the replay reads from and what it may change.
pub struct Replay<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    pub s3: &'a aws_sdk_s3::Client,
    pub ingestor: &'a Ingestor,
    /// The on-failure queue, then the backfill dead-letter queue.
    pub queues: [&'a str; 2],
    pub concurrency: usize,
    /// Read and count; delete no message (they are made visible again).
    pub dry_run: bool,
}

/// Replays every message of both queues once.
pub async fn replay(replay: Replay<'_>) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let [failures, dead] = replay.queues;
    let failures_url = queues::url(replay.sqs, failures)
        .await?
        .with_context(|| {
            format!(
                "SQS queue `{failures}` does not exist: deploy first (the on-failure queue is part of the \
                 stack), or check [stack] name and [aws] region in the settings",
            )
        })?;
    let progress = Progress::start(&format!("failed ingests in {failures}"), 0, 0);
    let mut summary = RunSummary::default();
    replay_queue(&replay, failures, &failures_url, &progress, &mut summary).await?;
    match queues::url(replay.sqs, dead).await? {
        Some(url) => replay_queue(&replay, dead, &url, &progress, &mut summary).await?,
        None => eprintln!(
            "note: no SQS queue `{dead}` (a stack deployed before `backfill --fan-out` existed): \
             nothing dead-lettered to replay; `tracker deploy` adds it"
        ),
    }
    progress.finish();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Replays every message of one queue once.
async fn replay_queue(
    replay: &Replay<'_>,
    queue: &str,
    url: &str,
    progress: &Progress,
    summary: &mut RunSummary,
) -> anyhow::Result<()> {
    let mut left: Vec<String> = Vec::new();
    loop {
        let received = replay
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(BATCH)
            .visibility_timeout(VISIBILITY.as_secs() as i32)
            .wait_time_seconds(WAIT.as_secs() as i32)
            .send()
            .await
            .map_err(|e| errors::explain(e, &format!("cannot read SQS queue `{queue}`")))?;
        let messages = received.messages();
        if messages.is_empty() {
            break;
        }
        let outcomes: Vec<(Message, Result<Vec<FileReport>, String>)> =
            futures::stream::iter(messages.iter().cloned())
                .map(|message| async {
                    let reports = replay_message(replay, &message, progress).await;
                    (message, reports)
                })
                .buffer_unordered(replay.concurrency.max(1))
                .collect()
                .await;
        let mut done = Vec::new();
        for (message, outcome) in outcomes {
            let id = message.message_id().unwrap_or("?").to_owned();
            match outcome {
                Ok(reports) => {
                    let settled = reports.iter().all(|r| !r.needs_retry());
                    for report in &reports {
                        summary.add(report, 0);
                    }
                    if settled && !replay.dry_run {
                        done.push(message);
                    } else if let Some(handle) = message.receipt_handle() {
                        left.push(handle.to_owned());
                    }
                }
                Err(reason) => {
                    summary.add(
                        &FileReport::failed(format!("sqs message {id} in `{queue}`"), reason, true),
                        0,
                    );
                    if let Some(handle) = message.receipt_handle() {
                        left.push(handle.to_owned());
                    }
                }
            }
        }
        delete(replay.sqs, url, queue, &done).await?;
    }
    if replay.dry_run {
        show_again(replay.sqs, url, &left).await;
    }
    Ok(())
}

/// Ingests the objects one message names.
async fn replay_message(
    replay: &Replay<'_>,
    message: &Message,
    progress: &Progress,
) -> Result<Vec<FileReport>, String> {
    let objects =
        recovered_objects(message.body().unwrap_or_default()).map_err(|e| e.to_string())?;
    let mut reports = Vec::with_capacity(objects.len());
    for (bucket, key) in objects {
        progress.add_total(1, 0);
        let source = format!("s3://{bucket}/{key}");
        let report = match open_s3_object(replay.s3, &bucket, &key).await {
            Ok(reader) => replay.ingestor.ingest_reader(source, reader, None).await,
            Err(failure) => FileReport::failed(source, failure.reason, failure.retry),
        };
        progress.file_done(0, report.stored);
        reports.push(report);
    }
    Ok(reports)
}

/// Deletes the replayed messages.
async fn delete(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    queue: &str,
    messages: &[Message],
) -> anyhow::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let entries = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle()?)
                .build()
                .ok()
        })
        .collect::<Vec<_>>();
    let output = sqs
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!("cannot delete replayed messages from `{queue}`"),
            )
        })?;
    if let Some(failed) = output.failed().first() {
        anyhow::bail!(
            "cannot delete a replayed message from `{queue}` ({}: {}); it will be replayed again \
             (harmlessly: writes are idempotent)",
            failed.code(),
            failed.message().unwrap_or_default()
        );
    }
    Ok(())
}

/// A dry run leaves the messages for the real run: visible again at once.
async fn show_again(sqs: &aws_sdk_sqs::Client, url: &str, handles: &[String]) {
    for handle in handles {
        // Best effort: they reappear after the visibility timeout anyway.
        let _ = sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await;
    }
}
