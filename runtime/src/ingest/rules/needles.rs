//! A first look at a record's raw text, before it is split into fields:
//! each rule's *needles*, literal strings it cannot match without (a plain
//! value, a `contains` or `startswith` text, the longest literal run of a
//! wildcard or a regex), searched for every rule at once (Aho-Corasick,
//! ASCII case-insensitive, as Sigma compares text). A record holding none of
//! a rule's needles is not tried against that rule; a record holding no
//! needle of any rule, and matching no rule without needles (a test on
//! absence, a CIDR, a field reference…), is not split at all.
//!
//! Sound because a leaf's text appears as itself in the record's JSON when
//! the record is ASCII and has no `\u` or `\/` escape, and needles hold no
//! character JSON would escape (`"`, `\`, `/`, control characters) and no
//! text a number could be written differently as (`1e2` is `100.0`): other
//! records skip this step and are evaluated in full.

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use super::compile::{CompiledRule, FieldTest, ValueTest};
use super::condition::Condition;
use super::pattern::Pattern;

/// Shorter literals would leave almost every record a candidate.
const MIN_NEEDLE: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct Needles {
    /// All rules' needles; `None` when no rule has any.
    search: Option<AhoCorasick>,
    /// For each needle, the rules it belongs to.
    owners: Vec<Vec<usize>>,
    /// Rules without needles: tried on every record.
    always: Vec<usize>,
    rules: usize,
}

impl Needles {
    pub fn new<'a>(rules: impl IntoIterator<Item = &'a CompiledRule>) -> Needles {
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        let mut count = 0;
        for (index, rule) in rules.into_iter().enumerate() {
            count += 1;
            match condition_needles(&rule.condition, rule) {
                Some(needles) => {
                    for needle in needles {
                        match patterns.iter().position(|p| *p == needle) {
                            Some(at) => owners[at].push(index),
                            None => {
                                patterns.push(needle);
                                owners.push(vec![index]);
                            }
                        }
                    }
                }
                None => always.push(index),
            }
        }
        let search = (!patterns.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    // Measured: the DFA is the fastest at ~150 needles.
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&patterns)
                    .ok()
            })
            .flatten();
        if search.is_none() {
            // Without a searcher every rule is tried (as if none had needles).
            always = (0..count).collect();
            owners.clear();
        }
        Needles {
            search,
            owners,
            always,
            rules: count,
        }
    }

    /// The rules worth trying on this record's text, in load order; `None`
    /// when its text cannot be judged this way (every rule is tried).
    pub fn candidates(&self, raw: &str) -> Option<Vec<usize>> {
        let search = self.search.as_ref()?;
        let bytes = raw.as_bytes();
        if !raw.is_ascii()
            || memchr::memmem::find(bytes, b"\\u").is_some()
            || memchr::memmem::find(bytes, b"\\/").is_some()
        {
            return None;
        }
        let mut wanted = vec![false; self.rules];
        for &index in &self.always {
            wanted[index] = true;
        }
        for found in search.find_overlapping_iter(raw) {
            for &index in &self.owners[found.pattern().as_usize()] {
                wanted[index] = true;
            }
        }
        Some(
            wanted
                .iter()
                .enumerate()
                .filter_map(|(index, &yes)| yes.then_some(index))
                .collect(),
        )
    }
}

/// Needles of which a record matching `condition` holds at least one.
fn condition_needles(condition: &Condition, rule: &CompiledRule) -> Option<Vec<String>> {
    match condition {
        Condition::Selection(index) => {
            let mut any = Vec::new();
            for fields in &rule.selections[*index].alternatives {
                // Every field test of an alternative holds: one test's
                // needles are enough. An event name is the rarest text of a
                // record; prefer it.
                let best = fields
                    .iter()
                    .filter_map(|f| Some((f.path.0 == ["eventName"], test_needles(&f.test)?)))
                    .max_by_key(|(event_name, set)| (*event_name, score(set)))?;
                any.extend(best.1);
            }
            (!any.is_empty()).then_some(any)
        }
        Condition::Not(_) => None,
        Condition::And(all) => {
            most_selective(all.iter().filter_map(|c| condition_needles(c, rule)))
        }
        Condition::Or(any) => {
            let mut union = Vec::new();
            for c in any {
                union.extend(condition_needles(c, rule)?);
            }
            Some(union)
        }
    }
}

/// Needles of which a field passing `test` holds at least one.
fn test_needles(test: &FieldTest) -> Option<Vec<String>> {
    let FieldTest::Values { values, all } = test else {
        return None;
    };
    let one = |value: &ValueTest| match value {
        ValueTest::Leaf(Pattern::Text(text)) => text.longest_literal().and_then(needle),
        ValueTest::Leaf(Pattern::Regex(regex)) => regex_literal(regex.as_str()).and_then(needle),
        _ => None,
    };
    if *all {
        // Each value is matched: any one of them is needed.
        most_selective(values.iter().filter_map(|v| one(v).map(|n| vec![n])))
    } else {
        values.iter().map(one).collect()
    }
}

/// Of several needle sets (each sufficient), the likeliest to be rare.
fn most_selective(sets: impl Iterator<Item = Vec<String>>) -> Option<Vec<String>> {
    sets.max_by_key(|set| score(set))
}

/// How rare a needle set is likely to be: its shortest needle's length, and
/// nothing for a service's host name (`….amazonaws.com` stands in many
/// fields of many records: `eventSource`, `invokedBy`, `sourceIPAddress`).
fn score(set: &[String]) -> usize {
    set.iter()
        .map(|needle| {
            if needle.to_ascii_lowercase().contains("amazonaws.com") {
                0
            } else {
                needle.len()
            }
        })
        .min()
        .unwrap_or(0)
}

/// The longest run of `literal` a needle can be (see the module's doc).
fn needle(literal: String) -> Option<String> {
    literal
        .split(|c: char| !c.is_ascii() || c.is_ascii_control() || matches!(c, '"' | '\\' | '/'))
        .filter(|run| run.len() >= MIN_NEEDLE)
        .filter(|run| {
            run.chars()
                .any(|c| !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E')))
        })
        .max_by_key(|run| run.len())
        .map(str::to_owned)
}

/// The longest literal text every match of a simple regex contains: only
/// for patterns without alternation, groups or classes; a character before
/// a quantifier that allows zero (`?`, `*`, `{`) is not kept.
fn regex_literal(source: &str) -> Option<String> {
    if source.contains(['|', '(', '[']) {
        return None;
    }
    let mut runs: Vec<String> = vec![String::new()];
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // An escape (`\.` or a class like `\d`): ends the run.
                chars.next();
                runs.push(String::new());
            }
            '?' | '*' | '{' => {
                if let Some(run) = runs.last_mut() {
                    run.pop();
                }
                if c == '{' {
                    // The repetition's bounds are not text.
                    for bound in chars.by_ref() {
                        if bound == '}' {
                            break;
                        }
                    }
                }
                runs.push(String::new());
            }
            '.' | '^' | '$' | '+' => runs.push(String::new()),
            c => {
                if let Some(run) = runs.last_mut() {
                    run.push(c);
                }
            }
        }
    }
    runs.into_iter()
        .max_by_key(String::len)
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::super::compile::compile_rule;
    use super::super::parse::parse_rule;
    use super::*;

    fn rule(detection: &str) -> CompiledRule {
        compile_rule(&parse_rule(&format!("title: T\ndetection:\n{detection}")).unwrap()).unwrap()
    }

    #[test]
    fn regex_literals_keep_only_what_every_match_holds() {
        assert_eq!(
            regex_literal(".+:assumed-role/aws:.+").as_deref(),
            Some(":assumed-role/aws:")
        );
        assert_eq!(regex_literal("abcd?e").as_deref(), Some("abc"));
        assert_eq!(regex_literal("ab|cd"), None);
        assert_eq!(regex_literal("(?i)root"), None);
        assert_eq!(regex_literal("x\\.yz").as_deref(), Some("yz"));
        assert_eq!(regex_literal("ab{0,3}cdef").as_deref(), Some("cdef"));
    }

    #[test]
    fn needles_are_what_json_writes_as_itself() {
        assert_eq!(
            needle("arn:aws:iam::*:role/Admin".into()).as_deref(),
            Some("arn:aws:iam::*:role")
        );
        assert_eq!(needle("1e100".into()), None, "numbers can be rewritten");
        assert_eq!(needle("ab".into()), None, "too short");
        assert_eq!(needle("say \"hi\"".into()).as_deref(), Some("say "));
    }

    #[test]
    fn records_without_a_rules_needles_skip_it() {
        let rules = vec![
            rule("  s:\n    eventName: [CreateUser, DeleteUser]\n  condition: s\n"),
            rule("  s:\n    errorCode|contains: AccessDenied\n  condition: s\n"),
            rule("  s:\n    errorCode: null\n  condition: s\n"),
            rule(
                "  a:\n    eventName: RunInstances\n  b:\n    userAgent|contains: boto\n  condition: a and not b\n",
            ),
        ];
        let needles = Needles::new(&rules);
        assert_eq!(
            needles.candidates(r#"{"eventName":"createuser"}"#),
            Some(vec![0, 2])
        );
        assert_eq!(
            needles.candidates(r#"{"eventName":"RunInstances","errorCode":"Client.AccessDenied"}"#),
            Some(vec![1, 2, 3])
        );
        assert_eq!(
            needles.candidates(r#"{"eventName":"ListUsers"}"#),
            Some(vec![2])
        );
        assert_eq!(
            needles.candidates(r#"{"eventName":"Cr\u0065ateUser"}"#),
            None
        );
        assert_eq!(needles.candidates(r#"{"eventName":"CréateUser"}"#), None);
    }
}
