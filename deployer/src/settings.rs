//! `settings.toml`: every name and choice of a deployment, and of local mode.
//! Parsed in two stages, as ripgrep does with its flags: the raw file (every
//! table `deny_unknown_fields`, every key optional with a documented default),
//! then [`Settings::validate`], so that nothing runs on a setting that is
//! wrong — and the error names the file, the key and what is allowed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use tracker_runtime::config::MAX_RETENTION_DAYS;

/// A settings file that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("settings file {path}: `{key}` {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub aws: AwsSettings,
    pub stack: StackSettings,
    pub trail: TrailSettings,
    pub table: TableSettings,
    pub ingest: IngestSettings,
    pub api: ApiSettings,
    pub lambda: LambdaSettings,
    pub artifacts: ArtifactSettings,
    pub local: LocalSettings,
    pub alerts: AlertSettings,
    pub rules: RulesSettings,
}

/// `[aws]`: where to deploy. Unset keys come from the standard AWS chain.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// `[stack]`: the CloudFormation stack.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StackSettings {
    pub name: String,
}

impl Default for StackSettings {
    fn default() -> Self {
        StackSettings {
            name: "tracker".into(),
        }
    }
}

/// How new log files reach the ingest function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// An entry in the bucket's notification configuration (S3 invokes the
    /// function). Refused when another entry overlaps it.
    #[default]
    S3,
    /// The bucket's EventBridge delivery and a rule matching `Object
    /// Created` under the trail's prefix: coexists with any other
    /// notification on the bucket.
    EventBridge,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::S3 => "s3",
            Trigger::EventBridge => "eventbridge",
        }
    }
}

/// `[trail]`: the existing bucket CloudTrail writes to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrailSettings {
    /// Required by `deploy` and S3 backfills; unused in local mode.
    pub bucket: Option<String>,
    /// Key prefix of the trail's logs (`AWSLogs/`, or `myprefix/AWSLogs/`).
    pub prefix: String,
    /// Empty: the deploying account's logs (`<prefix><account>/CloudTrail/`).
    /// Listed: a trail of several accounts (an organization trail): every
    /// account's logs under `<prefix>` are read and ingested, with one
    /// grant and one trigger whatever the number of accounts.
    pub accounts: Vec<String>,
    /// How new log files reach the ingest function.
    pub trigger: Trigger,
    /// The KMS key the log files are encrypted with (SSE-KMS), if any.
    pub kms_key_arn: Option<String>,
}

impl Default for TrailSettings {
    fn default() -> Self {
        TrailSettings {
            bucket: None,
            prefix: "AWSLogs/".into(),
            accounts: Vec::new(),
            trigger: Trigger::S3,
            kms_key_arn: None,
        }
    }
}

/// `[table]`: the DynamoDB table of events.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TableSettings {
    pub name: String,
    /// Days to keep events (DynamoDB TTL); 0 keeps them forever.
    pub retention_days: u32,
}

impl Default for TableSettings {
    fn default() -> Self {
        TableSettings {
            name: "tracker-events".into(),
            retention_days: 0,
        }
    }
}

/// `[ingest]`: what is stored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSettings {
    /// Case-insensitive `eventName` prefixes not stored; empty stores everything.
    pub skip_event_prefixes: Vec<String>,
}

/// How the API is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// API Gateway API key (header `x-api-key`) with a usage plan.
    #[default]
    ApiKey,
    /// AWS IAM (SigV4-signed requests).
    Iam,
    /// Public: anyone with the URL.
    None,
}

impl AuthMode {
    /// The name used in the settings file (and the stack's `ApiAuth` output).
    pub fn name(self) -> &'static str {
        match self {
            AuthMode::ApiKey => "api_key",
            AuthMode::Iam => "iam",
            AuthMode::None => "none",
        }
    }

    /// The mode of a [`AuthMode::name`].
    pub fn from_name(name: &str) -> Option<AuthMode> {
        [AuthMode::ApiKey, AuthMode::Iam, AuthMode::None]
            .into_iter()
            .find(|mode| mode.name() == name)
    }
}

/// `[api]`: the API Gateway REST API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    pub stage: String,
    pub auth: AuthMode,
    /// Usage plan (`auth = "api_key"`): steady requests per second.
    pub throttle_rate: u32,
    /// Usage plan: requests allowed at once above the steady rate.
    pub throttle_burst: u32,
    /// Usage plan: requests per day (UTC); 0 sets no quota.
    pub daily_quota: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            stage: "v1".into(),
            auth: AuthMode::ApiKey,
            throttle_rate: 10,
            throttle_burst: 20,
            daily_quota: 10_000,
        }
    }
}

/// Path segments of the query API's routes: a stage of the same name would
/// make `/<stage>/…` ambiguous for the router behind API Gateway.
pub const ROUTE_SEGMENTS: &[&str] = &[
    "users",
    "services",
    "events",
    "scan",
    "parameters",
    "stats",
    "alerts",
];

/// API Gateway's integration timeout (REST APIs): a query function allowed
/// longer would go on working for an answer nobody receives.
pub const MAX_QUERY_TIMEOUT_SECONDS: u32 = 29;

/// CPU architecture of the functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

/// `[lambda]`: both functions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LambdaSettings {
    pub memory_mb: u32,
    /// The ingest function's timeout (1-900 s).
    pub timeout_seconds: u32,
    /// The query function's timeout (1-29 s: API Gateway's limit).
    pub query_timeout_seconds: u32,
    pub architecture: Architecture,
    /// Days CloudWatch keeps the functions' logs.
    pub log_retention_days: u32,
    /// Ingest invocations at once for `tracker backfill --fan-out` (the SQS
    /// event source's maximum concurrency, 2-1000).
    pub backfill_concurrency: u32,
}

impl Default for LambdaSettings {
    fn default() -> Self {
        LambdaSettings {
            memory_mb: 256,
            timeout_seconds: 60,
            query_timeout_seconds: MAX_QUERY_TIMEOUT_SECONDS,
            architecture: Architecture::X86_64,
            log_retention_days: 30,
            backfill_concurrency: 2,
        }
    }
}

/// `[artifacts]`: where the function's zip is uploaded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArtifactSettings {
    /// An existing bucket, or `"create"` for one named after the stack and account.
    pub bucket: String,
}

impl Default for ArtifactSettings {
    fn default() -> Self {
        ArtifactSettings {
            bucket: "create".into(),
        }
    }
}

/// `[local]`: `tracker serve`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalSettings {
    /// The embedded database file.
    pub db: PathBuf,
    /// Address to serve on; anything but loopback needs `api_key`.
    pub listen: String,
    /// Required in the `x-api-key` header when set.
    pub api_key: Option<String>,
    /// Memory for the database's page cache, as much for the rollups kept
    /// in memory, and half as much each for the id filter and the ids
    /// waiting for the id index, in MB (what bounds `tracker serve`'s memory).
    pub cache_mb: u32,
}

impl LocalSettings {
    /// [`LocalSettings::cache_mb`] in bytes.
    pub fn cache_bytes(&self) -> usize {
        self.cache_mb as usize * 1024 * 1024
    }
}

impl Default for LocalSettings {
    fn default() -> Self {
        LocalSettings {
            db: PathBuf::from("tracker.db"),
            listen: "127.0.0.1:8080".into(),
            api_key: None,
            cache_mb: 16,
        }
    }
}

/// `[alerts]`: where the ingest function sends what the detection rules find.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// An existing SNS topic to publish to; unset, the stack creates
    /// `<stack>-alerts`.
    pub topic_arn: Option<String>,
    /// Addresses subscribed to the topic by e-mail (each confirms once).
    pub emails: Vec<String>,
}

/// `[rules]`: the detection (Sigma) rules evaluated on every record at
/// ingest, deployed and in `tracker serve`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesSettings {
    /// Evaluate tracker's built-in pack (the CIS AWS Foundations Benchmark
    /// monitoring controls).
    pub builtin: bool,
    /// Folders of your own rules (`*.yml`/`*.yaml`, searched recursively);
    /// relative paths are relative to the settings file's folder (resolved
    /// when the file is read).
    pub folders: Vec<PathBuf>,
    /// Leave out a rule that cannot be used, with a warning, instead of
    /// refusing to start.
    pub skip_invalid: bool,
}

impl Default for RulesSettings {
    fn default() -> RulesSettings {
        RulesSettings {
            builtin: true,
            folders: Vec::new(),
            skip_invalid: false,
        }
    }
}

impl RulesSettings {
    /// What to load.
    pub fn options(&self) -> tracker_runtime::ingest::rules::RulesOptions {
        tracker_runtime::ingest::rules::RulesOptions {
            builtin: self.builtin,
            folders: self.folders.clone(),
            skip_invalid: self.skip_invalid,
        }
    }
}

/// Regions that support the `provided.al2023` runtime look like `xx-name-N`.
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`.
fn is_kms_key_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(parts.as_slice(), [arn, partition, "kms", region, account, resource]
    if *arn == "arn"
        && partition.starts_with("aws")
        && is_region(region)
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && resource.strip_prefix("key/").is_some_and(|id| {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        }))
}

/// `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
fn is_sns_topic_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    matches!(parts.as_slice(), [arn, partition, "sns", region, account, name]
    if *arn == "arn"
        && partition.starts_with("aws")
        && is_region(region)
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && (1..=256).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
}

/// `local@domain`, one line, no spaces (what SNS accepts for `email`).
fn is_email(text: &str) -> bool {
    let mut parts = text.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && text.len() <= 320
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Settings {
    /// Reads, parses and validates a settings file.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.into(),
            source,
        })?;
        Settings::parse(&text, path)
    }

    /// The defaults, validated (used when no settings file exists).
    pub fn defaults() -> Settings {
        Settings::default()
    }

    /// Parses and validates settings text; `path` names it in errors, and
    /// relative rule folders are taken from its folder.
    pub fn parse(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let mut settings: Settings = toml::from_str(text).map_err(|e| SettingsError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        settings.validate(path)?;
        if let Some(base) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            for folder in &mut settings.rules.folders {
                if folder.is_relative() {
                    *folder = base.join(&*folder);
                }
            }
        }
        Ok(settings)
    }

    /// Checks every value against what AWS and tracker accept.
    pub fn validate(&self, path: &Path) -> Result<(), SettingsError> {
        let invalid = |key: &str, problem: String| SettingsError::Invalid {
            path: path.into(),
            key: key.into(),
            problem,
        };
        if let Some(region) = &self.aws.region
            && !is_region(region)
        {
            return Err(invalid(
                "aws.region",
                format!("is `{region}`; use a region name such as `us-east-1`"),
            ));
        }
        let stack = &self.stack.name;
        if stack.is_empty()
            || stack.len() > 64
            || !stack.starts_with(|c: char| c.is_ascii_alphabetic())
            || !stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(invalid(
                "stack.name",
                format!(
                    "is `{stack}`; use 1-64 letters, digits and hyphens, starting with a letter"
                ),
            ));
        }
        if let Some(bucket) = &self.trail.bucket {
            let ok = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && bucket.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(invalid(
                    "trail.bucket",
                    format!(
                        "is `{bucket}`; an S3 bucket name has 3-63 lowercase letters, digits, dots and hyphens"
                    ),
                ));
            }
        }
        if self.trail.prefix.starts_with('/') {
            return Err(invalid(
                "trail.prefix",
                "must not start with `/` (S3 keys have no leading slash)".into(),
            ));
        }
        if self.trail.prefix.contains(['*', '?', '$']) {
            return Err(invalid(
                "trail.prefix",
                format!(
                    "is `{}`; a key prefix, without `*`, `?` or `$` (they would act as \
                     wildcards in the role's policy and the EventBridge rule)",
                    self.trail.prefix
                ),
            ));
        }
        if let Some(bad) = self
            .trail
            .accounts
            .iter()
            .find(|a| a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid(
                "trail.accounts",
                format!("has `{bad}`; an AWS account id is 12 digits"),
            ));
        }
        if let Some(key) = &self.trail.kms_key_arn
            && !is_kms_key_arn(key)
        {
            return Err(invalid(
                "trail.kms_key_arn",
                format!(
                    "is `{key}`; use the key's ARN, `arn:aws:kms:REGION:ACCOUNT:key/KEY-ID` \
                     (an alias or a bare key id cannot be granted)"
                ),
            ));
        }
        let table = &self.table.name;
        if !(3..=255).contains(&table.len())
            || !table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(invalid(
                "table.name",
                format!("is `{table}`; use 3-255 letters, digits, `_`, `-` and `.`"),
            ));
        }
        if self.table.retention_days > MAX_RETENTION_DAYS {
            return Err(invalid(
                "table.retention_days",
                format!(
                    "is {}; use 0 (keep forever) to {MAX_RETENTION_DAYS}",
                    self.table.retention_days
                ),
            ));
        }
        if let Some(bad) = self
            .ingest
            .skip_event_prefixes
            .iter()
            .find(|p| p.trim().is_empty() || p.contains(','))
        {
            return Err(invalid(
                "ingest.skip_event_prefixes",
                format!("has `{bad}`; each prefix must be non-empty and contain no comma"),
            ));
        }
        let stage = &self.api.stage;
        if stage.is_empty()
            || stage.len() > 128
            || !stage.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(
                "api.stage",
                format!("is `{stage}`; use letters, digits and `_` (e.g. `v1`)"),
            ));
        }
        if ROUTE_SEGMENTS.iter().any(|r| r.eq_ignore_ascii_case(stage)) {
            return Err(invalid(
                "api.stage",
                format!(
                    "is `{stage}`, the name of a route (`/{stage}/…`), which would make paths ambiguous \
                     behind API Gateway; use another name (e.g. `v1`)"
                ),
            ));
        }
        if self.api.throttle_rate == 0 || self.api.throttle_burst == 0 {
            return Err(invalid(
                if self.api.throttle_rate == 0 {
                    "api.throttle_rate"
                } else {
                    "api.throttle_burst"
                },
                "is 0, which would refuse every request; use at least 1".into(),
            ));
        }
        if let Some(topic) = &self.alerts.topic_arn
            && !is_sns_topic_arn(topic)
        {
            return Err(invalid(
                "alerts.topic_arn",
                format!(
                    "is `{topic}`; use the topic's ARN, `arn:aws:sns:REGION:ACCOUNT:NAME`, or leave \
                     it out and the stack creates its own topic"
                ),
            ));
        }
        if let Some(bad) = self.alerts.emails.iter().find(|e| !is_email(e)) {
            return Err(invalid(
                "alerts.emails",
                format!("has `{bad}`, which is not an e-mail address (`name@example.com`)"),
            ));
        }
        if self.rules.folders.iter().any(|f| f.as_os_str().is_empty()) {
            return Err(invalid(
                "rules.folders",
                "has an empty path; name a folder of Sigma rules (`*.yml`)".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.rules.folders.iter().find(|f| !seen.insert(*f)) {
            return Err(invalid(
                "rules.folders",
                format!("names `{}` twice; list each folder once", twice.display()),
            ));
        }
        if !(128..=10_240).contains(&self.lambda.memory_mb) {
            return Err(invalid(
                "lambda.memory_mb",
                format!("is {}; Lambda allows 128 to 10240", self.lambda.memory_mb),
            ));
        }
        if !(1..=900).contains(&self.lambda.timeout_seconds) {
            return Err(invalid(
                "lambda.timeout_seconds",
                format!("is {}; Lambda allows 1 to 900", self.lambda.timeout_seconds),
            ));
        }
        if !(1..=MAX_QUERY_TIMEOUT_SECONDS).contains(&self.lambda.query_timeout_seconds) {
            return Err(invalid(
                "lambda.query_timeout_seconds",
                format!(
                    "is {}; use 1 to {MAX_QUERY_TIMEOUT_SECONDS} (API Gateway stops waiting for the \
                     query function after {MAX_QUERY_TIMEOUT_SECONDS} s)",
                    self.lambda.query_timeout_seconds
                ),
            ));
        }
        if !(2..=1000).contains(&self.lambda.backfill_concurrency) {
            return Err(invalid(
                "lambda.backfill_concurrency",
                format!(
                    "is {}; an SQS event source allows 2 to 1000 invocations at once",
                    self.lambda.backfill_concurrency
                ),
            ));
        }
        const LOG_RETENTION: &[u32] = &[
            1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
            2922, 3288, 3653,
        ];
        if !LOG_RETENTION.contains(&self.lambda.log_retention_days) {
            return Err(invalid(
                "lambda.log_retention_days",
                format!(
                    "is {}; CloudWatch Logs allows one of {LOG_RETENTION:?}",
                    self.lambda.log_retention_days
                ),
            ));
        }
        if self.artifacts.bucket.is_empty() {
            return Err(invalid(
                "artifacts.bucket",
                "is empty; name an existing bucket or use \"create\"".into(),
            ));
        }
        if self.local.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "local.listen",
                format!(
                    "is `{}`; use an IP address and port such as `127.0.0.1:8080`",
                    self.local.listen
                ),
            ));
        }
        if !(8..=16384).contains(&self.local.cache_mb) {
            return Err(invalid(
                "local.cache_mb",
                format!("is {}; use 8 to 16384 (MB)", self.local.cache_mb),
            ));
        }
        if self.local.api_key.as_deref().is_some_and(|k| k.len() < 20) {
            return Err(invalid(
                "local.api_key",
                "is shorter than 20 characters; use a long random string".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_named_like_a_route_is_refused() {
        for stage in ROUTE_SEGMENTS.iter().chain(&["Users", "SCAN"]) {
            let e = parse(&format!("[api]\nstage = \"{stage}\""))
                .unwrap_err()
                .to_string();
            assert!(e.contains("api.stage") && e.contains("route"), "{e}");
        }
        assert!(parse("[api]\nstage = \"prod\"").is_ok());
    }

    #[test]
    fn kms_key_arns_are_checked() {
        let ok = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let s = parse(&format!("[trail]\nkms_key_arn = \"{ok}\"")).unwrap();
        assert_eq!(s.trail.kms_key_arn.as_deref(), Some(ok));
        assert!(is_kms_key_arn(
            "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd"
        ));
        for bad in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:alias/trail",
            "arn:aws:kms:eu-west-1:1234:key/x",
            "arn:aws:s3:eu-west-1:123456789012:key/x",
        ] {
            assert!(!is_kms_key_arn(bad), "{bad}");
        }
    }

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, Path::new("settings.toml"))
    }

    #[test]
    fn defaults_are_valid() {
        let s = parse("").unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.api.auth, AuthMode::ApiKey);
        assert_eq!(s.table.name, "tracker-events");
    }

    #[test]
    fn the_shipped_file_is_valid() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../settings.toml"))
                .unwrap();
        let s = parse(&text).unwrap();
        assert!(
            s.ingest.skip_event_prefixes.is_empty(),
            "the shipped default stores everything"
        );
    }

    #[test]
    fn alerts_go_to_the_stacks_topic_or_a_given_one() {
        let s = parse("[alerts]\nemails = [\"sec@example.com\"]\n").unwrap();
        assert_eq!(s.alerts.topic_arn, None);
        assert_eq!(s.alerts.emails, ["sec@example.com"]);
        let s = parse("[alerts]\ntopic_arn = \"arn:aws:sns:eu-west-1:123456789012:security\"\n")
            .unwrap();
        assert_eq!(
            s.alerts.topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:123456789012:security")
        );
        let e = parse("[alerts]\nemail = \"x@example.com\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("email") && e.contains("emails"), "{e}");
    }

    #[test]
    fn rules_default_to_the_builtin_pack_and_take_folders_beside_the_file() {
        let s = parse("").unwrap();
        assert_eq!(
            s.rules.options(),
            tracker_runtime::ingest::rules::RulesOptions::default()
        );
        let text =
            "[rules]\nbuiltin = false\nfolders = [\"mine\", \"/abs/team\"]\nskip_invalid = true\n";
        let s = Settings::parse(text, Path::new("/etc/tracker/settings.toml")).unwrap();
        assert_eq!(
            s.rules,
            RulesSettings {
                builtin: false,
                folders: vec![
                    PathBuf::from("/etc/tracker/mine"),
                    PathBuf::from("/abs/team")
                ],
                skip_invalid: true,
            }
        );
        assert_eq!(
            parse("[rules]\nfolders = [\"mine\"]")
                .unwrap()
                .rules
                .folders,
            [PathBuf::from("mine")],
            "beside a settings file in the current folder"
        );
        for (text, needle) in [
            ("[rules]\nfolders = [\"\"]", "empty path"),
            ("[rules]\nfolders = [\"a\", \"a\"]", "twice"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains("rules.folders") && e.contains(needle), "{e}");
        }
        let e = parse("[rules]\nbuiltins = true").unwrap_err().to_string();
        assert!(e.contains("builtins") && e.contains("skip_invalid"), "{e}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("[table]\nnmae = \"x\"\n").unwrap_err().to_string();
        assert!(
            e.contains("settings.toml") && e.contains("nmae") && e.contains("retention_days"),
            "{e}"
        );
        let e = parse("[tabel]\n").unwrap_err().to_string();
        assert!(e.contains("tabel"), "{e}");
    }

    #[test]
    fn invalid_values_name_key_and_allowed() {
        for (text, key) in [
            ("[lambda]\nmemory_mb = 64", "lambda.memory_mb"),
            ("[lambda]\ntimeout_seconds = 901", "lambda.timeout_seconds"),
            (
                "[lambda]\nbackfill_concurrency = 1",
                "lambda.backfill_concurrency",
            ),
            (
                "[lambda]\nlog_retention_days = 2",
                "lambda.log_retention_days",
            ),
            ("[api]\nstage = \"my stage\"", "api.stage"),
            ("[aws]\nregion = \"Europe\"", "aws.region"),
            ("[table]\nname = \"x\"", "table.name"),
            ("[table]\nretention_days = 40000", "table.retention_days"),
            ("[trail]\nbucket = \"My_Bucket\"", "trail.bucket"),
            ("[trail]\naccounts = [\"12345\"]", "trail.accounts"),
            (
                "[ingest]\nskip_event_prefixes = [\"\"]",
                "ingest.skip_event_prefixes",
            ),
            ("[local]\nlisten = \"localhost\"", "local.listen"),
            ("[stack]\nname = \"1abc\"", "stack.name"),
            (
                "[lambda]\nquery_timeout_seconds = 30",
                "lambda.query_timeout_seconds",
            ),
            ("[api]\nthrottle_rate = 0", "api.throttle_rate"),
            ("[api]\nthrottle_burst = 0", "api.throttle_burst"),
            (
                "[trail]\nkms_key_arn = \"alias/aws/s3\"",
                "trail.kms_key_arn",
            ),
            ("[trail]\ntrigger = \"sqs\"", "trigger"),
            ("[trail]\nprefix = \"AWSLogs/*/\"", "trail.prefix"),
            (
                "[alerts]\ntopic_arn = \"security-topic\"",
                "alerts.topic_arn",
            ),
            ("[alerts]\nemails = [\"not an address\"]", "alerts.emails"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains(key) && e.contains("settings.toml"),
                "{text}: {e}"
            );
        }
        let e = parse("[trail]\ntrigger = \"sns\"").unwrap_err().to_string();
        assert!(e.contains("s3") && e.contains("eventbridge"), "{e}");
        let e = parse("[api]\nauth = \"open\"").unwrap_err().to_string();
        assert!(
            e.contains("api_key") && e.contains("iam") && e.contains("none"),
            "{e}"
        );
    }
}
