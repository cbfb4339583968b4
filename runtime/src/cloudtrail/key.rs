//! Object keys: decoding the URL-encoded keys of S3 event notifications and
//! telling CloudTrail log files apart from digests, Insights files and
//! anything else that may share the bucket.

use std::borrow::Cow;

/// What an object key holds, judged by CloudTrail's layout
/// (`…/AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/NAME.json.gz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// A log file with a `Records` array: ingest it.
    Log,
    /// A `CloudTrail-Digest/` file (integrity digest, no records): skip.
    Digest,
    /// A `CloudTrail-Insight/` file (a different schema): skip.
    Insight,
    /// Not a JSON file at all (e.g. a folder marker): skip.
    NotJson,
}

impl LogKind {
    /// Why a non-log key is skipped, for reports.
    pub fn skip_reason(self) -> Option<&'static str> {
        match self {
            LogKind::Log => None,
            LogKind::Digest => Some("CloudTrail digest file (no records)"),
            LogKind::Insight => Some("CloudTrail Insights file (different schema)"),
            LogKind::NotJson => Some("not a .json or .json.gz file"),
        }
    }
}

/// Classifies an object key (or a relative path) as CloudTrail writes them.
pub fn classify_key(key: &str) -> LogKind {
    let segments: Vec<&str> = key.split('/').collect();
    if segments
        .iter()
        .any(|s| s.eq_ignore_ascii_case("CloudTrail-Digest"))
    {
        return LogKind::Digest;
    }
    if segments
        .iter()
        .any(|s| s.eq_ignore_ascii_case("CloudTrail-Insight"))
    {
        return LogKind::Insight;
    }
    let name = segments
        .last()
        .copied()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.ends_with(".json.gz") || name.ends_with(".json") {
        LogKind::Log
    } else {
        LogKind::NotJson
    }
}

/// Decodes an object key from an S3 event notification: keys arrive
/// form-encoded (`+` for a space, `%XX` for other bytes).
pub fn decode_s3_event_key(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['+', '%']) {
        return Cow::Borrowed(raw);
    }
    let decoded: String = form_urlencoded::parse(format!("k={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    Cow::Owned(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        assert_eq!(
            decode_s3_event_key("AWSLogs/with+space%2Bx.json.gz"),
            "AWSLogs/with space+x.json.gz"
        );
        assert_eq!(
            decode_s3_event_key("AWSLogs%2Fa%2Fb.json.gz"),
            "AWSLogs/a/b.json.gz"
        );
        assert_eq!(
            decode_s3_event_key("plain/key.json.gz"),
            "plain/key.json.gz"
        );
        assert_eq!(decode_s3_event_key("caf%C3%A9.json"), "café.json");
        // A stray `%` is kept rather than dropped.
        assert_eq!(decode_s3_event_key("100%.json"), "100%.json");
    }

    #[test]
    fn classifies_layouts() {
        let log = "AWSLogs/123/CloudTrail/us-east-1/2024/01/02/123_CloudTrail_us-east-1_20240102T0000Z_abc.json.gz";
        assert_eq!(classify_key(log), LogKind::Log);
        assert_eq!(
            classify_key(&format!("prefix/AWSLogs/o-abc/{log}")),
            LogKind::Log
        );
        assert_eq!(
            classify_key("AWSLogs/1/CloudTrail-Digest/us-east-2/2015/08/17/x.json.gz"),
            LogKind::Digest
        );
        assert_eq!(
            classify_key("AWSLogs/1/CloudTrail-Insight/r/2015/08/17/x.json.gz"),
            LogKind::Insight
        );
        assert_eq!(classify_key("AWSLogs/1/CloudTrail/"), LogKind::NotJson);
        assert_eq!(classify_key("plain.json"), LogKind::Log);
    }
}
