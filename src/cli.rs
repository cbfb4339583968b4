//! The command line: clap definitions and dispatch. Each subcommand's doc
//! comment is its `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracker_deployer::Settings;
use tracker_deployer::client;

/// Who did what in an AWS account: CloudTrail logs → DynamoDB → a REST API.
#[derive(Debug, Parser)]
#[command(name = "tracker", version, propagate_version = true)]
struct Cli {
    /// Settings file (see the commented `settings.toml` shipped with tracker).
    #[arg(
        long,
        global = true,
        default_value = "settings.toml",
        env = "TRACKER_SETTINGS"
    )]
    settings: PathBuf,
    /// More logging (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or update the whole stack in AWS from settings.toml.
    ///
    /// The table, the functions' roles, the ingest and query functions, the
    /// ingest function's on-failure queue, the API Gateway REST API (API key
    /// with a usage plan by default) and the trigger on the trail bucket (S3
    /// notification or EventBridge rule). Everything that would be refused
    /// is refused before anything is created. Re-runnable: an unchanged
    /// setup changes nothing. --print-policy shows the IAM policy needed.
    Deploy(tracker_deployer::DeployArgs),
    /// Load past CloudTrail logs from S3, a folder or the failure queue into the table.
    ///
    /// Uses the ingest Lambda's pipeline. --since/--until bound the events'
    /// own eventTime (inclusive days); re-running the same command resumes
    /// from its checkpoint. --from-failures replays the ingest invocations
    /// that failed after Lambda's retries. Exits non-zero if any object failed.
    Backfill(tracker_deployer::backfill::BackfillArgs),
    /// Remove what `deploy` created (the table is kept unless --delete-data).
    Teardown(tracker_deployer::TeardownArgs),
    /// Serve the query API locally over CloudTrail logs in folders.
    ///
    /// Each --logs folder is ingested into the embedded database (files already
    /// ingested and unchanged are skipped), then the same API as the query
    /// Lambda is served over HTTP.
    Serve(ServeArgs),
    /// Events from the deployed API (or --url, or a local --db), as a table or JSON.
    ///
    /// Every lookup of the API is a flag; --since 7d or --from/--to set the
    /// window (default: the last 7 days). Pages are fetched as needed.
    Events(client::EventsArgs),
    /// Counts by principal, service, event name, error code, source IP, … (/stats).
    Stats(client::StatsArgs),
    /// Events per day (/stats/daily), optionally split by a key.
    Daily(client::DailyArgs),
    /// The principals seen (/users).
    Users(client::ListArgs),
    /// The services seen (/services).
    Services(client::ListArgs),
    /// One event's full record, secrets redacted (/events/{eventID}).
    Event(client::EventArgs),
    /// The dashboard on this machine for the deployed API.
    ///
    /// Serves the same page as the API on 127.0.0.1 and forwards its calls
    /// to the deployed API, signed with your AWS credentials when it was
    /// deployed with api.auth = "iam" (browsers cannot sign), or with its key.
    Ui(client::UiArgs),
    /// Run detection rules over CloudTrail logs on disk, offline (a responder's triage).
    ///
    /// Loads the built-in CIS AWS Foundations pack (unless --no-builtin) and
    /// every Sigma rule under --rules, reads every log file under --logs
    /// (gzip'd or plain JSON; digests skipped) and prints each (rule, event)
    /// match as a table, or one JSON object per line with --ndjson. Exits 0
    /// whether or not anything matched; non-zero when a rule or a path cannot
    /// be used. A log file that cannot be read is reported and the others read.
    Alerts(crate::alerts::AlertsArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// A folder of CloudTrail logs (as CloudTrail writes them to S3); repeatable.
    #[arg(long = "logs", value_name = "DIR")]
    logs: Vec<PathBuf>,
    /// The embedded database file [default: settings' [local] db, `tracker.db`].
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Address to serve on [default: settings' [local] listen, 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Required as the x-api-key header; needed to listen beyond loopback.
    #[arg(long, env = "TRACKER_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Files ingested at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("tracker: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = load_settings(&cli.settings)?;
    match cli.command {
        Command::Serve(args) => serve(&settings, args),
        Command::Backfill(args) => backfill(&settings, &args),
        Command::Deploy(args) => {
            tokio::runtime::Runtime::new()?.block_on(tracker_deployer::deploy(&settings, &args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Teardown(args) => {
            tokio::runtime::Runtime::new()?
                .block_on(tracker_deployer::teardown(&settings, &args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Events(args) => block_on(client::events(&settings, &args)),
        Command::Stats(args) => block_on(client::stats(&settings, &args)),
        Command::Daily(args) => block_on(client::daily(&settings, &args)),
        Command::Users(args) => block_on(client::list(&settings, &args, "/users")),
        Command::Services(args) => block_on(client::list(&settings, &args, "/services")),
        Command::Event(args) => block_on(client::event(&settings, &args)),
        Command::Ui(args) => block_on(client::ui::run(&settings, &args)),
        Command::Alerts(args) => crate::alerts::run(&args),
    }
}

/// Runs a client command to its end.
fn block_on(
    command: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Runtime::new()?.block_on(command)?;
    Ok(ExitCode::SUCCESS)
}

fn backfill(
    settings: &Settings,
    args: &tracker_deployer::backfill::BackfillArgs,
) -> anyhow::Result<ExitCode> {
    if args.fan_out {
        let summary = tokio::runtime::Runtime::new()?
            .block_on(tracker_deployer::backfill::run_fan_out(settings, args))?;
        eprint!("backfill --fan-out: {summary}");
        if summary.dead > 0 {
            eprintln!(
                "{} batch(es) could not be ingested after their retries (the function's log says \
                 why); `tracker backfill --from-failures` ingests them from here",
                summary.dead
            );
            return Ok(ExitCode::FAILURE);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let summary = tokio::runtime::Runtime::new()?
        .block_on(tracker_deployer::backfill::run(settings, args))?;
    let verb = if args.dry_run {
        "would store"
    } else {
        "stored"
    };
    eprint!("backfill ({verb}): {summary}");
    if summary.failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} object(s) failed (listed above); fix or remove them and run the same command again to resume",
            summary.failures.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

fn serve(settings: &Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listen = match args.listen {
        Some(listen) => listen,
        None => settings
            .local
            .listen
            .parse()
            .context("settings [local] listen")?,
    };
    let options = tracker_runtime::local::ServeOptions {
        logs: args.logs,
        db: args.db.unwrap_or_else(|| settings.local.db.clone()),
        listen,
        api_key: args.api_key.or_else(|| settings.local.api_key.clone()),
        pipeline: tracker_runtime::ingest::Pipeline {
            skip: tracker_runtime::ingest::SkipList::new(&settings.ingest.skip_event_prefixes),
            ..Default::default()
        },
        rules: settings.rules.options(),
        concurrency: args.concurrency,
        cache_bytes: settings.local.cache_bytes(),
    };
    tokio::runtime::Runtime::new()?.block_on(tracker_runtime::local::serve(options))?;
    Ok(ExitCode::SUCCESS)
}

/// The settings file if it exists, else the defaults — unless the user named
/// a file explicitly that is missing.
fn load_settings(path: &std::path::Path) -> anyhow::Result<Settings> {
    if path.exists() {
        return Settings::load(path)
            .context("fix the settings file or pass another with --settings");
    }
    if path == std::path::Path::new("settings.toml") {
        return Ok(Settings::defaults());
    }
    anyhow::bail!("settings file {} does not exist", path.display())
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,tracker=info,tracker_runtime=info,tracker_deployer=info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
