//! Ingest every CloudTrail log file under a folder (as downloaded from S3,
//! or any tree of `.json.gz`/`.json` files), concurrently, through the same
//! pipeline as the Lambda. With a ledger, files already ingested and
//! unchanged (same size and modification time) are not read again.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, UNIX_EPOCH};

use futures::StreamExt;

use super::progress::{Progress, RunSummary};
use super::writer::{FileOutcome, Ingestor};
use crate::cloudtrail::classify_key;
use crate::store::EmbeddedStore;

/// Remembers which files are fully ingested.
pub trait FileLedger: Send + Sync {
    /// True when `file` was ingested with this fingerprint.
    fn is_done(&self, file: &str, fingerprint: &str) -> bool;
    /// Records that `file` is fully ingested.
    fn mark_done(&self, file: &str, fingerprint: &str);
}

impl FileLedger for EmbeddedStore {
    fn is_done(&self, file: &str, fingerprint: &str) -> bool {
        matches!(self.file_fingerprint(file), Ok(Some(f)) if f == fingerprint)
    }

    fn mark_done(&self, file: &str, fingerprint: &str) {
        if let Err(error) = self.record_file(file, fingerprint) {
            tracing::warn!(file, %error, "Could not record an ingested file; it will be read again next time.");
        }
    }
}

/// How a folder is ingested.
pub struct FolderOptions<'a> {
    /// Files read at once.
    pub concurrency: usize,
    /// Remembers finished files; those unchanged since are not read again.
    pub ledger: Option<&'a dyn FileLedger>,
    /// Which files (by path relative to the folder) to read at all.
    pub accept: &'a (dyn Fn(&str) -> bool + Sync),
    /// Added to each file's fingerprint: what else decides what a read stores
    /// (e.g. a time window), so a different run does not skip it.
    pub salt: &'a str,
}

fn accept_all(_: &str) -> bool {
    true
}

impl<'a> FolderOptions<'a> {
    /// Every file, `concurrency` at a time, remembered in `ledger`.
    pub fn new(concurrency: usize, ledger: Option<&'a dyn FileLedger>) -> FolderOptions<'a> {
        FolderOptions {
            concurrency,
            ledger,
            accept: &accept_all,
            salt: "",
        }
    }
}

struct LogFile {
    path: PathBuf,
    bytes: u64,
    fingerprint: String,
}

/// Ingests the log files under `dir`. Fails only when `dir` cannot be read;
/// bad files are in the summary.
pub async fn ingest_folder(
    ingestor: &Ingestor,
    dir: &Path,
    options: &FolderOptions<'_>,
) -> std::io::Result<RunSummary> {
    let ledger = options.ledger;
    let started = Instant::now();
    let mut summary = RunSummary::default();
    let mut files = Vec::new();
    for path in walk(dir)? {
        let relative = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if classify_key(&relative).skip_reason().is_some() {
            summary.files_skipped += 1;
            continue;
        }
        if !(options.accept)(&relative) {
            summary.files_outside_window += 1;
            continue;
        }
        let metadata = std::fs::metadata(&path)?;
        let modified = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let fingerprint = format!("{}:{modified}{}", metadata.len(), options.salt);
        if ledger.is_some_and(|l| l.is_done(&path.to_string_lossy(), &fingerprint)) {
            summary.files_unchanged += 1;
            continue;
        }
        files.push(LogFile {
            path,
            bytes: metadata.len(),
            fingerprint,
        });
    }
    let progress = Progress::start(
        &dir.display().to_string(),
        files.len() as u64,
        files.iter().map(|f| f.bytes).sum(),
    );
    let summary = Mutex::new(summary);
    futures::stream::iter(files)
        .for_each_concurrent(options.concurrency.max(1), |file| {
            let (summary, progress) = (&summary, &progress);
            async move {
                let source = file.path.display().to_string();
                let report = match std::fs::File::open(&file.path) {
                    Ok(reader) => ingestor.ingest_reader(source.clone(), reader, None).await,
                    Err(error) => super::FileReport::failed(
                        source.clone(),
                        format!("cannot open: {error}"),
                        true,
                    ),
                };
                if matches!(
                    report.outcome,
                    FileOutcome::Ingested | FileOutcome::Skipped { .. }
                ) && let Some(ledger) = ledger
                {
                    ledger.mark_done(&source, &file.fingerprint);
                }
                progress.file_done(file.bytes, report.stored);
                summary
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .add(&report, file.bytes);
            }
        })
        .await;
    progress.finish();
    let mut summary = summary.into_inner().unwrap_or_else(|p| p.into_inner());
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Every regular file under `dir`, sorted (so runs are reproducible).
pub(super) fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}
