//! tracker's runtime: everything that runs inside AWS Lambda (and, through
//! the same code, in local mode).
//!
//! - [`cloudtrail`]: log files and records (reading, principal, redaction);
//! - [`event`]: the stored form of an event; [`attribute`]: what lookups and
//!   statistics address in it; [`alert`]: the stored form of an alert (a
//!   detection rule matching an event);
//! - [`store`]: the storage seam and its DynamoDB implementation;
//! - [`ingest`]: log file → stored events (the S3-triggered handler);
//! - [`query`]: what an event query means, over any store;
//! - [`api`]: the REST router;
//! - [`config`], [`aws`], [`lambda`]: Lambda mode's wiring;
//! - [`local`]: local mode (`tracker serve`).

pub mod alert;
pub mod api;
pub mod attribute;
pub mod aws;
pub mod cloudtrail;
pub mod config;
pub mod digest;
pub mod event;
pub mod ingest;
pub mod lambda;
pub mod local;
pub mod query;
pub mod store;
pub mod time;
