//! The command line: clap definitions and dispatch. Each subcommand's doc
//! comment is its `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracker_deployer::Settings;

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
    Deploy,
    /// Load past CloudTrail logs from S3 or a folder into the table.
    Backfill,
    /// Remove what `deploy` created.
    Teardown,
    /// Serve the query API locally over CloudTrail logs in a folder.
    Serve,
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
    let _settings = load_settings(&cli.settings)?;
    let name = match cli.command {
        Command::Deploy => "deploy",
        Command::Backfill => "backfill",
        Command::Teardown => "teardown",
        Command::Serve => "serve",
    };
    eprintln!(
        "tracker: `{name}` is not available in this build yet; see the README's status section"
    );
    Ok(ExitCode::from(2))
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
