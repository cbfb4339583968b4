//! The query strings of the event and statistics routes, parsed and
//! validated: every mistake becomes a [`BadRequest`] that names the
//! parameter and says what to fix.
//!
//! Common to every route:
//! - `from`, `to`: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` with an optional
//!   fraction and `Z` or an offset (no zone means UTC). The window is
//!   `[from, to)`; a date-only `to` includes that whole day. Defaults: the
//!   last 7 days, today included.
//! - lookups, ANDed: `eventName` (exact; `a,b` means either), `eventSource`
//!   (full name), `readOnly` (`true`/`false`), `accessKeyId`, `errorCode`
//!   (exact, or `*` for any failed call), `sourceIPAddress`, `resourceName`,
//!   `resourceType`, `region`, `account`, `sessionName`;
//! - `param`/`params` with `value`/`values`: `['a','b']` or `a,b`; pairs ANDed.
//!
//! Event routes add `count=true`, `limit` (1..=10000, default 1000) and
//! `nextToken`; statistics add `by`, `top`, and `user`/`service` to narrow
//! the scope as `/users/{user}` and `/services/{service}` do.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Utc};

use super::filter::{Filters, Term, Wanted};
use super::{DEFAULT_LIMIT, MAX_LIMIT, token};
use crate::alert::Level;
use crate::attribute::Attribute;
use crate::cloudtrail::service_name;
use crate::time;

/// A request the API refuses, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// Which events a route reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/users/{user}`: one principal.
    User(String),
    /// `/services/{service}`: one service, short name (`ec2`).
    Service(String),
    /// `/scan`: everything.
    Scan,
}

impl Route {
    /// A service route; accepts `ec2` or `ec2.amazonaws.com`.
    pub fn service(name: &str) -> Route {
        Route::Service(service_name(name).to_owned())
    }

    /// The route as a lookup term (none for `/scan`).
    pub fn term(&self) -> Option<Term> {
        match self {
            Route::User(user) => Some(Term::equals(Attribute::Principal, user.clone())),
            Route::Service(service) => Some(Term::equals(Attribute::Service, service.clone())),
            Route::Scan => None,
        }
    }
}

/// A validated event query.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    pub route: Route,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub filters: Filters,
    pub count: bool,
    pub limit: usize,
    /// Where the previous page stopped (from `nextToken`).
    pub after: Option<String>,
}

/// A validated statistics query (`/stats`, `/stats/daily`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsQuery {
    /// `Scan`, or one user or service (`user=`, `service=`).
    pub route: Route,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub filters: Filters,
    /// The attribute to group by: required by `/stats`, optional for `/stats/daily`.
    pub by: Option<Attribute>,
    /// How many keys to return (1..=[`MAX_TOP`]).
    pub top: usize,
}

/// The default and largest `top` of a statistics query.
pub const DEFAULT_TOP: usize = 10;
pub const MAX_TOP: usize = 1000;

/// The lookup parameters and the attribute each filters on.
const LOOKUPS: &[(&str, Attribute)] = &[
    ("eventName", Attribute::EventName),
    ("eventSource", Attribute::EventSource),
    ("readOnly", Attribute::ReadOnly),
    ("accessKeyId", Attribute::AccessKeyId),
    ("errorCode", Attribute::ErrorCode),
    ("sourceIPAddress", Attribute::SourceIpAddress),
    ("resourceName", Attribute::ResourceName),
    ("resourceType", Attribute::ResourceType),
    ("region", Attribute::Region),
    ("account", Attribute::Account),
    ("sessionName", Attribute::SessionName),
];

const COMMON: &[&str] = &["from", "to", "param", "params", "value", "values"];
const EVENT_ONLY: &[&str] = &["count", "limit", "nextToken"];
const STATS_ONLY: &[&str] = &["by", "top", "user", "service"];

/// The query-string pairs of one request, with the checks every route shares.
struct Pairs<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Pairs<'a> {
    /// Refuses any parameter the route does not know (a typo is caught, not ignored).
    fn new(pairs: &'a [(String, String)], extra: &[&str]) -> Result<Pairs<'a>, BadRequest> {
        let known = |k: &str| {
            COMMON.contains(&k) || extra.contains(&k) || LOOKUPS.iter().any(|(n, _)| *n == k)
        };
        if let Some((unknown, _)) = pairs.iter().find(|(k, _)| !known(k)) {
            let mut all: Vec<&str> = COMMON.to_vec();
            all.extend(LOOKUPS.iter().map(|(n, _)| *n));
            all.extend(extra);
            return Err(BadRequest(format!(
                "unknown query parameter `{unknown}`; this route accepts: {}",
                all.join(", ")
            )));
        }
        Ok(Pairs { pairs })
    }

    /// The value of a parameter given at most once.
    fn single(&self, name: &str) -> Result<Option<&'a str>, BadRequest> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(BadRequest(format!(
                "`{name}` is given more than once; give it once"
            )));
        }
        Ok(first)
    }

    /// A parameter that, when given, must not be empty.
    fn non_empty(&self, name: &str) -> Result<Option<&'a str>, BadRequest> {
        match self.single(name)? {
            Some(v) if v.trim().is_empty() => Err(BadRequest(format!(
                "`{name}` is empty; give a value or leave it out"
            ))),
            other => Ok(other),
        }
    }

    /// Every item of the lists given under any of `names`.
    fn list(&self, names: &[&str]) -> Result<Vec<String>, BadRequest> {
        let mut all = Vec::new();
        for (_, value) in self
            .pairs
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
        {
            all.extend(parse_list(value).map_err(|e| BadRequest(format!("`{}`: {e}", names[0])))?);
        }
        Ok(all)
    }

    /// `[from, to)`, defaulting to the last 7 days (today included).
    fn window(&self, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), BadRequest> {
        let today = now.date_naive();
        let from = match self.single("from")? {
            Some(text) => parse_bound(text, Bound::From)?,
            None => time::start_of_day(today - Days::new(6)),
        };
        let to = match self.single("to")? {
            Some(text) => parse_bound(text, Bound::To)?,
            None => time::start_of_day(today + Days::new(1)),
        };
        if from > to {
            return Err(BadRequest(format!(
                "`from` ({}) is after `to` ({}); the window is [from, to)",
                from.to_rfc3339(),
                to.to_rfc3339()
            )));
        }
        Ok((from, to))
    }

    /// The lookup terms and `param`/`value` pairs.
    fn filters(&self) -> Result<Filters, BadRequest> {
        // API Gateway hands a Lambda each name's values separately: a mix of
        // spellings could pair a name of one with a value of the other.
        let given = |name: &str| self.pairs.iter().any(|(k, _)| k == name);
        for (one, other) in [("param", "params"), ("value", "values")] {
            if given(one) && given(other) {
                return Err(BadRequest(format!(
                    "`{one}` and `{other}` are both given; use one spelling (lists go in one of them: `{one}=a,b`)"
                )));
            }
        }
        let names = self.list(&["param", "params"])?;
        let values = self.list(&["value", "values"])?;
        if names.len() != values.len() {
            return Err(BadRequest(format!(
                "{} parameter name(s) but {} value(s): `param` and `value` are pairs, give as many of each",
                names.len(),
                values.len()
            )));
        }
        if let Some(blank) = names
            .iter()
            .find(|n| n.is_empty() || n.split('.').any(str::is_empty))
        {
            return Err(BadRequest(format!(
                "parameter name `{blank}` is empty or has an empty path step"
            )));
        }
        let mut terms = Vec::new();
        for (name, attribute) in LOOKUPS {
            let Some(text) = self.non_empty(name)? else {
                continue;
            };
            let wanted = match attribute {
                Attribute::EventName => {
                    let names: Vec<String> = parse_list(text)
                        .map_err(|e| BadRequest(format!("`eventName`: {e}")))?
                        .into_iter()
                        .filter(|n| !n.is_empty())
                        .collect();
                    if names.is_empty() {
                        continue;
                    }
                    Wanted::AnyOf(names)
                }
                Attribute::ReadOnly => match text.to_ascii_lowercase().as_str() {
                    v @ ("true" | "false") => Wanted::AnyOf(vec![v.to_owned()]),
                    _ => {
                        return Err(BadRequest(format!(
                            "`readOnly` must be true or false, not `{text}`"
                        )));
                    }
                },
                Attribute::ErrorCode if text == "*" => Wanted::Present,
                _ => Wanted::AnyOf(vec![text.to_owned()]),
            };
            terms.push(Term {
                attribute: *attribute,
                wanted,
            });
        }
        terms.sort();
        Ok(Filters {
            terms,
            params: names.into_iter().zip(values).collect(),
        })
    }
}

/// Parses the query-string pairs of an event route. `now` fixes the default window.
pub fn parse_event_query(
    route: Route,
    pairs: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<EventQuery, BadRequest> {
    let pairs = Pairs::new(pairs, EVENT_ONLY)?;
    let (from, to) = pairs.window(now)?;
    let filters = pairs.filters()?;
    let count = match pairs
        .single("count")?
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(BadRequest(format!(
                "`count` must be true or false, not `{other}`"
            )));
        }
    };
    let limit = match pairs.single("limit")? {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(BadRequest(format!(
                    "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{text}`"
                )));
            }
        },
    };
    let mut query = EventQuery {
        route,
        from,
        to,
        filters,
        count,
        limit,
        after: None,
    };
    if let Some(text) = pairs.single("nextToken")? {
        let after = token::decode(text, &fingerprint(&query))?;
        // A token this API issued resumes inside its window; the fingerprint
        // is no secret, so a forged one may not, and DynamoDB answers a range
        // read from outside the window (an empty bound, or bounds reversed)
        // with a ValidationException: refused here as the client's mistake.
        if !(time::sortable(&query.from) <= after && after < time::sortable(&query.to)) {
            return Err(BadRequest(
                "`nextToken` does not point inside this query's window: repeat the same route, from, to and filters, or drop the token".into(),
            ));
        }
        query.after = Some(after);
    }
    Ok(query)
}

/// Parses the query-string pairs of `/stats` (`daily == false`: `by` is
/// required) or `/stats/daily` (`by` optional).
pub fn parse_stats_query(
    pairs: &[(String, String)],
    now: DateTime<Utc>,
    daily: bool,
) -> Result<StatsQuery, BadRequest> {
    let pairs = Pairs::new(pairs, STATS_ONLY)?;
    let (from, to) = pairs.window(now)?;
    let filters = pairs.filters()?;
    let keys = || {
        Attribute::ALL
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let by = match pairs.non_empty("by")? {
        Some(name) => Some(Attribute::from_name(name).ok_or_else(|| {
            BadRequest(format!(
                "`by` = `{name}` is not a key; use one of {}",
                keys()
            ))
        })?),
        None if daily => None,
        None => {
            return Err(BadRequest(format!(
                "`by` is missing: say what to count by, one of {}",
                keys()
            )));
        }
    };
    let top = match pairs.single("top")? {
        None => DEFAULT_TOP,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_TOP).contains(&n) => n,
            _ => {
                return Err(BadRequest(format!(
                    "`top` must be a whole number from 1 to {MAX_TOP}, not `{text}`"
                )));
            }
        },
    };
    let route = match (pairs.non_empty("user")?, pairs.non_empty("service")?) {
        (Some(_), Some(_)) => {
            return Err(BadRequest(
                "give `user` or `service`, not both (filter the other with `eventSource`)".into(),
            ));
        }
        (Some(user), None) => Route::User(user.to_owned()),
        (None, Some(service)) => Route::service(service),
        (None, None) => Route::Scan,
    };
    Ok(StatsQuery {
        route,
        from,
        to,
        filters,
        by,
        top,
    })
}

/// A validated `/alerts` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Only this rule's alerts (its Sigma `id`).
    pub rule: Option<String>,
    /// Only alerts of this level or a more severe one.
    pub level: Option<Level>,
    pub limit: usize,
    /// Where the previous page stopped (an alert's sort key, from `nextToken`).
    pub after: Option<String>,
}

const ALERT_PARAMETERS: &[&str] = &["from", "to", "rule", "level", "limit", "nextToken"];

/// Parses the query string of `/alerts`: `from`/`to` as on every route,
/// `rule` (a rule's `id`, exact), `level` (a minimum: `high` means high and
/// critical), `limit` and `nextToken` as on the event routes.
pub fn parse_alert_query(
    pairs: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<AlertQuery, BadRequest> {
    if let Some((unknown, _)) = pairs
        .iter()
        .find(|(k, _)| !ALERT_PARAMETERS.contains(&k.as_str()))
    {
        return Err(BadRequest(format!(
            "unknown query parameter `{unknown}`; /alerts accepts: {}",
            ALERT_PARAMETERS.join(", ")
        )));
    }
    let pairs = Pairs { pairs };
    let (from, to) = pairs.window(now)?;
    let rule = pairs.non_empty("rule")?.map(|r| r.trim().to_owned());
    let level = match pairs.non_empty("level")? {
        None => None,
        Some(text) => Some(Level::from_name(text).ok_or_else(|| {
            BadRequest(format!(
                "`level` = `{text}` is not a Sigma level; use one of {} (alerts of that level or above)",
                Level::ALL.map(Level::name).join(", ")
            ))
        })?),
    };
    let limit = parse_limit(pairs.single("limit")?, DEFAULT_LIMIT)?;
    let mut query = AlertQuery {
        from,
        to,
        rule,
        level,
        limit,
        after: None,
    };
    if let Some(text) = pairs.single("nextToken")? {
        let after = token::decode(text, &alert_fingerprint(&query))?;
        if !(time::sortable(&query.from) <= after && after < time::sortable(&query.to)) {
            return Err(BadRequest(
                "`nextToken` does not point inside this query's window: repeat the same from, to, rule and level, or drop the token".into(),
            ));
        }
        query.after = Some(after);
    }
    Ok(query)
}

/// Identifies an `/alerts` query's window and filters (not its page size).
pub fn alert_fingerprint(query: &AlertQuery) -> String {
    let canonical = serde_json::json!([
        "alerts",
        time::sortable(&query.from),
        time::sortable(&query.to),
        query.rule,
        query.level.map(Level::name),
    ]);
    crate::digest::sha256_hex(&canonical.to_string(), 8)
}

/// `limit`: 1..=[`MAX_LIMIT`], `default` when not given.
fn parse_limit(text: Option<&str>, default: usize) -> Result<usize, BadRequest> {
    match text {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(BadRequest(format!(
                "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{text}`"
            ))),
        },
    }
}

/// A page of a list route (`/users`, `/services`, `/parameters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: usize,
    /// The last value of the previous page.
    pub after: Option<String>,
}

/// Parses the query string of a list route: `limit` (1..=10000, default
/// 10000) and `nextToken`; `list` names the list (a token is refused on another).
pub fn parse_list_query(pairs: &[(String, String)], list: &str) -> Result<ListQuery, BadRequest> {
    if let Some((unknown, _)) = pairs.iter().find(|(k, _)| k != "limit" && k != "nextToken") {
        return Err(BadRequest(format!(
            "unknown query parameter `{unknown}`; the list routes accept: limit, nextToken"
        )));
    }
    let pairs = Pairs { pairs };
    let limit = match pairs.single("limit")? {
        None => MAX_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(BadRequest(format!(
                    "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{text}`"
                )));
            }
        },
    };
    let after = pairs
        .single("nextToken")?
        .map(|text| token::decode(text, list))
        .transpose()?;
    Ok(ListQuery { limit, after })
}

/// Identifies a query's route, window and filters (not its page size).
pub fn fingerprint(query: &EventQuery) -> String {
    let terms: Vec<String> = query
        .filters
        .terms
        .iter()
        .map(|t| format!("{:?}", t))
        .collect();
    let canonical = serde_json::json!([
        format!("{:?}", query.route),
        time::sortable(&query.from),
        time::sortable(&query.to),
        terms,
        query.filters.params,
    ]);
    crate::digest::sha256_hex(&canonical.to_string(), 8)
}

#[derive(Clone, Copy, PartialEq)]
enum Bound {
    From,
    To,
}

fn parse_bound(text: &str, bound: Bound) -> Result<DateTime<Utc>, BadRequest> {
    let name = if bound == Bound::From { "from" } else { "to" };
    let text = text.trim();
    let bad = || {
        BadRequest(format!(
            "`{name}` = `{text}` is not a date or time; use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM] \
             (encode `+` as %2B in a URL)"
        ))
    };
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let date = if bound == Bound::To {
            date.checked_add_days(Days::new(1)).ok_or_else(bad)?
        } else {
            date
        };
        return checked(time::start_of_day(date), name);
    }
    if !text.contains('T') {
        return Err(bad());
    }
    // A `+` in an offset arrives as a space when the client did not encode it.
    let repaired;
    let text = if text.len() > 6 && text.as_bytes()[text.len() - 6] == b' ' {
        repaired = format!("{}+{}", &text[..text.len() - 6], &text[text.len() - 5..]);
        repaired.as_str()
    } else {
        text
    };
    if let Ok(with_zone) = DateTime::parse_from_rfc3339(text) {
        return checked(with_zone.with_timezone(&Utc), name);
    }
    match NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        Ok(naive) => checked(naive.and_utc(), name),
        Err(_) => Err(bad()),
    }
}

fn checked(instant: DateTime<Utc>, name: &str) -> Result<DateTime<Utc>, BadRequest> {
    use chrono::Datelike;
    if (1970..=9999).contains(&instant.year()) {
        Ok(instant)
    } else {
        Err(BadRequest(format!(
            "`{name}` must be between 1970 and 9999"
        )))
    }
}

/// `['a','b']`, `["a", "b"]`, `[a,b]` or `a,b` → `a`, `b`.
fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim();
    let inner = match (trimmed.starts_with('['), trimmed.ends_with(']')) {
        (true, true) if trimmed.len() >= 2 => &trimmed[1..trimmed.len() - 1],
        (false, false) => trimmed,
        _ => return Err(format!("unbalanced brackets in `{text}`")),
    };
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut was_quoted = false;
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') if current.trim().is_empty() => {
                current.clear();
                quote = Some(c);
                was_quoted = true;
            }
            (None, ',') => {
                items.push(finish(&mut current, &mut was_quoted));
            }
            (None, c) => current.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unclosed quote in `{text}`"));
    }
    if !inner.trim().is_empty() || was_quoted {
        items.push(finish(&mut current, &mut was_quoted));
    }
    Ok(items)
}

fn finish(current: &mut String, was_quoted: &mut bool) -> String {
    let item = if *was_quoted {
        current.clone()
    } else {
        current.trim().to_owned()
    };
    current.clear();
    *was_quoted = false;
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn parse(query: &str) -> Result<EventQuery, BadRequest> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        parse_event_query(Route::Scan, &pairs, now())
    }

    #[test]
    fn lists_in_both_spellings() {
        assert_eq!(parse_list("['a','b']").unwrap(), ["a", "b"]);
        assert_eq!(parse_list(r#"["a, x", "b"]"#).unwrap(), ["a, x", "b"]);
        assert_eq!(parse_list("a, b").unwrap(), ["a", "b"]);
        assert_eq!(parse_list("[a,b]").unwrap(), ["a", "b"]);
        assert_eq!(parse_list("['']").unwrap(), [""]);
        assert!(parse_list("['a").is_err());
        assert!(parse_list("[a").is_err());
    }

    #[test]
    fn windows_and_defaults() {
        let q = parse("").unwrap();
        assert_eq!(q.from.to_rfc3339(), "2024-03-04T00:00:00+00:00");
        assert_eq!(q.to.to_rfc3339(), "2024-03-11T00:00:00+00:00");
        let q = parse("from=2024-01-01&to=2024-01-01").unwrap();
        assert_eq!(
            q.to.to_rfc3339(),
            "2024-01-02T00:00:00+00:00",
            "a date-only `to` includes the day"
        );
        let q = parse("from=2024-01-01T10:00:00&to=2024-01-01T12:00:00.5%2B01:00").unwrap();
        assert_eq!(q.from.to_rfc3339(), "2024-01-01T10:00:00+00:00");
        assert_eq!(q.to.to_rfc3339(), "2024-01-01T11:00:00.500+00:00");
        let q = parse("from=2024-01-01T10:00:00+01:00").unwrap();
        assert_eq!(
            q.from.to_rfc3339(),
            "2024-01-01T09:00:00+00:00",
            "an unencoded + is repaired"
        );
    }

    #[test]
    fn filters_and_paging() {
        let q = parse("params=['instanceType','eventSource']&value=t2.micro,ec2.amazonaws.com&eventName=RunInstances,StartInstances&count=True&limit=5").unwrap();
        assert_eq!(
            q.filters.params,
            vec![
                ("instanceType".to_owned(), "t2.micro".to_owned()),
                ("eventSource".to_owned(), "ec2.amazonaws.com".to_owned())
            ]
        );
        assert_eq!(
            q.filters.terms,
            [Term {
                attribute: Attribute::EventName,
                wanted: Wanted::AnyOf(vec!["RunInstances".into(), "StartInstances".into()])
            }]
        );
        assert!(q.count);
        assert_eq!(q.limit, 5);
        let position = "2024-03-05T00:00:00.000000Z#e";
        let token = token::encode(position, &fingerprint(&q));
        let again = parse(&format!("params=['instanceType','eventSource']&value=t2.micro,ec2.amazonaws.com&eventName=RunInstances,StartInstances&nextToken={token}")).unwrap();
        assert_eq!(again.after.as_deref(), Some(position));
    }

    #[test]
    fn a_forged_token_outside_the_window_is_refused() {
        // Found by fuzzing (fuzz/README.md): the fingerprint is no secret, and
        // DynamoDB refuses an empty or reversed range bound (a 500).
        let q = parse("from=2024-01-01&to=2024-01-02").unwrap();
        for position in [
            "",
            "x",
            "2023-12-31T23:59:59.999999Z#e",
            // `to` names a whole day: the window ends at the next midnight.
            "2024-01-03T00:00:00.000000Z",
            "2024-01-03T00:00:00.000000Z#e",
        ] {
            let token = token::encode(position, &fingerprint(&q));
            let error = parse(&format!("from=2024-01-01&to=2024-01-02&nextToken={token}"))
                .expect_err(position);
            assert!(error.0.contains("window"), "{position:?}: {}", error.0);
        }
        for position in [
            "2024-01-01T00:00:00.000000Z",
            "2024-01-01T00:00:00.000000Z#e",
            "2024-01-02T23:59:59.999999Z#e",
        ] {
            let token = token::encode(position, &fingerprint(&q));
            let q = parse(&format!("from=2024-01-01&to=2024-01-02&nextToken={token}")).unwrap();
            assert_eq!(q.after.as_deref(), Some(position));
        }
    }

    fn parse_alerts(query: &str) -> Result<AlertQuery, BadRequest> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        parse_alert_query(&pairs, now())
    }

    #[test]
    fn alert_queries() {
        let q = parse_alerts("").unwrap();
        assert_eq!(q.from.to_rfc3339(), "2024-03-04T00:00:00+00:00");
        assert_eq!((q.rule, q.level, q.limit), (None, None, DEFAULT_LIMIT));
        let q = parse_alerts("from=2024-01-01&to=2024-01-31&rule=r-1&level=High&limit=5").unwrap();
        assert_eq!(q.rule.as_deref(), Some("r-1"));
        assert_eq!(q.level, Some(Level::High));
        assert_eq!(q.limit, 5);
        let position = "2024-01-05T00:00:00.000000Z#e#r-1";
        let token = token::encode(position, &alert_fingerprint(&q));
        let again = parse_alerts(&format!(
            "from=2024-01-01&to=2024-01-31&rule=r-1&level=high&nextToken={token}"
        ))
        .unwrap();
        assert_eq!(again.after.as_deref(), Some(position));
        for (query, needle) in [
            (
                format!("from=2024-01-01&to=2024-01-31&level=high&nextToken={token}"),
                "different query",
            ),
            ("level=severe".into(), "`level`"),
            ("level=".into(), "empty"),
            ("rule=".into(), "empty"),
            ("limit=0".into(), "`limit`"),
            ("eventName=x".into(), "unknown query parameter `eventName`"),
            ("from=2024-02-01&to=2024-01-01".into(), "after"),
            ("to=soon".into(), "`to`"),
        ] {
            let error = parse_alerts(&query).expect_err(&query);
            assert!(error.0.contains(needle), "{query}: {}", error.0);
        }
    }

    #[test]
    fn bad_input_says_what_to_fix() {
        for (query, needle) in [
            ("from=yesterday", "`from`"),
            ("to=2024-13-01", "`to`"),
            ("from=2024-02-01&to=2024-01-01", "after"),
            ("param=a&value=1,2", "pairs"),
            ("limit=0", "`limit`"),
            ("limit=10001", "`limit`"),
            ("limit=ten", "`limit`"),
            ("count=maybe", "`count`"),
            ("nextToken=zzz", "nextToken"),
            ("frm=2024-01-01", "unknown query parameter `frm`"),
            ("from=2024-01-01&from=2024-01-02", "more than once"),
            ("param=a.&value=1", "empty"),
            ("account=", "empty"),
            ("param=a&params=b&value=1,2", "one spelling"),
            ("param=a&value=1&values=2", "one spelling"),
        ] {
            let error = parse(query).expect_err(query);
            assert!(error.0.contains(needle), "{query}: {}", error.0);
        }
    }
}
