//! `tracker alerts`: a responder's offline triage. Loads the rules, runs them
//! over log files on disk (`tracker_runtime::ingest::triage`) and prints the
//! matches as a table or as NDJSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tracker_deployer::client::output::{Column, Out, table, terminal_width, thousands};
use tracker_runtime::ingest::rules::{RuleInfo, RuleSet, RulesOptions};
use tracker_runtime::ingest::{TriageMatch, TriageReport, triage};

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    /// A folder of Sigma rules (`*.yml`/`*.yaml`, searched recursively); repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Leave out tracker's built-in CIS AWS Foundations rule pack.
    #[arg(long)]
    no_builtin: bool,
    /// Skip a rule that cannot be used (with a warning) instead of refusing to run.
    #[arg(long)]
    skip_invalid: bool,
    /// CloudTrail logs: a folder (as CloudTrail writes them to S3; gzip'd or
    /// plain `.json`, digests skipped) or one log file; repeatable.
    #[arg(long = "logs", value_name = "DIR", required = true)]
    logs: Vec<PathBuf>,
    /// One JSON object per (rule, event) instead of a table.
    #[arg(long)]
    ndjson: bool,
}

const COLUMNS: [Column; 6] = [
    Column::left("LEVEL", 13),
    Column::left("RULE", 50),
    Column::left("TIME", 20),
    Column::left("EVENT", 40),
    Column::left("PRINCIPAL", 40),
    Column::left("EVENT ID", 36),
];

/// Runs the rules over the logs and prints what matched. Exits 0 whether or
/// not anything matched; a bad rule or path is an error.
pub fn run(args: &AlertsArgs) -> anyhow::Result<ExitCode> {
    let options = RulesOptions {
        builtin: !args.no_builtin,
        folders: args.rules.clone(),
        skip_invalid: args.skip_invalid,
    };
    if !options.builtin && options.folders.is_empty() {
        anyhow::bail!("no rules to run: pass --rules DIR, or drop --no-builtin");
    }
    let (rules, warnings) = RuleSet::load(&options).context("loading the rules")?;
    for warning in &warnings {
        eprintln!("tracker: warning: skipped: {warning}");
    }
    let mut out = Out::new();
    let mut rows = Vec::new();
    let mut matched_rules: Vec<Arc<RuleInfo>> = Vec::new();
    let mut write_error = None;
    let report = triage(&rules, &args.logs, &mut |matched: TriageMatch| {
        if args.ndjson {
            if write_error.is_none()
                && let Err(error) = out.line(&matched.to_json_line())
            {
                write_error = Some(error);
            }
        } else {
            rows.push(row(&matched));
            if !matched_rules.iter().any(|r| r.id == matched.rule.id) {
                matched_rules.push(Arc::clone(&matched.rule));
            }
        }
    })?;
    if let Some(error) = write_error {
        return Err(error).context("writing to standard output");
    }
    for unreadable in &report.unreadable {
        eprintln!(
            "tracker: warning: {}: {}",
            unreadable.file.display(),
            unreadable.reason
        );
    }
    let summary = summary(&report, rules.len());
    if args.ndjson {
        eprintln!("{summary}");
    } else {
        if !rows.is_empty() {
            out.write(&table(&COLUMNS, &rows, terminal_width()))?;
            out.line("")?;
            out.write(&legend(&matched_rules))?;
            out.line("")?;
        }
        out.line(&summary)?;
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn row(matched: &TriageMatch) -> Vec<String> {
    let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let event = &matched.event;
    vec![
        matched.rule.level.clone(),
        matched.rule.title.clone(),
        shown(&event.event_time),
        shown(&event.event_name),
        event.principal.clone(),
        shown(&event.event_id),
    ]
}

/// Every rule that matched, in order of first match, with its id, author,
/// source and references (DRL 1.1: an alert names the rule's author and
/// references the rule).
fn legend(rules: &[Arc<RuleInfo>]) -> String {
    let mut text = String::from("Rules that matched:\n");
    for rule in rules {
        text.push_str(&format!(
            "  {} ({}), author: {}, rule: {}\n",
            rule.title, rule.id, rule.author, rule.source
        ));
        if !rule.references.is_empty() {
            text.push_str(&format!("    see: {}\n", rule.references.join(" ")));
        }
    }
    text
}

/// "N matches of M rules in K records from F files", and the unreadable files.
fn summary(report: &TriageReport, rules: usize) -> String {
    let plural = |n: u64, one: &str, many: &str| {
        format!("{} {}", thousands(n), if n == 1 { one } else { many })
    };
    let mut text = format!(
        "{} of {} in {} from {}",
        plural(report.matches, "match", "matches"),
        plural(rules as u64, "rule", "rules"),
        plural(report.records, "record", "records"),
        plural(report.files, "file", "files"),
    );
    if report.skipped > 0 {
        text.push_str(&format!(
            " ({} without CloudTrail records skipped)",
            plural(report.skipped, "JSON file", "JSON files")
        ));
    }
    if !report.unreadable.is_empty() {
        text.push_str(&format!(
            " ({} could not be read, listed above)",
            plural(report.unreadable.len() as u64, "file", "files")
        ));
    }
    text
}
