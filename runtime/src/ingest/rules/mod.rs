//! Detection rules (Sigma) evaluated on every record at ingest.
//!
//! This file is the seam between the rule engine (parse → compile →
//! evaluate, in the sibling modules) and its users: the ingest pipeline, the
//! alert store, SNS notification, `tracker serve` and `tracker alerts`.
//! Users only see [`RuleSet`], [`RuleInfo`], [`RuleMatch`] and
//! [`RulesError`].

pub mod builtin;

pub use load::rule_files;
use record::RecordView;
mod compile;
mod condition;
mod evaluate;
mod load;
mod needles;
mod parse;
mod pattern;
mod prefilter;
mod record;

use std::path::PathBuf;
use std::sync::Arc;

/// What an alert says about the rule that raised it. DRL 1.1 (SigmaHQ's rule
/// licence) asks every alert to name the rule's author and reference the
/// rule: both are here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleInfo {
    /// The rule's Sigma `id` (a UUID), or the file stem when the rule has none.
    pub id: String,
    pub title: String,
    /// Sigma level: `informational`, `low`, `medium`, `high` or `critical`.
    pub level: String,
    /// The rule's `author`; `unknown` when the rule names none.
    pub author: String,
    pub description: String,
    /// The rule's `references` (URLs).
    pub references: Vec<String>,
    /// Where the rule came from: a file path, or `builtin:<file name>`.
    pub source: String,
}

/// One rule matching one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    pub rule: Arc<RuleInfo>,
}

/// A rule (or a rule folder) that cannot be used. Always names the file, the
/// rule when known, and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules at {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("rule {} in {path} cannot be used: {reason}", quoted_or_unnamed(rule))]
    Invalid {
        path: PathBuf,
        /// The rule's title or id, when it could be read.
        rule: Option<String>,
        reason: String,
    },
}

/// `"title"`, or `(unnamed)` when the rule's name could not be read.
fn quoted_or_unnamed(rule: &Option<String>) -> String {
    rule.as_ref()
        .map_or_else(|| "(unnamed)".to_owned(), |name| format!("{name:?}"))
}

/// Which rules to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesOptions {
    /// Load tracker's built-in CIS AWS Foundations pack.
    pub builtin: bool,
    /// User rule folders (`*.yml` / `*.yaml`, searched recursively).
    pub folders: Vec<PathBuf>,
    /// Skip a rule that cannot be used (with a warning) instead of refusing
    /// the whole set.
    pub skip_invalid: bool,
}

impl Default for RulesOptions {
    fn default() -> RulesOptions {
        RulesOptions {
            builtin: true,
            folders: Vec::new(),
            skip_invalid: false,
        }
    }
}

/// Compiled rules, cheap to share (`Arc` inside), evaluated per record.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Arc<Vec<load::LoadedRule>>,
    /// Which rules a record's `eventName`/`eventSource` leave worth trying.
    prefilter: Arc<prefilter::Prefilter>,
    /// Which rules a record's raw text leaves worth trying.
    needles: Arc<needles::Needles>,
    /// The same, for the rules the prefilter tries on every record only.
    always_needles: Arc<needles::Needles>,
}

/// Which rules to try on a record.
#[derive(Debug, Clone, Copy)]
enum Tried<'a> {
    /// Those the index leaves for the record's keys (and, when given, only
    /// those of the list, sorted).
    Indexed(Option<&'a [usize]>),
    /// Exactly these (sorted): the index was already asked.
    Exactly(&'a [usize]),
}

/// A record's top-level `eventName` and `eventSource` as a caller that has
/// already read the record knows them: each the field's text, or `None`
/// when the field is absent or `null`. Only for records where each is
/// exactly that (not an empty string, a number, an object…).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventKeys<'a> {
    pub event_name: Option<&'a str>,
    pub event_source: Option<&'a str>,
}

impl RuleSet {
    /// No rules: nothing ever matches.
    pub fn empty() -> RuleSet {
        RuleSet::default()
    }

    /// Loads the built-in pack (when asked) and every rule under the folders.
    /// With `skip_invalid`, unusable rules are left out and returned as
    /// warnings; without it, the first one is the error.
    /// See [`load`] for defaults (id, level, author) and what is refused.
    pub fn load(options: &RulesOptions) -> Result<(RuleSet, Vec<RulesError>), RulesError> {
        let (rules, warnings) = load::load_rules(options)?;
        Ok((RuleSet::from_loaded(rules), warnings))
    }

    /// Rules given as `(source name, YAML text)` (tests, embedded packs):
    /// the source name stands for the file in messages and `source`.
    pub fn from_sources(
        sources: &[(&str, &str)],
        skip_invalid: bool,
    ) -> Result<(RuleSet, Vec<RulesError>), RulesError> {
        let (rules, warnings) = load::rules_from_sources(sources, skip_invalid)?;
        Ok((RuleSet::from_loaded(rules), warnings))
    }

    fn from_loaded(rules: Vec<load::LoadedRule>) -> RuleSet {
        let prefilter = prefilter::Prefilter::new(rules.iter().map(|rule| &rule.compiled));
        RuleSet {
            always_needles: Arc::new(needles::Needles::of_some(
                prefilter
                    .always()
                    .iter()
                    .map(|&index| (index, &rules[index].compiled)),
                rules.len(),
            )),
            prefilter: Arc::new(prefilter),
            needles: Arc::new(needles::Needles::new(
                rules.iter().map(|rule| &rule.compiled),
            )),
            rules: Arc::new(rules),
        }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every loaded rule, in load order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<RuleInfo>> {
        self.rules.iter().map(|rule| &rule.info)
    }

    /// The rules that match one CloudTrail record, given as its JSON text
    /// (valid JSON, as the log reader yields records: fields are parsed only
    /// when a rule reads them, so a malformed value no rule reads goes
    /// unnoticed). A record that is not a JSON object matches nothing.
    pub fn evaluate(&self, record_json: &str) -> Vec<RuleMatch> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        // A first look at the raw text: most records hold no literal any
        // rule needs, and are never split.
        let allowed = self.needles.candidates(record_json);
        if allowed.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
        self.evaluate_text(record_json, Tried::Indexed(allowed.as_deref()))
    }

    /// Like [`RuleSet::evaluate`], for a caller that already knows the
    /// record's top-level keys: the rule index answers from them, and only
    /// the rules it cannot leave out by them look at the raw text first
    /// (a smaller, quicker search). The same rules match either way.
    pub fn evaluate_keyed<'a>(&self, record_json: &str, keys: EventKeys<'a>) -> Vec<RuleMatch> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let key =
            |value: Option<&'a str>| value.map_or(prefilter::Key::Missing, prefilter::Key::Text);
        let Some(mut candidates) = self
            .prefilter
            .indexed(key(keys.event_name), key(keys.event_source))
        else {
            return self.evaluate(record_json);
        };
        match self.always_needles.candidates(record_json) {
            Some(always) => candidates.extend(always),
            None => candidates.extend_from_slice(self.prefilter.always()),
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_unstable();
        candidates.dedup();
        self.evaluate_text(record_json, Tried::Exactly(&candidates))
    }

    /// Evaluates a record given as text: its top-level fields are parsed
    /// only when a rule reads them; a record whose top level cannot be
    /// split that way is parsed whole.
    fn evaluate_text(&self, record_json: &str, tried: Tried) -> Vec<RuleMatch> {
        match record::LazyRecord::read(record_json) {
            Some(record) => self.evaluate_view(&record, tried),
            None => match serde_json::from_str::<serde_json::Value>(record_json) {
                Ok(serde_json::Value::Object(record)) => self.evaluate_view(&record, tried),
                _ => Vec::new(),
            },
        }
    }

    /// The rules that match one record already parsed. A value that is not
    /// an object matches nothing.
    pub fn evaluate_value(&self, record: &serde_json::Value) -> Vec<RuleMatch> {
        match record.as_object() {
            Some(object) => self.evaluate_view(object, Tried::Indexed(None)),
            None => Vec::new(),
        }
    }

    /// Evaluates the rules `tried` says on one record.
    fn evaluate_view(&self, record: &impl RecordView, tried: Tried) -> Vec<RuleMatch> {
        let hit = |index: usize| {
            let rule = &self.rules[index];
            rule.compiled.matches(record).then(|| RuleMatch {
                rule: Arc::clone(&rule.info),
            })
        };
        let allowed = match tried {
            Tried::Exactly(indexes) => return indexes.iter().copied().filter_map(hit).collect(),
            Tried::Indexed(allowed) => allowed,
        };
        let name = record.key("eventName");
        let source = record.key("eventSource");
        let kept = |index: &usize| allowed.is_none_or(|a| a.binary_search(index).is_ok());
        match (self.prefilter.candidates(name, source), allowed) {
            (Some(indexes), _) => indexes.into_iter().filter(kept).filter_map(hit).collect(),
            (None, Some(allowed)) => allowed.iter().copied().filter_map(hit).collect(),
            (None, None) => (0..self.rules.len()).filter_map(hit).collect(),
        }
    }
}
