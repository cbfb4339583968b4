//! Lambda mode's configuration: environment variables, read and validated
//! once at start-up, so a misconfigured function fails its first start with
//! a clear message instead of its first event.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TRACKER_HANDLER` | `ingest` or `query`: which Lambda this process is | (CLI mode) |
//! | `TRACKER_TABLE` | DynamoDB table of events | required |
//! | `TRACKER_SKIP_EVENT_PREFIXES` | comma-separated, case-insensitive `eventName` prefixes not stored | empty: store all |
//! | `TRACKER_RETENTION_DAYS` | days to keep events (DynamoDB TTL), 0 = forever | `0` |
//! | `TRACKER_ALERTS_TOPIC` | SNS topic ARN the ingest function publishes alerts to | unset: alerts are stored, not sent |

use crate::ingest::{Pipeline, SkipList};

pub const HANDLER_VAR: &str = "TRACKER_HANDLER";
pub const TABLE_VAR: &str = "TRACKER_TABLE";
pub const SKIP_VAR: &str = "TRACKER_SKIP_EVENT_PREFIXES";
pub const RETENTION_VAR: &str = "TRACKER_RETENTION_DAYS";
pub const ALERTS_TOPIC_VAR: &str = "TRACKER_ALERTS_TOPIC";

/// The longest retention accepted (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Which Lambda function this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// The S3-triggered ingest function.
    Ingest,
    /// The API Gateway-proxied query function.
    Query,
}

/// A missing or invalid environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Lambda configuration: {0}")]
pub struct ConfigError(pub String);

impl std::str::FromStr for Handler {
    type Err = ConfigError;
    fn from_str(text: &str) -> Result<Handler, ConfigError> {
        match text.trim() {
            "ingest" => Ok(Handler::Ingest),
            "query" => Ok(Handler::Query),
            other => Err(ConfigError(format!(
                "{HANDLER_VAR} is `{other}`; it must be `ingest` or `query` (or unset it to use the CLI)"
            ))),
        }
    }
}

/// Everything the Lambda handlers read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaConfig {
    pub table: String,
    pub skip: SkipList,
    pub retention_days: u32,
    /// Where alerts are published (SNS topic ARN); None sends nothing.
    pub alerts_topic: Option<String>,
}

impl LambdaConfig {
    pub fn from_env() -> Result<LambdaConfig, ConfigError> {
        LambdaConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<LambdaConfig, ConfigError> {
        let table = lookup(TABLE_VAR)
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        if table.is_empty() {
            return Err(ConfigError(format!(
                "{TABLE_VAR} is not set; set it to the DynamoDB table name (`tracker deploy` does)"
            )));
        }
        let skip = SkipList::new(lookup(SKIP_VAR).unwrap_or_default().split(','));
        let retention_days = match lookup(RETENTION_VAR).map(|v| v.trim().to_owned()) {
            None => 0,
            Some(v) if v.is_empty() => 0,
            Some(v) => match v.parse::<u32>() {
                Ok(days) if days <= MAX_RETENTION_DAYS => days,
                _ => {
                    return Err(ConfigError(format!(
                        "{RETENTION_VAR} is `{v}`; it must be a whole number of days from 0 (keep forever) to {MAX_RETENTION_DAYS}"
                    )));
                }
            },
        };
        let alerts_topic = lookup(ALERTS_TOPIC_VAR)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if let Some(topic) = &alerts_topic
            && !topic.starts_with("arn:")
        {
            return Err(ConfigError(format!(
                "{ALERTS_TOPIC_VAR} is `{topic}`; it must be an SNS topic ARN (`tracker deploy` sets it)"
            )));
        }
        Ok(LambdaConfig {
            table,
            skip,
            retention_days,
            alerts_topic,
        })
    }

    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            skip: self.skip.clone(),
            retention_days: self.retention_days,
            window: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<LambdaConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LambdaConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn reads_and_validates() {
        let c = config(&[
            (TABLE_VAR, "events"),
            (SKIP_VAR, "Get, describe"),
            (RETENTION_VAR, "90"),
            (
                ALERTS_TOPIC_VAR,
                "arn:aws:sns:us-east-1:123456789012:tracker-alerts",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.alerts_topic.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:tracker-alerts")
        );
        assert!(
            config(&[(TABLE_VAR, "t"), (ALERTS_TOPIC_VAR, "tracker-alerts")])
                .unwrap_err()
                .0
                .contains(ALERTS_TOPIC_VAR)
        );
        assert_eq!(config(&[(TABLE_VAR, "t")]).unwrap().alerts_topic, None);
        assert_eq!(c.table, "events");
        assert_eq!(c.skip.prefixes(), ["get", "describe"]);
        assert_eq!(c.retention_days, 90);
        assert!(config(&[]).unwrap_err().0.contains(TABLE_VAR));
        assert!(
            config(&[(TABLE_VAR, "t"), (RETENTION_VAR, "-1")])
                .unwrap_err()
                .0
                .contains(RETENTION_VAR)
        );
        assert_eq!("query".parse::<Handler>(), Ok(Handler::Query));
        assert!(
            "serve"
                .parse::<Handler>()
                .unwrap_err()
                .0
                .contains("`serve`")
        );
    }
}
