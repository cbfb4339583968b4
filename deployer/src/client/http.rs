//! A small HTTPS client for the query API: hyper-util's client with rustls
//! and the system's root certificates — the same crates the AWS SDK
//! already builds, so the command line adds no HTTP stack of its own.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The request did not get an answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// An HTTP/1.1 client for `http://` and `https://` URLs.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HttpClient {
    pub fn new() -> anyhow::Result<HttpClient> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .context("cannot load the system's root certificates (needed for https)")?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Sends a (bodyless) request and reads the whole answer.
    pub async fn send(&self, request: Request<()>) -> Result<Reply, Unreachable> {
        let url = request.uri().to_string();
        let request = request.map(|()| Empty::new());
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Unreachable(error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Unreachable(format!("the answer was cut: {}", error_chain(&e))))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Unreachable(format!(
                "no answer from {url} within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))),
        }
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    tracker_runtime::aws::error_chain(error)
}
