//! The query string of the event routes, straight into
//! `tracker_runtime::query::params::parse_event_query` (fast: no store, no
//! HTTP). Same input format and seeds as `query` (see `common.rs`).
//!
//! Invariants (beyond "never panics"): an accepted query has
//! - `from <= to`, both in years 1970..=9999, both 27 characters in the
//!   store's sortable form (so string order is time order);
//! - a page position (from a `nextToken`, possibly forged) inside the
//!   window: `sortable(from) <= after < sortable(to)`, the only positions a
//!   store is asked to resume from;
//! - `1 <= limit <= 10000`; parameter names without empty path steps and as
//!   many values as names; `account`/`sessionName`/event names non-empty;
//! - the next-page URL (the same pairs, `from`/`to` made explicit as the
//!   `Link` header writes them, a token) parses back to the same query, with
//!   the same fingerprint and the token's position;
//! and a refused one says why (a non-empty message).
#![no_main]

mod common;

use chrono::{Datelike, SecondsFormat};
use libfuzzer_sys::fuzz_target;
use tracker_runtime::query::params::{fingerprint, parse_event_query};
use tracker_runtime::query::{MAX_LIMIT, Route, token};
use tracker_runtime::time::sortable;

use common::{clock, pairs_of, parse_input, route_of, split_target};

fuzz_target!(|data: &[u8]| {
    let input = parse_input(data);
    let (path, query) = split_target(&input.target);
    let route = route_of(path).unwrap_or(Route::Scan);
    let mut pairs = pairs_of(query);
    if let Some(after) = &input.after
        && let Some((_, token)) = common::forged_token(route.clone(), &pairs, after)
    {
        pairs.retain(|(k, _)| k != "nextToken");
        pairs.push(("nextToken".into(), token));
    }

    let parsed = match parse_event_query(route.clone(), &pairs, clock()) {
        Ok(parsed) => parsed,
        Err(refused) => {
            assert!(!refused.0.is_empty());
            return;
        }
    };
    if let Some(after) = &input.after {
        assert_eq!(
            parsed.after.as_ref(),
            Some(after),
            "a forged token's position"
        );
    }
    if let Some(after) = &parsed.after {
        assert!(
            sortable(&parsed.from) <= *after && *after < sortable(&parsed.to),
            "a page position outside the window: {after:?}"
        );
    }

    assert!(parsed.from <= parsed.to);
    for bound in [parsed.from, parsed.to] {
        assert!((1970..=9999).contains(&bound.year()), "{bound}");
        assert_eq!(sortable(&bound).len(), 27, "{bound}");
    }
    assert!(sortable(&parsed.from) <= sortable(&parsed.to));
    assert!((1..=MAX_LIMIT).contains(&parsed.limit));
    for (name, _) in &parsed.filters.params {
        assert!(
            !name.is_empty() && !name.split('.').any(str::is_empty),
            "{name:?}"
        );
    }
    assert!(parsed.filters.event_names.iter().all(|n| !n.is_empty()));
    assert!(
        parsed
            .filters
            .account
            .as_ref()
            .is_none_or(|a| !a.is_empty())
    );
    assert!(
        parsed
            .filters
            .session_name
            .as_ref()
            .is_none_or(|s| !s.is_empty())
    );

    // The next page, as `Link` spells it (runtime/src/api/link.rs).
    let mut next: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "from" | "to" | "nextToken"))
        .cloned()
        .collect();
    next.push((
        "from".into(),
        parsed.from.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ));
    next.push((
        "to".into(),
        parsed.to.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    ));
    let position = format!("{}#fuzz", sortable(&parsed.from));
    let position = position.as_str();
    let inside = position < sortable(&parsed.to).as_str();
    next.push((
        "nextToken".into(),
        token::encode(position, &fingerprint(&parsed)),
    ));
    // Through the URL encoding a client would use.
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &next {
        url.append_pair(k, v);
    }
    let next_pairs = pairs_of(&url.finish());
    let again = match parse_event_query(route, &next_pairs, clock()) {
        Ok(again) => again,
        // An empty window ([t, t)) has no position to resume from.
        Err(e) if !inside && e.0.contains("window") => return,
        Err(e) => panic!("the next page of an accepted query is refused: {e}"),
    };
    assert_eq!(again.after.as_deref(), Some(position));
    assert_eq!(fingerprint(&again), fingerprint(&parsed));
    let mut same = parsed.clone();
    same.after = again.after.clone();
    assert_eq!(again, same, "the next page asks the same query");
});
