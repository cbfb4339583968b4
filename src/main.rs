//! tracker: who did what in an AWS account.
//!
//! One binary, two lives. Started by AWS Lambda with `TRACKER_HANDLER` set,
//! it is the ingest or the query function; otherwise it is the command line
//! (`deploy`, `backfill`, `teardown`, `serve`, the query client, `ui` and
//! `alerts`, the offline triage).

mod alerts;
mod cli;
mod memory;

use std::process::ExitCode;

use tracker_runtime::config::{HANDLER_VAR, Handler};

fn main() -> ExitCode {
    memory::limit_malloc_arenas();
    match std::env::var(HANDLER_VAR) {
        Ok(handler) => run_lambda(&handler),
        Err(_) => cli::main(),
    }
}

/// Lambda mode: the handler named by `TRACKER_HANDLER`, until Lambda stops us.
fn run_lambda(handler: &str) -> ExitCode {
    if let Err(error) = lambda_runtime_main(handler) {
        eprintln!("tracker: {error:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[tokio::main]
async fn lambda_runtime_main(handler: &str) -> anyhow::Result<()> {
    let handler: Handler = handler.parse()?;
    tracker_runtime::lambda::init_logging();
    tracker_runtime::lambda::run(handler).await
}
