//! SigV4 signatures for an API deployed with `api.auth = "iam"` (service
//! `execute-api`), by the SDK's own signer (`aws-sigv4`), with credentials
//! from the standard chain (environment, profile, SSO, IMDS).

use std::time::SystemTime;

use anyhow::Context;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// The signing service of API Gateway's data plane.
pub const EXECUTE_API: &str = "execute-api";

/// Signs requests for one region with the caller's credentials.
#[derive(Debug, Clone)]
pub struct Signer {
    credentials: SharedCredentialsProvider,
    region: String,
}

impl Signer {
    pub fn new(credentials: SharedCredentialsProvider, region: String) -> Signer {
        Signer {
            credentials,
            region,
        }
    }

    /// Signs a request (its body is empty: the API is GET only).
    pub async fn sign(&self, request: &mut http::Request<()>) -> anyhow::Result<()> {
        let credentials = self.credentials.provide_credentials().await.context(
            "no AWS credentials to sign the request with (api.auth = \"iam\"): configure them \
             as for the AWS CLI (aws configure, AWS_PROFILE, aws sso login, …)",
        )?;
        sign_at(
            request,
            &credentials,
            &self.region,
            EXECUTE_API,
            SystemTime::now(),
        )
    }
}

/// Adds `x-amz-date`, `authorization` (and `x-amz-security-token`) to a
/// request, for `service` in `region` at `time`. The `host` header is set
/// from the URI if missing, since it is signed.
pub fn sign_at(
    request: &mut http::Request<()>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> anyhow::Result<()> {
    if !request.headers().contains_key(http::header::HOST) {
        let host = request
            .uri()
            .authority()
            .context("the request URL has no host")?
            .as_str()
            .to_owned();
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_str(&host).context("the request's host")?,
        );
    }
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .context("SigV4 signing parameters")?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(
        request.method().as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .context("the request cannot be signed")?;
    let (instructions, _signature) = sign(signable, &params)
        .context("SigV4 signing failed")?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's SigV4 test suite, `get-vanilla` and
    /// `get-vanilla-query-order-key-case`: fixed credentials and time, the
    /// published signatures.
    #[test]
    fn known_answers_of_the_aws_test_suite() {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test-suite",
        );
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        for (uri, signature) in [
            (
                "https://example.amazonaws.com/",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "https://example.amazonaws.com/?Param2=value2&Param1=value1",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
        ] {
            let mut request = http::Request::get(uri).body(()).unwrap();
            sign_at(&mut request, &credentials, "us-east-1", "service", time).unwrap();
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            assert_eq!(header("host"), "example.amazonaws.com");
            assert_eq!(header("x-amz-date"), "20150830T123600Z");
            assert_eq!(
                header("authorization"),
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature={signature}"
                ),
                "{uri}"
            );
        }
    }

    #[test]
    fn a_session_token_is_sent() {
        let credentials = Credentials::new("AKID", "SECRET", Some("TOKEN".into()), None, "test");
        let mut request =
            http::Request::get("https://abc.execute-api.eu-west-1.amazonaws.com/v1/users")
                .body(())
                .unwrap();
        sign_at(
            &mut request,
            &credentials,
            "eu-west-1",
            EXECUTE_API,
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(request.headers()["x-amz-security-token"], "TOKEN");
        let authorization = request.headers()["authorization"].to_str().unwrap();
        assert!(
            authorization.contains("/eu-west-1/execute-api/aws4_request"),
            "{authorization}"
        );
    }
}
