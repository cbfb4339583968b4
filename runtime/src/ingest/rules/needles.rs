//! A first look at a record's raw text, before it is split into fields:
//! each rule's *needles*, literal strings it cannot match without (a plain
//! value, a `contains` or `startswith` text, the longest literal run of a
//! wildcard or a regex), searched ASCII case-insensitively, as Sigma
//! compares text: a few needles one by one (SIMD `memmem` in the lowercased
//! text), many all at once (an Aho-Corasick automaton). A record holding none of
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

/// Up to this many needles are searched one by one (SIMD `memmem` on the
/// lowercased text); more, all at once by an automaton. Measured on the
/// sample: the automaton reads ~1 ns per byte whatever the number of
/// needles; a few `memmem` passes and the lowercasing read faster.
const FEW_NEEDLES: usize = 8;

#[derive(Debug, Clone)]
enum Search {
    /// Lowercased needles, searched in the lowercased text.
    Few(Vec<memchr::memmem::Finder<'static>>),
    Automaton(AhoCorasick),
}

#[derive(Debug, Clone, Default)]
pub struct Needles {
    /// All rules' needles; `None` when no rule has any.
    search: Option<Search>,
    /// For each needle, the rules it belongs to.
    owners: Vec<Vec<usize>>,
    /// Rules without needles: tried on every record.
    always: Vec<usize>,
    /// How many rules have needles.
    with_needles: usize,
    rules: usize,
}

impl Needles {
    /// Needles of every rule.
    pub fn new<'a>(rules: impl IntoIterator<Item = &'a CompiledRule>) -> Needles {
        let rules: Vec<_> = rules.into_iter().enumerate().collect();
        let count = rules.len();
        Needles::of_some(rules, count)
    }

    /// Needles of some rules (with their indexes among `count` rules): only
    /// those are ever candidates.
    pub fn of_some<'a>(
        rules: impl IntoIterator<Item = (usize, &'a CompiledRule)>,
        count: usize,
    ) -> Needles {
        Needles::searched_one_by_one_up_to(rules, count, FEW_NEEDLES)
    }

    /// [`Needles::of_some`], searching up to `few` needles one by one.
    fn searched_one_by_one_up_to<'a>(
        rules: impl IntoIterator<Item = (usize, &'a CompiledRule)>,
        count: usize,
        few: usize,
    ) -> Needles {
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        let mut some = Vec::new();
        for (index, rule) in rules {
            some.push(index);
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
        let search = if patterns.is_empty() {
            None
        } else if patterns.len() <= few {
            Some(Search::Few(
                patterns
                    .iter()
                    .map(|p| memchr::memmem::Finder::new(&p.to_ascii_lowercase()).into_owned())
                    .collect(),
            ))
        } else {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                // Measured: the DFA is the fastest at ~150 needles.
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns)
                .ok()
                .map(Search::Automaton)
        };
        let with_needles = some.len() - always.len();
        if search.is_none() {
            // Without a searcher every rule is tried (as if none had needles).
            always = some;
            owners.clear();
        }
        Needles {
            search,
            owners,
            always,
            with_needles,
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
        match search {
            Search::Few(finders) => LOWERCASED.with_borrow_mut(|lower| {
                lower.clear();
                lower.extend(bytes.iter().map(u8::to_ascii_lowercase));
                for (finder, owners) in finders.iter().zip(&self.owners) {
                    if owners.iter().any(|&index| !wanted[index]) && finder.find(lower).is_some() {
                        for &index in owners {
                            wanted[index] = true;
                        }
                    }
                }
            }),
            Search::Automaton(automaton) => {
                // Once every rule with needles is wanted, the rest of the
                // text cannot change the answer.
                let mut unseen = self.with_needles;
                for found in automaton.find_overlapping_iter(raw) {
                    for &index in &self.owners[found.pattern().as_usize()] {
                        if !wanted[index] {
                            wanted[index] = true;
                            unseen -= 1;
                        }
                    }
                    if unseen == 0 {
                        break;
                    }
                }
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

thread_local! {
    /// The record's text, lowercased for [`Search::Few`] (reused).
    static LOWERCASED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
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
        let one_by_one = Needles::new(&rules);
        assert!(matches!(one_by_one.search, Some(Search::Few(_))));
        let automaton =
            Needles::searched_one_by_one_up_to(rules.iter().enumerate(), rules.len(), 0);
        assert!(matches!(automaton.search, Some(Search::Automaton(_))));
        for needles in [one_by_one, automaton] {
            assert_candidates(&needles);
        }
    }

    fn assert_candidates(needles: &Needles) {
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
