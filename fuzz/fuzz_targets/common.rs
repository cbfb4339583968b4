//! The input format shared by the `query` and `query_params` targets, so
//! that they share seeds: text, one request per input.
//!
//! ```text
//! [METHOD ]/path?query          ← line 1: the request target (GET by default)
//! after                         ← line 2, optional: a page position
//! ```
//!
//! Line 1 is made a valid request target: a `/` is put in front when
//! missing, and bytes a URI cannot hold (controls, space, non-ASCII, `#`)
//! are percent-encoded, as any HTTP client would. `%` is kept, so malformed
//! escapes reach the server. When line 2 is present, the harness appends a
//! `nextToken` made for the query of line 1 that resumes after that
//! position: the fingerprint in a token is not secret, so any client can
//! forge one with an arbitrary position.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use tracker_runtime::query::params::{fingerprint, parse_event_query};
use tracker_runtime::query::{EventQuery, Route, token};

/// "Now" for every fuzzed request: within the examples' days, so the default
/// window (the last 7 days) finds events.
pub fn clock() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-08-03T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub struct Input {
    pub method: &'static str,
    /// A valid request target: `/path[?query]`.
    pub target: String,
    pub after: Option<String>,
}

pub fn parse_input(data: &[u8]) -> Input {
    let (line, after) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            &data[..i],
            Some(String::from_utf8_lossy(&data[i + 1..]).into_owned()),
        ),
        None => (data, None),
    };
    let mut method = "GET";
    let mut line = line;
    for candidate in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        if let Some(rest) = line
            .strip_prefix(candidate.as_bytes())
            .and_then(|r| r.strip_prefix(b" "))
        {
            method = candidate;
            line = rest;
            break;
        }
    }
    let mut target = String::with_capacity(line.len() + 1);
    if line.first() != Some(&b'/') {
        target.push('/');
    }
    for &b in line {
        if (0x21..=0x7e).contains(&b) && b != b'#' {
            target.push(b as char);
        } else {
            target.push_str(&format!("%{b:02X}"));
        }
    }
    Input {
        method,
        target,
        after,
    }
}

/// Splits a request target into its path and query.
pub fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// Percent-decodes a path (no `+` rule), as the router's `Path` extractor does.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The event route a path names, as the router would pick it (`None` for
/// the other routes).
pub fn route_of(path: &str) -> Option<Route> {
    let decoded = |rest: &str| String::from_utf8(percent_decode(rest)).ok();
    if path == "/scan" {
        Some(Route::Scan)
    } else if let Some(rest) = path.strip_prefix("/users/") {
        decoded(rest).map(Route::User)
    } else if let Some(rest) = path.strip_prefix("/services/") {
        decoded(rest).map(|s| Route::service(&s))
    } else {
        None
    }
}

pub fn pairs_of(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A `nextToken` for `query` (its `nextToken`, if any, left out) resuming
/// after `after`, or `None` when the query is refused anyway.
pub fn forged_token(
    route: Route,
    pairs: &[(String, String)],
    after: &str,
) -> Option<(EventQuery, String)> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "nextToken")
        .cloned()
        .collect();
    let query = parse_event_query(route, &pairs, clock()).ok()?;
    let token = token::encode(after, &fingerprint(&query));
    Some((query, token))
}

/// Known issues a run tolerates, so that fuzzing can go past them until they
/// are fixed: `TRACKER_FUZZ_KNOWN=dynamodb-keys,unreadable-records,dotted-names` (see
/// README.md for what each one is).
pub fn known(issue: &str) -> bool {
    static KNOWN: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        std::env::var("TRACKER_FUZZ_KNOWN")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    KNOWN.iter().any(|k| k == issue)
}
