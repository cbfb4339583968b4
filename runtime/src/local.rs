//! Local mode (`tracker serve`): CloudTrail logs in folders are ingested into
//! the embedded store through the Lambda's pipeline, then the very same router
//! is served over plain HTTP. Loopback by default; any other address needs
//! an API key, checked exactly as API Gateway does (header `x-api-key`) on
//! every data route; the dashboard's page and assets load without it (the
//! page asks for the key). The detection rules are loaded first: an unusable
//! rule stops it before anything is read (unless told to skip such rules),
//! and what they find while ingesting is listed by `GET /alerts`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::api::{self, ApiError, ApiState};
use crate::ingest::rules::{RuleSet, RulesOptions};
use crate::ingest::{FolderOptions, Ingestor, Pipeline, ingest_folder};
use crate::store::{CatalogKind, EmbeddedStore, EventStore};

/// What `tracker serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub logs: Vec<PathBuf>,
    pub db: PathBuf,
    pub listen: SocketAddr,
    pub api_key: Option<String>,
    /// Its rules are those of `rules`, loaded at start.
    pub pipeline: Pipeline,
    /// The detection rules to evaluate on what is ingested.
    pub rules: RulesOptions,
    pub concurrency: usize,
    /// Memory for the database's page cache, and as much for rollups.
    pub cache_bytes: usize,
}

/// Refuses to expose the API beyond this machine without a key.
pub fn check_exposure(listen: &SocketAddr, api_key: Option<&str>) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() && api_key.is_none_or(str::is_empty) {
        anyhow::bail!(
            "refusing to listen on {listen} without an API key: CloudTrail data says who did what. \
             Pass --api-key (or set [local] api_key in the settings), or listen on 127.0.0.1"
        );
    }
    Ok(())
}

/// The router with the API-key check in front when a key is set.
pub fn protected_router(state: ApiState, api_key: Option<String>) -> Router {
    let router = api::router(state);
    match api_key.filter(|k| !k.is_empty()) {
        Some(key) => router.layer(middleware::from_fn_with_state(
            Arc::<str>::from(key),
            require_api_key,
        )),
        None => router,
    }
}

async fn require_api_key(State(key): State<Arc<str>>, request: Request, next: Next) -> Response {
    if api::dashboard::is_page_path(request.uri().path()) {
        return next.run(request).await;
    }
    let given = request.headers().get("x-api-key").map(|v| v.as_bytes());
    match given {
        Some(given) if constant_time_eq(given, key.as_bytes()) => next.run(request).await,
        Some(_) => {
            ApiError::new(StatusCode::FORBIDDEN, "the x-api-key header is wrong").into_response()
        }
        None => ApiError::new(
            StatusCode::FORBIDDEN,
            "this API needs an API key: send it in the x-api-key header",
        )
        .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Loads the rules `tracker serve` evaluates: an unusable rule is an error
/// naming its file, the rule and the problem, unless `skip_invalid`, when
/// each one left out is a warning (on stderr).
pub fn load_rules(options: &RulesOptions) -> anyhow::Result<RuleSet> {
    let (rules, skipped) = RuleSet::load(options).context(
        "a detection rule cannot be used: fix it, remove it, or set [rules] skip_invalid = true \
         in the settings to leave such rules out",
    )?;
    for warning in &skipped {
        eprintln!("warning: left out: {warning}");
    }
    Ok(rules)
}

/// Ingests the folders, then serves until Ctrl-C.
pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let pipeline = Pipeline {
        rules: load_rules(&options.rules)?,
        ..options.pipeline.clone()
    };
    check_exposure(&options.listen, options.api_key.as_deref())?;
    let rule_count = pipeline.rules.len();
    let mut store = EmbeddedStore::open_with_cache(&options.db, options.cache_bytes)
        .with_context(|| format!("open {}", options.db.display()))?;
    let ingestor =
        Ingestor::new(Arc::new(store.clone()), pipeline).with_batching(2000, options.concurrency);
    let mut read_any = false;
    for dir in &options.logs {
        let summary = ingest_folder(
            &ingestor,
            dir,
            &FolderOptions::new(options.concurrency, Some(&store)),
        )
        .await
        .with_context(|| format!("cannot read the folder {}", dir.display()))?;
        read_any |= summary.files_read > 0;
        eprint!("{}: {summary}", dir.display());
    }
    ingestor.close().await;
    if read_any {
        store = store.compact()?;
    }
    let events = store.event_count()?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: is another server using it? pass --listen",
                options.listen
            )
        })?;
    let address = listener.local_addr()?;
    print_welcome(&store, address, events, options.api_key.as_deref()).await;
    println!(
        "{rule_count} detection rule(s) evaluated on what was ingested: \
         GET /alerts?from=2000-01-01 lists what they found"
    );
    let store: Arc<dyn EventStore> = Arc::new(store);
    tokio::spawn(warm_rollups(Arc::clone(&store)));
    let app = protected_router(ApiState::new(store), options.api_key);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server stopped")
}

/// Builds the rollups of everything stored, in the background, so that the
/// first statistics a person asks for (the dashboard's overview) answer at
/// once; a query that comes first builds what it needs itself.
async fn warm_rollups(store: Arc<dyn EventStore>) {
    let everything = crate::query::StatsQuery {
        route: crate::query::Route::Scan,
        from: chrono::DateTime::UNIX_EPOCH,
        to: crate::time::start_of_day(
            chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default(),
        ),
        filters: Default::default(),
        by: None,
        top: 1,
    };
    let started = std::time::Instant::now();
    match crate::query::QueryEngine::new(store)
        .tally(&everything)
        .await
    {
        Ok(tally) => tracing::debug!(
            events = tally.total(),
            elapsed = ?started.elapsed(),
            "Rollups built."
        ),
        Err(error) => tracing::warn!(%error, "Could not build the rollups ahead; queries will."),
    }
}

async fn print_welcome(
    store: &EmbeddedStore,
    address: SocketAddr,
    events: u64,
    api_key: Option<&str>,
) {
    let base = format!("http://{address}");
    let header = if api_key.is_some() {
        " -H \"x-api-key: $TRACKER_API_KEY\""
    } else {
        ""
    };
    // An example that reads well: a plain name rather than `(none)` or an ARN.
    let first = |kind| async move {
        let values = store.catalog(kind, None).await.unwrap_or_default();
        values
            .iter()
            .find(|v| !v.starts_with('(') && !v.starts_with("arn:"))
            .or(values.first())
            .cloned()
    };
    let user = first(CatalogKind::User)
        .await
        .unwrap_or_else(|| "alice".into());
    let service = first(CatalogKind::Service)
        .await
        .unwrap_or_else(|| "ec2".into());
    // Percent-encoding for a path segment: a space must be %20 there, not `+`.
    let encode = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    println!(
        "tracker is serving {events} events from {} at {base}",
        store.path().display()
    );
    println!("dashboard: {base}/  (open it in a browser)");
    println!("try:");
    println!("  curl{header} '{base}/users'");
    println!(
        "  curl{header} '{base}/users/{}?from=2000-01-01&limit=5'",
        encode(&user)
    );
    println!(
        "  curl{header} '{base}/services/{}?from=2000-01-01&count=true'",
        encode(&service)
    );
    println!("(Ctrl-C stops it; the API is described in swagger.yaml)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_needs_a_key() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let everywhere: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_exposure(&loopback, None).is_ok());
        assert!(check_exposure(&"[::1]:8080".parse().unwrap(), None).is_ok());
        let error = check_exposure(&everywhere, None).unwrap_err().to_string();
        assert!(error.contains("--api-key"), "{error}");
        assert!(check_exposure(&everywhere, Some("")).is_err());
        assert!(check_exposure(&everywhere, Some("a-long-enough-key-1234")).is_ok());
    }

    #[test]
    fn compares_keys_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
