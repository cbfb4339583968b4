//! The stored form of an event: the fields every route needs as plain values,
//! the record itself (its text as ingest made it, compressed by the store
//! that keeps it), and the keys that place the event in the two time-ordered
//! indexes (by principal; by month and service).

use std::cell::RefCell;
use std::io::Write;
use std::sync::LazyLock;

use flate2::{Compression, Decompress, FlushDecompress, Status};
use serde::Serialize;
use zstd::dict::{DecoderDictionary, EncoderDictionary};

/// An event's record, as far as it has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredRecord {
    /// The redacted JSON text, as ingest made it.
    Text(String),
    /// Compressed as a DynamoDB item keeps it: a zstd frame with the record
    /// dictionary (or raw deflate, from early releases).
    Compressed(Vec<u8>),
    /// Not read (an event rebuilt from a block: its record is read by id).
    Absent,
}

impl StoredRecord {
    /// The compressed form (zstd with the record dictionary).
    pub fn compressed(&self) -> Vec<u8> {
        match self {
            StoredRecord::Text(text) => compress(text.as_bytes()),
            StoredRecord::Compressed(bytes) => bytes.clone(),
            StoredRecord::Absent => Vec::new(),
        }
    }
}

use crate::cloudtrail::{Record, service_name};
use crate::time;

/// The service name of records without `eventSource`.
pub const NO_SERVICE: &str = "(none)";

/// One event as both stores hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventItem {
    pub event_id: String,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    /// Short service name (`ec2`), `(none)` without an event source.
    pub service: String,
    /// `eventTime` as the record wrote it.
    pub event_time: Option<String>,
    /// `<sortable UTC time>#<eventID>`: the sort key in both indexes; `None`
    /// when the record has no usable time (it is then kept but not indexed).
    pub sort_key: Option<String>,
    /// `YYYY-MM` of the event time.
    pub month: Option<String>,
    pub aws_region: Option<String>,
    pub principal: String,
    pub account: Option<String>,
    pub session_name: Option<String>,
    pub error_code: Option<String>,
    pub source_ip: Option<String>,
    pub access_key_id: Option<String>,
    pub read_only: Option<bool>,
    /// Who is behind an assumed role (`sessionContext.sourceIdentity`).
    pub source_identity: Option<String>,
    /// `resources[].ARN`, each once.
    pub resource_names: Vec<String>,
    /// `resources[].type`, each once.
    pub resource_types: Vec<String>,
    /// Epoch seconds after which DynamoDB's TTL may delete the event.
    pub expires_at: Option<i64>,
    /// The redacted record.
    pub record: StoredRecord,
}

/// What an event route returns per event, borrowed from where the event
/// is held (a stored event or a row of a block) and written straight into
/// the response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary<'a> {
    #[serde(rename = "eventID")]
    pub event_id: &'a str,
    #[serde(rename = "eventName")]
    pub event_name: Option<&'a str>,
    #[serde(rename = "eventSource")]
    pub event_source: Option<&'a str>,
    /// As the record wrote it (a block renders the usual form itself).
    #[serde(rename = "eventTime")]
    pub event_time: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "userIdentity_userName")]
    pub principal: &'a str,
    #[serde(rename = "awsRegion")]
    pub aws_region: Option<&'a str>,
    #[serde(rename = "recipientAccountId")]
    pub account: Option<&'a str>,
    #[serde(rename = "errorCode")]
    pub error_code: Option<&'a str>,
    /// The role session name of an assumed role (often the person's name or e-mail).
    #[serde(rename = "sessionName")]
    pub session_name: Option<&'a str>,
    /// The person behind a role when the session set one (`sourceIdentity`).
    #[serde(rename = "sourceIdentity")]
    pub source_identity: Option<&'a str>,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip: Option<&'a str>,
    #[serde(rename = "accessKeyId")]
    pub access_key_id: Option<&'a str>,
    #[serde(rename = "readOnly")]
    pub read_only: Option<bool>,
}

impl EventSummary<'_> {
    /// Appends the summary as JSON to `out`: the text serde_json writes for
    /// it (the derive above), sooner. A page writes hundreds of these, and
    /// serde_json escapes strings a byte at a time; here a string with
    /// nothing to escape (nearly every one) is copied whole.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        fn text(out: &mut Vec<u8>, value: &str) {
            // No early exit, so the test runs over whole vectors.
            let escaped = value.bytes().fold(false, |any, b| {
                any | (b < 0x20) | (b == b'"') | (b == b'\\')
            });
            if escaped {
                // Writing a string into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, value);
            } else {
                out.push(b'"');
                out.extend_from_slice(value.as_bytes());
                out.push(b'"');
            }
        }
        // Each field's name (with what separates it from the one before) and value.
        let fields: [(&[u8], Option<&str>); 12] = [
            (br#"{"eventID":"#, Some(self.event_id)),
            (br#","eventName":"#, self.event_name),
            (br#","eventSource":"#, self.event_source),
            (br#","eventTime":"#, self.event_time.as_deref()),
            (br#","userIdentity_userName":"#, Some(self.principal)),
            (br#","awsRegion":"#, self.aws_region),
            (br#","recipientAccountId":"#, self.account),
            (br#","errorCode":"#, self.error_code),
            (br#","sessionName":"#, self.session_name),
            (br#","sourceIdentity":"#, self.source_identity),
            (br#","sourceIPAddress":"#, self.source_ip),
            (br#","accessKeyId":"#, self.access_key_id),
        ];
        for (name, value) in fields {
            out.extend_from_slice(name);
            match value {
                Some(value) => text(out, value),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(br#","readOnly":"#);
        out.extend_from_slice(match self.read_only {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        });
        out.push(b'}');
    }
}

/// A stored record could not be decompressed.
#[derive(Debug, thiserror::Error)]
#[error("stored record of event `{event_id}` is corrupt: {reason}")]
pub struct CorruptRecord {
    pub event_id: String,
    pub reason: String,
}

/// Longest value tracker puts into a key (eventID, principal, service,
/// catalog values). DynamoDB refuses a partition key over 2,048 bytes, a sort
/// key over 1,024 and an empty key; one such item fails its whole request,
/// and so the whole file, forever. Real CloudTrail values are far shorter.
pub const MAX_KEY_VALUE_BYTES: usize = 512;

/// `value` if it fits in a key; else its first bytes (cut on a character
/// boundary) and `#` and a hash of the whole value, so distinct long values
/// stay distinct and the same value always maps to the same key.
pub fn key_safe(value: String) -> String {
    if value.len() <= MAX_KEY_VALUE_BYTES {
        return value;
    }
    let hash = crate::digest::sha256_hex(&value, 16);
    let mut cut = MAX_KEY_VALUE_BYTES - hash.len() - 1;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}#{hash}", &value[..cut])
}

impl EventItem {
    /// Builds the stored form of a record. `retention_days == 0` keeps it forever.
    /// Values that go into keys are made [`key_safe`].
    pub fn from_record(record: Record, retention_days: u32) -> EventItem {
        let record = Record {
            event_id: key_safe(record.event_id),
            principal: key_safe(record.principal),
            ..record
        };
        let sort_key = record
            .instant
            .map(|t| format!("{}#{}", time::sortable(&t), record.event_id));
        let month = record.instant.map(|t| time::month_bucket(&t));
        let expires_at = (retention_days > 0).then(|| {
            let base = record.instant.unwrap_or_else(chrono::Utc::now);
            base.timestamp() + i64::from(retention_days) * 86_400
        });
        // `.amazonaws.com` alone names no service: `(none)`, never an empty key.
        let service = key_safe(
            record
                .event_source
                .as_deref()
                .map(service_name)
                .filter(|name| !name.is_empty())
                .unwrap_or(NO_SERVICE)
                .to_owned(),
        );
        EventItem {
            record: StoredRecord::Text(record.json),
            event_id: record.event_id,
            event_name: record.event_name,
            event_source: record.event_source,
            service,
            event_time: record.event_time,
            sort_key,
            month,
            aws_region: record.aws_region,
            principal: record.principal,
            account: record.account,
            session_name: record.session_name,
            error_code: record.error_code,
            source_ip: record.source_ip,
            access_key_id: record.access_key_id,
            read_only: record.read_only,
            source_identity: record.source_identity,
            resource_names: record.resource_names,
            resource_types: record.resource_types,
            expires_at,
        }
    }

    /// Partition of this event in the by-principal index.
    pub fn principal_partition(&self) -> String {
        principal_partition(&self.principal)
    }

    /// Partition of this event in the by-time index (month and service).
    pub fn time_partition(&self) -> Option<String> {
        self.month
            .as_deref()
            .map(|m| time_partition(m, &self.service))
    }

    /// The (redacted) record text.
    pub fn record_json(&self) -> Result<String, CorruptRecord> {
        let corrupt = |reason: String| CorruptRecord {
            event_id: self.event_id.clone(),
            reason,
        };
        match &self.record {
            StoredRecord::Text(text) => Ok(text.clone()),
            StoredRecord::Compressed(bytes) => {
                let bytes = decompress(bytes).map_err(corrupt)?;
                String::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))
            }
            StoredRecord::Absent => Err(corrupt("its record was not read".into())),
        }
    }

    /// What an event route returns for the event.
    pub fn summary(&self) -> EventSummary<'_> {
        EventSummary {
            event_id: &self.event_id,
            event_name: self.event_name.as_deref(),
            event_source: self.event_source.as_deref(),
            event_time: self.event_time.as_deref().map(Into::into),
            principal: &self.principal,
            aws_region: self.aws_region.as_deref(),
            account: self.account.as_deref(),
            error_code: self.error_code.as_deref(),
            session_name: self.session_name.as_deref(),
            source_identity: self.source_identity.as_deref(),
            source_ip: self.source_ip.as_deref(),
            access_key_id: self.access_key_id.as_deref(),
            read_only: self.read_only,
        }
    }
}

/// `U#<principal>`.
pub fn principal_partition(principal: &str) -> String {
    format!("U#{principal}")
}

/// `T#<YYYY-MM>#<service>`: a month of one service. Sharding the time index by
/// service spreads a day's writes over one partition per service; `/scan`
/// merges the shards back in time order.
pub fn time_partition(month: &str, service: &str) -> String {
    format!("T#{month}#{service}")
}

/// Compression level of stored records: zstd's fastest positive level; with
/// the dictionary it already shrinks a typical record 5× (see BENCHMARKS.md).
const RECORD_LEVEL: i32 = 1;

/// Largest record text a stored record may inflate to (CloudTrail caps a
/// record far below this); a corrupt length field cannot make us allocate more.
const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// The dictionary stored records are compressed with, trained on CloudTrail
/// records (`cargo run -p tracker-runtime --example train_dictionary`). Each
/// compressed record names it by id; a shipped dictionary is never changed.
static RECORD_DICTIONARY: &[u8] = include_bytes!("../assets/record-dictionary-v1.zdict");

static ENCODER_DICTIONARY: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(RECORD_DICTIONARY, RECORD_LEVEL));
static DECODER_DICTIONARY: LazyLock<DecoderDictionary<'static>> =
    LazyLock::new(|| DecoderDictionary::copy(RECORD_DICTIONARY));

/// First bytes of a zstd frame; a raw deflate stream can never start with them
/// (0x28 opens a stored block whose length check these bytes fail), which is
/// how records written before zstd (raw deflate) are still told apart.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

thread_local! {
    // Compression contexts are reused per thread: creating one costs more
    // than compressing a typical record.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Compresses a record text for storage (a zstd frame using the dictionary).
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::with_prepared_dictionary(&ENCODER_DICTIONARY).ok();
        }
        match slot.as_mut().map(|c| c.compress(bytes)) {
            Some(Ok(compressed)) => compressed,
            // zstd cannot fail on memory it is given; if it ever did, store
            // the record in the older (deflate) format rather than lose it.
            _ => deflate(bytes),
        }
    })
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(6));
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// zstd level of many records compressed together (the embedded store's
/// packs). With the record dictionary, level 1 is both the fastest and the
/// smallest on CloudTrail records (`zstd -b1 -e3 -D` over 400 of the
/// benchmark's files: 1,149 / 1,007 / 713 MB/s and ×13.40 / 13.24 / 13.13 at
/// levels 1 / 2 / 3), and decompresses faster too.
const PACK_LEVEL: i32 = 1;

static PACK_DICTIONARY: LazyLock<EncoderDictionary<'static>> =
    LazyLock::new(|| EncoderDictionary::copy(RECORD_DICTIONARY, PACK_LEVEL));

thread_local! {
    static PACK_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// Compresses many records' worth of bytes at once with the record
/// dictionary (the embedded store's packs).
pub fn compress_pack(bytes: &[u8]) -> Vec<u8> {
    PACK_COMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::with_prepared_dictionary(&PACK_DICTIONARY).ok();
        }
        slot.as_mut()
            .and_then(|c| c.compress(bytes).ok())
            .unwrap_or_default()
    })
}

/// Restores what [`compress`] (or an older release's raw deflate) wrote.
pub fn decompress(bytes: &[u8]) -> Result<Vec<u8>, String> {
    decompress_at_most(bytes, MAX_RECORD_BYTES)
}

/// Restores what [`compress`] or [`compress_pack`] wrote, refusing
/// anything that claims more than `limit` bytes.
pub fn decompress_at_most(bytes: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return inflate(bytes);
    }
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(size)) if size <= limit as u64 => size as usize,
        Ok(Some(size)) => return Err(format!("it claims {size} bytes, over the limit")),
        Ok(None) => return Err("its frame has no content size".into()),
        Err(_) => return Err("its zstd frame header is invalid".into()),
    };
    DECOMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = zstd::bulk::Decompressor::with_prepared_dictionary(&DECODER_DICTIONARY)
                .map_err(|e| e.to_string())
                .map(Some)?;
        }
        let decompressor = slot.as_mut().ok_or("no zstd context")?;
        let out = decompressor
            .decompress(bytes, size)
            .map_err(|e| e.to_string())?;
        if out.len() == size {
            Ok(out)
        } else {
            Err("it is shorter than its frame header says".into())
        }
    })
}

/// Inflates a raw deflate stream (records stored before zstd).
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut decompressor = Decompress::new(false);
    let mut out = Vec::with_capacity(bytes.len() * 3 + 64);
    loop {
        let consumed = decompressor.total_in() as usize;
        match decompressor.decompress_vec(&bytes[consumed..], &mut out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => return Ok(out),
            Ok(_) if consumed == decompressor.total_in() as usize && out.len() < out.capacity() => {
                return Err("the compressed record is truncated".into());
            }
            Ok(_) if out.len() > MAX_RECORD_BYTES => {
                return Err("it inflates past the limit".into());
            }
            Ok(_) => out.reserve(out.capacity().max(1024)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The stored form of one record given as JSON text (for tests).
#[cfg(test)]
pub(crate) fn event_from_json(text: String) -> EventItem {
    let raw = serde_json::value::RawValue::from_string(text).expect("a test record is JSON");
    EventItem::from_record(Record::from_raw(&raw).expect("a test record reads"), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[test]
    fn the_summary_has_the_fields_the_api_documents() {
        let full = event_from_json(serde_json::json!({
            "eventID": "e\"1", "eventTime": "2024-05-01T13:00:02Z", "eventName": "RunInstances",
            "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1", "errorCode": "AccessDenied",
            "sourceIPAddress": "10.0.0.1", "readOnly": false, "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "userName": "alice", "accessKeyId": "AKIA1"}
        }).to_string());
        assert_eq!(
            serde_json::to_value(full.summary()).unwrap(),
            serde_json::json!({
                "eventID": "e\"1", "eventName": "RunInstances", "eventSource": "ec2.amazonaws.com",
                "eventTime": "2024-05-01T13:00:02Z", "userIdentity_userName": "alice",
                "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
                "errorCode": "AccessDenied", "sessionName": null, "sourceIdentity": null,
                "sourceIPAddress": "10.0.0.1", "accessKeyId": "AKIA1", "readOnly": false
            })
        );
        let bare = event_from_json(serde_json::json!({"eventID": "e2"}).to_string());
        let written = serde_json::to_value(bare.summary()).unwrap();
        assert_eq!(written["eventID"], "e2");
        assert_eq!(written["eventTime"], serde_json::Value::Null);
    }

    #[test]
    fn the_summary_is_written_as_serde_json_writes_it() {
        let awkward = [
            "plain",
            "",
            "quote \" and backslash \\",
            "tab\tnew line\ncontrol \u{1}\u{1f} del \u{7f}",
            "été ✓ 𝄞",
        ];
        let mut events = vec![event_from_json(
            serde_json::json!({"eventID": "bare"}).to_string(),
        )];
        for value in awkward {
            events.push(event_from_json(
                serde_json::json!({
                    "eventID": value, "eventTime": "2024-05-01T13:00:02Z", "eventName": value,
                    "eventSource": value, "awsRegion": value, "errorCode": value,
                    "sourceIPAddress": value, "readOnly": true, "recipientAccountId": value,
                    "userIdentity": {"type": "AssumedRole", "principalId": "AROA1:s",
                        "arn": format!("arn:aws:sts::1:assumed-role/r/{value}"),
                        "accessKeyId": value,
                        "sessionContext": {"sourceIdentity": value,
                            "sessionIssuer": {"userName": value}}}
                })
                .to_string(),
            ));
        }
        for event in &events {
            let summary = event.summary();
            let mut fast = Vec::new();
            summary.write_json(&mut fast);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(&summary).unwrap()
            );
        }
    }

    #[test]
    fn values_too_long_for_a_key_are_cut_and_hashed() {
        assert_eq!(key_safe("alice".into()), "alice");
        let long = "é".repeat(400);
        let safe = key_safe(long.clone());
        assert!(safe.len() <= MAX_KEY_VALUE_BYTES, "{}", safe.len());
        assert_eq!(safe, key_safe(long.clone()), "stable");
        assert_ne!(
            safe,
            key_safe(format!("{long}x")),
            "distinct values stay distinct"
        );
        let text = format!(
            r#"{{"eventID":"{}","eventTime":"2024-01-02T03:04:05Z","userIdentity":{{"userName":"{}"}}}}"#,
            "i".repeat(3000),
            "u".repeat(3000)
        );
        let record = Record::from_raw(&RawValue::from_string(text).unwrap()).unwrap();
        let item = EventItem::from_record(record, 0);
        assert!(item.event_id.len() <= MAX_KEY_VALUE_BYTES);
        assert!(item.principal.len() <= MAX_KEY_VALUE_BYTES);
        assert!(item.sort_key.unwrap().len() < 1024);
    }

    #[test]
    fn round_trips_the_record_and_builds_keys() {
        let text = r#"{"eventID":"e1","eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","userIdentity":{"userName":"bob"}}"#;
        let record = Record::from_raw(&RawValue::from_string(text.into()).unwrap()).unwrap();
        let item = EventItem::from_record(record, 10);
        assert_eq!(item.record_json().unwrap(), text);
        let big: String = (0..20_000).map(|i| format!("{i},")).collect();
        assert_eq!(
            decompress(&compress(big.as_bytes())).unwrap(),
            big.as_bytes(),
            "beyond one buffer"
        );
        let compressed = compress(text.as_bytes());
        assert!(compressed.starts_with(&ZSTD_MAGIC));
        assert!(
            compressed.len() < text.len() / 2,
            "the dictionary helps small records"
        );
        for cut in 0..compressed.len() {
            assert!(
                decompress(&compressed[..cut]).is_err(),
                "truncated input is an error, not a hang (cut at {cut})"
            );
        }
        assert!(inflate(&deflate(b"abc")[..1]).is_err());
        assert_eq!(
            decompress(&deflate(text.as_bytes())).unwrap(),
            text.as_bytes(),
            "records stored as raw deflate by earlier releases still read"
        );
        assert_eq!(
            item.sort_key.as_deref(),
            Some("2024-01-02T03:04:05.000000Z#e1")
        );
        assert_eq!(item.time_partition().as_deref(), Some("T#2024-01#s3"));
        assert_eq!(item.principal_partition(), "U#bob");
        assert_eq!(item.expires_at, Some(1_704_164_645 + 10 * 86_400));
    }
}
