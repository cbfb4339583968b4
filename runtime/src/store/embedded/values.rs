//! Item values as the embedded file keeps them. Alert rows (`A#…`) are most
//! of the item table's bytes and repeat the same text row after row (the
//! rule's title, author and references, the log file's folder), so each is
//! kept zstd-compressed against a fixed dictionary of that text; every
//! other value, and a row the dictionary does not make smaller, is kept as
//! it is. A compressed value starts with [`MARK`] and the dictionary's
//! version, which no JSON row (`{…}`) does, so rows written plain by an
//! earlier release still read.

use std::borrow::Cow;
use std::io::Read;

/// First byte of a compressed value (never the first byte of UTF-8 text).
const MARK: u8 = 0xFF;
/// Version of [`DICTIONARY`]; a new dictionary gets a new version and the
/// old one stays, so values already written still read.
const DICTIONARY_V1: u8 = 1;
/// What alert rows repeat: field names, levels, common references and the
/// shape of CloudTrail log paths. A raw-content dictionary: zstd uses it as
/// text the row may copy from.
const DICTIONARY: &[u8] = br#"{"ruleId":"","title":"","level":"informational","level":"low","level":"medium","level":"high","level":"critical","author":"tracker","author":"Austin Songer @austinsonger","references":["https://github.com/SigmaHQ/sigma","https://www.cisecurity.org/benchmark/amazon_web_services","https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-"],"eventID":"","eventTime":"2025-01-01T00:00:00Z","eventName":"","eventSource":"iam.amazonaws.com","eventSource":"ec2.amazonaws.com","eventSource":"sts.amazonaws.com","eventSource":"signin.amazonaws.com","principal":"","sourceIPAddress":"","awsRegion":"us-east-1","file":"s3:///AWSLogs/o-/CloudTrail/us-east-1/2025/01/01/_CloudTrail_us-east-1_20250101T0000Z_.json.gz"}"#;
/// zstd level for alert rows: measured on a typical row, 216 bytes at 5 as
/// at 19 (225 at 3), for a fraction of 19's time.
const LEVEL: i32 = 5;
/// Largest decoded row accepted (a corrupt value cannot make it allocate more).
const MAX_DECODED: u64 = 1 << 20;

thread_local! {
    /// A compressor with the dictionary loaded, made once per thread.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The bytes to keep in the file for `value` under `partition`.
pub fn to_file<'a>(partition: &str, value: &'a [u8]) -> Cow<'a, [u8]> {
    if !partition.starts_with("A#") || value.is_empty() {
        return Cow::Borrowed(value);
    }
    let compressed = COMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY)?);
        }
        match slot.as_mut() {
            Some(compressor) => compressor.compress(value),
            None => Err(std::io::Error::other("no compressor")),
        }
    });
    match compressed {
        Ok(frame) if frame.len() + 2 < value.len() => {
            let mut kept = Vec::with_capacity(frame.len() + 2);
            kept.extend_from_slice(&[MARK, DICTIONARY_V1]);
            kept.extend_from_slice(&frame);
            Cow::Owned(kept)
        }
        _ => Cow::Borrowed(value),
    }
}

/// The value kept in the file as `bytes`. A value that cannot be inflated
/// is returned as it is: its reader (which expects JSON) then refuses it,
/// naming the item.
pub fn from_file(bytes: &[u8]) -> Vec<u8> {
    match bytes {
        [MARK, DICTIONARY_V1, frame @ ..] => inflate(frame).unwrap_or_else(|| bytes.to_vec()),
        _ => bytes.to_vec(),
    }
}

fn inflate(frame: &[u8]) -> Option<Vec<u8>> {
    let decoder = zstd::stream::read::Decoder::with_dictionary(frame, DICTIONARY).ok()?;
    let mut out = Vec::new();
    decoder.take(MAX_DECODED).read_to_end(&mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_rows_shrink_and_read_back_other_values_are_kept_as_they_are() {
        let row = br#"{"ruleId":"4d38c6d5-12c7-4589-9a56-646d6db7c9ba","title":"Security Group Changed","level":"medium","author":"tracker","references":["https://www.cisecurity.org/benchmark/amazon_web_services","https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-10"],"eventID":"1715609f-7c74-6c6d-c20f-c1e1d0a4b7e9","eventTime":"2024-03-02T00:00:51Z","eventName":"CreateSecurityGroup","eventSource":"ec2.amazonaws.com","principal":"fakeusername","sourceIPAddress":"1.2.3.4","awsRegion":"ap-southeast-2","file":"/logs/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/02/123456789012_CloudTrail_us-east-1_20240302T0034Z_0000000000000007.json.gz"}"#;
        let kept = to_file("A#2024-03", row);
        assert!(
            kept.len() * 2 < row.len(),
            "{} of {} bytes",
            kept.len(),
            row.len()
        );
        assert_eq!(kept[0], MARK);
        assert_eq!(from_file(&kept), row);
        // Not an alert, empty, or written plain by an earlier release.
        assert_eq!(to_file("G#2024", row), &row[..]);
        assert_eq!(to_file("A#months", b""), &b""[..]);
        assert_eq!(from_file(row), row);
        // A damaged value is returned whole, for its reader to refuse.
        let damaged = [MARK, DICTIONARY_V1, 1, 2, 3];
        assert_eq!(from_file(&damaged), damaged);
    }
}
