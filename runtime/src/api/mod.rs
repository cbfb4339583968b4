//! The REST API: one axum router, served by `lambda_http` inside Lambda and
//! by a plain HTTP server in local mode. All routes are `GET`:
//! `/users`, `/services`, `/parameters` (lists), `/users/{user}`,
//! `/services/{service}`, `/scan` (events), `/events/{eventID}` (one record),
//! `/stats` and `/stats/daily` (counts), `/alerts` (what the detection
//! rules found). The same router serves the
//! dashboard (`/` and `/ui/…`, see [`dashboard`]).
//! Every error is JSON `{"error": "..."}`; a bad request is a 4xx, never a 5xx.

mod context;
pub mod dashboard;
mod error;
mod link;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

pub use context::{HostContext, ResponseDeadline};
pub use error::ApiError;
pub use link::PublicBase;

use crate::query::engine::PageEvent;
use crate::query::{EventQuery, QueryEngine, Route, parse_event_query, parse_stats_query};
use crate::store::{CatalogKind, EventStore};

/// The routes this API serves, as documented in `swagger.yaml`.
pub const ROUTES: &[&str] = &[
    "/users",
    "/users/{user}",
    "/services",
    "/services/{service}",
    "/parameters",
    "/scan",
    "/events/{eventID}",
    "/stats",
    "/stats/daily",
    "/alerts",
];

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    engine: QueryEngine,
    clock: fn() -> DateTime<Utc>,
}

impl ApiState {
    pub fn new(store: Arc<dyn EventStore>) -> ApiState {
        ApiState {
            engine: QueryEngine::new(store),
            clock: Utc::now,
        }
    }

    /// Fixes "now" (for the default window) — for tests.
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> ApiState {
        self.clock = clock;
        self
    }

    fn store(&self) -> &Arc<dyn EventStore> {
        self.engine.store()
    }
}

/// The router of the query API.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/users", get(list_users))
        .route("/users/{*user}", get(user_events))
        .route("/services", get(list_services))
        .route("/services/{*service}", get(service_events))
        .route("/parameters", get(list_parameters))
        .route("/scan", get(scan_events))
        .route("/events/{*event_id}", get(one_event))
        .route("/stats", get(stats))
        .route("/stats/daily", get(daily_stats))
        .route("/alerts", get(alerts))
        .merge(dashboard::routes())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn list_users(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    list(&state, CatalogKind::User, &uri, &headers, host.base).await
}

async fn list_services(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    list(&state, CatalogKind::Service, &uri, &headers, host.base).await
}

async fn list_parameters(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    list(&state, CatalogKind::Param, &uri, &headers, host.base).await
}

/// A list route: the values, ascending, `limit` at a time (default and at
/// most 10,000), the next page linked as on event routes.
async fn list(
    state: &ApiState,
    kind: CatalogKind,
    uri: &Uri,
    headers: &HeaderMap,
    base: Option<PublicBase>,
) -> Result<Response, ApiError> {
    let page = crate::query::params::parse_list_query(&query_pairs(uri), kind.partition())?;
    let (values, more) = state
        .store()
        .catalog_page(kind, page.after.as_deref(), page.limit)
        .await?;
    let last = values.last().cloned();
    let mut response = axum::Json(values).into_response();
    if let (true, Some(last)) = (more, last) {
        let next = link::next_list_url(
            base.as_ref(),
            headers,
            uri,
            page.limit,
            &last,
            kind.partition(),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

async fn user_events(
    State(state): State<ApiState>,
    user: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    let Path(user) = user.map_err(ApiError::from_path)?;
    events(&state, Route::User(user), &uri, &headers, host).await
}

async fn service_events(
    State(state): State<ApiState>,
    service: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    let Path(service) = service.map_err(ApiError::from_path)?;
    events(&state, Route::service(&service), &uri, &headers, host).await
}

async fn scan_events(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    events(&state, Route::Scan, &uri, &headers, host).await
}

async fn events(
    state: &ApiState,
    route: Route,
    uri: &Uri,
    headers: &HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(uri);
    let query: EventQuery = parse_event_query(route, &pairs, (state.clock)())?;
    if query.count {
        let n = state.engine.count(&query).await?;
        return Ok(axum::Json(n).into_response());
    }
    let page = state.engine.page(&query, host.deadline).await?;
    let (body, next_after) = bounded_page(
        &page.events,
        |out, event| {
            event.summary().write_json(out);
            Ok(())
        },
        PageEvent::sort_key,
        page.next_after,
    );
    let mut response = json_body(body);
    if let Some(after) = &next_after {
        let next = link::next_page_url(host.base.as_ref(), headers, uri, &pairs, &query, after);
        if let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// Largest body an event page may have: Lambda refuses a response over
/// 6 MB (headers and encoding included), so a page stops near 5 MB and its
/// `Link` resumes after the last event it holds.
pub const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;

/// A JSON response of bytes already encoded.
fn json_body(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The JSON array of a page's items (each as `write` writes it), cut before
/// [`MAX_PAGE_BYTES`], and where the next page starts (`position` of the last
/// item sent when cut). Items are written straight into the body.
fn bounded_page<T>(
    items: &[T],
    write: impl Fn(&mut Vec<u8>, &T) -> serde_json::Result<()>,
    position: impl Fn(&T) -> Option<String>,
    next_after: Option<String>,
) -> (Vec<u8>, Option<String>) {
    let mut body = Vec::with_capacity(items.len() * 400 + 2);
    body.push(b'[');
    for (i, one) in items.iter().enumerate() {
        let before = body.len();
        if i > 0 {
            body.push(b',');
        }
        if write(&mut body, one).is_err() {
            // Not for the types shown here; an item that cannot be written is left out whole.
            body.truncate(before);
            continue;
        }
        if i > 0 && body.len() + 1 > MAX_PAGE_BYTES {
            body.truncate(before);
            body.push(b']');
            let after = position(&items[i - 1]);
            return (body, after.or(next_after));
        }
    }
    body.push(b']');
    (body, next_after)
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// `/alerts`: what the detection rules found in the window, oldest first,
/// paged as the event routes are.
async fn alerts(
    State(state): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    host: HostContext,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(&uri);
    let query = crate::query::params::parse_alert_query(&pairs, (state.clock)())?;
    let page = crate::query::alerts::alert_page(state.store().as_ref(), &query).await?;
    let (body, next_after) = bounded_page(
        &page.alerts,
        |out, (_, row)| serde_json::to_writer(out, row),
        |(key, _)| Some(key.clone()),
        page.next_after,
    );
    let mut response = json_body(body);
    if let Some(after) = &next_after {
        let next =
            link::next_alert_page_url(host.base.as_ref(), &headers, &uri, &pairs, &query, after);
        if let Ok(value) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

async fn stats(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    let query = parse_stats_query(&query_pairs(&uri), (state.clock)(), false)?;
    let by = query.by.unwrap_or(crate::attribute::Attribute::Principal);
    let tally = state.engine.tally(&query).await?;
    Ok(axum::Json(tally.stats(by, query.top)).into_response())
}

async fn daily_stats(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    let query = parse_stats_query(&query_pairs(&uri), (state.clock)(), true)?;
    let tally = state.engine.tally(&query).await?;
    Ok(axum::Json(tally.daily(query.by, query.top)).into_response())
}

async fn one_event(
    State(state): State<ApiState>,
    event_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(event_id) = event_id.map_err(ApiError::from_path)?;
    let Some(event) = state.store().get_event(&event_id).await? else {
        return Err(ApiError::not_found(format!(
            "no event with eventID `{event_id}`"
        )));
    };
    let text = event.record_json()?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}; the routes are GET {}",
        uri.path(),
        ROUTES.join(", ")
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; this API is read-only, use GET",
            uri.path()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_stops_before_lambdas_response_limit() {
        let long = "p".repeat(500);
        let events: Vec<crate::event::EventItem> = (0..12_000)
            .map(|i| {
                crate::event::event_from_json(
                    serde_json::json!({
                        "eventID": format!("e{i:05}"),
                        "eventTime": "2024-01-01T00:00:00Z",
                        "userIdentity": {"userName": format!("{long}{i}")},
                    })
                    .to_string(),
                )
            })
            .collect();
        let cut = |events: &[crate::event::EventItem], next| {
            bounded_page(
                events,
                |out, e| serde_json::to_writer(out, &e.summary()),
                |e| e.sort_key.clone(),
                next,
            )
        };
        let (body, next) = cut(&events, None);
        assert!(body.len() <= MAX_PAGE_BYTES, "{}", body.len());
        let page: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON array");
        assert!(page.len() < events.len());
        let last = &events[page.len() - 1];
        assert_eq!(
            next, last.sort_key,
            "the next page starts after the last event sent"
        );
        let (small, next) = cut(&events[..3], Some("k".into()));
        assert_eq!(
            serde_json::from_slice::<Vec<serde_json::Value>>(&small)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(next.as_deref(), Some("k"));
    }
}
