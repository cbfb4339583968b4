//! The stored form of an alert: one detection rule matching one event, as
//! `GET /alerts` lists it. A row names the rule (its Sigma `id`, title,
//! level, author and references: SigmaHQ's licence, DRL 1.1, asks every
//! alert to name the author and reference the rule) and summarises the event
//! and the log file it came from. Rows are small: the event itself is one
//! `GET /events/{eventID}` away.

use serde::{Deserialize, Serialize};

/// One rule matching one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRow {
    /// The rule's Sigma `id` (or its file stem when it has none).
    pub rule_id: String,
    pub title: String,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub level: String,
    pub author: String,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// `eventTime` as the record wrote it.
    pub event_time: Option<String>,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub principal: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    pub aws_region: Option<String>,
    /// The log file: `s3://bucket/key` or a path.
    pub file: String,
}

/// Sigma's levels, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// A level by its Sigma name, in any case.
    pub fn from_name(name: &str) -> Option<Level> {
        let name = name.trim();
        Level::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_use_cloudtrails_spellings() {
        let row = AlertRow {
            rule_id: "r1".into(),
            title: "Root used".into(),
            level: "high".into(),
            author: "tracker".into(),
            references: vec!["https://example.com".into()],
            event_id: "e1".into(),
            event_time: Some("2024-01-01T00:00:00Z".into()),
            event_name: Some("ConsoleLogin".into()),
            event_source: Some("signin.amazonaws.com".into()),
            principal: "root".into(),
            source_ip_address: Some("203.0.113.9".into()),
            aws_region: Some("us-east-1".into()),
            file: "s3://b/k".into(),
        };
        let json = serde_json::to_value(&row).unwrap();
        for key in [
            "ruleId",
            "title",
            "level",
            "author",
            "references",
            "eventID",
            "eventTime",
            "eventName",
            "eventSource",
            "principal",
            "sourceIPAddress",
            "awsRegion",
            "file",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        assert_eq!(serde_json::from_value::<AlertRow>(json).unwrap(), row);
    }

    #[test]
    fn levels_are_ordered_and_named() {
        assert!(Level::High > Level::Medium && Level::Critical > Level::High);
        assert_eq!(Level::from_name("HIGH"), Some(Level::High));
        assert_eq!(Level::from_name("severe"), None);
        for level in Level::ALL {
            assert_eq!(Level::from_name(level.name()), Some(level));
        }
    }
}
