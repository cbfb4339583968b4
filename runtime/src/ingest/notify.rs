//! Telling people: the alerts a log file raised, published to the SNS topic
//! of `[alerts]` (`TRACKER_ALERTS_TOPIC` in the ingest function).
//!
//! One message per rule per log file, not one per event: the rule's title,
//! level, author and references (SigmaHQ's licence, DRL 1.1, asks every
//! alert to name the author and reference the rule), how many events matched
//! and the first few of them. Only alerts recorded for the first time are
//! published (the alert store's conditional write is the gate), so a
//! redelivered or retried log file never alerts twice for the same
//! (rule, eventID).

use std::collections::HashSet;
use std::fmt::Write as _;

use async_trait::async_trait;

use super::rules::RuleInfo;
use super::writer::{FileOutcome, FileReport};
use crate::store::EventStore;

/// Events listed in a message; the rest are counted (and listed by
/// `GET /alerts`).
pub const EVENTS_PER_MESSAGE: usize = 10;
/// SNS's limit on an e-mail subject.
const MAX_SUBJECT_CHARS: usize = 100;

/// One matched event, as a message lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeEvent {
    pub event_id: String,
    pub event_time: String,
    pub event_name: String,
    pub principal: String,
    pub source_ip: String,
}

/// What one rule found in one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice<'a> {
    pub rule: &'a RuleInfo,
    /// `s3://bucket/key` of the log file.
    pub file: &'a str,
    pub events: Vec<NoticeEvent>,
}

/// A message ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

impl Notice<'_> {
    pub fn message(&self) -> Message {
        let rule = self.rule;
        let count = self.events.len();
        let plural = if count == 1 { "" } else { "s" };
        let subject = subject_line(&format!(
            "tracker {}: {} ({count} event{plural})",
            rule.level, rule.title
        ));
        let mut body = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(body, "{} ({})", rule.title, rule.level);
        let _ = writeln!(body, "{count} event{plural} in {}", self.file);
        if !rule.description.is_empty() {
            let _ = writeln!(body, "\n{}", rule.description.trim());
        }
        let _ = writeln!(body);
        for event in self.events.iter().take(EVENTS_PER_MESSAGE) {
            let _ = writeln!(
                body,
                "- {} {} by {} from {} (eventID {})",
                event.event_time,
                event.event_name,
                event.principal,
                event.source_ip,
                event.event_id
            );
        }
        if count > EVENTS_PER_MESSAGE {
            let _ = writeln!(
                body,
                "- … and {} more: GET /alerts?rule={}",
                count - EVENTS_PER_MESSAGE,
                rule.id
            );
        }
        let _ = writeln!(body, "\nRule: {} ({})", rule.id, rule.source);
        let _ = writeln!(body, "Author: {}", rule.author);
        for reference in &rule.references {
            let _ = writeln!(body, "Reference: {reference}");
        }
        Message { subject, body }
    }
}

/// Groups a file's new alerts into one notice per rule, in the order the
/// rules first matched, each listing its events in file order.
pub fn notices<'a>(
    file: &'a str,
    alerts: impl IntoIterator<Item = (&'a RuleInfo, NoticeEvent)>,
) -> Vec<Notice<'a>> {
    let mut grouped: Vec<Notice<'a>> = Vec::new();
    for (rule, event) in alerts {
        match grouped.iter_mut().find(|n| n.rule.id == rule.id) {
            Some(notice) => notice.events.push(event),
            None => grouped.push(Notice {
                rule,
                file,
                events: vec![event],
            }),
        }
    }
    grouped
}

/// Publishes one message per notice, in order; on a failure, how many were
/// published before it.
pub async fn publish_notices(
    publisher: &dyn Publisher,
    notices: &[Notice<'_>],
) -> Result<usize, (usize, PublishError)> {
    for (published, notice) in notices.iter().enumerate() {
        publisher
            .publish(&notice.message())
            .await
            .map_err(|error| (published, error))?;
    }
    Ok(notices.len())
}

/// Publishes the new alerts of one ingested file, one message per rule.
/// When a message cannot be published, the alerts it (and the ones after
/// it) would have announced are un-recorded and the file fails for retry:
/// the retry records and announces them, so a failure delays a message and
/// never loses it (the messages already sent are not sent again).
pub async fn announce(store: &dyn EventStore, publisher: &dyn Publisher, report: &mut FileReport) {
    if report.new_alerts.is_empty() {
        return;
    }
    let grouped = notices(
        &report.source,
        report
            .new_alerts
            .iter()
            .map(|alert| (alert.rule.as_ref(), alert.event.clone())),
    );
    let failure = match publish_notices(publisher, &grouped).await {
        Ok(messages) => {
            tracing::info!(
                source = %report.source, messages, alerts = report.new_alerts.len(),
                "Published alerts."
            );
            None
        }
        Err((published, error)) => {
            let unannounced: HashSet<&str> = grouped[published..]
                .iter()
                .map(|n| n.rule.id.as_str())
                .collect();
            let keys: Vec<(String, String)> = report
                .new_alerts
                .iter()
                .filter(|alert| unannounced.contains(alert.rule.id.as_str()))
                .map(|alert| alert.key.clone())
                .collect();
            Some(match store.delete_items(&keys).await {
                Ok(()) => format!(
                    "{error}; the file's {} unannounced alert(s) are announced when it is retried",
                    keys.len()
                ),
                Err(undo) => format!(
                    "{error}; {} alert(s) stay recorded but unannounced, since un-recording them \
                     failed too ({undo}): `GET /alerts` lists them",
                    keys.len()
                ),
            })
        }
    };
    if let Some(reason) = failure {
        report.outcome = FileOutcome::Failed {
            reason,
            retry: true,
        };
    }
}

/// An SNS subject: printable ASCII on one line, at most 100 characters.
fn subject_line(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if clean.len() <= MAX_SUBJECT_CHARS {
        clean
    } else {
        format!("{}...", &clean[..MAX_SUBJECT_CHARS - 3])
    }
}

/// A message could not be published.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot publish the alert `{subject}` to {topic}: {reason}")]
pub struct PublishError {
    pub topic: String,
    pub subject: String,
    pub reason: String,
}

/// Where messages go: SNS when deployed; tests observe what is published.
#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, message: &Message) -> Result<(), PublishError>;
}

/// Publishing to one SNS topic.
pub struct SnsPublisher {
    pub client: aws_sdk_sns::Client,
    pub topic_arn: String,
}

#[async_trait]
impl Publisher for SnsPublisher {
    async fn publish(&self, message: &Message) -> Result<(), PublishError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&message.subject)
            .message(&message.body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| PublishError {
                topic: self.topic_arn.clone(),
                subject: message.subject.clone(),
                reason: aws_sdk_sns::error::DisplayErrorContext(e).to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> RuleInfo {
        RuleInfo {
            id: "4d7bbc4c-1ad6-4d6e-9a3e-1f2a3b4c5d6e".into(),
            title: "Root account used".into(),
            level: "high".into(),
            author: "tracker".into(),
            description: "The root user made a call.".into(),
            references: vec!["https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html#cloudwatch-1".into()],
            source: "builtin:root_account_usage.yml".into(),
        }
    }

    fn event(n: usize) -> NoticeEvent {
        NoticeEvent {
            event_id: format!("id-{n}"),
            event_time: "2024-08-01T12:00:00Z".into(),
            event_name: "ConsoleLogin".into(),
            principal: "root".into(),
            source_ip: "203.0.113.9".into(),
        }
    }

    #[test]
    fn a_message_names_the_rule_its_author_and_the_events() {
        let rule = rule();
        let notice = Notice {
            rule: &rule,
            file: "s3://trail/AWSLogs/1/CloudTrail/x.json.gz",
            events: (0..12).map(event).collect(),
        };
        let message = notice.message();
        assert_eq!(
            message.subject,
            "tracker high: Root account used (12 events)"
        );
        assert!(message.body.contains("Author: tracker"), "{}", message.body);
        assert!(
            message
                .body
                .contains("Reference: https://docs.aws.amazon.com/securityhub")
        );
        assert!(
            message
                .body
                .contains("Rule: 4d7bbc4c-1ad6-4d6e-9a3e-1f2a3b4c5d6e")
        );
        assert!(
            message
                .body
                .contains("s3://trail/AWSLogs/1/CloudTrail/x.json.gz")
        );
        assert!(message.body.contains("(eventID id-9)"));
        assert!(
            !message.body.contains("(eventID id-10)"),
            "at most 10 listed"
        );
        assert!(message.body.contains("… and 2 more"));
    }

    #[test]
    fn one_notice_per_rule_in_first_match_order() {
        let root = rule();
        let mut other = rule();
        other.id = "other".into();
        let grouped = notices(
            "f",
            [(&other, event(1)), (&root, event(2)), (&other, event(3))],
        );
        let shape: Vec<(&str, Vec<&str>)> = grouped
            .iter()
            .map(|n| {
                (
                    n.rule.id.as_str(),
                    n.events.iter().map(|e| e.event_id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("other", vec!["id-1", "id-3"]),
                (root.id.as_str(), vec!["id-2"])
            ]
        );
    }

    #[test]
    fn subjects_fit_sns() {
        let mut rule = rule();
        rule.title = "é\nx".repeat(80);
        let notice = Notice {
            rule: &rule,
            file: "f",
            events: vec![event(1)],
        };
        let subject = notice.message().subject;
        assert_eq!(subject.len(), MAX_SUBJECT_CHARS);
        assert!(subject.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    }
}
