//! tracker's deployer: what runs on an operator's machine — the settings
//! file, the CloudFormation templates and stacks, the trigger on the trail
//! bucket, deploy, backfill and teardown, and the IAM policy they need; and
//! the command-line client of the query API with `tracker ui` ([`client`]).

pub mod apikey;
pub mod artifacts;
pub mod backfill;
pub mod client;
pub mod clients;
pub mod console;
pub mod deploy;
pub mod encryption;
pub mod errors;
pub mod names;
pub mod package;
pub mod policy;
pub mod queues;
pub mod rules;
pub mod settings;
pub mod stack;
pub mod table;
pub mod teardown;
pub mod template;
pub mod trigger;
pub mod ttl;

pub use deploy::{DeployArgs, deploy};
pub use settings::{Settings, SettingsError};
pub use teardown::{TeardownArgs, teardown};

/// The AWS SDK crates the deployer's functions take clients of, so callers
/// (and tests) use the same versions.
pub mod sdk {
    pub use aws_sdk_apigateway as apigateway;
    pub use aws_sdk_cloudformation as cloudformation;
    pub use aws_sdk_lambda as lambda;
    pub use aws_sdk_sqs as sqs;
}
