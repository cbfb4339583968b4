//! The stored form of an event: the fields every route needs as plain values,
//! the record itself deflate-compressed, and the keys that place the event in
//! the two time-ordered indexes (by principal; by month and service).

use std::cell::RefCell;
use std::io::Write;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde::{Deserialize, Serialize};

use crate::cloudtrail::{Record, service_name};
use crate::time;

/// The service name of records without `eventSource`.
pub const NO_SERVICE: &str = "(none)";

/// One event as both stores hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Epoch seconds after which DynamoDB's TTL may delete the event.
    pub expires_at: Option<i64>,
    /// The redacted record, raw-deflate compressed.
    #[serde(with = "as_bytes")]
    pub record: Vec<u8>,
}

/// Serializes a byte vector as bytes (one length and a copy) rather than as a
/// sequence of numbers, for binary encodings (the embedded store's).
mod as_bytes {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        deserializer.deserialize_byte_buf(Bytes)
    }
}

/// What an event route returns per event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "eventName")]
    pub event_name: Option<String>,
    #[serde(rename = "eventSource")]
    pub event_source: Option<String>,
    #[serde(rename = "eventTime")]
    pub event_time: Option<String>,
    #[serde(rename = "userIdentity_userName")]
    pub principal: String,
    #[serde(rename = "awsRegion")]
    pub aws_region: Option<String>,
    #[serde(rename = "recipientAccountId")]
    pub account: Option<String>,
    #[serde(rename = "errorCode")]
    pub error_code: Option<String>,
    #[serde(rename = "sessionName")]
    pub session_name: Option<String>,
}

/// A stored record could not be decompressed.
#[derive(Debug, thiserror::Error)]
#[error("stored record of event `{event_id}` is corrupt: {reason}")]
pub struct CorruptRecord {
    pub event_id: String,
    pub reason: String,
}

impl EventItem {
    /// Builds the stored form of a record. `retention_days == 0` keeps it forever.
    pub fn from_record(record: Record, retention_days: u32) -> EventItem {
        let sort_key = record
            .instant
            .map(|t| format!("{}#{}", time::sortable(&t), record.event_id));
        let month = record.instant.map(|t| time::month_bucket(&t));
        let expires_at = (retention_days > 0).then(|| {
            let base = record.instant.unwrap_or_else(chrono::Utc::now);
            base.timestamp() + i64::from(retention_days) * 86_400
        });
        let service = record
            .event_source
            .as_deref()
            .map(service_name)
            .unwrap_or(NO_SERVICE)
            .to_owned();
        EventItem {
            record: compress(record.json.as_bytes()),
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
        let bytes = decompress(&self.record).map_err(corrupt)?;
        String::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))
    }

    pub fn summary(&self) -> EventSummary {
        EventSummary {
            event_id: self.event_id.clone(),
            event_name: self.event_name.clone(),
            event_source: self.event_source.clone(),
            event_time: self.event_time.clone(),
            principal: self.principal.clone(),
            aws_region: self.aws_region.clone(),
            account: self.account.clone(),
            error_code: self.error_code.clone(),
            session_name: self.session_name.clone(),
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

thread_local! {
    // A deflate stream allocates ~300 KB of state; one per thread, reset
    // between records, instead of one per record (which cost ~60 µs each).
    static COMPRESSOR: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(6), false));
    static DECOMPRESSOR: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Raw-deflates `bytes`.
fn compress(bytes: &[u8]) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|compressor| {
        compressor.reset();
        let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
        loop {
            let consumed = compressor.total_in() as usize;
            match compressor.compress_vec(&bytes[consumed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return out,
                Ok(_) => out.reserve(out.capacity().max(1024)),
                // Compressing into memory cannot fail; keep the record rather than lose it.
                Err(_) => return fallback_compress(bytes),
            }
        }
    })
}

fn fallback_compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(6));
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Inflates what [`compress`] wrote.
fn decompress(bytes: &[u8]) -> Result<Vec<u8>, String> {
    DECOMPRESSOR.with_borrow_mut(|decompressor| {
        decompressor.reset(false);
        let mut out = Vec::with_capacity(bytes.len() * 3 + 64);
        loop {
            let consumed = decompressor.total_in() as usize;
            match decompressor.decompress_vec(&bytes[consumed..], &mut out, FlushDecompress::Finish)
            {
                Ok(Status::StreamEnd) => return Ok(out),
                Ok(_)
                    if consumed == decompressor.total_in() as usize
                        && out.len() < out.capacity() =>
                {
                    return Err("the compressed record is truncated".into());
                }
                Ok(_) => out.reserve(out.capacity().max(1024)),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

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
        assert!(
            decompress(&compress(b"abc")[..1]).is_err(),
            "truncated input is an error, not a hang"
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
