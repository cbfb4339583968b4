//! Read units per request on DynamoDB, route by route, over the shared sample
//! as the facts suite loaded it into the DynamoDB emulator
//! (`support::corpus::moto_corpus`).
//!
//! The units are DynamoDB's billing rule applied by the store to what each
//! request read (`DynamoStore::read_stats`), whatever the emulator reports:
//! per `GetItem` or `Query` page, the sizes of the items read summed and
//! rounded up to 4 KB, half a unit per 4 KB (eventually consistent; a unit
//! when strongly consistent), half a unit at least; per `BatchGetItem` item,
//! its own size rounded the same way. Counts are metered by reading their
//! items (`metering_counts`): DynamoDB bills a `Select=COUNT` page the same as
//! reading its items.
//!
//! Lookups and statistics read blocks and rollups, not events: the rollups
//! are built by the first query that needs them, so those rows are measured
//! on a second, warm request, and held to what their answer needs (computed
//! from the files): the catalog's month×service entries of the window, the
//! generations of the window's hours, the rollups of its days, and, for a
//! lookup, the rollups of the hours that hold a match and the blocks that do.
//! The old engine read every event of the window for them.
//!
//! Prints a markdown table (`bash scripts/test.sh read_units -- --nocapture`)
//! and holds each route to what it must read, computed here from the sample's
//! files: a list reads its catalog items once, a count reads each event of
//! its window once, a page of one partition reads exactly the events it
//! needs (those it returns and the one after, which says whether a next page
//! exists) in one request, a merged page reads at most half again as many
//! (plus a few per partition), and no request costs more than its bytes
//! rounded up per page.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;
use tracker_runtime::api::{ApiState, router};
use tracker_runtime::store::dynamodb::{READ_UNIT_BYTES, ReadStats};
use tracker_runtime::store::{CatalogKind, DynamoStore, EventStore};

use crate::support::corpus::{fact, facts, moto_corpus, sample_records};
use crate::support::{enc, get, sdk_config};

/// The whole sample (facts' `all_time`), and its busiest day (3,875 events).
const ALL: &str = "from=2014-05-10&to=2024-11-30";
const DAY: &str = "from=2014-09-27&to=2014-09-27";
const DAY_PREFIX: &str = "2014-09-27";
/// The engine's smallest read of a partition in a merge (`query::engine::MIN_READ`).
const MIN_READ: u64 = 8;
/// DynamoDB's page size limit: a `Query` reads at most 1 MB before it stops.
const PAGE_BYTES: u64 = 1024 * 1024;

/// What one request read.
struct Measured {
    route: String,
    status: StatusCode,
    body: Value,
    link: Option<String>,
    reads: ReadStats,
}

impl Measured {
    fn returned(&self) -> Option<u64> {
        self.body.as_array().map(|a| a.len() as u64)
    }

    /// `count 42`, `100 events`, `12 names`, `1 record` or `404`.
    fn answer(&self) -> String {
        if !self.status.is_success() {
            return self.status.as_u16().to_string();
        }
        match &self.body {
            Value::Number(n) => format!("count {n}"),
            Value::Array(a) if is_list(&self.route) => format!("{} names", a.len()),
            Value::Array(a) => format!("{} events", a.len()),
            _ => "1 record".into(),
        }
    }
}

/// One request through the router over a fresh store on the sample's table,
/// so that its reads are counted alone.
async fn measure(table: &str, route: &str) -> Measured {
    let sdk = sdk_config().await;
    let store =
        Arc::new(DynamoStore::new(crate::support::dynamodb_client(&sdk), table).metering_counts());
    let app = router(ApiState::new(Arc::clone(&store) as Arc<dyn EventStore>));
    let started = std::time::Instant::now();
    let (status, headers, body) = get(&app, route).await;
    eprintln!("{route}: {:.1?} in moto", started.elapsed());
    let link = headers
        .get("link")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.trim_start_matches('<').split('>').next())
        .map(|url| url.trim_start_matches("http://tracker.test").to_owned());
    Measured {
        route: route.to_owned(),
        status,
        body,
        link,
        reads: store.read_stats(),
    }
}

/// A request measured warm: once to build what it needs, then again.
async fn measure_warm(table: &str, route: &str) -> Measured {
    let first = measure(table, route).await;
    assert!(first.status.is_success(), "{route}: {}", first.body);
    measure(table, route).await
}

fn service_of(record: &Value) -> String {
    record["eventSource"]
        .as_str()
        .or(record["insightDetails"]["eventSource"].as_str())
        .unwrap_or("(none)")
        .trim_end_matches(".amazonaws.com")
        .to_owned()
}

fn time_of(record: &Value) -> &str {
    record["eventTime"].as_str().unwrap_or_default()
}

/// What the sample holds, computed from its files (not through tracker).
struct Sample {
    records: Vec<Value>,
}

impl Sample {
    fn count(&self, keep: impl Fn(&Value) -> bool) -> u64 {
        self.records.iter().filter(|r| keep(r)).count() as u64
    }

    /// What a route must read over a window, from the sample's records.
    fn plan(&self, window: impl Fn(&Value) -> bool, route: Of) -> Plan {
        let keep = |r: &Value| {
            window(r)
                && match route {
                    Of::User(user) => r["userIdentity"]["userName"] == user,
                    Of::Service(service) => service_of(r) == service,
                    Of::Everyone => true,
                }
        };
        // The plan reads the catalog entries of every service in the window's months.
        let months: BTreeSet<&str> = self
            .records
            .iter()
            .filter(|r| window(r))
            .map(|r| &time_of(r)[..7])
            .collect();
        let buckets = self.partitions(|r| months.contains(&time_of(r)[..7]));
        Plan {
            buckets: (!matches!(route, Of::User(_))).then_some(buckets),
            // Every partition of those months is read, even one without an
            // event in the window (its empty read still costs half a unit).
            partitions: match route {
                Of::User(_) => 1,
                Of::Service(service) => self
                    .partitions(|r| months.contains(&time_of(r)[..7]) && service_of(r) == service),
                Of::Everyone => buckets,
            },
            in_window: self.count(keep),
        }
    }

    /// The month×service partitions holding the records `keep` selects.
    fn partitions(&self, keep: impl Fn(&Value) -> bool) -> u64 {
        self.records
            .iter()
            .filter(|r| keep(r))
            .map(|r| (time_of(r)[..7].to_owned(), service_of(r)))
            .collect::<BTreeSet<_>>()
            .len() as u64
    }
}

/// Whose events a route lists.
#[derive(Clone, Copy)]
enum Of {
    User(&'static str),
    Service(&'static str),
    Everyone,
}

fn on_day(record: &Value) -> bool {
    time_of(record).starts_with(DAY_PREFIX)
}

/// The rule, applied by the test to a byte count it computed itself.
fn units_of_one_page(bytes: u64) -> f64 {
    bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64 * 0.5
}

/// Bounds that hold for any request: at least half a unit per request and
/// half a unit per 4 KB read; rounding adds less than half a unit per page
/// (and per item of a `BatchGetItem`), and a strongly consistent read
/// (generations) costs twice.
fn assert_billed_by_the_rule(m: &Measured) {
    let r = &m.reads;
    assert_eq!(r.unsized_items, 0, "{}: every read was sized", m.route);
    let blocks = r.bytes as f64 / READ_UNIT_BYTES as f64;
    assert!(
        r.read_units >= 0.5 * (r.requests as f64).max(blocks),
        "{}: {r:?}",
        m.route
    );
    let rounding = if uses_blocks(&m.route) {
        r.items as f64
    } else {
        0.0
    };
    let consistent = if uses_blocks(&m.route) { 2.0 } else { 1.0 };
    assert!(
        r.read_units <= consistent * 0.5 * (r.requests as f64 + rounding + blocks) + 1e-9,
        "{}: rounding adds at most half a unit per page (or per item of a batch): {r:?}",
        m.route
    );
}

/// Whether a route is answered from blocks and rollups (lookups, counts
/// with lookups, statistics) rather than the indexes.
fn uses_blocks(route: &str) -> bool {
    route.starts_with("/stats")
        || [
            "eventName=",
            "errorCode=",
            "readOnly=",
            "accessKeyId=",
            "sourceIPAddress=",
            "eventSource=",
            "region=",
            "account=",
            "resourceName=",
            "resourceType=",
            "sessionName=",
        ]
        .iter()
        .any(|p| route.contains(p))
}

/// A list reads each of its catalog items once, in one request, billed on
/// the whole item (`pk` + `sk`) although only the value is projected.
fn assert_list(m: &Measured, kind: CatalogKind) {
    let values = m.body.as_array().expect("a list");
    let bytes: u64 = values
        .iter()
        .map(|v| (2 + kind.partition().len() + 2 + v.as_str().expect("a name").len()) as u64)
        .sum();
    assert_eq!(
        (m.reads.requests, m.reads.items, m.reads.bytes),
        (1, values.len() as u64, bytes),
        "{}",
        m.route
    );
    assert_eq!(m.reads.read_units, units_of_one_page(bytes), "{}", m.route);
}

/// What a route must read besides events: services and scans first read
/// the catalog's month×service entries of the window's months (one `Query`)
/// to know which partitions exist; a user's events are one partition.
#[derive(Clone, Copy)]
struct Plan {
    /// Catalog entries read, `None` for a user route (no catalog read).
    buckets: Option<u64>,
    /// Partitions the route reads: those of the window's months.
    partitions: u64,
    /// The route's events in the window (before filters).
    in_window: u64,
}

impl Plan {
    fn catalog_items(self) -> u64 {
        self.buckets.unwrap_or(0)
    }

    fn catalog_requests(self) -> u64 {
        u64::from(self.buckets.is_some())
    }
}

/// A count reads every event of the route's window once, one request per
/// partition plus one per further page. Without filters the store counts
/// (1 MB pages); with filters the engine reads pages of 1,000 events, and a
/// resumed page reads again the event it resumes after.
fn assert_count(m: &Measured, answer: u64, plan: Plan) {
    assert_eq!(m.body.as_u64(), Some(answer), "{}", m.route);
    let least = plan.partitions + plan.catalog_requests();
    let once = plan.in_window + plan.catalog_items();
    let resumed = m.reads.requests.saturating_sub(least);
    let filtered = m.route.contains("eventName=") || m.route.contains("param=");
    assert!(
        m.reads.items == once
            || (filtered && once <= m.reads.items && m.reads.items <= once + resumed),
        "{}: a count reads each event of the window once: {} items, {once} expected, {resumed} resumed pages",
        m.route,
        m.reads.items
    );
    assert!(
        least <= m.reads.requests
            && m.reads.requests
                <= least + m.reads.bytes.div_ceil(PAGE_BYTES) + m.reads.items / 1000,
        "{}: {} requests for {} partitions",
        m.route,
        m.reads.requests,
        plan.partitions
    );
}

/// A page returns `min(limit, matching)` events and needs one more, when
/// there is one, to tell whether a next page exists. Unfiltered:
/// - one partition (a user, or a service within a month) is read once for
///   exactly the events the page needs; a read resumed after a position (a
///   next page's token, or a read cut at 1 MB) reads that position's event
///   again, or one event beyond its limit;
/// - a merge of partitions reads at most half again the events the page
///   needs, plus `MIN_READ` per partition and one per request (the engine
///   asks each partition for half an even share first, then for its share
///   of what the page still needs, with a margin, never more than that).
///
/// The old engine (full pages of up to 1,000 from every partition, doubled
/// on each refill) read twice what it returned and fails these bounds.
/// Filtered, a page may read the whole window. Either way no event is read
/// twice, except the one a resumed read starts from (one per request).
fn assert_page(m: &Measured, limit: u64, matching: u64, plan: Plan) {
    let returned = m.returned().expect("a page");
    assert_eq!(returned, limit.min(matching), "{}", m.route);
    let filtered = m.route.contains("eventName=") || m.route.contains("param=");
    let resumed = m.route.contains("nextToken=");
    let needed = (limit + 1).min(matching);
    let requests = m.reads.requests - plan.catalog_requests();
    let events = m.reads.items - plan.catalog_items();
    if filtered {
        let whole_window = plan.in_window + requests;
        assert!(
            events <= whole_window,
            "{}: read {events} events to return {returned} (window {})",
            m.route,
            plan.in_window
        );
        return;
    }
    // Reads cut short by DynamoDB's 1 MB page limit need more requests.
    let cut = m.reads.bytes.div_ceil(PAGE_BYTES).saturating_sub(1);
    let rereads = requests.saturating_sub(u64::from(!resumed));
    if plan.partitions == 1 {
        assert!(
            requests <= 1 + cut && needed <= events && events <= needed + rereads,
            "{}: one partition: {events} events in {requests} requests to return {returned} \
             (exactly {needed} needed, one request unless cut at 1 MB)",
            m.route
        );
    } else {
        let bound = needed + needed / 2 + plan.partitions * MIN_READ + requests;
        assert!(
            needed <= events && events <= bound,
            "{}: a merge of {} partitions read {events} events to return {returned} \
             ({needed} needed, bound {bound})",
            m.route,
            plan.partitions
        );
    }
}

/// What a route answered from blocks and rollups must read, from the files.
#[derive(Debug, Clone, Copy)]
struct BlockPlan {
    /// Catalog entries of the window's months (which years hold events).
    buckets: u64,
    /// Hours with events in the window's days (their generations).
    hours: u64,
    /// Days with events in the window (their rollups).
    days: u64,
    /// Hours holding a match (their rollups), for a lookup.
    match_hours: u64,
    /// Blocks (a log file's events of one hour) holding a match, for a lookup.
    match_blocks: u64,
}

impl BlockPlan {
    /// Reads the rollups alone (no block): a count or statistics over whole days.
    fn rollups_only(self) -> u64 {
        self.buckets + self.hours + self.days
    }

    /// The most a lookup may read.
    fn lookup(self) -> u64 {
        self.rollups_only() + self.match_hours + self.match_blocks
    }
}

/// The plan of a day-aligned `window` over `days` (inclusive, `YYYY-MM-DD`),
/// for records passing `matches`.
fn block_plan(
    records: &[(String, Value)],
    (first, last): (&str, &str),
    matches: impl Fn(&Value) -> bool,
) -> BlockPlan {
    let in_window = |r: &Value| {
        let day = &time_of(r)[..10];
        first <= day && day <= last
    };
    let hour = |r: &Value| time_of(r)[..13].to_owned();
    let months = (&first[..7], &last[..7]);
    let count = |set: BTreeSet<String>| set.len() as u64;
    BlockPlan {
        buckets: count(
            records
                .iter()
                .filter(|(_, r)| months.0 <= &time_of(r)[..7] && &time_of(r)[..7] <= months.1)
                .map(|(_, r)| format!("{}#{}", &time_of(r)[..7], service_of(r)))
                .collect(),
        ),
        hours: count(
            records
                .iter()
                .filter(|(_, r)| in_window(r))
                .map(|(_, r)| hour(r))
                .collect(),
        ),
        days: count(
            records
                .iter()
                .filter(|(_, r)| in_window(r))
                .map(|(_, r)| time_of(r)[..10].to_owned())
                .collect(),
        ),
        match_hours: count(
            records
                .iter()
                .filter(|(_, r)| in_window(r) && matches(r))
                .map(|(_, r)| hour(r))
                .collect(),
        ),
        match_blocks: count(
            records
                .iter()
                .filter(|(_, r)| in_window(r) && matches(r))
                .map(|(file, r)| format!("{file}@{}", hour(r)))
                .collect(),
        ),
    }
}

/// A lookup reads at most the rollups of the window and of the hours that
/// hold a match, and the blocks that hold one — never the window's events.
fn assert_lookup(m: &Measured, plan: BlockPlan, window_events: u64) {
    assert!(
        m.reads.items <= plan.lookup(),
        "{}: read {} items, at most {} ({plan:?})",
        m.route,
        m.reads.items,
        plan.lookup()
    );
    assert!(
        m.reads.items < window_events / 10,
        "{}: {} items read for a window of {window_events} events",
        m.route,
        m.reads.items
    );
}

/// Statistics and counts over whole days read the rollups alone.
fn assert_rollups_only(m: &Measured, plan: BlockPlan) {
    assert_eq!(
        m.reads.items,
        plan.rollups_only(),
        "{}: the catalog's months, the hours' generations and the days' rollups ({plan:?})",
        m.route
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_units_per_route() {
    let table = moto_corpus().table.clone();
    let sample = Sample {
        records: sample_records(),
    };
    let facts = facts();
    const USER: &str = "alucloud34";
    let user_total = facts["totals"]["top_principals"]
        .as_array()
        .expect("top_principals")
        .iter()
        .find(|p| p[0] == USER)
        .and_then(|p| p[1].as_u64())
        .expect("alucloud34 is a top principal");
    let all = |_: &Value| true;
    let user_day = sample.plan(on_day, Of::User(USER));
    assert_eq!(
        user_day.in_window, user_total,
        "all of alucloud34's events are on that day"
    );
    let rds_day = sample.plan(on_day, Of::Service("rds"));
    let scan_day = sample.plan(on_day, Of::Everyone);
    let scan_all = sample.plan(all, Of::Everyone);
    assert_eq!(scan_all.in_window, sample.records.len() as u64);
    let console_logins_day = sample.count(|r| on_day(r) && r["eventName"] == "ConsoleLogin");
    let run_instances_day = sample.count(|r| on_day(r) && r["eventName"] == "RunInstances");
    let t2_micro = sample.count(|r| {
        r["eventName"] == "RunInstances"
            && service_of(r) == "ec2"
            && r["requestParameters"]["instanceType"] == "t2.micro"
    });
    let f12 = fact(&facts, "F12");
    let known_id = f12["query"]["eventID"][0].as_str().expect("an eventID");

    let mut rows = Vec::new();
    let mut check = |m: Measured, ok: &dyn Fn(&Measured)| {
        assert!(
            m.status.is_success() || m.status == StatusCode::NOT_FOUND,
            "{}: {} {}",
            m.route,
            m.status,
            m.body
        );
        assert_billed_by_the_rule(&m);
        ok(&m);
        rows.push(m);
    };

    for (route, kind) in [
        ("/users", CatalogKind::User),
        ("/services", CatalogKind::Service),
        ("/parameters", CatalogKind::Param),
    ] {
        check(measure(&table, route).await, &|m| assert_list(m, kind));
    }

    check(
        measure(&table, &format!("/events/{known_id}")).await,
        &|m| {
            assert_eq!(m.body["eventID"], known_id);
            assert_eq!((m.reads.requests, m.reads.items), (1, 1));
            assert_eq!(m.reads.read_units, units_of_one_page(m.reads.bytes));
        },
    );
    check(measure(&table, "/events/no-such-event").await, &|m| {
        assert_eq!(m.status, StatusCode::NOT_FOUND);
        assert_eq!((m.reads.requests, m.reads.items), (1, 0));
        assert_eq!(m.reads.read_units, 0.5, "a miss costs half a unit");
    });

    let u = enc(USER);
    check(
        measure(&table, &format!("/users/{u}?{DAY}&limit=100")).await,
        &|m| assert_page(m, 100, user_day.in_window, user_day),
    );
    check(measure(&table, &format!("/users/{u}?{DAY}")).await, &|m| {
        assert_page(m, 1000, user_day.in_window, user_day)
    });
    check(
        measure(&table, &format!("/users/{u}?{DAY}&count=true")).await,
        &|m| assert_count(m, user_day.in_window, user_day),
    );
    check(
        measure(&table, &format!("/services/rds?{DAY}&limit=100")).await,
        &|m| assert_page(m, 100, rds_day.in_window, rds_day),
    );
    check(
        measure(&table, &format!("/services/rds?{DAY}")).await,
        &|m| assert_page(m, 1000, rds_day.in_window, rds_day),
    );
    check(
        measure(&table, &format!("/services/rds?{DAY}&count=true")).await,
        &|m| assert_count(m, rds_day.in_window, rds_day),
    );
    let first_page = measure(&table, &format!("/scan?{DAY}&limit=100")).await;
    let next = first_page.link.clone().expect("a next page");
    assert!(next.contains("nextToken="), "{next}");
    check(first_page, &|m| {
        assert_page(m, 100, scan_day.in_window, scan_day)
    });
    check(measure(&table, &next).await, &|m| {
        assert_page(m, 100, scan_day.in_window - 100, scan_day)
    });
    check(measure(&table, &format!("/scan?{DAY}")).await, &|m| {
        assert_page(m, 1000, scan_day.in_window, scan_day)
    });
    check(
        measure(&table, &format!("/scan?{DAY}&count=true")).await,
        &|m| assert_count(m, scan_day.in_window, scan_day),
    );
    check(
        measure(&table, &format!("/scan?{ALL}&count=true")).await,
        &|m| assert_count(m, scan_all.in_window, scan_all),
    );
    let with_files = crate::support::corpus::sample_records_with_files();
    let day = (DAY_PREFIX, DAY_PREFIX);
    let all = ("2014-05-10", "2024-11-30");
    check(
        measure_warm(&table, &format!("/scan?{DAY}&eventName=ConsoleLogin")).await,
        &|m| {
            assert_page(m, 1000, console_logins_day, scan_day);
            assert_lookup(
                m,
                block_plan(&with_files, day, |r| r["eventName"] == "ConsoleLogin"),
                scan_day.in_window,
            );
        },
    );
    check(
        measure_warm(
            &table,
            &format!("/scan?{DAY}&eventName=RunInstances&count=true"),
        )
        .await,
        &|m| {
            assert_eq!(m.body.as_u64(), Some(run_instances_day), "{}", m.route);
            assert_rollups_only(m, block_plan(&with_files, day, |_| true));
        },
    );
    let failed_all = sample.count(|r| r["errorCode"].as_str().is_some_and(|e| !e.is_empty()));
    check(
        measure_warm(&table, &format!("/scan?{ALL}&errorCode=*&limit=1000")).await,
        &|m| {
            assert_eq!(m.returned(), Some(failed_all), "{}", m.route);
            assert_lookup(
                m,
                block_plan(&with_files, all, |r| {
                    r["errorCode"].as_str().is_some_and(|e| !e.is_empty())
                }),
                scan_all.in_window,
            );
        },
    );
    let key = "ASIAINZB62HMRLLEDBTA";
    let with_key = sample.count(|r| r["userIdentity"]["accessKeyId"] == key);
    check(
        measure_warm(&table, &format!("/scan?{ALL}&accessKeyId={key}")).await,
        &|m| {
            assert_eq!(m.returned(), Some(with_key), "{}", m.route);
            assert_lookup(
                m,
                block_plan(&with_files, all, |r| {
                    r["userIdentity"]["accessKeyId"] == key
                }),
                scan_all.in_window,
            );
        },
    );
    check(
        measure_warm(&table, &format!("/stats?{ALL}&by=principal&top=10")).await,
        &|m| {
            assert_eq!(m.body["total"].as_u64(), Some(scan_all.in_window));
            assert_rollups_only(m, block_plan(&with_files, all, |_| true));
        },
    );
    check(
        measure_warm(&table, &format!("/stats/daily?{ALL}")).await,
        &|m| assert_rollups_only(m, block_plan(&with_files, all, |_| true)),
    );
    check(
        measure_warm(&table, &format!("/stats?{DAY}&by=eventName")).await,
        &|m| {
            assert_eq!(m.body["total"].as_u64(), Some(scan_day.in_window));
            assert_rollups_only(m, block_plan(&with_files, day, |_| true));
        },
    );
    check(
        measure_warm(
            &table,
            &format!(
                "/services/ec2?{ALL}&eventName=RunInstances&param=instanceType&value=t2.micro"
            ),
        )
        .await,
        &|m| {
            assert_eq!(m.returned(), Some(t2_micro), "{}", m.route);
            let run_instances =
                |r: &Value| r["eventName"] == "RunInstances" && service_of(r) == "ec2";
            // The terms' blocks, then the records of their matches (by id).
            let plan = block_plan(&with_files, all, run_instances);
            let candidates = sample.count(run_instances);
            assert!(
                m.reads.items <= plan.lookup() + candidates,
                "{}: {} items, at most {} ({plan:?}) and {candidates} records",
                m.route,
                m.reads.items,
                plan.lookup()
            );
        },
    );

    let mut table_md = String::from(
        "| request | answer | requests | items read | KB read | read units | per event returned | moto's ConsumedCapacity |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in &rows {
        let r = &m.reads;
        let per_event = match (m.returned(), m.route.starts_with("/events/")) {
            (Some(n), false) if n > 0 && !is_list(&m.route) => {
                format!("{:.4}", r.read_units / n as f64)
            }
            _ => String::new(),
        };
        let _ = writeln!(
            table_md,
            "| `{}` | {} | {} | {} | {:.1} | {} | {} | {} |",
            shown(&m.route),
            m.answer(),
            r.requests,
            r.items,
            r.bytes as f64 / 1024.0,
            r.read_units,
            per_event,
            r.reported_units
        );
    }
    let (items, bytes): (u64, u64) = rows
        .iter()
        .filter(|m| !is_list(&m.route))
        .fold((0, 0), |(i, b), m| (i + m.reads.items, b + m.reads.bytes));
    eprintln!(
        "\nRead units per request (DynamoDB's rule, eventually consistent), the sample in moto:\n\n{table_md}\n\
         mean event item read: {:.0} bytes\n",
        bytes as f64 / items.max(1) as f64
    );
}

fn is_list(route: &str) -> bool {
    matches!(route, "/users" | "/services" | "/parameters")
}

/// A route as the table shows it: a next page's long token elided.
fn shown(route: &str) -> String {
    match route.split_once("nextToken=") {
        Some((before, _)) => format!("{before}nextToken=…"),
        None => route.to_owned(),
    }
}
