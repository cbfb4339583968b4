//! Arbitrary text as an object key: as it arrives in an S3 event
//! notification (form-encoded), and as a key or relative path to classify.
//!
//! Invariants (beyond "never panics"):
//! - a key without `%` or `+` decodes to itself, unallocated;
//! - S3's encoding of any key decodes back to the key (`+` for a space,
//!   `%XX` for other bytes, `/` left as is), whichever bytes S3 escapes;
//! - decoding never makes a key longer, and decoding what was decoded,
//!   once re-encoded, gives it back;
//! - classification ignores ASCII case and any leading folders, and
//!   agrees with the layout it describes (digest / Insights folder, `.json`
//!   or `.json.gz` name).
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use tracker_runtime::cloudtrail::{LogKind, classify_key, decode_s3_event_key};

/// S3 event notifications URL-encode keys like a form: `+` for a space,
/// `%XX` for reserved and non-ASCII bytes. Which of the harmless characters
/// are left as they are is not documented, so both extremes are tried: all
/// escaped, or `/` and the sub-delimiters other than `&` and `+` kept.
fn s3_encode(key: &str, keep_harmless: bool) -> String {
    let mut encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    if keep_harmless {
        for (escape, c) in [
            ("%2F", "/"),
            ("%21", "!"),
            ("%24", "$"),
            ("%27", "'"),
            ("%28", "("),
            ("%29", ")"),
            ("%2C", ","),
            ("%3A", ":"),
            ("%3B", ";"),
            ("%3D", "="),
            ("%40", "@"),
            ("%7E", "~"),
        ] {
            encoded = encoded.replace(escape, c);
        }
    }
    encoded
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };

    // Decoding.
    let decoded = decode_s3_event_key(raw);
    if !raw.contains(['%', '+']) {
        assert!(matches!(decoded, Cow::Borrowed(k) if k == raw));
    }
    assert!(decoded.len() <= raw.len(), "{raw:?} grew to {decoded:?}");
    for keep_harmless in [true, false] {
        let encoded = s3_encode(raw, keep_harmless);
        assert_eq!(
            decode_s3_event_key(&encoded),
            raw,
            "S3's encoding {encoded:?}"
        );
        let encoded = s3_encode(&decoded, keep_harmless);
        assert_eq!(
            decode_s3_event_key(&encoded),
            decoded,
            "re-encoded {encoded:?}"
        );
    }

    // Classification.
    for key in [raw, &decoded[..]] {
        let kind = classify_key(key);
        assert_eq!(kind, classify_key(&key.to_ascii_lowercase()));
        assert_eq!(kind, classify_key(&key.to_ascii_uppercase()));
        assert_eq!(
            kind,
            classify_key(&format!("prefix/AWSLogs/o-abc123/{key}"))
        );
        let segments: Vec<&str> = key.split('/').collect();
        let has = |folder: &str| segments.iter().any(|s| s.eq_ignore_ascii_case(folder));
        let name = segments.last().unwrap_or(&"").to_ascii_lowercase();
        let json_name = name.ends_with(".json") || name.ends_with(".json.gz");
        let expected = if has("CloudTrail-Digest") {
            LogKind::Digest
        } else if has("CloudTrail-Insight") {
            LogKind::Insight
        } else if json_name {
            LogKind::Log
        } else {
            LogKind::NotJson
        };
        assert_eq!(kind, expected, "{key:?}");
        assert_eq!(kind.skip_reason().is_none(), kind == LogKind::Log);
    }
});
