//! Offline triage (`tracker alerts`): detection rules run over CloudTrail log
//! files on disk — a folder as CloudTrail writes it to S3, or single files —
//! without storing anything. Each (rule, record) match is handed out as it is
//! found; a file that cannot be read is reported and the others still read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::folder::walk;
use super::rules::{RuleInfo, RuleSet};
use crate::cloudtrail::logfile::LogShape;
use crate::cloudtrail::{classify_key, fields, read_log_records};

/// One rule matching one record of one log file.
#[derive(Debug, Clone)]
pub struct TriageMatch {
    pub rule: Arc<RuleInfo>,
    pub event: MatchedEvent,
    /// The log file the record came from.
    pub file: PathBuf,
}

/// What a match shows of its record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchedEvent {
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    /// The principal ("user"), as tracker names it everywhere.
    pub principal: String,
    pub source_ip: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
}

impl MatchedEvent {
    /// Reads what a match shows from the record's JSON text.
    fn read(record_json: &str) -> MatchedEvent {
        let Ok(fields) = fields::read(record_json) else {
            return MatchedEvent::default();
        };
        let owned = |value: Option<&str>| value.map(str::to_owned);
        MatchedEvent {
            event_id: owned(fields.event_id.as_deref()),
            event_time: owned(fields.event_time.as_deref()),
            event_name: owned(fields.event_name()),
            event_source: owned(fields.event_source()),
            principal: fields.principal().to_owned(),
            source_ip: owned(fields.source_ip.as_deref()),
            region: owned(fields.aws_region.as_deref()),
            account: owned(fields.account()),
        }
    }
}

impl TriageMatch {
    /// The match as one flat JSON object (the `--ndjson` line): the rule's
    /// `ruleId`, `title`, `level`, `author`, `references` and `ruleSource`
    /// (DRL 1.1 asks every alert to name the rule's author and reference the
    /// rule), then the record's `eventID`, `eventTime`, `eventName`,
    /// `eventSource`, `principal`, `sourceIPAddress`, `awsRegion`,
    /// `recipientAccountId` and the log `file`, in that order.
    pub fn to_json_line(&self) -> String {
        let event = &self.event;
        let line = MatchLine {
            rule_id: &self.rule.id,
            title: &self.rule.title,
            level: &self.rule.level,
            author: &self.rule.author,
            references: &self.rule.references,
            rule_source: &self.rule.source,
            event_id: event.event_id.as_deref(),
            event_time: event.event_time.as_deref(),
            event_name: event.event_name.as_deref(),
            event_source: event.event_source.as_deref(),
            principal: &event.principal,
            source_ip_address: event.source_ip.as_deref(),
            aws_region: event.region.as_deref(),
            recipient_account_id: event.account.as_deref(),
            file: self.file.display().to_string(),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// The fields of an NDJSON line, in the order they are written.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct MatchLine<'a> {
    rule_id: &'a str,
    title: &'a str,
    level: &'a str,
    author: &'a str,
    references: &'a [String],
    rule_source: &'a str,
    #[serde(rename = "eventID")]
    event_id: Option<&'a str>,
    event_time: Option<&'a str>,
    event_name: Option<&'a str>,
    event_source: Option<&'a str>,
    principal: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<&'a str>,
    aws_region: Option<&'a str>,
    recipient_account_id: Option<&'a str>,
    file: String,
}

/// A log file that could not be read to its end (records before the
/// problem were still evaluated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableFile {
    pub file: PathBuf,
    pub reason: String,
}

/// What a triage run read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriageReport {
    /// Log files read (digests and non-JSON files are not counted).
    pub files: u64,
    /// JSON files without a `Records` array (not CloudTrail logs), left out.
    pub skipped: u64,
    pub records: u64,
    pub matches: u64,
    pub unreadable: Vec<UnreadableFile>,
}

/// A path given to triage that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("cannot read the logs at {path}")]
    Logs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `rules` over every CloudTrail log file under each of `paths` (a
/// folder, searched recursively, or one file), in path order, calling
/// `on_match` for each (rule, record) match. Every path is checked before
/// any file is read, so a bad path fails the run before any output.
pub fn triage(
    rules: &RuleSet,
    paths: &[PathBuf],
    on_match: &mut dyn FnMut(TriageMatch),
) -> Result<TriageReport, TriageError> {
    let mut files = Vec::new();
    for path in paths {
        files.extend(log_files(path).map_err(|source| TriageError::Logs {
            path: path.clone(),
            source,
        })?);
    }
    let mut report = TriageReport::default();
    for file in files {
        triage_file(rules, &file, &mut report, on_match);
    }
    Ok(report)
}

/// The CloudTrail log files at `path`: itself when it is a file, else every
/// log file under it (digests, Insights files and non-JSON files left out).
fn log_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if std::fs::metadata(path)?.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    Ok(walk(path)?
        .into_iter()
        .filter(|file| {
            let relative = file
                .strip_prefix(path)
                .unwrap_or(file)
                .to_string_lossy()
                .replace('\\', "/");
            classify_key(&relative).skip_reason().is_none()
        })
        .collect())
}

fn triage_file(
    rules: &RuleSet,
    file: &Path,
    report: &mut TriageReport,
    on_match: &mut dyn FnMut(TriageMatch),
) {
    report.files += 1;
    let source = match std::fs::File::open(file) {
        Ok(source) => source,
        Err(error) => {
            report.unreadable.push(UnreadableFile {
                file: file.to_owned(),
                reason: format!("cannot open: {error}"),
            });
            return;
        }
    };
    let result = read_log_records(source, |record| {
        report.records += 1;
        let text = record.get();
        let matches = rules.evaluate(text);
        if matches.is_empty() {
            return;
        }
        let event = MatchedEvent::read(text);
        for matched in matches {
            report.matches += 1;
            on_match(TriageMatch {
                rule: matched.rule,
                event: event.clone(),
                file: file.to_owned(),
            });
        }
    });
    match result {
        Ok(LogShape::Records(_)) => {}
        Ok(LogShape::NoRecords) => {
            report.files -= 1;
            report.skipped += 1;
        }
        Err(error) => report.unreadable.push(UnreadableFile {
            file: file.to_owned(),
            reason: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"eventID":"e-1","eventTime":"2025-01-15T10:00:00Z",
        "eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com",
        "userIdentity":{"type":"IAMUser","userName":"alice"},
        "sourceIPAddress":"198.51.100.7","awsRegion":"us-east-1",
        "recipientAccountId":"111122223333"}"#;

    #[test]
    fn a_matched_event_shows_the_records_fields_and_principal() {
        let event = MatchedEvent::read(RECORD);
        assert_eq!(event.event_id.as_deref(), Some("e-1"));
        assert_eq!(event.event_name.as_deref(), Some("StopLogging"));
        assert_eq!(event.principal, "alice");
        assert_eq!(event.source_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(event.account.as_deref(), Some("111122223333"));
    }

    #[test]
    fn the_ndjson_object_names_rule_author_references_and_event() {
        let matched = TriageMatch {
            rule: Arc::new(RuleInfo {
                id: "0bd3530c-c395-4c3b-9a9d-de350e3ec436".into(),
                title: "Root Account Used".into(),
                level: "high".into(),
                author: "tracker".into(),
                description: String::new(),
                references: vec!["https://example.com/rule".into()],
                source: "builtin:cis_4_03_root_account_usage.yml".into(),
            }),
            event: MatchedEvent::read(RECORD),
            file: PathBuf::from("logs/a.json.gz"),
        };
        let line = matched.to_json_line();
        assert!(line.starts_with(r#"{"ruleId":"#), "{line}");
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["ruleId"], "0bd3530c-c395-4c3b-9a9d-de350e3ec436");
        assert_eq!(json["author"], "tracker");
        assert_eq!(json["references"][0], "https://example.com/rule");
        assert_eq!(json["eventID"], "e-1");
        assert_eq!(json["principal"], "alice");
        assert_eq!(json["file"], "logs/a.json.gz");
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let error = triage(
            &RuleSet::empty(),
            &[PathBuf::from("/no/such/folder")],
            &mut |_| {},
        )
        .unwrap_err();
        assert!(error.to_string().contains("/no/such/folder"), "{error}");
    }

    #[test]
    fn broken_files_are_reported_and_the_others_still_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            format!(r#"{{"Records":[{RECORD}]}}"#),
        )
        .unwrap();
        std::fs::write(dir.path().join("b.json.gz"), b"\x1f\x8b not gzip").unwrap();
        std::fs::write(
            dir.path().join("c.json"),
            format!(r#"{{"Records":[{RECORD},{RECORD}]}}"#),
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a log").unwrap();
        std::fs::write(dir.path().join("MATCHES.json"), r#"{"rules":[]}"#).unwrap();
        let report = triage(&RuleSet::empty(), &[dir.path().to_owned()], &mut |_| {}).unwrap();
        assert_eq!(report.files, 3);
        assert_eq!(report.skipped, 1);
        assert_eq!(report.records, 3);
        assert_eq!(report.matches, 0);
        assert_eq!(report.unreadable.len(), 1);
        assert!(report.unreadable[0].file.ends_with("b.json.gz"));
    }
}
