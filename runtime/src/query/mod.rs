//! What the event routes mean, independent of HTTP and of the store:
//! [`params`] turns a query string into a validated [`EventQuery`],
//! [`engine`] plans which partitions to read and merges them in time order,
//! [`filter`] decides which events match, [`token`] carries a page's position,
//! [`stats`] counts what a window holds; [`alerts`] pages `/alerts`.

pub mod alerts;
pub mod cache;
pub mod engine;
pub mod filter;
pub mod lookup;
pub mod params;
pub mod rollup;
pub mod stats;
pub mod token;

pub use engine::{Page, QueryEngine, QueryError};
pub use filter::Filters;
pub use params::{
    AlertQuery, BadRequest, EventQuery, Route, StatsQuery, parse_event_query, parse_stats_query,
};
pub use stats::{Daily, Stats, Tally};

/// The default number of events per page.
pub const DEFAULT_LIMIT: usize = 1000;
/// The largest page a client may ask for (keeps responses far below Lambda's 6 MB).
pub const MAX_LIMIT: usize = 10_000;
