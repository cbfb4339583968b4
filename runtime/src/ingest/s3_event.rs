//! The ingest Lambda's handler: an S3 `ObjectCreated` notification names log
//! files; each is streamed from S3 (no temporary files) through the pipeline.
//! A corrupt file is reported and skipped; a transient failure (network,
//! throttling, the time budget running out) fails the invocation so that
//! Lambda's asynchronous retry delivers the event again — writes are
//! idempotent, so a retry changes no count.

use std::io::Read;
use std::time::Instant;

use aws_lambda_events::s3::S3Event;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use futures::StreamExt;
use serde::Serialize;

use super::pipeline::RecordCounts;
use super::writer::{FileOutcome, FileReport, Ingestor};
use crate::cloudtrail::{classify_key, decode_s3_event_key};

/// What the handler needs, built once per Lambda instance.
pub struct IngestDeps {
    pub s3: aws_sdk_s3::Client,
    pub ingestor: Ingestor,
    /// Where new alerts are published (the `[alerts]` topic); None: stored only.
    pub publisher: Option<std::sync::Arc<dyn super::notify::Publisher>>,
}

/// The handler's result: one report per object named in the event.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    pub files: Vec<FileReport>,
    #[serde(flatten)]
    pub totals: RecordCounts,
    pub stored: u64,
}

impl IngestSummary {
    fn new(files: Vec<FileReport>) -> IngestSummary {
        let mut totals = RecordCounts::default();
        let mut stored = 0;
        for file in &files {
            totals += file.counts;
            stored += file.stored;
        }
        IngestSummary {
            files,
            totals,
            stored,
        }
    }
}

/// Some objects must be processed again; Lambda's retry will do so.
#[derive(Debug, thiserror::Error)]
#[error("{} of {} object(s) could not be ingested and will be retried: {}", failed.len(), total, failed.join("; "))]
pub struct IngestError {
    pub failed: Vec<String>,
    pub total: usize,
    pub summary: IngestSummary,
}

/// Ingests every object an S3 notification names. `deadline` is when the
/// invocation must have returned (the Lambda context's deadline, minus a margin).
pub async fn handle_s3_event(
    deps: &IngestDeps,
    event: S3Event,
    deadline: Option<Instant>,
) -> Result<IngestSummary, IngestError> {
    ingest_objects(deps, s3_event_objects(event), deadline).await
}

/// The (bucket, key) pairs an S3 notification names, keys decoded.
pub fn s3_event_objects(event: S3Event) -> Vec<(String, String)> {
    event
        .records
        .into_iter()
        .map(|record| {
            let bucket = record.s3.bucket.name.unwrap_or_default();
            let raw_key = record.s3.object.key.unwrap_or_default();
            (bucket, decode_s3_event_key(&raw_key).into_owned())
        })
        .collect()
}

/// Objects of one invocation ingested at once: a backfill batch names
/// several, mostly small, so S3's and DynamoDB's latencies overlap (a file
/// over 32 MB of JSON is streamed, so memory stays bounded).
const OBJECTS_AT_ONCE: usize = 4;

/// Ingests each (bucket, key) object: the one path of every event shape.
pub async fn ingest_objects(
    deps: &IngestDeps,
    objects: Vec<(String, String)>,
    deadline: Option<Instant>,
) -> Result<IngestSummary, IngestError> {
    let reports: Vec<FileReport> = futures::stream::iter(objects)
        .map(|(bucket, key)| ingest_object(deps, bucket, key, deadline))
        .buffered(OBJECTS_AT_ONCE)
        .collect()
        .await;
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.needs_retry())
        .map(|r| match &r.outcome {
            FileOutcome::Failed { reason, .. } => format!("{}: {reason}", r.source),
            _ => r.source.clone(),
        })
        .collect();
    let total = reports.len();
    let summary = IngestSummary::new(reports);
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(IngestError {
            failed,
            total,
            summary,
        })
    }
}

/// Ingests one object and announces its new alerts.
async fn ingest_object(
    deps: &IngestDeps,
    bucket: String,
    key: String,
    deadline: Option<Instant>,
) -> FileReport {
    let source = format!("s3://{bucket}/{key}");
    let mut report = if bucket.is_empty() || key.is_empty() {
        FileReport::failed(source, "the notification names no bucket or key", false)
    } else if let Some(reason) = classify_key(&key).skip_reason() {
        FileReport::skipped(source, reason)
    } else {
        match open_s3_object(&deps.s3, &bucket, &key).await {
            Ok(reader) => deps.ingestor.ingest_reader(source, reader, deadline).await,
            Err(failure) => FileReport::failed(source, failure.reason, failure.retry),
        }
    };
    if let Some(publisher) = &deps.publisher {
        super::notify::announce(
            deps.ingestor.store().as_ref(),
            publisher.as_ref(),
            &mut report,
        )
        .await;
    }
    log_report(&report);
    report
}

fn log_report(report: &FileReport) {
    let counts = &report.counts;
    match &report.outcome {
        FileOutcome::Ingested => tracing::info!(
            source = %report.source, records = counts.records, stored = report.stored,
            filtered = counts.filtered, rejected = counts.rejected, "Ingested log file."
        ),
        FileOutcome::Skipped { reason } => {
            tracing::info!(source = %report.source, %reason, "Skipped object.")
        }
        FileOutcome::Failed { reason, retry } => tracing::error!(
            source = %report.source, %reason, retry, stored = report.stored, "Failed to ingest log file."
        ),
    }
}

/// Why an object could not be opened.
#[derive(Debug)]
pub struct OpenFailure {
    pub reason: String,
    /// Trying again later may work (throttling, network, permissions being fixed).
    pub retry: bool,
}

/// Opens an S3 object as a blocking reader that streams its body. Must be
/// called inside the tokio runtime; read it on a blocking thread.
pub async fn open_s3_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<impl Read + Send + 'static, OpenFailure> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => Ok(WholeBody {
            inner: tokio_util::io::SyncIoBridge::new(output.body.into_async_read()),
            read: 0,
            expected: output.content_length.and_then(|n| u64::try_from(n).ok()),
        }),
        Err(error) => Err(open_failure(&error)),
    }
}

/// An object's body that fails, rather than ends, when the connection closes
/// before `Content-Length` bytes arrived: a cut body is a network failure to
/// retry, not a corrupt file. Read errors carry their whole cause chain.
struct WholeBody<R> {
    inner: R,
    read: u64,
    expected: Option<u64>,
}

impl<R: Read> Read for WholeBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() && self.expected.is_some_and(|n| self.read < n) => {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "the connection closed after {} of {} bytes",
                        self.read,
                        self.expected.unwrap_or_default()
                    ),
                ))
            }
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(error) => Err(std::io::Error::new(
                error.kind(),
                crate::aws::error_chain(&error),
            )),
        }
    }
}

fn open_failure<R: std::fmt::Debug>(
    error: &SdkError<aws_sdk_s3::operation::get_object::GetObjectError, R>,
) -> OpenFailure {
    let code = error.code().unwrap_or_default();
    let message = error.message().unwrap_or_default();
    match code {
        "NoSuchKey" => OpenFailure {
            reason: "the object no longer exists (NoSuchKey)".into(),
            retry: false,
        },
        "NoSuchBucket" => OpenFailure {
            reason: "the bucket does not exist (NoSuchBucket)".into(),
            retry: false,
        },
        "AccessDenied" => OpenFailure {
            reason: format!(
                "access denied ({message}): the function's role needs s3:GetObject on this key"
            ),
            retry: true,
        },
        "" => OpenFailure {
            reason: format!(
                "GetObject failed: {}",
                aws_sdk_s3::error::DisplayErrorContext(error)
            ),
            retry: true,
        },
        _ => OpenFailure {
            reason: format!("GetObject failed: {code}: {message}"),
            retry: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(body: &[u8], expected: Option<u64>) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        WholeBody {
            inner: body,
            read: 0,
            expected,
        }
        .read_to_end(&mut out)
        .map(|_| out)
    }

    #[test]
    fn a_body_shorter_than_its_content_length_is_a_read_error() {
        assert_eq!(read_all(b"hello", Some(5)).unwrap(), b"hello");
        assert_eq!(read_all(b"hello", None).unwrap(), b"hello");
        let error = read_all(b"hello", Some(9)).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(error.to_string().contains("after 5 of 9 bytes"), "{error}");
    }
}
