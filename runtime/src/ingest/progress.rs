//! Progress of a long ingest (`serve --logs`, `backfill`): a bar with files,
//! events, MB, rate and ETA on a terminal; plain periodic lines otherwise
//! (CI logs, pipes); and the final summary either way.

use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::writer::{FileOutcome, FileReport};
use crate::store::WriteStats;

/// How often plain progress lines are printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Totals of an ingest run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Log files read to the end.
    pub files_read: u64,
    /// Files already ingested and unchanged since.
    pub files_unchanged: u64,
    /// Objects that are not logs (digests, Insights files, no `Records`).
    pub files_skipped: u64,
    /// Files left unread because their delivery day cannot hold wanted events.
    pub files_outside_window: u64,
    /// Files that could not be read or stored, with the reason.
    pub failures: Vec<(String, String)>,
    pub records: u64,
    pub events_stored: u64,
    pub filtered: u64,
    pub rejected: u64,
    pub bytes: u64,
    pub writes: WriteStats,
    pub elapsed: Duration,
}

impl RunSummary {
    pub fn add(&mut self, report: &FileReport, bytes: u64) {
        match &report.outcome {
            FileOutcome::Ingested => self.files_read += 1,
            FileOutcome::Skipped { .. } => self.files_skipped += 1,
            FileOutcome::Failed { reason, .. } => {
                self.failures.push((report.source.clone(), reason.clone()))
            }
        }
        self.records += report.counts.records;
        self.filtered += report.counts.filtered;
        self.rejected += report.counts.rejected;
        self.events_stored += report.stored;
        self.bytes += bytes;
        self.writes += report.writes;
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "files: {} read, {} unchanged, {} skipped, {} outside the window, {} failed; events: {} stored, {} filtered, {} rejected; {:.1} MB in {:.1?} ({:.0} events/s)",
            self.files_read,
            self.files_unchanged,
            self.files_skipped,
            self.files_outside_window,
            self.failures.len(),
            self.events_stored,
            self.filtered,
            self.rejected,
            self.bytes as f64 / 1e6,
            self.elapsed,
            self.events_stored as f64 / secs,
        )?;
        if self.writes.requests > 0 {
            let per_1000 = |n: f64| n * 1000.0 / (self.events_stored.max(1) as f64);
            writeln!(
                f,
                "writes: {} requests, {} items, {} write units ({:.1} requests and {:.0} write units per 1,000 events), {} retried",
                self.writes.requests,
                self.writes.items,
                self.writes.billed_write_units,
                per_1000(self.writes.requests as f64),
                per_1000(self.writes.billed_write_units as f64),
                self.writes.retries,
            )?;
        }
        for (source, reason) in &self.failures {
            writeln!(f, "  failed: {source}: {reason}")?;
        }
        Ok(())
    }
}

/// A live progress display.
pub struct Progress {
    bar: ProgressBar,
    events: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    files: Arc<AtomicU64>,
    total_files: Arc<AtomicU64>,
    total_bytes: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    started: Instant,
}

impl Progress {
    /// Starts a display for `total_files` files of `total_bytes` bytes.
    pub fn start(label: &str, total_files: u64, total_bytes: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = if terminal {
            ProgressBar::with_draw_target(Some(total_files), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} files {msg} (ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(label.to_owned());
        let progress = Progress {
            bar,
            events: Arc::default(),
            bytes: Arc::default(),
            files: Arc::default(),
            total_files: Arc::new(AtomicU64::new(total_files)),
            total_bytes: Arc::new(AtomicU64::new(total_bytes)),
            done: Arc::default(),
            started: Instant::now(),
        };
        if !terminal {
            let (events, bytes, files, done) = (
                progress.events.clone(),
                progress.bytes.clone(),
                progress.files.clone(),
                progress.done.clone(),
            );
            let (total_files, total_bytes) =
                (progress.total_files.clone(), progress.total_bytes.clone());
            let label = label.to_owned();
            let started = progress.started;
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    if started.elapsed().as_millis() % PLAIN_EVERY.as_millis() < 250
                        && !done.load(Ordering::Relaxed)
                    {
                        let secs = started.elapsed().as_secs_f64().max(1e-9);
                        let n = events.load(Ordering::Relaxed);
                        eprintln!(
                            "{label}: {}/{} files, {n} events, {:.1}/{:.1} MB, {:.0} events/s",
                            files.load(Ordering::Relaxed),
                            total_files.load(Ordering::Relaxed),
                            bytes.load(Ordering::Relaxed) as f64 / 1e6,
                            total_bytes.load(Ordering::Relaxed) as f64 / 1e6,
                            n as f64 / secs
                        );
                    }
                }
            });
        }
        progress
    }

    /// More work discovered (when the total is not known up front).
    pub fn add_total(&self, files: u64, bytes: u64) {
        self.bar.inc_length(files);
        self.total_files.fetch_add(files, Ordering::Relaxed);
        self.total_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One more file done.
    pub fn file_done(&self, bytes: u64, events: u64) {
        let n = self.events.fetch_add(events, Ordering::Relaxed) + events;
        let b = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.files.fetch_add(1, Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.inc(1);
        self.bar.set_message(format!(
            "{n} events, {:.1} MB, {:.0} events/s",
            b as f64 / 1e6,
            n as f64 / secs
        ));
    }

    pub fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}
