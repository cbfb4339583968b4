//! Where a command's requests go: the deployed API (URL and key, or SigV4,
//! found from the stack), any API by `--url`, or a local database (`--db`:
//! the query Lambda's router run in this process over the embedded store,
//! with tower's `oneshot` — the routes are never written twice). Answers
//! that are not a success become errors that say what to do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::store::EmbeddedStore;

use super::discover::{self, region_of_url};
use super::http::{HttpClient, Reply, Unreachable};
use super::sigv4::Signer;
use crate::clients;
use crate::settings::{AuthMode, Settings};

/// `--db`, `--url`, `--api-key`, `--iam`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    /// Ask a local database (made by `tracker serve` or `tracker backfill --db`) instead of the deployed API.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The API's URL [default: the deployed stack's, read from CloudFormation].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The API key [default: the deployed stack's, read from API Gateway].
    #[arg(long, env = "TRACKER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Sign the requests to --url with your AWS credentials (an API deployed with api.auth = "iam").
    #[arg(long, conflicts_with = "api_key")]
    pub iam: bool,
}

/// How requests to a remote API are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Key(String),
    Iam(Signer),
}

/// The API a command talks to (one per process: its size does not matter).
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Api {
    /// The router over a local database.
    Local { router: Router, db: PathBuf },
    /// An API over HTTP; `base` has no trailing slash.
    Remote {
        base: String,
        auth: Auth,
        http: HttpClient,
    },
}

impl Api {
    /// The API the arguments name: `--db`, `--url`, else the deployed stack.
    pub async fn open(settings: &Settings, args: &SourceArgs) -> anyhow::Result<Api> {
        if let Some(db) = &args.db {
            return Api::local(db.clone());
        }
        let http = HttpClient::new()?;
        let key = args.api_key.clone().filter(|k| !k.is_empty());
        if let Some(url) = &args.url {
            let base = url.trim_end_matches('/').to_owned();
            anyhow::ensure!(
                base.starts_with("http://") || base.starts_with("https://"),
                "--url {url} is not an http:// or https:// URL"
            );
            let auth = if args.iam {
                let sdk = clients::load_sdk_config(settings).await;
                let region = region_of_url(&base)
                    .or_else(|| sdk.region().map(|r| r.to_string()))
                    .context("no AWS region to sign for: set aws.region or AWS_REGION")?;
                Auth::Iam(signer(&sdk, region)?)
            } else {
                key.map_or(Auth::None, Auth::Key)
            };
            return Ok(Api::Remote { base, auth, http });
        }
        let sdk = clients::load_sdk_config(settings).await;
        let deployed = discover::discover(&sdk, settings).await?;
        let auth = match (key, deployed.auth) {
            (Some(key), _) => Auth::Key(key),
            (None, AuthMode::ApiKey) => deployed.api_key.map_or(Auth::None, Auth::Key),
            (None, AuthMode::Iam) => Auth::Iam(signer(&sdk, deployed.region.clone())?),
            (None, AuthMode::None) => Auth::None,
        };
        Ok(Api::Remote {
            base: deployed.url,
            auth,
            http,
        })
    }

    /// The router over the database at `db`, which must exist.
    pub fn local(db: PathBuf) -> anyhow::Result<Api> {
        anyhow::ensure!(
            db.exists(),
            "no database at {}: make one with `tracker serve --logs DIR --db {0}` or \
             `tracker backfill --path DIR --db {0}`",
            db.display()
        );
        let store = EmbeddedStore::open(&db).with_context(|| {
            format!(
                "cannot open the database {} (if `tracker serve` is using it, ask that server \
                 instead: --url http://127.0.0.1:8080)",
                db.display()
            )
        })?;
        Ok(Api::Local {
            router: router(ApiState::new(Arc::new(store))),
            db,
        })
    }

    /// What this API is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Api::Local { db, .. } => format!("the database {}", db.display()),
            Api::Remote { base, .. } => format!("the API at {base}"),
        }
    }

    /// `GET path_and_query` (e.g. `/users?x=1`): the answer, whatever its status.
    pub async fn get(&self, path_and_query: &str) -> Result<Reply, Unreachable> {
        self.get_with(path_and_query, None).await
    }

    /// As [`Api::get`]; `fallback_key` is sent when this API has no auth of
    /// its own (`tracker ui` passes on the key the page was given).
    pub async fn get_with(
        &self,
        path_and_query: &str,
        fallback_key: Option<&HeaderValue>,
    ) -> Result<Reply, Unreachable> {
        match self {
            Api::Local { router, .. } => {
                let request = Request::get(path_and_query)
                    .header(http::header::HOST, LOCAL_HOST)
                    .body(axum::body::Body::empty())
                    .map_err(|e| Unreachable(format!("bad request {path_and_query}: {e}")))?;
                let response = router
                    .clone()
                    .oneshot(request)
                    .await
                    .map_err(|e| Unreachable(e.to_string()))?;
                let (parts, body) = response.into_parts();
                let body: Bytes = body
                    .collect()
                    .await
                    .map_err(|e| Unreachable(e.to_string()))?
                    .to_bytes();
                Ok(Reply {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                })
            }
            Api::Remote { base, auth, http } => {
                let url = format!("{base}{path_and_query}");
                let mut request = Request::get(&url)
                    .header(http::header::ACCEPT, "application/json")
                    .header(
                        http::header::USER_AGENT,
                        concat!("tracker/", env!("CARGO_PKG_VERSION")),
                    )
                    .body(())
                    .map_err(|e| Unreachable(format!("bad URL {url}: {e}")))?;
                match auth {
                    Auth::None => {
                        if let Some(key) = fallback_key {
                            request.headers_mut().insert("x-api-key", key.clone());
                        }
                    }
                    Auth::Key(key) => {
                        let value = HeaderValue::from_str(key).map_err(|_| {
                            Unreachable("the API key has characters a header cannot hold".into())
                        })?;
                        request.headers_mut().insert("x-api-key", value);
                    }
                    Auth::Iam(signer) => signer
                        .sign(&mut request)
                        .await
                        .map_err(|e| Unreachable(format!("{e:#}")))?,
                }
                http.send(request)
                    .await
                    .map_err(|e| Unreachable(format!("cannot reach {base}: {e}")))
            }
        }
    }

    /// `GET` that must succeed with JSON: the body and the `Link: rel="next"`
    /// page (as a path and query for [`Api::get`]).
    pub async fn get_json(&self, path_and_query: &str) -> anyhow::Result<(Value, Option<String>)> {
        let reply = self.get(path_and_query).await.map_err(|e| {
            anyhow::anyhow!(
                "{}. Is it running and reachable? (`tracker deploy` deploys it; --url points \
                 elsewhere, --db at a local database)",
                e.0
            )
        })?;
        if !reply.status.is_success() {
            return Err(self.refusal(&reply));
        }
        let body: Value = serde_json::from_slice(&reply.body).with_context(|| {
            format!(
                "{} answered {path_and_query} with something that is not JSON: {}",
                self.describe(),
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(200)])
            )
        })?;
        let next = reply
            .headers
            .get(http::header::LINK)
            .and_then(|l| l.to_str().ok())
            .and_then(next_link)
            .map(|url| self.relative(&url));
        Ok((body, next))
    }

    /// An error for an answer that is not a success, with what to do.
    fn refusal(&self, reply: &Reply) -> anyhow::Error {
        let text = String::from_utf8_lossy(&reply.body);
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .or_else(|| v.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| text.trim().chars().take(300).collect());
        let status = reply.status;
        let hint = match (status, self) {
            (StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED, Api::Remote { auth, .. }) => {
                match auth {
                    Auth::Key(_) => {
                        "the API key was refused: check --api-key (or TRACKER_API_KEY), or \
                                 leave it out to use the deployed stack's key"
                    }
                    Auth::None => {
                        "the API needs an API key (--api-key KEY or TRACKER_API_KEY) or, if it \
                               was deployed with api.auth = \"iam\", --iam"
                    }
                    Auth::Iam(_) => {
                        "the signed request was refused: your AWS credentials need \
                                 execute-api:Invoke on this API, in its region"
                    }
                }
            }
            (s, _) if s.is_server_error() => "the API failed; try again in a moment",
            _ => "",
        };
        let mut text = format!("{} answered {status}: {message}", self.describe());
        if !hint.is_empty() {
            text.push_str(&format!(" ({hint})"));
        }
        anyhow::anyhow!(text)
    }

    /// A `Link` URL as a path and query of this API.
    pub fn relative(&self, url: &str) -> String {
        let (base, path_and_query) = match self {
            Api::Local { .. } => ("", path_and_query_of(url)),
            Api::Remote { base, .. } => match url.strip_prefix(base.as_str()) {
                Some(rest) => return rest.to_owned(),
                None => (base_path(base), path_and_query_of(url)),
            },
        };
        path_and_query
            .strip_prefix(base)
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(path_and_query)
            .to_owned()
    }
}

/// The host the in-process router sees.
const LOCAL_HOST: &str = "tracker.local";

fn signer(sdk: &aws_config::SdkConfig, region: String) -> anyhow::Result<Signer> {
    let credentials = sdk.credentials_provider().context(
        "no AWS credentials are configured to sign requests (api.auth = \"iam\"): configure them \
         as for the AWS CLI",
    )?;
    Ok(Signer::new(credentials, region))
}

/// The URL of a `Link: <url>; rel="next"` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let rel_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        rel_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// `/a/b?c` of `scheme://host/a/b?c` (or the text itself when it is a path).
fn path_and_query_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => url,
    }
}

/// `/v1` of `https://host/v1`.
fn base_path(base: &str) -> &str {
    path_and_query_of(base).trim_end_matches('/')
}

/// Whether an address is this machine only.
pub fn is_loopback(address: &SocketAddr) -> bool {
    address.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(base: &str) -> Api {
        Api::Remote {
            base: base.into(),
            auth: Auth::None,
            http: HttpClient::new().unwrap(),
        }
    }

    #[test]
    fn links_become_paths_of_the_api() {
        assert_eq!(
            next_link("<https://h/v1/scan?a=1&nextToken=x>; rel=\"next\"").as_deref(),
            Some("https://h/v1/scan?a=1&nextToken=x")
        );
        assert_eq!(next_link("<https://h/x>; rel=\"prev\""), None);
        let api = remote("https://abc.execute-api.us-east-1.amazonaws.com/v1");
        assert_eq!(
            api.relative("https://abc.execute-api.us-east-1.amazonaws.com/v1/scan?n=1"),
            "/scan?n=1"
        );
        assert_eq!(
            api.relative("https://custom.example/v1/scan?n=1"),
            "/scan?n=1"
        );
        let local = remote("http://127.0.0.1:8080");
        assert_eq!(
            local.relative("http://127.0.0.1:8080/users/a?n=1"),
            "/users/a?n=1"
        );
    }
}
