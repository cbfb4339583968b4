//! Blocks: the summaries of the events one log file brought for one UTC
//! hour (see [`super::keys`]), kept column by column with one dictionary of
//! strings, and compressed. A block answers lookups and statistics without
//! reading the events: every attribute of [`Attribute`], the event's time and
//! id, and what an event route returns. Terms are matched on dictionary
//! references, so an event is only turned into strings when it is returned.

use std::borrow::Cow;

use foldhash::{HashMap, HashMapExt};

use serde::{Deserialize, Serialize};

use super::keys::BlockKey;
use crate::attribute::{Attribute, Term, Wanted};
use crate::event::{EventItem, EventSummary, StoredRecord};

/// The single-valued attributes, in column order.
const SINGLE: [Attribute; 11] = [
    Attribute::Principal,
    Attribute::Service,
    Attribute::EventName,
    Attribute::EventSource,
    Attribute::ErrorCode,
    Attribute::SourceIpAddress,
    Attribute::AccessKeyId,
    Attribute::Region,
    Attribute::Account,
    Attribute::ReadOnly,
    Attribute::SessionName,
];

/// An attribute's column in [`SINGLE`] (`None`: a list attribute), by a
/// match rather than a search: it is asked for every value an answer reads.
const fn single_column(attribute: Attribute) -> Option<usize> {
    match attribute {
        Attribute::Principal => Some(0),
        Attribute::Service => Some(1),
        Attribute::EventName => Some(2),
        Attribute::EventSource => Some(3),
        Attribute::ErrorCode => Some(4),
        Attribute::SourceIpAddress => Some(5),
        Attribute::AccessKeyId => Some(6),
        Attribute::Region => Some(7),
        Attribute::Account => Some(8),
        Attribute::ReadOnly => Some(9),
        Attribute::SessionName => Some(10),
        Attribute::ResourceName | Attribute::ResourceType => None,
    }
}

/// Format version written first in every encoded block.
const VERSION: u8 = 1;
/// zstd level of encoded blocks.
const LEVEL: i32 = 3;
/// Largest block a decoder accepts (a corrupt length cannot make it allocate more).
const MAX_DECODED: usize = 64 * 1024 * 1024;
/// The first bytes of a zstd frame; an uncompressed block starts with its
/// version (1), so the two forms are told apart.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A decoded block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Block {
    version: u8,
    /// Every string the columns refer to; a reference is its index + 1 (0 is absent).
    strings: Vec<String>,
    ids: Vec<String>,
    /// Event times in microseconds since the epoch, ascending with the ids.
    times: Vec<i64>,
    /// `eventTime` as the record wrote it, when it differs from the
    /// canonical `YYYY-MM-DDTHH:MM:SSZ` rendering of the time.
    written_times: Vec<u32>,
    /// One column per attribute of [`SINGLE`].
    columns: Vec<Vec<u32>>,
    source_identities: Vec<u32>,
    resource_names: Vec<Vec<u32>>,
    resource_types: Vec<Vec<u32>>,
    /// Epoch seconds after which every event of the block may be deleted
    /// (the latest of its events' expiry), when retention is set.
    expires_at: Option<i64>,
    #[serde(skip)]
    index: DictionaryIndex,
}

/// A block's strings by value, built when a term is first resolved in the
/// block (building a rollup, or writing a page, never needs it). Derived
/// from the strings, so two blocks compare equal whatever their index.
#[derive(Debug, Clone, Default)]
struct DictionaryIndex(std::sync::OnceLock<HashMap<String, u32>>);

impl PartialEq for DictionaryIndex {
    fn eq(&self, _: &DictionaryIndex) -> bool {
        true
    }
}

/// A block could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("block is corrupt: {0}")]
pub struct CorruptBlock(pub String);

impl Block {
    /// The block of these events (events without a usable time are left out).
    pub fn build<'e>(events: impl IntoIterator<Item = &'e EventItem>) -> Block {
        let events: Vec<&EventItem> = events.into_iter().collect();
        Block::build_ordered(&events).0
    }

    /// The block of these events, and for each of its rows the position in
    /// `events` of the event it holds (rows are sorted by time, then id; an
    /// id given twice and events without a usable time are left out).
    pub fn build_ordered<'e>(events: &[&'e EventItem]) -> (Block, Vec<usize>) {
        let mut rows: Vec<(usize, i64)> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, time_of(e)?)))
            .collect();
        rows.sort_by(|a, b| (a.1, &events[a.0].event_id).cmp(&(b.1, &events[b.0].event_id)));
        rows.dedup_by(|a, b| events[a.0].event_id == events[b.0].event_id);
        let mut block = Block {
            version: VERSION,
            columns: vec![Vec::with_capacity(rows.len()); SINGLE.len()],
            ..Block::default()
        };
        let order: Vec<usize> = rows.iter().map(|(i, _)| *i).collect();
        // The dictionary's index while building borrows the events' strings.
        let mut index: HashMap<&'e str, u32> = HashMap::new();
        let mut intern = |block: &mut Block, value: &'e str| -> u32 {
            *index.entry(value).or_insert_with(|| {
                block.strings.push(value.to_owned());
                block.strings.len() as u32
            })
        };
        for (position, time) in rows {
            let event = events[position];
            block.ids.push(event.event_id.clone());
            block.times.push(time);
            let written = event
                .event_time
                .as_deref()
                .filter(|w| *w != canonical(time))
                .map(|w| intern(&mut block, w))
                .unwrap_or(0);
            block.written_times.push(written);
            for (column, attribute) in SINGLE.iter().enumerate() {
                let value = attribute.values(event).iter().next();
                let reference = value.map(|v| intern(&mut block, v)).unwrap_or(0);
                block.columns[column].push(reference);
            }
            let identity = event
                .source_identity
                .as_deref()
                .map(|v| intern(&mut block, v))
                .unwrap_or(0);
            block.source_identities.push(identity);
            let names = event
                .resource_names
                .iter()
                .map(|v| intern(&mut block, v))
                .collect();
            block.resource_names.push(names);
            let types = event
                .resource_types
                .iter()
                .map(|v| intern(&mut block, v))
                .collect();
            block.resource_types.push(types);
            block.expires_at = block.expires_at.max(event.expires_at);
        }
        (block, order)
    }

    /// The compressed form stored under the block's key.
    pub fn encode(&self) -> Vec<u8> {
        zstd::bulk::compress(&self.encode_raw(), LEVEL).unwrap_or_default()
    }

    /// The uncompressed form, for a store that compresses many blocks
    /// together (the embedded store packs an hour's blocks).
    pub fn encode_raw(&self) -> Vec<u8> {
        // Serializing plain vectors of strings and integers cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Reads what [`Block::encode`] or [`Block::encode_raw`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Block, CorruptBlock> {
        if !bytes.starts_with(&ZSTD_MAGIC) {
            return Block::decode_raw(bytes);
        }
        let size = zstd::zstd_safe::get_frame_content_size(bytes)
            .ok()
            .flatten()
            .filter(|&n| n <= MAX_DECODED as u64)
            .ok_or_else(|| CorruptBlock("no valid zstd frame".into()))?;
        let raw = zstd::bulk::decompress(bytes, size as usize)
            .map_err(|e| CorruptBlock(e.to_string()))?;
        Block::decode_raw(&raw)
    }

    fn decode_raw(raw: &[u8]) -> Result<Block, CorruptBlock> {
        let block: Block = postcard::from_bytes(raw).map_err(|e| CorruptBlock(e.to_string()))?;
        if block.version != VERSION {
            return Err(CorruptBlock(format!("unknown version {}", block.version)));
        }
        let n = block.ids.len();
        let columns_fit = block.columns.len() == SINGLE.len()
            && block.columns.iter().all(|c| c.len() == n)
            && [
                block.times.len(),
                block.written_times.len(),
                block.source_identities.len(),
                block.resource_names.len(),
                block.resource_types.len(),
            ]
            .iter()
            .all(|len| *len == n);
        let strings = block.strings.len() as u32;
        let references_fit = block
            .columns
            .iter()
            .chain([&block.written_times, &block.source_identities])
            .flatten()
            .chain(block.resource_names.iter().flatten())
            .chain(block.resource_types.iter().flatten())
            .all(|r| *r <= strings);
        if !columns_fit || !references_fit {
            return Err(CorruptBlock("its columns do not fit together".into()));
        }
        Ok(block)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    pub fn event_id(&self, row: usize) -> &str {
        &self.ids[row]
    }

    /// Microseconds since the epoch.
    pub fn time(&self, row: usize) -> i64 {
        self.times[row]
    }

    /// `<time>#<eventID>`, as both indexes sort.
    pub fn sort_key(&self, row: usize) -> String {
        let mut key = String::with_capacity(28 + self.ids[row].len());
        crate::time::push_sortable(&mut key, &instant(self.times[row]));
        key.push('#');
        key.push_str(&self.ids[row]);
        key
    }

    fn text(&self, reference: u32) -> Option<&str> {
        reference
            .checked_sub(1)
            .and_then(|i| self.strings.get(i as usize))
            .map(String::as_str)
    }

    /// The references of an event's values of `attribute`.
    fn references(&self, attribute: Attribute, row: usize) -> &[u32] {
        match attribute {
            Attribute::ResourceName => &self.resource_names[row],
            Attribute::ResourceType => &self.resource_types[row],
            single => {
                let column = single_column(single).unwrap_or(0);
                let reference = &self.columns[column][row];
                if *reference == 0 {
                    &[]
                } else {
                    std::slice::from_ref(reference)
                }
            }
        }
    }

    /// An event's values of `attribute`.
    pub fn values(&self, attribute: Attribute, row: usize) -> impl Iterator<Item = &str> + '_ {
        self.references(attribute, row)
            .iter()
            .filter_map(|r| self.text(*r))
    }

    /// How many rows hold each value of `attribute`, and how many of those
    /// rows are `failed` (a flag per row), for each value held by some row:
    /// counted on references, so each distinct value is looked at once.
    pub fn value_counts(&self, attribute: Attribute, failed: &[bool]) -> Vec<(&str, u64, u64)> {
        let mut counts = vec![(0u64, 0u64); self.strings.len() + 1];
        for row in 0..self.len() {
            let row_failed = failed.get(row).copied().unwrap_or(false);
            for reference in self.references(attribute, row) {
                if let Some(slot) = counts.get_mut(*reference as usize) {
                    slot.0 += 1;
                    slot.1 += u64::from(row_failed);
                }
            }
        }
        counts
            .into_iter()
            .enumerate()
            .filter(|(_, (n, _))| *n > 0)
            .filter_map(|(reference, (n, failed))| Some((self.text(reference as u32)?, n, failed)))
            .collect()
    }

    /// The terms as references into this block, or `None` when some term
    /// can match no event of it.
    pub fn resolve(&self, terms: &[Term]) -> Option<Vec<ResolvedTerm>> {
        terms
            .iter()
            .map(|term| {
                let wanted = match &term.wanted {
                    Wanted::Present => None,
                    Wanted::AnyOf(values) => {
                        let index = self.index.0.get_or_init(|| {
                            let numbered = self.strings.iter().enumerate();
                            numbered.map(|(i, s)| (s.clone(), i as u32 + 1)).collect()
                        });
                        let references: Vec<u32> = values
                            .iter()
                            .filter_map(|v| index.get(v).copied())
                            .collect();
                        if references.is_empty() {
                            return None;
                        }
                        Some(references)
                    }
                };
                Some(ResolvedTerm {
                    attribute: term.attribute,
                    column: single_column(term.attribute),
                    wanted,
                })
            })
            .collect()
    }

    /// Whether an event passes every resolved term.
    pub fn matches(&self, row: usize, terms: &[ResolvedTerm]) -> bool {
        terms.iter().all(|term| {
            let references = self.references(term.attribute, row);
            match &term.wanted {
                None => !references.is_empty(),
                Some(wanted) => references.iter().any(|r| wanted.contains(r)),
            }
        })
    }

    /// The rows passing every resolved term, ascending. A term on a
    /// single-valued attribute picks its rows from that column in one tight
    /// pass (a lookup's blocks hold a few matches among many rows); the
    /// other terms then check only those.
    pub fn matching_rows(&self, terms: &[ResolvedTerm]) -> Vec<usize> {
        let first = terms.iter().position(|t| t.column.is_some());
        let mut rows: Vec<usize> = match first.map(|i| &terms[i]) {
            Some(ResolvedTerm {
                column: Some(c),
                wanted,
                ..
            }) => {
                let column = self.columns.get(*c).map_or(&[][..], Vec::as_slice);
                match wanted.as_deref() {
                    // One wanted value (the usual lookup): a plain comparison.
                    Some(&[one]) => rows_where(column, |r| r == one),
                    Some(wanted) => rows_where(column, |r| wanted.contains(&r)),
                    None => rows_where(column, |r| r != 0),
                }
            }
            _ => (0..self.len()).collect(),
        };
        if terms.len() > usize::from(first.is_some()) {
            rows.retain(|row| {
                terms.iter().enumerate().all(|(i, term)| {
                    Some(i) == first || self.matches(*row, std::slice::from_ref(term))
                })
            });
        }
        rows
    }

    /// What an event route returns for an event.
    pub fn summary(&self, row: usize) -> EventSummary<'_> {
        let value = |attribute| self.values(attribute, row).next();
        EventSummary {
            event_id: &self.ids[row],
            event_name: value(Attribute::EventName),
            event_source: value(Attribute::EventSource),
            event_time: Some(self.written_time(row)),
            principal: value(Attribute::Principal).unwrap_or_default(),
            aws_region: value(Attribute::Region),
            account: value(Attribute::Account),
            error_code: value(Attribute::ErrorCode),
            session_name: value(Attribute::SessionName),
            source_identity: self.text(self.source_identities[row]),
            source_ip: value(Attribute::SourceIpAddress),
            access_key_id: value(Attribute::AccessKeyId),
            read_only: value(Attribute::ReadOnly).map(|v| v == "true"),
        }
    }

    /// `eventTime` as the record wrote it.
    fn written_time(&self, row: usize) -> Cow<'_, str> {
        match self.text(self.written_times[row]) {
            Some(written) => Cow::Borrowed(written),
            None => Cow::Owned(canonical(self.times[row])),
        }
    }

    /// The event as a stored event without its record (what filters and
    /// summaries need; the record is read by `eventID` when wanted).
    pub fn event(&self, row: usize) -> EventItem {
        let summary = self.summary(row);
        let owned = |value: Option<&str>| value.map(str::to_owned);
        let all = |attribute| self.values(attribute, row).map(str::to_owned).collect();
        let sort_key = self.sort_key(row);
        EventItem {
            month: Some(sort_key[..7].to_owned()),
            service: self
                .values(Attribute::Service, row)
                .next()
                .unwrap_or_default()
                .to_owned(),
            event_id: summary.event_id.to_owned(),
            event_name: owned(summary.event_name),
            event_source: owned(summary.event_source),
            event_time: summary.event_time.map(Cow::into_owned),
            sort_key: Some(sort_key),
            aws_region: owned(summary.aws_region),
            principal: summary.principal.to_owned(),
            account: owned(summary.account),
            session_name: owned(summary.session_name),
            error_code: owned(summary.error_code),
            source_ip: owned(summary.source_ip),
            access_key_id: owned(summary.access_key_id),
            read_only: summary.read_only,
            source_identity: owned(summary.source_identity),
            resource_names: all(Attribute::ResourceName),
            resource_types: all(Attribute::ResourceType),
            expires_at: self.expires_at,
            record: StoredRecord::Absent,
        }
    }
}

/// One event of a block, held rather than copied out: a page of lookups
/// keeps these and writes each one's summary straight from its block.
#[derive(Debug, Clone)]
pub struct BlockRow {
    block: std::sync::Arc<Block>,
    row: usize,
}

impl BlockRow {
    pub fn new(block: std::sync::Arc<Block>, row: usize) -> BlockRow {
        BlockRow { block, row }
    }

    pub fn event_id(&self) -> &str {
        self.block.event_id(self.row)
    }

    /// Microseconds since the epoch.
    pub fn time(&self) -> i64 {
        self.block.time(self.row)
    }

    /// `<time>#<eventID>`, as both indexes sort.
    pub fn sort_key(&self) -> String {
        self.block.sort_key(self.row)
    }

    pub fn summary(&self) -> EventSummary<'_> {
        self.block.summary(self.row)
    }

    /// The event's values of `attribute`.
    pub fn values(&self, attribute: Attribute) -> impl Iterator<Item = &str> + '_ {
        self.block.values(attribute, self.row)
    }
}

/// A term whose values are references into one block (`None`: any value).
#[derive(Debug, Clone)]
pub struct ResolvedTerm {
    attribute: Attribute,
    /// The attribute's column among the single-valued ones.
    column: Option<usize>,
    wanted: Option<Vec<u32>>,
}

/// A block with the key it is stored under.
#[derive(Debug, Clone)]
pub struct KeyedBlock {
    pub key: BlockKey,
    pub block: std::sync::Arc<Block>,
}

/// Microseconds since the epoch of an event's time.
fn time_of(event: &EventItem) -> Option<i64> {
    let key = event.sort_key.as_deref()?;
    let time = crate::time::parse_event_time(key.get(..27)?)?;
    Some(time.timestamp_micros())
}

/// The rows whose reference in `column` is accepted, ascending (generic, so
/// each test compiles into its own tight loop). A lookup's blocks hold a
/// few matches among many rows: the column is tested a chunk at a time
/// (a loop the compiler turns into vector compares) and only a chunk with a
/// match is walked row by row.
fn rows_where(column: &[u32], accept: impl Fn(u32) -> bool) -> Vec<usize> {
    const CHUNK: usize = 16;
    let mut rows = Vec::new();
    for (at, chunk) in column.chunks(CHUNK).enumerate() {
        if chunk.iter().fold(false, |any, r| any | accept(*r)) {
            let first = at * CHUNK;
            rows.extend((first..first + chunk.len()).filter(|row| accept(column[*row])));
        }
    }
    rows
}

fn instant(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ`, or with the fraction when there is one.
fn canonical(micros: i64) -> String {
    let t = instant(micros);
    if micros.rem_euclid(1_000_000) == 0 {
        crate::time::seconds_text(&t)
    } else {
        crate::time::sortable(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::event_from_json;
    use serde_json::json;

    #[test]
    fn rows_where_finds_what_a_plain_filter_finds() {
        for len in [0, 1, 15, 16, 17, 33, 100] {
            let column: Vec<u32> = (0..len).map(|i| (i * 7 % 5) as u32).collect();
            for wanted in 0..6 {
                let plain: Vec<usize> = (0..len).filter(|r| column[*r] == wanted).collect();
                assert_eq!(
                    rows_where(&column, |r| r == wanted),
                    plain,
                    "{len} rows, {wanted}"
                );
            }
        }
    }

    fn events() -> Vec<EventItem> {
        vec![
            event_from_json(
                json!({"eventID": "b", "eventTime": "2024-05-01T13:00:02Z", "eventName": "RunInstances",
                    "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1", "errorCode": "AccessDenied",
                    "sourceIPAddress": "203.0.113.1", "readOnly": false,
                    "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIA1",
                        "arn": "arn:aws:sts::1:assumed-role/Admin/alice",
                        "sessionContext": {"sourceIdentity": "alice@example.com", "sessionIssuer": {"userName": "Admin"}}},
                    "resources": [{"ARN": "arn:r1", "type": "T1"}, {"ARN": "arn:r2", "type": "T1"}]})
                .to_string(),
            ),
            event_from_json(
                json!({"eventID": "a", "eventTime": "2024-05-01T15:00:02+02:00", "eventName": "RunInstances",
                    "eventSource": "ec2.amazonaws.com", "userIdentity": {"userName": "bob"}})
                .to_string(),
            ),
            event_from_json(json!({"eventID": "timeless", "eventTime": "soon"}).to_string()),
        ]
    }

    #[test]
    fn value_counts_count_rows_and_failed_rows_per_value() {
        let block = Block::build(&events());
        // Rows by time: "a" (bob), then "b" (the failed call).
        let failed = [false, true];
        let mut names = block.value_counts(Attribute::EventName, &failed);
        names.sort();
        assert_eq!(names, [("RunInstances", 2, 1)]);
        let mut principals = block.value_counts(Attribute::Principal, &failed);
        principals.sort();
        assert_eq!(principals, [("Admin", 1, 1), ("bob", 1, 0)]);
        let mut types = block.value_counts(Attribute::ResourceType, &failed);
        types.sort();
        assert_eq!(types, [("T1", 1, 1)], "a row counts a value once");
        assert_eq!(block.value_counts(Attribute::ErrorCode, &[]).len(), 1);
    }

    #[test]
    fn round_trips_and_orders_by_time_then_id() {
        let events = events();
        let block = Block::decode(&Block::build(&events).encode()).expect("decodes");
        assert_eq!(block.len(), 2, "events without a time are left out");
        assert_eq!(block.event_id(0), "a", "13:00:02Z, written with an offset");
        assert_eq!(block.sort_key(0), "2024-05-01T13:00:02.000000Z#a");
        assert_eq!(
            block.summary(0).event_time.as_deref(),
            Some("2024-05-01T15:00:02+02:00"),
            "eventTime as written"
        );
        let original = events.iter().find(|e| e.event_id == "b").unwrap();
        let mut expected = original.summary();
        expected.event_time = Some("2024-05-01T13:00:02Z".into());
        assert_eq!(block.summary(1), expected);
        let rebuilt = block.event(1);
        assert_eq!(rebuilt.resource_names, original.resource_names);
        assert_eq!(rebuilt.service, "ec2");
        assert_eq!(rebuilt.principal, "Admin");
        assert_eq!(rebuilt.session_name.as_deref(), Some("alice"));
        assert_eq!(rebuilt.sort_key, original.sort_key);
    }

    #[test]
    fn single_columns_follow_the_single_attributes() {
        for (column, attribute) in SINGLE.iter().enumerate() {
            assert_eq!(single_column(*attribute), Some(column), "{attribute:?}");
        }
        for attribute in Attribute::ALL {
            assert_eq!(
                single_column(attribute).is_some(),
                SINGLE.contains(&attribute),
                "{attribute:?}"
            );
        }
    }

    #[test]
    fn terms_match_on_references() {
        let block = Block::build(&events());
        let terms = |t: Vec<Term>| block.resolve(&t);
        let run = Term::equals(Attribute::EventName, "RunInstances");
        let failed = Term {
            attribute: Attribute::ErrorCode,
            wanted: Wanted::Present,
        };
        let resolved = terms(vec![run.clone(), failed]).expect("both can match");
        let rows: Vec<usize> = (0..block.len())
            .filter(|r| block.matches(*r, &resolved))
            .collect();
        assert_eq!(rows, [1]);
        assert!(terms(vec![Term::equals(Attribute::EventName, "Nope")]).is_none());
        let resource = terms(vec![Term::equals(Attribute::ResourceName, "arn:r2")]).unwrap();
        assert!(block.matches(1, &resource) && !block.matches(0, &resource));
        let read_only = terms(vec![Term::equals(Attribute::ReadOnly, "false")]).unwrap();
        assert!(block.matches(1, &read_only));

        // The column pass finds the rows the row-by-row check finds, for
        // terms on single-valued attributes, on lists, present or not.
        let cases = [
            vec![run.clone()],
            vec![run.clone(), Term::equals(Attribute::ResourceName, "arn:r2")],
            vec![Term::equals(Attribute::ResourceName, "arn:r2")],
            vec![Term {
                attribute: Attribute::ErrorCode,
                wanted: Wanted::Present,
            }],
            vec![Term::equals(Attribute::Principal, "Admin")],
            vec![],
        ];
        for case in cases {
            let resolved = terms(case.clone()).expect("each case can match");
            let by_row: Vec<usize> = (0..block.len())
                .filter(|r| block.matches(*r, &resolved))
                .collect();
            assert!(!by_row.is_empty(), "{case:?} matches something");
            assert_eq!(block.matching_rows(&resolved), by_row, "{case:?}");
        }
    }

    #[test]
    fn the_raw_form_reads_too_and_the_order_maps_rows_to_events() {
        let events = events();
        let refs: Vec<&EventItem> = events.iter().collect();
        let (block, order) = Block::build_ordered(&refs);
        assert_eq!(order, [1, 0], "row 0 is events[1] (`a`), row 1 events[0]");
        assert_eq!(Block::decode(&block.encode_raw()).unwrap().ids, block.ids);
    }

    #[test]
    fn corrupt_blocks_are_errors() {
        let bytes = Block::build(&events()).encode();
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(Block::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Block::decode(b"not a block").is_err());
    }
}
