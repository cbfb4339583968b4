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
//! | `TRACKER_RULES_BUILTIN` | `true`/`false`: evaluate the built-in rule pack | `true` |
//! | `TRACKER_RULES_DIR` | a folder of Sigma rules (`*.yml`, `*.yaml`) evaluated too | unset: none |
//! | `TRACKER_RULES_SKIP_INVALID` | `true`/`false`: leave out (and log) unusable rules instead of failing to start | `false` |

use std::path::PathBuf;

use crate::ingest::rules::{RuleSet, RulesOptions};
use crate::ingest::{Pipeline, SkipList};

pub const HANDLER_VAR: &str = "TRACKER_HANDLER";
pub const TABLE_VAR: &str = "TRACKER_TABLE";
pub const SKIP_VAR: &str = "TRACKER_SKIP_EVENT_PREFIXES";
pub const RETENTION_VAR: &str = "TRACKER_RETENTION_DAYS";
pub const ALERTS_TOPIC_VAR: &str = "TRACKER_ALERTS_TOPIC";
pub const RULES_BUILTIN_VAR: &str = "TRACKER_RULES_BUILTIN";
pub const RULES_DIR_VAR: &str = "TRACKER_RULES_DIR";
pub const RULES_SKIP_INVALID_VAR: &str = "TRACKER_RULES_SKIP_INVALID";

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
    /// Which detection rules the ingest function evaluates.
    pub rules: RulesOptions,
}

/// `true`/`false` (any case), or `default` when unset or empty.
fn flag(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match lookup(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ConfigError(format!(
            "{name} is `{other}`; it must be `true` or `false`"
        ))),
    }
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
        let rules = RulesOptions {
            builtin: flag(&lookup, RULES_BUILTIN_VAR, true)?,
            folders: lookup(RULES_DIR_VAR)
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .into_iter()
                .collect(),
            skip_invalid: flag(&lookup, RULES_SKIP_INVALID_VAR, false)?,
        };
        Ok(LambdaConfig {
            table,
            skip,
            retention_days,
            alerts_topic,
            rules,
        })
    }

    /// The ingest pipeline, its rules loaded: an unusable rule is an error
    /// (the function fails its first start, naming the file, the rule and
    /// the problem) unless `TRACKER_RULES_SKIP_INVALID` says to leave it out.
    pub fn pipeline(&self) -> Result<Pipeline, ConfigError> {
        let (rules, skipped) = RuleSet::load(&self.rules).map_err(|e| {
            ConfigError(format!(
                "{e} (rules from {RULES_BUILTIN_VAR} and {RULES_DIR_VAR})"
            ))
        })?;
        for warning in skipped {
            tracing::warn!(%warning, "Rule left out.");
        }
        Ok(Pipeline {
            skip: self.skip.clone(),
            retention_days: self.retention_days,
            window: None,
            rules,
        })
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
        assert_eq!(
            config(&[(TABLE_VAR, "t")]).unwrap().rules,
            RulesOptions::default(),
            "the built-in pack, no folder, nothing skipped"
        );
        let rules = config(&[
            (TABLE_VAR, "t"),
            (RULES_BUILTIN_VAR, "FALSE"),
            (RULES_DIR_VAR, " /var/task/rules "),
            (RULES_SKIP_INVALID_VAR, "true"),
        ])
        .unwrap()
        .rules;
        assert_eq!(
            rules,
            RulesOptions {
                builtin: false,
                folders: vec![PathBuf::from("/var/task/rules")],
                skip_invalid: true,
            }
        );
        assert!(
            config(&[(TABLE_VAR, "t"), (RULES_BUILTIN_VAR, "yes")])
                .unwrap_err()
                .0
                .contains(RULES_BUILTIN_VAR)
        );
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
