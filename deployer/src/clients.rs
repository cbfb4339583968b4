//! The AWS clients a deployment uses, all made from one `SdkConfig` (the
//! standard chain: environment, profile, SSO, IMDS; `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` are honoured by the SDK), and the account and
//! region they act in.

use anyhow::Context;
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;

use crate::errors;
use crate::settings::Settings;

/// Clients, account and region of one deploy or teardown.
#[derive(Debug, Clone)]
pub struct Aws {
    pub region: String,
    pub account: String,
    /// `aws`, `aws-cn` or `aws-us-gov`: the first field of ARNs.
    pub partition: &'static str,
    /// `--profile P` for the AWS CLI commands printed to the user, if the
    /// settings name a profile.
    pub profile: Option<String>,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub sqs: aws_sdk_sqs::Client,
}

/// Loads the standard chain, with `[aws]` region and profile if set.
pub async fn load_sdk_config(settings: &Settings) -> SdkConfig {
    tracker_runtime::aws::load_sdk_config(settings.aws.region.clone(), settings.aws.profile.clone())
        .await
}

impl Aws {
    /// Makes the clients and asks STS which account the credentials are for
    /// (which also proves there are credentials, before anything is done).
    pub async fn connect(sdk: &SdkConfig, settings: &Settings) -> anyhow::Result<Aws> {
        Aws::connect_with(sdk, settings, &[]).await
    }

    /// [`Aws::connect`], with `interceptors` on every client (tests use one
    /// to see every call deploy and teardown make).
    pub async fn connect_with(
        sdk: &SdkConfig,
        settings: &Settings,
        interceptors: &[SharedInterceptor],
    ) -> anyhow::Result<Aws> {
        let region = sdk.region().map(|r| r.to_string()).context(
            "no AWS region is configured: set `aws.region` in the settings, or AWS_REGION, \
                 or a region in your AWS profile",
        )?;
        macro_rules! client {
            ($sdk_crate:ident, $builder:expr) => {{
                let mut builder = $builder;
                for interceptor in interceptors {
                    builder.push_interceptor(interceptor.clone());
                }
                $sdk_crate::Client::from_conf(builder.build())
            }};
        }
        let sts = client!(aws_sdk_sts, aws_sdk_sts::config::Builder::from(sdk));
        let identity = sts.get_caller_identity().send().await.map_err(|e| {
            errors::explain(
                e,
                &format!(
                    "cannot tell which AWS account to use in {region} (sts:GetCallerIdentity)"
                ),
            )
        })?;
        let account = identity
            .account()
            .context("sts:GetCallerIdentity answered without an account id")?
            .to_owned();
        Ok(Aws {
            partition: partition_of(&region),
            profile: settings.aws.profile.clone(),
            cloudformation: client!(
                aws_sdk_cloudformation,
                aws_sdk_cloudformation::config::Builder::from(sdk)
            ),
            lambda: client!(aws_sdk_lambda, aws_sdk_lambda::config::Builder::from(sdk)),
            s3: client!(
                aws_sdk_s3,
                tracker_runtime::aws::s3_client(sdk).config().to_builder()
            ),
            dynamodb: client!(
                aws_sdk_dynamodb,
                aws_sdk_dynamodb::config::Builder::from(sdk)
            ),
            apigateway: client!(
                aws_sdk_apigateway,
                aws_sdk_apigateway::config::Builder::from(sdk)
            ),
            sqs: client!(aws_sdk_sqs, aws_sdk_sqs::config::Builder::from(sdk)),
            region,
            account,
        })
    }

    /// `--region R [--profile P]` for AWS CLI commands shown to the user.
    pub fn cli_options(&self) -> String {
        match &self.profile {
            Some(profile) => format!("--region {} --profile {profile}", self.region),
            None => format!("--region {}", self.region),
        }
    }

    /// The ARN of an S3 bucket.
    pub fn bucket_arn(&self, bucket: &str) -> String {
        format!("arn:{}:s3:::{bucket}", self.partition)
    }
}

impl Aws {
    /// The ARN of a Lambda function of this account and region.
    pub fn function_arn(&self, function: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{function}",
            self.partition, self.region, self.account
        )
    }

    /// The invoke URL of a REST API stage (as the stack's `ApiUrl` output).
    pub fn api_url(&self, api_id: &str, stage: &str) -> String {
        let suffix = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!(
            "https://{api_id}.execute-api.{}.{suffix}/{stage}",
            self.region
        )
    }
}

/// The partition a region belongs to.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}
