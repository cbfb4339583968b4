//! AWS clients from the standard configuration chain (environment, profile,
//! SSO, IMDS, Lambda's own credentials). `AWS_ENDPOINT_URL` and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>` variables are honoured by the SDK itself, so
//! the same binary runs against moto or LocalStack.

pub use aws_config::SdkConfig;
use aws_config::{BehaviorVersion, Region};

/// Loads the shared SDK configuration; `region`/`profile` override the chain.
pub async fn load_sdk_config(region: Option<String>, profile: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

/// An S3 client; path-style addressing when a custom endpoint is configured
/// (emulators do not resolve `bucket.localhost`).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint = sdk.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
