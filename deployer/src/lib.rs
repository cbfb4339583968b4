//! tracker's deployer: what runs on an operator's machine — the settings
//! file, backfill, and (in later modules) the CloudFormation template, the
//! stack, the S3 trigger and teardown.

pub mod backfill;
pub mod settings;

pub use settings::{Settings, SettingsError};
