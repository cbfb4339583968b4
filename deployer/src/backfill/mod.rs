//! `tracker backfill`: past CloudTrail logs, from the trail's bucket, a
//! folder, or the ingest function's on-failure queue (`--from-failures`),
//! into the deployed table (or a local database), through exactly the
//! ingest Lambda's pipeline. Records are kept by their own `eventTime`
//! (`--since`/`--until`, inclusive days); the keys' date folders — delivery
//! days — only decide what is listed and fetched, allowing for files
//! delivered the day after. Fetching and parsing run concurrently, objects
//! are streamed, writes are batched across files, and a checkpoint of
//! finished objects makes an interrupted run resumable.
//!
//! [`run`]'s steps: the time window, the target (table, database or dry
//! run), the source (folder, bucket, failures), the summary. With
//! `--fan-out`, [`run_fan_out`] only lists and queues the keys, and the
//! deployed ingest function does the rest ([`fan_out`]).

pub mod checkpoint;
pub mod failures;
pub mod fan_out;
pub mod listing;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use futures::StreamExt;
use tokio::sync::mpsc;

use tracker_runtime::ingest::rules::RuleSet;
use tracker_runtime::ingest::{
    FileLedger, FileOutcome, FolderOptions, Ingestor, Pipeline, Progress, RunSummary, SkipList,
    TimeWindow, ingest_folder, open_s3_object,
};
use tracker_runtime::store::{DryRunStore, DynamoStore, EmbeddedStore, EventStore};
use tracker_runtime::time::start_of_day;

use crate::Settings;
use crate::names::Names;
use checkpoint::Checkpoint;
use listing::{DeliveryDays, LogObject, list_logs};

/// Events written per batch across files.
const FLUSH_AT: usize = 500;

/// `tracker backfill` options.
#[derive(Debug, Clone, clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["bucket", "path", "from_failures"]))]
pub struct BackfillArgs {
    /// The trail's bucket [default source: settings' [trail] bucket].
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    /// Key prefix above `AWSLogs/…` or at it [default: settings' [trail] prefix].
    #[arg(long, value_name = "PREFIX", requires = "bucket")]
    pub prefix: Option<String>,
    /// A local folder of logs instead of a bucket.
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Replay the ingest function's on-failure queue (`<stack>-ingest-failures`):
    /// ingest the objects of every failed invocation, and delete each message
    /// once nothing in it is left to retry.
    #[arg(long)]
    pub from_failures: bool,
    /// Keep events from this day on (UTC, inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub since: Option<NaiveDate>,
    /// Keep events up to this day (UTC, inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub until: Option<NaiveDate>,
    /// Objects fetched and parsed at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Read and count everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Load into this local database (as `tracker serve` uses) instead of the table.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Resume log of finished objects; re-running the same command skips them.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "tracker-backfill.checkpoint"
    )]
    pub checkpoint: PathBuf,
    /// Do not read or write the resume log.
    #[arg(long)]
    pub no_checkpoint: bool,
    /// For buckets of millions of log files: list the keys here and hand them,
    /// in batches, to the deployed ingest function through the stack's work
    /// queue (`<stack>-backfill`); Lambda ingests them,
    /// `[lambda] backfill_concurrency` invocations at once. Resumable; with
    /// --since/--until, whole files of the delivery days are ingested.
    #[arg(long, requires = "bucket", conflicts_with_all = ["path", "from_failures", "db"])]
    pub fan_out: bool,
    /// Log files per work-queue message (--fan-out): one invocation ingests
    /// one message within the function's timeout.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=200), requires = "fan_out")]
    pub keys_per_message: u16,
    /// Return once everything is queued (--fan-out), instead of showing the
    /// queues until the work queue is empty.
    #[arg(long, requires = "fan_out")]
    pub no_wait: bool,
}

/// How often `--fan-out` looks at the queues while Lambda ingests.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// `--fan-out`: lists the bucket's log files and queues them for the
/// deployed ingest function; the summary says what is queued, waiting and
/// dead-lettered (the caller exits non-zero if any batch is dead-lettered).
pub async fn run_fan_out(
    settings: &Settings,
    args: &BackfillArgs,
) -> anyhow::Result<fan_out::FanOutSummary> {
    let (_, days) = window(args)?;
    let names = Names::new(settings)?;
    let bucket = args
        .bucket
        .clone()
        .context("name the bucket with --bucket")?;
    let prefix = bucket_prefix(settings, args);
    let sdk = tracker_runtime::aws::load_sdk_config(
        settings.aws.region.clone(),
        settings.aws.profile.clone(),
    )
    .await;
    let checkpoint = open_checkpoint(args)?;
    let salt = format!(
        "|queue:{}|{:?}|{:?}",
        names.backfill_queue, args.since, args.until
    );
    fan_out::run(fan_out::FanOut {
        sqs: &aws_sdk_sqs::Client::new(&sdk),
        s3: &tracker_runtime::aws::s3_client(&sdk),
        bucket: &bucket,
        prefix: &prefix,
        days,
        keys_per_message: usize::from(args.keys_per_message),
        queue: &names.backfill_queue,
        dead_queue: &names.backfill_dead_queue,
        ledger: checkpoint.as_ref().map(|c| c as &dyn FileLedger),
        salt: &salt,
        dry_run: args.dry_run,
        watch_every: (!args.no_wait).then_some(WATCH_EVERY),
    })
    .await
}

/// The key prefix to list: `--prefix` or the settings', as a folder.
fn bucket_prefix(settings: &Settings, args: &BackfillArgs) -> String {
    let mut prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| settings.trail.prefix.clone());
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    prefix
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date; use YYYY-MM-DD"))
}

/// Runs a backfill; the summary lists failed objects (the caller exits non-zero if any).
pub async fn run(settings: &Settings, args: &BackfillArgs) -> anyhow::Result<RunSummary> {
    let (window, days) = window(args)?;
    // The rules of `[rules]`, as the ingest function evaluates them: the
    // history (or the replayed failures) gets its alerts recorded for
    // `GET /alerts`, once each; the CLI publishes no message.
    let (rules, skipped) = RuleSet::load(&settings.rules.options()).context(
        "a detection rule cannot be used: fix or remove it, or set `[rules] skip_invalid = true`",
    )?;
    for rule in &skipped {
        eprintln!("warning: rule left out (`[rules] skip_invalid`): {rule}");
    }
    let pipeline = Pipeline {
        skip: SkipList::new(&settings.ingest.skip_event_prefixes),
        retention_days: settings.table.retention_days,
        window,
        rules,
    };
    // AWS is only configured when it is used (a bucket, a queue, or the table).
    let needs_aws = args.path.is_none() || (args.db.is_none() && !args.dry_run);
    let sdk = match needs_aws {
        true => Some(
            tracker_runtime::aws::load_sdk_config(
                settings.aws.region.clone(),
                settings.aws.profile.clone(),
            )
            .await,
        ),
        false => None,
    };
    let (store, target, local) = open_target(settings, args, sdk.as_ref()).await?;
    let salt = format!(
        "|{target}|{:?}|{:?}|{}",
        args.since,
        args.until,
        pipeline.skip.prefixes().join(",")
    );
    let concurrency = usize::from(args.concurrency);
    let ingestor = Ingestor::new(Arc::clone(&store), pipeline).with_batching(FLUSH_AT, concurrency);
    let checkpoint = open_checkpoint(args)?;
    let ledger = checkpoint.as_ref().map(|c| c as &dyn FileLedger);

    let summary = if let Some(dir) = &args.path {
        let accept = |relative: &str| days.admits_key(relative);
        let options = FolderOptions {
            concurrency,
            ledger,
            accept: &accept,
            salt: &salt,
        };
        ingest_folder(&ingestor, dir, &options)
            .await
            .with_context(|| format!("cannot read the folder {}", dir.display()))?
    } else if args.from_failures {
        let sdk = sdk.as_ref().context("AWS configuration")?;
        let names = Names::new(settings)?;
        failures::replay(failures::Replay {
            sqs: &aws_sdk_sqs::Client::new(sdk),
            s3: &tracker_runtime::aws::s3_client(sdk),
            ingestor: &ingestor,
            queues: [&names.failure_queue, &names.backfill_dead_queue],
            concurrency,
            dry_run: args.dry_run,
        })
        .await?
    } else {
        let bucket = args
            .bucket
            .clone()
            .or_else(|| settings.trail.bucket.clone())
            .context("name the bucket with --bucket or [trail] bucket in the settings")?;
        let prefix = bucket_prefix(settings, args);
        let sdk = sdk.as_ref().context("AWS configuration")?;
        from_bucket(
            sdk,
            &ingestor,
            &bucket,
            &prefix,
            days,
            concurrency,
            ledger,
            &salt,
        )
        .await?
    };
    // Everything waiting is written; a local database then gets back the
    // space of the pages the run freed, and is made durable (an error here
    // fails the run: what it stored may not be on disk).
    ingestor.close().await;
    drop(store);
    if let Some(local) = local {
        local
            .compact()
            .context("the backfill's writes could not be made durable")?;
    }
    Ok(summary)
}

/// The records' time window (`--since`/`--until`), and the delivery days
/// whose files may hold them (a file delivered the day after `until` may
/// still hold records of `until`).
fn window(args: &BackfillArgs) -> anyhow::Result<(Option<TimeWindow>, DeliveryDays)> {
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        anyhow::bail!("--since {since} is after --until {until}");
    }
    let window = (args.since.is_some() || args.until.is_some()).then(|| TimeWindow {
        from: start_of_day(args.since.unwrap_or(
            NaiveDate::MIN.max(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()),
        )),
        to: args
            .until
            .and_then(|u| u.checked_add_days(Days::new(1)))
            .map(start_of_day)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
    });
    let days = DeliveryDays {
        first: args.since,
        last: args.until.and_then(|u| u.checked_add_days(Days::new(1))),
    };
    Ok((window, days))
}

/// Where events go: nowhere (`--dry-run`), a local database (`--db`, also
/// returned to be compacted at the end), or the table, which must answer
/// before anything is read.
async fn open_target(
    settings: &Settings,
    args: &BackfillArgs,
    sdk: Option<&tracker_runtime::aws::SdkConfig>,
) -> anyhow::Result<(Arc<dyn EventStore>, String, Option<EmbeddedStore>)> {
    if args.dry_run {
        return Ok((Arc::new(DryRunStore), "dry-run".into(), None));
    }
    if let Some(db) = &args.db {
        let store = EmbeddedStore::open_with_cache(db, settings.local.cache_bytes())
            .with_context(|| format!("open {}", db.display()))?;
        return Ok((
            Arc::new(store.clone()),
            format!("db:{}", db.display()),
            Some(store),
        ));
    }
    let sdk = sdk.context("AWS configuration")?;
    let store = DynamoStore::new(
        tracker_runtime::aws::dynamodb_client(sdk),
        settings.table.name.clone(),
    );
    // Fail before listing anything when the table is missing or unreachable.
    store
        .get_event("tracker-backfill-probe")
        .await
        .with_context(|| {
            format!(
                "cannot use the table `{}` (from the settings' [table] name)",
                settings.table.name
            )
        })?;
    Ok((
        Arc::new(store),
        format!("table:{}", settings.table.name),
        None,
    ))
}

/// The resume log, unless `--no-checkpoint`, `--dry-run` or
/// `--from-failures` (whose queue is its own record of what is left).
fn open_checkpoint(args: &BackfillArgs) -> anyhow::Result<Option<Checkpoint>> {
    if args.no_checkpoint || args.dry_run || args.from_failures {
        return Ok(None);
    }
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    if !checkpoint.is_empty() {
        eprintln!(
            "resuming: {} object(s) already done in {}",
            checkpoint.len(),
            checkpoint.path().display()
        );
    }
    Ok(Some(checkpoint))
}

#[allow(clippy::too_many_arguments)]
async fn from_bucket(
    sdk: &tracker_runtime::aws::SdkConfig,
    ingestor: &Ingestor,
    bucket: &str,
    prefix: &str,
    days: DeliveryDays,
    concurrency: usize,
    ledger: Option<&dyn FileLedger>,
    salt: &str,
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let s3 = tracker_runtime::aws::s3_client(sdk);
    let (sender, receiver) = mpsc::channel::<LogObject>(concurrency * 4);
    let progress = Progress::start(&format!("s3://{bucket}/{prefix}"), 0, 0);
    let summary = Mutex::new(RunSummary::default());
    let lister = list_logs(&s3, bucket, prefix, days, sender);
    let consumer = tokio_stream_of(receiver).for_each_concurrent(concurrency, |object| {
        let (s3, summary, progress) = (&s3, &summary, &progress);
        async move {
            progress.add_total(1, object.size);
            let fingerprint = format!("{}{salt}", object.etag);
            let source = format!("s3://{bucket}/{}", object.key);
            if ledger.is_some_and(|l| l.is_done(&source, &fingerprint)) {
                summary
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .files_unchanged += 1;
                progress.file_done(object.size, 0);
                return;
            }
            let report = match open_s3_object(s3, bucket, &object.key).await {
                Ok(reader) => ingestor.ingest_reader(source.clone(), reader, None).await,
                Err(failure) => tracker_runtime::ingest::FileReport::failed(
                    source.clone(),
                    failure.reason,
                    failure.retry,
                ),
            };
            if matches!(
                report.outcome,
                FileOutcome::Ingested | FileOutcome::Skipped { .. }
            ) && let Some(ledger) = ledger
            {
                ledger.mark_done(&source, &fingerprint);
            }
            progress.file_done(object.size, report.stored);
            summary
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .add(&report, object.size);
        }
    });
    let (listed, ()) = tokio::join!(lister, consumer);
    progress.finish();
    listed?;
    let mut summary = summary.into_inner().unwrap_or_else(|p| p.into_inner());
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A receiver as a stream.
pub(crate) fn tokio_stream_of<T: Send + 'static>(
    receiver: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}
