//! Streaming reader for CloudTrail log files: `{"Records":[ … ]}`, gzip'd as
//! CloudTrail writes them or plain JSON. Records are handed out one at a time
//! as raw JSON text, so memory stays flat however large the file is, and a
//! failure part-way still leaves the records before it usable.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use flate2::bufread::MultiGzDecoder;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Why a log file could not be read to the end.
#[derive(Debug, thiserror::Error)]
pub enum LogReadError {
    /// The bytes could not be fetched (network, S3, disk): worth retrying.
    #[error("reading the object failed: {0}")]
    Source(#[source] io::Error),
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The gzip stream is corrupt or truncated.
    #[error("not a valid gzip stream (truncated or corrupt): {0}")]
    Gzip(#[source] io::Error),
    /// The content is not the JSON document CloudTrail writes.
    #[error("not a CloudTrail log (invalid JSON): {0}")]
    Json(#[source] serde_json::Error),
}

impl LogReadError {
    /// True when reading again may succeed (the source failed, not the content).
    pub fn is_transient(&self) -> bool {
        matches!(self, LogReadError::Source(_))
    }
}

/// What a complete read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogShape {
    /// A `Records` array was present (possibly empty), with this many entries.
    Records(usize),
    /// A JSON object without `Records` (e.g. a digest file): nothing to store.
    NoRecords,
}

/// Reads one log file from `source`, calling `on_record` with each element of
/// its `Records` array, in order. gzip is detected from the content, not the
/// name. Errors from `source` itself are reported as [`LogReadError::Source`].
pub fn read_log_records<R, F>(source: R, mut on_record: F) -> Result<LogShape, LogReadError>
where
    R: Read,
    F: FnMut(&RawValue),
{
    let source_failed = Rc::new(Cell::new(false));
    let tracked = TrackedSource {
        inner: source,
        failed: Rc::clone(&source_failed),
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, tracked);
    let head = match buffered.fill_buf() {
        Ok(head) => head,
        Err(e) => return Err(LogReadError::Source(e)),
    };
    if head.is_empty() {
        return Err(LogReadError::Empty);
    }
    let gzipped = head.starts_with(&[0x1f, 0x8b]);
    let classify_io = |e: io::Error| {
        if source_failed.get() {
            LogReadError::Source(e)
        } else {
            LogReadError::Gzip(e)
        }
    };
    let classify_json = |e: serde_json::Error| {
        if source_failed.get() {
            LogReadError::Source(io::Error::other(e))
        } else if e.is_io() {
            LogReadError::Gzip(io::Error::from(e))
        } else {
            LogReadError::Json(e)
        }
    };
    let count = if gzipped {
        let decoder = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(buffered));
        parse_document(decoder, &mut on_record).map_err(classify_json)
    } else {
        parse_document(buffered, &mut on_record).map_err(classify_json)
    };
    match count {
        Ok(shape) => Ok(shape),
        Err(LogReadError::Gzip(e)) => Err(classify_io(e)),
        Err(other) => Err(other),
    }
}

fn parse_document<R: Read, F: FnMut(&RawValue)>(
    reader: R,
    on_record: &mut F,
) -> Result<LogShape, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let shape = DocumentSeed { on_record }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(shape)
}

/// Remembers whether the underlying reader failed, so that a network error is
/// not mistaken for a corrupt file.
struct TrackedSource<R> {
    inner: R,
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for TrackedSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| self.failed.set(true))
    }
}

struct DocumentSeed<'f, F> {
    on_record: &'f mut F,
}

impl<'de, F: FnMut(&RawValue)> DeserializeSeed<'de> for DocumentSeed<'_, F> {
    type Value = LogShape;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<LogShape, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(&RawValue)> Visitor<'de> for DocumentSeed<'_, F> {
    type Value = LogShape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a JSON object {"Records": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LogShape, A::Error> {
        let mut shape = LogShape::NoRecords;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" && shape == LogShape::NoRecords {
                let n = map.next_value_seed(RecordsSeed {
                    on_record: &mut *self.on_record,
                })?;
                shape = LogShape::Records(n);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(shape)
    }
}

struct RecordsSeed<'f, F> {
    on_record: &'f mut F,
}

impl<'de, F: FnMut(&RawValue)> DeserializeSeed<'de> for RecordsSeed<'_, F> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, F: FnMut(&RawValue)> Visitor<'de> for RecordsSeed<'_, F> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while let Some(record) = seq.next_element::<Box<RawValue>>()? {
            (self.on_record)(&record);
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn collect(bytes: &[u8]) -> (Result<LogShape, LogReadError>, Vec<String>) {
        let mut seen = Vec::new();
        let r = read_log_records(bytes, |raw| seen.push(raw.get().to_owned()));
        (r, seen)
    }

    #[test]
    fn reads_plain_and_gzip() {
        let doc = br#"{"Records":[{"eventID":"a"},{"eventID":"b"}],"x":1}"#;
        for bytes in [doc.to_vec(), gz(doc)] {
            let (r, seen) = collect(&bytes);
            assert_eq!(r.unwrap(), LogShape::Records(2));
            assert_eq!(seen, vec![r#"{"eventID":"a"}"#, r#"{"eventID":"b"}"#]);
        }
    }

    #[test]
    fn no_records_is_not_an_error() {
        let (r, seen) = collect(br#"{"awsAccountId":"1","logFiles":[]}"#);
        assert_eq!(r.unwrap(), LogShape::NoRecords);
        assert!(seen.is_empty());
        assert_eq!(
            collect(br#"{"Records":null}"#).0.unwrap(),
            LogShape::Records(0)
        );
    }

    #[test]
    fn truncated_gzip_keeps_earlier_records_and_reports_gzip() {
        let mut doc = String::from(r#"{"Records":["#);
        for i in 0..2000 {
            doc.push_str(&format!(
                r#"{{"eventID":"{i}","pad":"{}"}},"#,
                "x".repeat(i % 50)
            ));
        }
        doc.push_str(r#"{"eventID":"last"}]}"#);
        let bytes = gz(doc.as_bytes());
        let (r, seen) = collect(&bytes[..bytes.len() / 2]);
        assert!(matches!(r, Err(LogReadError::Gzip(_))), "{r:?}");
        assert!(!seen.is_empty() && seen.len() < 2001);
    }

    #[test]
    fn bad_content_is_reported_not_panicked() {
        assert!(matches!(collect(b"").0, Err(LogReadError::Empty)));
        assert!(matches!(collect(b"not json").0, Err(LogReadError::Json(_))));
        assert!(matches!(collect(b"[1,2]").0, Err(LogReadError::Json(_))));
        assert!(matches!(
            collect(br#"{"Records":5}"#).0,
            Err(LogReadError::Json(_))
        ));
        assert!(matches!(
            collect(br#"{"Records":[{"a":1}"#).0,
            Err(LogReadError::Json(_))
        ));
        assert!(matches!(
            collect(&gz(b"{\"Records\":[1]} trailing")).0,
            Err(LogReadError::Json(_))
        ));
    }

    #[test]
    fn failing_source_is_transient() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(b' ');
                buf[0] = b'{';
                self.0 -= n;
                Ok(n)
            }
        }
        let r = read_log_records(Failing(10), |_| {});
        assert!(matches!(&r, Err(e) if e.is_transient()), "{r:?}");
    }
}
