//! Lambda mode: the same binary as the CLI, started by Lambda with
//! `TRACKER_HANDLER=ingest|query`. Configuration and clients are built once
//! per instance; the handlers are the plain functions of [`crate::ingest`] and
//! the router of [`crate::api`].

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use lambda_runtime::{LambdaEvent, service_fn};
use tower::ServiceExt;

use crate::api::{self, ApiState, PublicBase};
use crate::config::{Handler, LambdaConfig};
use crate::ingest::notify::SnsPublisher;
use crate::ingest::{
    IngestDeps, IngestEvent, Ingestor, handle_event, handle_queue_event, is_queue_event,
    queue_event,
};
use crate::store::DynamoStore;

/// Time kept back from the Lambda deadline to report and return.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// Runs this process as the given Lambda handler until Lambda stops it.
pub async fn run(handler: Handler) -> anyhow::Result<()> {
    let config = LambdaConfig::from_env()?;
    let sdk = crate::aws::load_sdk_config(None, None).await;
    let store = Arc::new(DynamoStore::new(
        crate::aws::dynamodb_client(&sdk),
        config.table.clone(),
    ));
    match handler {
        Handler::Ingest => {
            let publisher = config.alerts_topic.clone().map(|topic_arn| {
                Arc::new(SnsPublisher {
                    client: aws_sdk_sns::Client::new(&sdk),
                    topic_arn,
                }) as Arc<dyn crate::ingest::notify::Publisher>
            });
            let deps = Arc::new(IngestDeps {
                s3: crate::aws::s3_client(&sdk),
                ingestor: Ingestor::new(store, config.pipeline()?),
                publisher,
            });
            // An S3 notification, an EventBridge `Object Created` event, or
            // the backfill work queue's messages (answered with those to retry).
            lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
                let deps = Arc::clone(&deps);
                async move {
                    let deadline = deadline_of(event.context.deadline);
                    if is_queue_event(&event.payload) {
                        let batch = queue_event(event.payload)?;
                        let response = handle_queue_event(&deps, batch, deadline).await;
                        return Ok(serde_json::to_value(response).unwrap_or_default());
                    }
                    let event = IngestEvent::from_value(event.payload)?;
                    handle_event(&deps, event, deadline)
                        .await
                        .map(|summary| serde_json::to_value(summary).unwrap_or_default())
                        .map_err(lambda_runtime::Diagnostic::from)
                }
            }))
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .context("the ingest runtime stopped")
        }
        Handler::Query => {
            let app = api::router(ApiState::new(store));
            lambda_http::run(tower::service_fn(move |request: lambda_http::Request| {
                let mut request = behind_api_gateway(request);
                let deadline = request
                    .lambda_context_ref()
                    .and_then(|c| response_deadline(c.deadline));
                if let Some(deadline) = deadline {
                    request
                        .extensions_mut()
                        .insert(api::ResponseDeadline(deadline));
                }
                app.clone().oneshot(request)
            }))
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .context("the query runtime stopped")
        }
    }
}

impl From<crate::ingest::UnknownEvent> for lambda_runtime::Diagnostic {
    fn from(error: crate::ingest::UnknownEvent) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: "UnknownEvent".into(),
            error_message: error.to_string(),
        }
    }
}

impl From<crate::ingest::IngestError> for lambda_runtime::Diagnostic {
    fn from(error: crate::ingest::IngestError) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: "IngestRetryNeeded".into(),
            error_message: error.to_string(),
        }
    }
}

/// The instant by which an invocation must finish its work, from the
/// context's deadline (epoch milliseconds).
fn deadline_of(deadline_epoch_ms: u64) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let remaining = Duration::from_millis(deadline_epoch_ms.checked_sub(now_ms)?);
    Some(Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN.min(remaining / 5)))
}

/// When a page should stop reading: 70 % of the invocation's remaining
/// time (the rest to encode and send the response), and at least 2 s before
/// the deadline; API Gateway's own limit is 29 s.
fn response_deadline(deadline_epoch_ms: u64) -> Option<Instant> {
    let remaining = deadline_of(deadline_epoch_ms)?.saturating_duration_since(Instant::now());
    let budget = remaining
        .mul_f64(0.7)
        .min(remaining.saturating_sub(Duration::from_secs(2)));
    Some(Instant::now() + budget)
}

/// Makes an API Gateway request look as the router expects: the stage
/// prefix that `lambda_http` adds to the path is removed, and the public URL
/// (`https://host/stage`) is kept for `Link` headers.
pub fn behind_api_gateway(mut request: lambda_http::Request) -> lambda_http::Request {
    let (stage, domain) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => (ctx.stage.clone(), ctx.domain_name.clone()),
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.stage.clone(), ctx.domain_name.clone()),
        _ => (None, None),
    };
    let stage = stage.filter(|s| !s.is_empty() && s != "$default");
    let host = domain.or_else(|| {
        request
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    });
    if let Some(stage) = &stage {
        let prefix = format!("/{stage}");
        let uri = request.uri().clone();
        let path = uri.path();
        if path == prefix || path.starts_with(&format!("{prefix}/")) {
            let rest = &path[prefix.len()..];
            let rest = if rest.is_empty() { "/" } else { rest };
            let rebuilt = match uri.query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.to_owned(),
            };
            if let Ok(path_and_query) = rebuilt.parse() {
                let mut parts = uri.into_parts();
                parts.path_and_query = Some(path_and_query);
                if let Ok(new_uri) = axum::http::Uri::from_parts(parts) {
                    *request.uri_mut() = new_uri;
                }
            }
        }
    }
    if let Some(host) = host {
        let base = match &stage {
            Some(stage) => format!("https://{host}/{stage}"),
            None => format!("https://{host}"),
        };
        request.extensions_mut().insert(PublicBase(base));
    }
    request
}

/// Logging for Lambda: to stdout (CloudWatch), level from `AWS_LAMBDA_LOG_LEVEL`
/// or `RUST_LOG` (default `info`), no colours.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_lowercase();
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time() // CloudWatch stamps every line
        .init();
}
