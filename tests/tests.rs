//! tracker's integration tests, one binary (as ripgrep does):
//!
//! - `facts`: the shared sample corpus, ingested through the S3 handler from
//!   moto's S3 into the DynamoDB emulator (and, for the embedded store,
//!   from its folder), answers every query of `FACTS.json`;
//! - `insights`: lookups and statistics against `INSIGHT-FACTS.json` and
//!   random combinations checked against the files, on both stores;
//! - `ingest`: bad input is reported and loses nothing else; redelivery and
//!   retries change no count;
//! - `alerts`: detection rules at ingest become `GET /alerts` rows, paged
//!   and filtered, once per (rule, event) however often a file arrives, on
//!   both stores; `tracker serve` refuses a rule it cannot use;
//! - `api`: routes match `swagger.yaml`, bad requests are 4xx JSON, the
//!   Lambda host (API Gateway proxy events) serves the same router;
//! - `deploy` (a folder, one file per concern): deploy, teardown and the
//!   replay of failed ingests against moto and mocks, and the built binary
//!   deploying itself, running as both functions, and tearing down;
//! - `dashboard`: the dashboard in a real browser (chromium + Playwright);
//! - `client`: the command-line client and `tracker ui`;
//! - `alerts_sns`: alert messages published to a moto SNS topic, read back
//!   from a subscribed SQS queue;
//! - `rules`: the Sigma engine against SigmaHQ's CloudTrail rules and their
//!   reference matches (no emulator);
//! - `rules_builtin`: the built-in CIS pack against its positives and near
//!   misses (`tests/fixtures/rules/cis/`);
//! - `alerts_cli`: `tracker alerts` (offline triage), the built binary.
//!
//! Needs a moto server (see `support::moto_endpoint`) and a DynamoDB
//! emulator (`support::dynamodb_endpoint`); the README's test command starts
//! both.

mod alerts;
mod alerts_cli;
mod alerts_sns;
mod api;
mod backfill;
mod client;
mod dashboard;
mod deploy;
mod facts;
mod fuzz_regressions;
mod ingest;
mod ingest_faults;
mod insights;
mod properties;
mod read_units;
mod rules;
mod rules_builtin;
mod schema;
mod serve;
mod support;
