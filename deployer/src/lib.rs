//! tracker's deployer: what runs on an operator's machine — the settings
//! file, and (in later modules) the CloudFormation template, the stack, the
//! S3 trigger, backfill and teardown.

pub mod settings;

pub use settings::{Settings, SettingsError};
