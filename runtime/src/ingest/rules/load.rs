//! Where rules come from: the built-in pack ([`super::builtin::BUILTIN`])
//! and user folders, searched recursively for `*.yml` / `*.yaml` in sorted
//! path order (a stable load order). Each source is parsed, checked and
//! compiled into a [`LoadedRule`].
//!
//! Choices:
//! - a rule without `id` is known by its file stem; without `title`, by its
//!   id; without `author`, `unknown`; without `level`, `medium` (Sigma's
//!   levels are `informational`, `low`, `medium`, `high`, `critical`; any
//!   other is refused);
//! - a rule whose `logsource` names another product or service than
//!   `aws`/`cloudtrail` (or only a category) is refused: it would never
//!   match a CloudTrail record, and silence would hide that;
//! - two rules with the same id are refused (the second one named, with the
//!   first's file): alerts are keyed by rule id;
//! - a folder that cannot be read is an error even with `skip_invalid` (a
//!   bad path is not a bad rule); an unreadable or unusable rule file is
//!   skipped with a warning under `skip_invalid`, else it is the error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::compile::{CompiledRule, compile_rule};
use super::parse::parse_rule;
use super::{RuleInfo, RulesError, RulesOptions};

/// A usable rule: what alerts say about it, and how to evaluate it.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    pub info: Arc<RuleInfo>,
    pub compiled: CompiledRule,
}

const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// Every rule `options` names, and the warnings of skipped ones.
pub fn load_rules(
    options: &RulesOptions,
) -> Result<(Vec<LoadedRule>, Vec<RulesError>), RulesError> {
    let mut sources: Vec<Source> = Vec::new();
    if options.builtin {
        for (name, text) in super::builtin::BUILTIN {
            sources.push(Source {
                path: PathBuf::from(format!("builtin:{name}")),
                stem: stem_of(Path::new(name)),
                text: Ok((*text).to_owned()),
            });
        }
    }
    for folder in &options.folders {
        for path in rule_files(folder)? {
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string());
            sources.push(Source {
                stem: stem_of(&path),
                path,
                text,
            });
        }
    }
    build(sources, options.skip_invalid)
}

/// Rules given as `(source name, YAML text)`; the name stands for the path.
pub fn rules_from_sources(
    sources: &[(&str, &str)],
    skip_invalid: bool,
) -> Result<(Vec<LoadedRule>, Vec<RulesError>), RulesError> {
    let sources = sources
        .iter()
        .map(|(name, text)| Source {
            path: PathBuf::from(name),
            stem: stem_of(Path::new(name)),
            text: Ok((*text).to_owned()),
        })
        .collect();
    build(sources, skip_invalid)
}

struct Source {
    path: PathBuf,
    stem: String,
    /// The text, or why it could not be read.
    text: Result<String, String>,
}

fn build(
    sources: Vec<Source>,
    skip_invalid: bool,
) -> Result<(Vec<LoadedRule>, Vec<RulesError>), RulesError> {
    let mut rules = Vec::with_capacity(sources.len());
    let mut warnings = Vec::new();
    let mut ids: HashMap<String, PathBuf> = HashMap::new();
    for source in sources {
        let outcome = match &source.text {
            Err(reason) => Err(RulesError::Unreadable {
                path: source.path.clone(),
                reason: reason.clone(),
            }),
            Ok(text) => load_one(&source.path, &source.stem, text),
        };
        let outcome = outcome.and_then(|rule| match ids.get(&rule.info.id) {
            Some(first) => Err(RulesError::Invalid {
                path: source.path.clone(),
                rule: Some(rule.info.title.clone()),
                reason: format!(
                    "its id {} is already the id of a rule in {}",
                    rule.info.id,
                    first.display()
                ),
            }),
            None => {
                ids.insert(rule.info.id.clone(), source.path.clone());
                Ok(rule)
            }
        });
        match outcome {
            Ok(rule) => rules.push(rule),
            Err(error) if skip_invalid => warnings.push(error),
            Err(error) => return Err(error),
        }
    }
    Ok((rules, warnings))
}

/// Parses, checks and compiles one rule file.
fn load_one(path: &Path, stem: &str, text: &str) -> Result<LoadedRule, RulesError> {
    let rule = parse_rule(text).map_err(|e| RulesError::Invalid {
        path: path.to_owned(),
        rule: e.title,
        reason: e.reason,
    })?;
    let id = rule.id.clone().unwrap_or_else(|| stem.to_owned());
    let title = rule.title.clone().unwrap_or_else(|| id.clone());
    let invalid = |reason: String| RulesError::Invalid {
        path: path.to_owned(),
        rule: Some(title.clone()),
        reason,
    };
    let source = &rule.logsource;
    let foreign_product = source
        .product
        .as_deref()
        .is_some_and(|p| !p.eq_ignore_ascii_case("aws"));
    let foreign_service = source
        .service
        .as_deref()
        .is_some_and(|s| !s.eq_ignore_ascii_case("cloudtrail"));
    let category_only = source.category.is_some() && source.product.is_none();
    if foreign_product || foreign_service || category_only {
        return Err(invalid(format!(
            "its logsource (product: {}, service: {}, category: {}) is not AWS CloudTrail, \
             the only records tracker evaluates",
            source.product.as_deref().unwrap_or("-"),
            source.service.as_deref().unwrap_or("-"),
            source.category.as_deref().unwrap_or("-"),
        )));
    }
    let level = match &rule.level {
        None => "medium".to_owned(),
        Some(level) => {
            let level = level.to_ascii_lowercase();
            if !LEVELS.contains(&level.as_str()) {
                return Err(invalid(format!(
                    "level `{level}` is not one of {}",
                    LEVELS.join(", ")
                )));
            }
            level
        }
    };
    let compiled = compile_rule(&rule).map_err(invalid)?;
    let info = RuleInfo {
        id,
        title,
        level,
        author: rule.author.clone().unwrap_or_else(|| "unknown".to_owned()),
        description: rule.description.clone().unwrap_or_default(),
        references: rule.references.clone(),
        source: path.display().to_string(),
    };
    Ok(LoadedRule {
        info: Arc::new(info),
        compiled,
    })
}

/// The rule files under `folder` (or `folder` itself when it is a file),
/// sorted.
pub fn rule_files(folder: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let unreadable = |reason: String| RulesError::Unreadable {
        path: folder.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(folder).map_err(|e| unreadable(e.to_string()))?;
    if meta.is_file() {
        return Ok(vec![folder.to_owned()]);
    }
    let mut files = Vec::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| RulesError::Unreadable {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| RulesError::Unreadable {
                path: dir.clone(),
                reason: e.to_string(),
            })?;
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
