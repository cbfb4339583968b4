//! Hour packs: how the embedded store keeps the events of one UTC hour.
//! The hour's blocks (their summaries, uncompressed) are one value,
//! rewritten as blocks arrive; its records are frames appended one per
//! write (each record compressed once, with its neighbours of the same
//! write and the record dictionary). Compression sees many similar records
//! at a time (a CloudTrail file is a median of four), and a lookup that
//! reads summaries never inflates a record.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::keys::Hour;

/// zstd level of the summaries pack (rewritten as blocks arrive).
const LEVEL: i32 = 3;
/// Largest pack a decoder accepts (a corrupt length cannot make it allocate more).
const MAX_DECODED: usize = 1 << 30;

// zstd contexts kept per thread: a new one per pack allocated and cleared
// ~1 MB of tables each time (2 % of a backfill's instructions).
thread_local! {
    static PLAIN_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    static PLAIN_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// The hour of an index, and back: hours since the Unix epoch (years up to
/// 9999 fit in a `u32`).
pub fn hour_index(hour: &Hour) -> u32 {
    (hour.start().timestamp() / 3600).clamp(0, i64::from(u32::MAX)) as u32
}

pub fn hour_of_index(index: u32) -> Option<Hour> {
    let start = chrono::DateTime::from_timestamp(i64::from(index) * 3600, 0)?;
    Some(Hour::of(&start))
}

/// An hour's blocks: by block sort key, each block's uncompressed bytes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Summaries {
    pub blocks: BTreeMap<String, Vec<u8>>,
}

/// An hour's records: by block sort key, the record texts in row order.
/// Stored as frames, one per write; a block written again (its file read
/// again) is in a later frame, which wins.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Records {
    pub blocks: BTreeMap<String, Vec<String>>,
}

/// Joins the frames of an hour's records (each `[u32 length][frame]`).
pub fn decode_frames(bytes: &[u8]) -> Result<Records, CorruptPack> {
    let mut records = Records::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (length, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| CorruptPack("a frame's length is cut".into()))?;
        let length = u32::from_le_bytes(*length) as usize;
        let frame = tail
            .get(..length)
            .ok_or_else(|| CorruptPack("a frame is cut".into()))?;
        let part: Records = decode(frame, true)?;
        records.blocks.extend(part.blocks);
        rest = &tail[length..];
    }
    Ok(records)
}

/// One frame of records, with its length first.
pub fn encode_frame(records: &Records) -> Vec<u8> {
    let frame = encode(records, true);
    let mut bytes = Vec::with_capacity(frame.len() + 4);
    bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&frame);
    bytes
}

/// A pack could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("hour pack is corrupt: {0}")]
pub struct CorruptPack(pub String);

/// Serializes and compresses a pack (records with the record dictionary).
pub fn encode<T: Serialize>(pack: &T, with_dictionary: bool) -> Vec<u8> {
    let raw = postcard::to_allocvec(pack).unwrap_or_default();
    if with_dictionary {
        crate::event::compress_pack(&raw)
    } else {
        PLAIN_COMPRESSOR.with_borrow_mut(|slot| {
            if slot.is_none() {
                *slot = zstd::bulk::Compressor::new(LEVEL).ok();
            }
            slot.as_mut()
                .and_then(|c| c.compress(&raw).ok())
                .unwrap_or_default()
        })
    }
}

pub fn decode<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    with_dictionary: bool,
) -> Result<T, CorruptPack> {
    let raw = if with_dictionary {
        crate::event::decompress_at_most(bytes, MAX_DECODED).map_err(CorruptPack)?
    } else {
        let size = zstd::zstd_safe::get_frame_content_size(bytes)
            .ok()
            .flatten()
            .filter(|&n| n <= MAX_DECODED as u64)
            .ok_or_else(|| CorruptPack("no valid zstd frame".into()))?;
        PLAIN_DECOMPRESSOR.with_borrow_mut(|slot| {
            if slot.is_none() {
                *slot =
                    Some(zstd::bulk::Decompressor::new().map_err(|e| CorruptPack(e.to_string()))?);
            }
            let decompressor = slot
                .as_mut()
                .ok_or_else(|| CorruptPack("no zstd context".into()))?;
            decompressor
                .decompress(bytes, size as usize)
                .map_err(|e| CorruptPack(e.to_string()))
        })?
    };
    postcard::from_bytes(&raw).map_err(|e| CorruptPack(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_indexes_round_trip() {
        let hour = Hour::of(&crate::time::parse_event_time("2024-05-01T13:59:59Z").unwrap());
        assert_eq!(hour_of_index(hour_index(&hour)), Some(hour));
    }

    #[test]
    fn packs_round_trip_and_refuse_junk() {
        let mut records = Records::default();
        records
            .blocks
            .insert("13#a#0".into(), vec![r#"{"eventID":"e"}"#.into()]);
        let bytes = encode(&records, true);
        let back: Records = decode(&bytes, true).unwrap();
        assert_eq!(back.blocks, records.blocks);
        assert!(decode::<Records>(&bytes[..bytes.len() / 2], true).is_err());
        let mut later = Records::default();
        later.blocks.insert("13#a#0".into(), vec!["again".into()]);
        later.blocks.insert("13#b#0".into(), vec!["b".into()]);
        let mut frames = encode_frame(&records);
        frames.extend(encode_frame(&later));
        let joined = decode_frames(&frames).unwrap();
        assert_eq!(joined.blocks["13#a#0"], ["again"], "a later frame wins");
        assert_eq!(joined.blocks.len(), 2);
        assert!(decode_frames(&frames[..frames.len() - 1]).is_err());
        assert!(decode::<Summaries>(b"junk", false).is_err());
    }
}
