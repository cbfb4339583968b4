//! Reader for CloudTrail log files: `{"Records":[ … ]}`, gzip'd as CloudTrail
//! writes them or plain JSON. Records are handed out one at a time as raw
//! JSON text; a failure part-way still leaves the records before it usable.
//! Typical files (a few KB) are inflated into memory and parsed in place, so
//! records are borrowed, not copied; past [`IN_MEMORY_LIMIT`] the file is
//! parsed as a stream and memory stays bounded however large it is.

use std::borrow::Borrow;
use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::rc::Rc;

use flate2::bufread::MultiGzDecoder;
use serde::Deserialize;
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

/// Files whose JSON text is at most this large are read into memory and
/// parsed in place (records borrowed from the buffer); larger ones are
/// parsed as a stream, so memory stays bounded whatever the file's size.
pub const IN_MEMORY_LIMIT: usize = 32 * 1024 * 1024;

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
    let result = if head.starts_with(&[0x1f, 0x8b]) {
        parse_text(MultiGzDecoder::new(buffered), &mut on_record)
    } else {
        parse_text(buffered, &mut on_record)
    };
    match result {
        Ok(shape) => Ok(shape),
        Err(ParseError::Read(e)) => Err(classify_io(e)),
        Err(ParseError::Json(e)) => match classify_json(e) {
            LogReadError::Gzip(e) => Err(classify_io(e)),
            other => Err(other),
        },
    }
}

enum ParseError {
    /// Reading the text failed (source or gzip); records before it were emitted.
    Read(io::Error),
    Json(serde_json::Error),
}

/// Reads the JSON text of a log into memory and parses it in place; falls
/// back to streaming past [`IN_MEMORY_LIMIT`].
fn parse_text<R: Read, F: FnMut(&RawValue)>(
    mut reader: R,
    on_record: &mut F,
) -> Result<LogShape, ParseError> {
    // One buffer per thread, kept between files: growing a fresh one for
    // every file cost more than inflating it.
    let mut text = TEXT_BUFFER.take();
    let (filled, read) = read_up_to(&mut reader, &mut text, IN_MEMORY_LIMIT);
    let result = parse_read_text(read, &text[..filled], reader, on_record);
    if text.capacity() <= KEPT_BUFFER_BYTES {
        TEXT_BUFFER.set(text);
    }
    result
}

/// Reads until the end or `limit` bytes into `buffer`, whose whole length
/// stays initialized between files: `read_to_end` zeroed the spare room it
/// read into on every call (1.4 % of a backfill's instructions). Returns how
/// many bytes were read, and the error that stopped it, if any (the bytes
/// before it are kept).
fn read_up_to(
    reader: &mut impl Read,
    buffer: &mut Vec<u8>,
    limit: usize,
) -> (usize, io::Result<()>) {
    let mut filled = 0;
    while filled < limit {
        if filled == buffer.len() {
            let grown = (buffer.len() * 2).clamp(64 * 1024, limit);
            buffer.resize(grown, 0);
        }
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (filled, Err(e)),
        }
    }
    (filled, Ok(()))
}

thread_local! {
    static TEXT_BUFFER: std::cell::Cell<Vec<u8>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// Largest text buffer a thread keeps between files.
const KEPT_BUFFER_BYTES: usize = 4 * 1024 * 1024;

fn parse_read_text<R: Read, F: FnMut(&RawValue)>(
    read: io::Result<()>,
    text: &[u8],
    reader: R,
    on_record: &mut F,
) -> Result<LogShape, ParseError> {
    match read {
        // The text ended before the limit: parse it from memory.
        Ok(()) if text.len() < IN_MEMORY_LIMIT => {
            parse_document::<_, _, &RawValue>(serde_json::Deserializer::from_slice(text), on_record)
                .map_err(ParseError::Json)
        }
        // A large file: go on as a stream, starting with what was read.
        Ok(()) => {
            let stream = io::Cursor::new(text).chain(reader);
            let deserializer =
                serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, stream));
            parse_document::<_, _, Box<RawValue>>(deserializer, on_record).map_err(ParseError::Json)
        }
        // Reading failed part-way: keep the records that arrived whole, then
        // report the read error (the JSON error at the cut is its symptom).
        Err(error) => {
            let _ = parse_document::<_, _, &RawValue>(
                serde_json::Deserializer::from_slice(text),
                on_record,
            );
            Err(ParseError::Read(error))
        }
    }
}

/// Parses `{"Records": [...]}`, handing each record's text (as `T`) to `on_record`.
fn parse_document<'de, R, F, T>(
    mut deserializer: serde_json::Deserializer<R>,
    on_record: &mut F,
) -> Result<LogShape, serde_json::Error>
where
    R: serde_json::de::Read<'de>,
    F: FnMut(&RawValue),
    T: Deserialize<'de> + Borrow<RawValue>,
{
    let shape = DocumentSeed::<F, T> {
        on_record,
        text: PhantomData,
    }
    .deserialize(&mut deserializer)?;
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

struct DocumentSeed<'f, F, T> {
    on_record: &'f mut F,
    text: PhantomData<fn() -> T>,
}

impl<'de, F, T> DeserializeSeed<'de> for DocumentSeed<'_, F, T>
where
    F: FnMut(&RawValue),
    T: Deserialize<'de> + Borrow<RawValue>,
{
    type Value = LogShape;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<LogShape, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F, T> Visitor<'de> for DocumentSeed<'_, F, T>
where
    F: FnMut(&RawValue),
    T: Deserialize<'de> + Borrow<RawValue>,
{
    type Value = LogShape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a JSON object {"Records": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LogShape, A::Error> {
        let mut shape = LogShape::NoRecords;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" && shape == LogShape::NoRecords {
                let n = map.next_value_seed(RecordsSeed::<F, T> {
                    on_record: &mut *self.on_record,
                    text: PhantomData,
                })?;
                shape = LogShape::Records(n);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(shape)
    }
}

struct RecordsSeed<'f, F, T> {
    on_record: &'f mut F,
    text: PhantomData<fn() -> T>,
}

impl<'de, F, T> DeserializeSeed<'de> for RecordsSeed<'_, F, T>
where
    F: FnMut(&RawValue),
    T: Deserialize<'de> + Borrow<RawValue>,
{
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, F, T> Visitor<'de> for RecordsSeed<'_, F, T>
where
    F: FnMut(&RawValue),
    T: Deserialize<'de> + Borrow<RawValue>,
{
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        // `&RawValue` when the text is in memory (borrowed, no copy);
        // `Box<RawValue>` from a stream.
        while let Some(record) = seq.next_element::<T>()? {
            (self.on_record)(record.borrow());
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
    fn a_file_past_the_in_memory_limit_is_streamed_whole() {
        let record = format!(r#"{{"eventID":"x","pad":"{}"}}"#, "p".repeat(1000));
        let count = IN_MEMORY_LIMIT / record.len() + 10;
        let mut doc = String::from(r#"{"Records":["#);
        for i in 0..count {
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&record);
        }
        doc.push_str("]}");
        assert!(doc.len() > IN_MEMORY_LIMIT);
        for bytes in [doc.as_bytes().to_vec(), gz(doc.as_bytes())] {
            let mut seen = 0usize;
            let r = read_log_records(bytes.as_slice(), |raw| {
                assert_eq!(raw.get(), record);
                seen += 1;
            });
            assert_eq!(r.unwrap(), LogShape::Records(count));
            assert_eq!(seen, count);
        }
    }

    #[test]
    fn a_source_failing_part_way_keeps_earlier_records_and_is_transient() {
        struct FailsAfter<'a>(&'a [u8]);
        impl Read for FailsAfter<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
                }
                let n = buf.len().min(self.0.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let doc = br#"{"Records":[{"eventID":"a"},{"eventID":"b"},{"eventID":"c"}]}"#;
        let cut = doc.len() - 10;
        for bytes in [doc[..cut].to_vec(), gz(doc)[..].to_vec()] {
            let source = if bytes[0] == b'{' {
                bytes.clone()
            } else {
                bytes[..bytes.len() - 8].to_vec()
            };
            let mut seen = Vec::new();
            let r = read_log_records(FailsAfter(&source), |raw| seen.push(raw.get().to_owned()));
            assert!(matches!(&r, Err(e) if e.is_transient()), "{r:?}");
            if bytes[0] == b'{' {
                assert_eq!(seen, [r#"{"eventID":"a"}"#, r#"{"eventID":"b"}"#]);
            }
        }
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
