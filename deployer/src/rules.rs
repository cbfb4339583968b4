//! The detection rules a deployed ingest function evaluates (`[rules]`).
//!
//! Checked before anything is created: a rule the engine refuses stops the
//! deploy with its file, rule and problem (or, with `skip_invalid`, is
//! reported and left out). The user's rule files are shipped inside the
//! function's zip under `rules/` (the function reads them from
//! [`LAMBDA_RULES_DIR`]); the built-in pack is in the binary already.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use tracker_runtime::ingest::rules::{RuleSet, RulesError, RulesOptions, rule_files};

use crate::package::ExtraFile;

/// Where the user's rule folders go inside the zip.
pub const RULES_DIR_IN_ZIP: &str = "rules";
/// Where the function finds them (`TRACKER_RULES_DIR`): Lambda unpacks the
/// zip into `/var/task`.
pub const LAMBDA_RULES_DIR: &str = "/var/task/rules";

/// The rules, loaded as the function will load them, and the user's rule
/// files to ship.
#[derive(Debug)]
pub struct CheckedRules {
    /// How many rules the function will evaluate.
    pub loaded: usize,
    /// Rules left out (`skip_invalid`), each naming its file and problem.
    pub skipped: Vec<RulesError>,
    /// The usable rule files, as zip entries `rules/<n>/<path in folder n>`.
    pub files: Vec<ExtraFile>,
}

/// Loads the rules (refusing an invalid one unless `skip_invalid`) and reads
/// the usable rule files of the folders for the zip.
pub fn check(options: &RulesOptions) -> anyhow::Result<CheckedRules> {
    let (rules, skipped) = RuleSet::load(options).context(
        "a detection rule cannot be used: fix or remove it, or set `[rules] skip_invalid = true` \
         to deploy without it",
    )?;
    let refused: BTreeSet<&Path> = skipped
        .iter()
        .map(|error| match error {
            RulesError::Invalid { path, .. } | RulesError::Unreadable { path, .. } => {
                path.as_path()
            }
        })
        .collect();
    // The folder exists in the zip even when every file was left out, so
    // the function finds the `TRACKER_RULES_DIR` it is given.
    let mut files = Vec::new();
    if !options.folders.is_empty() {
        files.push(ExtraFile {
            path: format!("{RULES_DIR_IN_ZIP}/"),
            bytes: Vec::new(),
        });
    }
    for (n, folder) in options.folders.iter().enumerate() {
        for path in rule_files(folder)? {
            if refused.contains(path.as_path()) {
                continue;
            }
            // A folder's files keep their place in it; a file named as the
            // folder keeps its name.
            let relative = path
                .strip_prefix(folder)
                .ok()
                .filter(|r| !r.as_os_str().is_empty())
                .or_else(|| path.file_name().map(Path::new))
                .unwrap_or(&path);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read the rule file {}", path.display()))?;
            files.push(ExtraFile {
                path: zip_path(n, relative),
                bytes,
            });
        }
    }
    Ok(CheckedRules {
        loaded: rules.len(),
        skipped,
        files,
    })
}

/// `rules/<n>/a/b.yml`, with `/` whatever the host's separator.
fn zip_path(folder_index: usize, relative: &Path) -> String {
    let mut path = format!("{RULES_DIR_IN_ZIP}/{folder_index}");
    for part in relative.components() {
        path.push('/');
        path.push_str(&part.as_os_str().to_string_lossy());
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_files_are_found_recursively_and_named_per_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("aws/iam")).unwrap();
        std::fs::write(dir.path().join("aws/iam/b.yml"), "x").unwrap();
        std::fs::write(dir.path().join("a.yaml"), "y").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "z").unwrap();
        let found = rule_files(dir.path()).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|p| zip_path(2, p.strip_prefix(dir.path()).unwrap()))
            .collect();
        assert_eq!(names, ["rules/2/a.yaml", "rules/2/aws/iam/b.yml"]);
    }

    #[test]
    fn a_missing_folder_is_named() {
        let error = rule_files(Path::new("/no/such/rules")).unwrap_err();
        assert!(error.to_string().contains("/no/such/rules"), "{error}");
    }
}
