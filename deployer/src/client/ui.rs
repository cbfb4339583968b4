//! `tracker ui`: the dashboard on this machine for a deployed API. Browsers
//! cannot sign requests, so an API deployed with `api.auth = "iam"` cannot
//! be used from the page itself: this local server serves the same embedded
//! page and forwards every data route to the API, signed with the user's
//! AWS credentials (or with the stack's API key). Loopback only, and only
//! for requests addressed to it (`Host` is checked, so that no other web
//! page can reach the API through it by DNS rebinding).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tracker_runtime::api::ApiError;
use tracker_runtime::api::dashboard;

use super::source::{Api, SourceArgs, is_loopback, next_link};
use crate::settings::Settings;

/// `tracker ui` options.
#[derive(Debug, Clone, clap::Args)]
pub struct UiArgs {
    /// Loopback address to serve the dashboard on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Serves the dashboard until Ctrl-C.
pub async fn run(settings: &Settings, args: &UiArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        is_loopback(&args.listen),
        "refusing to serve on {}: tracker ui calls the API with your credentials, so it only \
         listens on this machine (127.0.0.1 or [::1])",
        args.listen
    );
    let api = Api::open(settings, &args.source).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another tracker ui using it? pass --listen 127.0.0.1:0",
                args.listen
            )
        })?;
    let address = listener.local_addr()?;
    println!(
        "tracker ui: the dashboard of {} at http://{address}/",
        api.describe()
    );
    println!("(Ctrl-C stops it)");
    axum::serve(listener, app(api, address))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the dashboard server stopped")
}

/// The page and its assets, and every other GET forwarded to `api`.
pub fn app(api: Api, address: SocketAddr) -> Router {
    Router::new()
        .merge(dashboard::routes())
        .fallback(forward)
        .with_state(Arc::new(api))
        .layer(middleware::from_fn_with_state(
            Arc::new(allowed_hosts(address)),
            only_for_us,
        ))
}

fn allowed_hosts(address: SocketAddr) -> Vec<String> {
    vec![format!("localhost:{}", address.port()), address.to_string()]
}

async fn only_for_us(
    State(hosts): State<Arc<Vec<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return next.run(request).await;
    }
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!("tracker ui answers requests for {} only", hosts.join(", ")),
    )
    .into_response()
}

async fn forward(State(api): State<Arc<Api>>, method: Method, request: Request) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed; the API is read-only, use GET"),
        )
        .into_response();
    }
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let reply = match api
        .get_with(&path_and_query, request.headers().get("x-api-key"))
        .await
    {
        Ok(reply) => reply,
        Err(error) => {
            return ApiError::new(StatusCode::BAD_GATEWAY, error.0).into_response();
        }
    };
    let mut response = (reply.status, reply.body).into_response();
    let headers = response.headers_mut();
    if let Some(kind) = reply.headers.get(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, kind.clone());
    }
    // The next page, as a URL of this server.
    let link = reply
        .headers
        .get(header::LINK)
        .and_then(|l| l.to_str().ok())
        .and_then(next_link)
        .map(|url| format!("<{}>; rel=\"next\"", api.relative(&url)));
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LINK, value);
    }
    response
}
