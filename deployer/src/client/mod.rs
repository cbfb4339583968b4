//! The command-line client: `tracker events`, `stats`, `daily`, `users`,
//! `services` and `event` ask the query API — the deployed one (URL and key
//! from the stack, or SigV4 for `api.auth = "iam"`), any `--url`, or a local
//! database (`--db`) — with the routes' own filters, and print a table for
//! people or JSON for scripts. `tracker ui` ([`ui`]) serves the dashboard
//! on this machine for a deployed API.
//!
//! - [`source`]: where requests go (and what a refusal means);
//! - [`discover`]: the deployed API's URL, auth and key;
//! - [`http`], [`sigv4`]: the HTTP client and request signing;
//! - [`window`]: `--since`/`--from`/`--to`; [`output`]: tables and JSON.

pub mod discover;
pub mod http;
pub mod output;
pub mod sigv4;
pub mod source;
pub mod ui;
pub mod window;

use serde_json::Value;

use self::output::{Column, Format, Out, OutputArgs, table, terminal_width, text, thousands};
use self::source::{Api, SourceArgs};
use self::window::WindowArgs;
use crate::settings::Settings;

pub use self::ui::UiArgs;

/// The lookup filters every event and statistics route takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Event name, exact; a,b means either.
    #[arg(long, value_name = "NAME")]
    pub event_name: Option<String>,
    /// Full event source (ec2.amazonaws.com).
    #[arg(long, value_name = "SOURCE")]
    pub event_source: Option<String>,
    /// Only read-only calls (true) or only changes (false).
    #[arg(long, value_name = "BOOL")]
    pub read_only: Option<bool>,
    /// userIdentity.accessKeyId.
    #[arg(long, value_name = "KEY")]
    pub access_key_id: Option<String>,
    /// Error code, exact; `*` is any failed call.
    #[arg(long, value_name = "CODE")]
    pub error_code: Option<String>,
    /// sourceIPAddress.
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<String>,
    /// A resources[].ARN.
    #[arg(long, value_name = "ARN")]
    pub resource_name: Option<String>,
    /// A resources[].type (AWS::S3::Bucket).
    #[arg(long, value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// awsRegion.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// recipientAccountId (else userIdentity.accountId).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// The role session name of an assumed role.
    #[arg(long, value_name = "NAME")]
    pub session_name: Option<String>,
    /// A record field (requestParameters.instanceType, or a bare name); repeatable, paired with --value.
    #[arg(long, value_name = "NAME")]
    pub param: Vec<String>,
    /// The value of the --param at the same position.
    #[arg(long, value_name = "VALUE")]
    pub value: Vec<String>,
}

impl FilterArgs {
    fn params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        let read_only = self.read_only.map(|b| b.to_string());
        for (name, value) in [
            ("eventName", &self.event_name),
            ("eventSource", &self.event_source),
            ("readOnly", &read_only),
            ("accessKeyId", &self.access_key_id),
            ("errorCode", &self.error_code),
            ("sourceIPAddress", &self.source_ip),
            ("resourceName", &self.resource_name),
            ("resourceType", &self.resource_type),
            ("region", &self.region),
            ("account", &self.account),
            ("sessionName", &self.session_name),
        ] {
            if let Some(value) = value {
                params.push((name.to_owned(), value.clone()));
            }
        }
        params.extend(self.param.iter().map(|p| ("param".to_owned(), p.clone())));
        params.extend(self.value.iter().map(|v| ("value".to_owned(), v.clone())));
        params
    }
}

/// `--user` or `--service`: the scope of a query.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScopeArgs {
    /// Only one principal's events (as /users/{user}).
    #[arg(long, value_name = "PRINCIPAL", conflicts_with = "service")]
    pub user: Option<String>,
    /// Only one service's events: ec2 or ec2.amazonaws.com (as /services/{service}).
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
}

/// `tracker events`.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Only print how many events match.
    #[arg(long)]
    pub count: bool,
    /// Print at most N events (pages are fetched as needed) [default: all].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Events per request (the API's `limit`, 1-10000) [default: 1000, or --limit if smaller].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub page_size: Option<u64>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `tracker stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// What to count by: principal, service, eventName, eventSource, errorCode, sourceIPAddress,
    /// accessKeyId, region, account, readOnly, resourceName, resourceType, sessionName.
    #[arg(long, value_name = "KEY", required_unless_present = "daily")]
    pub by: Option<String>,
    /// How many of the most frequent to list (1-1000) [default: 10].
    #[arg(long, value_name = "N")]
    pub top: Option<u32>,
    /// Events per day instead (as `tracker daily`); with --by, per day and key.
    #[arg(long)]
    pub daily: bool,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `tracker daily`.
#[derive(Debug, Clone, clap::Args)]
pub struct DailyArgs {
    /// Split each day by this key (the top N keys), as `tracker stats --by`.
    #[arg(long, value_name = "KEY")]
    pub by: Option<String>,
    /// With --by: how many keys (1-1000) [default: 10].
    #[arg(long, value_name = "N", requires = "by")]
    pub top: Option<u32>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `tracker users`, `tracker services`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `tracker event`.
#[derive(Debug, Clone, clap::Args)]
pub struct EventArgs {
    /// The eventID.
    pub event_id: String,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// A path segment or query value, percent-encoded (a space as %20).
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn with_query(path: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{path}?{query}")
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// `tracker events`: every page (or up to --limit), printed as it comes
/// for JSON and NDJSON, as one table otherwise.
pub async fn events(settings: &Settings, args: &EventsArgs) -> anyhow::Result<()> {
    let api = Api::open(settings, &args.source).await?;
    let path = match (&args.scope.user, &args.scope.service) {
        (Some(user), _) => format!("/users/{}", encode(user)),
        (None, Some(service)) => format!("/services/{}", encode(service)),
        (None, None) => "/scan".to_owned(),
    };
    let mut params = args.window.params(now());
    params.extend(args.filters.params());
    let mut out = Out::new();
    if args.count {
        params.push(("count".into(), "true".into()));
        let (count, _) = api.get_json(&with_query(&path, &params)).await?;
        out.line(&count.to_string())?;
        return Ok(out.finish()?);
    }
    let limit = args.limit.unwrap_or(u64::MAX);
    let page_size = args.page_size.unwrap_or(1000).min(limit);
    params.push(("limit".into(), page_size.to_string()));
    let format = args.output.format();
    let mut next = Some(with_query(&path, &params));
    let mut shown: u64 = 0;
    let mut rows = Vec::new();
    let mut more = false;
    if format == Format::Json {
        out.write("[")?;
    }
    'pages: while let Some(page) = next.take() {
        let (body, following) = api.get_json(&page).await?;
        let events = body.as_array().cloned().unwrap_or_default();
        for (i, event) in events.iter().enumerate() {
            let open = match format {
                Format::Json => {
                    out.write(if shown == 0 { "\n" } else { ",\n" })?
                        && out.write(&serde_json::to_string(event)?)?
                }
                Format::Ndjson => out.line(&serde_json::to_string(event)?)?,
                Format::Table => {
                    rows.push(event_row(event));
                    true
                }
            };
            if !open {
                return Ok(());
            }
            shown += 1;
            if shown == limit && (i + 1 < events.len() || following.is_some()) {
                more = true;
                break 'pages;
            }
        }
        next = following;
    }
    match format {
        Format::Json => {
            out.write(if shown == 0 { "]\n" } else { "\n]\n" })?;
        }
        Format::Ndjson => {}
        Format::Table => {
            if rows.is_empty() {
                eprintln!(
                    "no events match in {} (the window defaults to the last 7 days: try --since 90d or --from)",
                    api.describe()
                );
            } else {
                out.write(&table(&EVENT_COLUMNS, &rows, terminal_width()))?;
                eprintln!(
                    "{} event(s){}",
                    thousands(shown),
                    if more {
                        "; more match (raise --limit, or narrow the window or the filters)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(out.finish()?)
}

const EVENT_COLUMNS: [Column; 7] = [
    Column::left("TIME (UTC)", 19),
    Column::left("PRINCIPAL", 40),
    Column::left("EVENT", 40),
    Column::left("SERVICE", 24),
    Column::left("SOURCE IP", 39),
    Column::left("REGION", 24),
    Column::left("ERROR", 40),
];

fn event_row(event: &Value) -> Vec<String> {
    let time = text(event, "eventTime").replace('T', " ");
    let time = time
        .split_once('.')
        .map_or(time.trim_end_matches('Z'), |(head, _)| head)
        .to_owned();
    let source = text(event, "eventSource");
    vec![
        time,
        text(event, "userIdentity_userName"),
        text(event, "eventName"),
        source.trim_end_matches(".amazonaws.com").to_owned(),
        text(event, "sourceIPAddress"),
        text(event, "awsRegion"),
        text(event, "errorCode"),
    ]
}

fn scoped(scope: &ScopeArgs, window: &WindowArgs, filters: &FilterArgs) -> Vec<(String, String)> {
    let mut params = window.params(now());
    if let Some(user) = &scope.user {
        params.push(("user".into(), user.clone()));
    }
    if let Some(service) = &scope.service {
        params.push(("service".into(), service.clone()));
    }
    params.extend(filters.params());
    params
}

/// `tracker stats`: the top keys with their counts and share of the events.
pub async fn stats(settings: &Settings, args: &StatsArgs) -> anyhow::Result<()> {
    if args.daily {
        let daily = DailyArgs {
            by: args.by.clone(),
            top: args.top,
            scope: args.scope.clone(),
            filters: args.filters.clone(),
            window: args.window.clone(),
            output: args.output,
            source: args.source.clone(),
        };
        return self::daily(settings, &daily).await;
    }
    let api = Api::open(settings, &args.source).await?;
    let mut params = scoped(&args.scope, &args.window, &args.filters);
    let by = args.by.clone().unwrap_or_default();
    params.push(("by".into(), by.clone()));
    if let Some(top) = args.top {
        params.push(("top".into(), top.to_string()));
    }
    let (body, _) = api.get_json(&with_query("/stats", &params)).await?;
    let items = body["items"].as_array().cloned().unwrap_or_default();
    let total = body["total"].as_u64().unwrap_or(0);
    let mut out = Out::new();
    match args.output.format() {
        Format::Json => {
            out.line(&serde_json::to_string_pretty(&body)?)?;
        }
        Format::Ndjson => {
            for item in &items {
                if !out.line(&serde_json::to_string(item)?)? {
                    break;
                }
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| {
                    let count = item["count"].as_u64().unwrap_or(0);
                    vec![
                        text(item, "key"),
                        thousands(count),
                        format!("{:.1}%", 100.0 * count as f64 / total.max(1) as f64),
                    ]
                })
                .collect();
            let columns = [
                Column::left("KEY", 60),
                Column::right("EVENTS"),
                Column::right("SHARE"),
            ];
            out.write(&table(&columns, &rows, terminal_width()))?;
            eprintln!(
                "{} event(s) in the window, {} distinct value(s) of {by}; {} shown",
                thousands(total),
                thousands(body["distinct"].as_u64().unwrap_or(0)),
                items.len()
            );
        }
    }
    Ok(out.finish()?)
}

/// `tracker daily`: events per day (with --by, per day and key), with a bar.
pub async fn daily(settings: &Settings, args: &DailyArgs) -> anyhow::Result<()> {
    let api = Api::open(settings, &args.source).await?;
    let mut params = scoped(&args.scope, &args.window, &args.filters);
    if let Some(by) = &args.by {
        params.push(("by".into(), by.clone()));
    }
    if let Some(top) = args.top {
        params.push(("top".into(), top.to_string()));
    }
    let (body, _) = api.get_json(&with_query("/stats/daily", &params)).await?;
    let mut out = Out::new();
    let day_rows = |days: &Value, key: Option<&str>| -> Vec<(String, Option<String>, u64)> {
        days.as_array()
            .map(|days| {
                days.iter()
                    .map(|d| {
                        (
                            text(d, "day"),
                            key.map(str::to_owned),
                            d["count"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    match body["series"].as_array() {
        Some(series) => {
            for s in series {
                rows.extend(day_rows(&s["days"], Some(&text(s, "key"))));
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
        }
        None => rows = day_rows(&body["days"], None),
    }
    match args.output.format() {
        Format::Json => {
            out.line(&serde_json::to_string_pretty(&body)?)?;
        }
        Format::Ndjson => {
            for (day, key, count) in &rows {
                let line = match key {
                    Some(key) => serde_json::json!({"day": day, "key": key, "count": count}),
                    None => serde_json::json!({"day": day, "count": count}),
                };
                if !out.line(&line.to_string())? {
                    break;
                }
            }
        }
        Format::Table => {
            let max = rows.iter().map(|r| r.2).max().unwrap_or(1).max(1);
            let bar = |n: u64| "█".repeat(((n * 40).div_ceil(max)) as usize);
            let (columns, table_rows): (Vec<Column>, Vec<Vec<String>>) = match &args.by {
                Some(_) => (
                    vec![
                        Column::left("DAY", 10),
                        Column::left("KEY", 50),
                        Column::right("EVENTS"),
                        Column::left("", 40),
                    ],
                    rows.iter()
                        .map(|(d, k, n)| {
                            vec![
                                d.clone(),
                                k.clone().unwrap_or_default(),
                                thousands(*n),
                                bar(*n),
                            ]
                        })
                        .collect(),
                ),
                None => (
                    vec![
                        Column::left("DAY", 10),
                        Column::right("EVENTS"),
                        Column::left("", 40),
                    ],
                    rows.iter()
                        .map(|(d, _, n)| vec![d.clone(), thousands(*n), bar(*n)])
                        .collect(),
                ),
            };
            if table_rows.is_empty() {
                eprintln!(
                    "no events in the window in {} (it defaults to the last 7 days: try --since 90d or --from)",
                    api.describe()
                );
            } else {
                out.write(&table(&columns, &table_rows, terminal_width()))?;
            }
        }
    }
    Ok(out.finish()?)
}

/// `tracker users` / `tracker services`: one name a line.
pub async fn list(settings: &Settings, args: &ListArgs, route: &str) -> anyhow::Result<()> {
    let api = Api::open(settings, &args.source).await?;
    let (body, _) = api.get_json(route).await?;
    let mut out = Out::new();
    match args.output.format() {
        Format::Json => {
            out.line(&serde_json::to_string_pretty(&body)?)?;
        }
        format => {
            for name in body.as_array().into_iter().flatten() {
                let line = match format {
                    Format::Ndjson => name.to_string(),
                    _ => name.as_str().unwrap_or_default().to_owned(),
                };
                if !out.line(&line)? {
                    break;
                }
            }
        }
    }
    Ok(out.finish()?)
}

/// `tracker event ID`: the full record, as stored (secrets redacted).
pub async fn event(settings: &Settings, args: &EventArgs) -> anyhow::Result<()> {
    let api = Api::open(settings, &args.source).await?;
    let (body, _) = api
        .get_json(&format!("/events/{}", encode(&args.event_id)))
        .await?;
    let mut out = Out::new();
    out.line(&serde_json::to_string_pretty(&body)?)?;
    Ok(out.finish()?)
}
