//! `tracker deploy`, `tracker teardown` and `tracker backfill
//! --from-failures`, one file per concern:
//!
//! - `lifecycle`: a deployment's whole life against moto (control plane):
//!   everything as rendered, deploying again changes nothing, a changed
//!   setting updates in place, `--dry-run` changes nothing, teardown removes
//!   everything but the table (and with `--delete-data` that too), refusals
//!   before anything is made;
//! - `built_binary`: the built `tracker` binary deploys itself, its functions
//!   run (in Lambda mode, against a stand-in Runtime API) an S3 event and an
//!   API Gateway request with the environment deploy gave them, then tears
//!   down; and it needs no newer glibc than Lambda's;
//! - `templates`: the rendered templates (snapshot, canonical text, sizes
//!   with 1,000 accounts);
//! - `trigger`: a notification S3 would refuse to share keys with is found
//!   before anything is made; the EventBridge trigger; S3's permission;
//! - `failures`: KMS-encrypted trails, the on-failure queue and its replay;
//! - `fan_out`: `backfill --fan-out` through the stack's work queue, its
//!   dead-letter queue, and the ingest handler fed SQS's event shape;
//! - `data_stack`: a table retained without its stack (import, wait, refuse);
//! - `api_gateway`: the usage plan's limits and keys, stages, deletion retry;
//! - `stacks`: what AWS does differently from moto with change sets and
//!   stacks (aws-smithy-mocks);
//! - `policy`: the IAM policy `--print-policy` prints covers every call.

mod api_gateway;
mod built_binary;
mod data_stack;
mod failures;
mod fan_out;
mod lifecycle;
mod policy;
mod stacks;
pub mod support;
mod templates;
mod trigger;
