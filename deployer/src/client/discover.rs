//! Finding the deployed API: its URL from the application stack's outputs
//! (or its REST API resource, when an emulator leaves the outputs empty),
//! its auth mode from the `ApiAuth` output (stacks deployed before it
//! existed: the settings), and for `api_key` the key's value from API
//! Gateway (`get-api-key --include-value`), found by its name as `deploy`
//! made it.

use anyhow::Context;
use aws_config::SdkConfig;

use crate::apikey;
use crate::clients::partition_of;
use crate::errors;
use crate::names::Names;
use crate::settings::{AuthMode, Settings};
use crate::stack;
use crate::template::{ids, outputs};

/// What a client needs to call the deployed API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub stack: String,
    pub region: String,
    /// `https://<id>.execute-api.<region>.amazonaws.com/<stage>`.
    pub url: String,
    pub auth: AuthMode,
    /// The key's value (`api_key` only).
    pub api_key: Option<String>,
}

pub async fn discover(sdk: &SdkConfig, settings: &Settings) -> anyhow::Result<Deployed> {
    let region = sdk.region().map(|r| r.to_string()).context(
        "no AWS region is configured to find the deployed API in: set `aws.region` in the \
         settings or AWS_REGION, or pass --url",
    )?;
    let names = Names::new(settings)?;
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let info = stack::describe(&cloudformation, &names.stack)
        .await
        .context("cannot look for the deployed API (pass --url, or --db for a local database)")?
        .with_context(|| {
            format!(
                "no tracker stack `{}` in {region}: deploy one with `tracker deploy`, or point at \
                 an API with --url (and --api-key), or at a local database with --db",
                names.stack
            )
        })?;
    let url = match info.output(outputs::API_URL) {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ => {
            let api_id = stack::physical_id(&cloudformation, &names.stack, ids::API)
                .await?
                .with_context(|| {
                    format!(
                        "stack `{}` ({}) has no REST API yet: run `tracker deploy`",
                        names.stack, info.status
                    )
                })?;
            let stage = info
                .output(outputs::STAGE)
                .unwrap_or(&settings.api.stage)
                .to_owned();
            api_url(&api_id, &region, &stage)
        }
    };
    let auth = info
        .output(outputs::API_AUTH)
        .and_then(AuthMode::from_name)
        .unwrap_or(settings.api.auth);
    let api_key = match auth {
        AuthMode::ApiKey => Some(key_value(sdk, &names).await?),
        AuthMode::Iam | AuthMode::None => None,
    };
    Ok(Deployed {
        stack: names.stack,
        region,
        url,
        auth,
        api_key,
    })
}

/// The value of the deployment's API key.
async fn key_value(sdk: &SdkConfig, names: &Names) -> anyhow::Result<String> {
    let client = aws_sdk_apigateway::Client::new(sdk);
    let (key, _) = apikey::existing(&client, names).await?;
    let id = key
        .and_then(|k| k.id().map(str::to_owned))
        .with_context(|| {
            format!(
                "stack `{}` uses an API key, but API Gateway has no key `{}`: run `tracker deploy` \
                 again, or pass --api-key",
                names.stack, names.api_key
            )
        })?;
    let key = client
        .get_api_key()
        .api_key(&id)
        .include_value(true)
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!("cannot read the value of API key `{}`", names.api_key),
            )
        })?;
    key.value()
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("API Gateway did not return the value of key `{id}`"))
}

/// The invoke URL of a REST API stage.
pub fn api_url(api_id: &str, region: &str, stage: &str) -> String {
    let suffix = if partition_of(region) == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{api_id}.execute-api.{region}.{suffix}/{stage}")
}

/// The region of an `execute-api` URL (`https://id.execute-api.REGION.amazonaws.com/…`).
pub fn region_of_url(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split(['/', ':']).next()?;
    let mut labels = host.split('.');
    labels.find(|l| *l == "execute-api")?;
    labels.next().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_regions() {
        assert_eq!(
            api_url("abc123", "eu-west-1", "v1"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
        );
        assert_eq!(
            api_url("abc123", "cn-north-1", "v1"),
            "https://abc123.execute-api.cn-north-1.amazonaws.com.cn/v1"
        );
        assert_eq!(
            region_of_url("https://abc123.execute-api.eu-west-1.amazonaws.com/v1/users").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of_url("http://127.0.0.1:8080"), None);
    }
}
