//! tracker's integration tests, one binary (as ripgrep does):
//!
//! - `facts`: the shared sample corpus, ingested through the S3 handler into
//!   moto's S3 and DynamoDB, answers every query of `FACTS.json`;
//! - `ingest`: bad input is reported and loses nothing else; redelivery and
//!   retries change no count;
//! - `api`: routes match `swagger.yaml`, bad requests are 4xx JSON, the
//!   Lambda host (API Gateway proxy events) serves the same router;
//! - `dashboard`: the dashboard in a real browser (chromium + Playwright);
//! - `client`: the command-line client and `tracker ui`.
//!
//! Needs a moto server (see `support::moto_endpoint`); the README's test
//! command starts one.

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
mod schema;
mod serve;
mod support;
