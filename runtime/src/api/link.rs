//! The `Link: <…>; rel="next"` URL of a page: the same route and filters,
//! the window made explicit (so "the last 7 days" cannot drift between
//! pages), and the token of where this page stopped.

use axum::http::{HeaderMap, Uri};

use crate::query::params::{alert_fingerprint, fingerprint};
use crate::query::token;
use crate::query::{AlertQuery, EventQuery};

/// The public URL prefix of the API when it differs from what the router
/// sees (API Gateway adds `https://host/stage`); set by the Lambda host.
#[derive(Debug, Clone)]
pub struct PublicBase(pub String);

/// `https://host[/stage]` as the client sees it.
pub fn public_prefix(base: Option<&PublicBase>, headers: &HeaderMap) -> String {
    match base {
        Some(PublicBase(prefix)) => prefix.trim_end_matches('/').to_owned(),
        None => match headers.get("host").and_then(|h| h.to_str().ok()) {
            Some(host) => {
                let scheme = headers
                    .get("x-forwarded-proto")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("http");
                format!("{scheme}://{host}")
            }
            None => String::new(),
        },
    }
}

/// The next page of a list route: the same route, `limit`, and a token of
/// the last value sent.
pub fn next_list_url(
    base: Option<&PublicBase>,
    headers: &HeaderMap,
    uri: &Uri,
    limit: usize,
    after: &str,
    fingerprint: &str,
) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.append_pair("limit", &limit.to_string());
    serializer.append_pair("nextToken", &token::encode(after, fingerprint));
    format!(
        "{}{}?{}",
        public_prefix(base, headers),
        uri.path(),
        serializer.finish()
    )
}

pub fn next_page_url(
    base: Option<&PublicBase>,
    headers: &HeaderMap,
    uri: &Uri,
    pairs: &[(String, String)],
    query: &EventQuery,
    after: &str,
) -> String {
    let token = token::encode(after, &fingerprint(query));
    next_window_url(base, headers, uri, pairs, (&query.from, &query.to), &token)
}

/// The next page of `/alerts`, as [`next_page_url`] for events.
pub fn next_alert_page_url(
    base: Option<&PublicBase>,
    headers: &HeaderMap,
    uri: &Uri,
    pairs: &[(String, String)],
    query: &AlertQuery,
    after: &str,
) -> String {
    let token = token::encode(after, &alert_fingerprint(query));
    next_window_url(base, headers, uri, pairs, (&query.from, &query.to), &token)
}

/// The same route and parameters, the window made explicit, and `token`.
fn next_window_url(
    base: Option<&PublicBase>,
    headers: &HeaderMap,
    uri: &Uri,
    pairs: &[(String, String)],
    (from, to): (
        &chrono::DateTime<chrono::Utc>,
        &chrono::DateTime<chrono::Utc>,
    ),
    token: &str,
) -> String {
    let prefix = public_prefix(base, headers);
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if !matches!(key.as_str(), "from" | "to" | "nextToken") {
            serializer.append_pair(key, value);
        }
    }
    serializer.append_pair(
        "from",
        &from.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    );
    serializer.append_pair(
        "to",
        &to.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    );
    serializer.append_pair("nextToken", token);
    format!("{prefix}{}?{}", uri.path(), serializer.finish())
}
