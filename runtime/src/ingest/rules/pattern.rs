//! One Sigma value, compiled to test one scalar leaf of a record: text with
//! `*`/`?` wildcards (`\*`, `\?`, `\\` literal), case-insensitive unless
//! `|cased`; a regular expression (`|re`, case-sensitive); a CIDR range
//! (`|cidr`, IPv4 or IPv6); a number comparison (`|lt`, `|gte`, …).
//!
//! Text is lowercased once at compile time. The common shapes (whole value,
//! prefix, suffix, substring) are compared directly, ASCII leaves without
//! allocating; only values with inner wildcards run the glob matcher.

use std::net::IpAddr;

/// Where a text value may sit in the leaf (`contains`, `startswith`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Whole,
    Start,
    End,
    Anywhere,
}

#[derive(Debug, Clone)]
pub enum Pattern {
    Text(TextPattern),
    Regex(regex::Regex),
    Cidr(ipnet::IpNet),
    Compare(Comparison, f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPattern {
    shape: Shape,
    cased: bool,
}

/// Literals are lowercased unless the pattern is cased.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// `*`: any leaf at all.
    Any,
    Glob(Vec<Glob>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Glob {
    Literal(Vec<char>),
    AnyRun,
    AnyChar,
}

impl Pattern {
    /// Whether this leaf (a scalar's text) matches.
    pub fn matches(&self, leaf: &str) -> bool {
        match self {
            Pattern::Text(text) => text.matches(leaf),
            Pattern::Regex(regex) => regex.is_match(leaf),
            Pattern::Cidr(net) => leaf
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|address| net.contains(&address)),
            Pattern::Compare(comparison, bound) => {
                leaf.trim()
                    .parse::<f64>()
                    .is_ok_and(|number| match comparison {
                        Comparison::Less => number < *bound,
                        Comparison::LessOrEqual => number <= *bound,
                        Comparison::Greater => number > *bound,
                        Comparison::GreaterOrEqual => number >= *bound,
                    })
            }
        }
    }
}

impl TextPattern {
    /// Compiles a Sigma text value (wildcards and escapes) placed by `anchor`.
    pub fn new(value: &str, anchor: Anchor, cased: bool) -> TextPattern {
        let mut parts = Vec::new();
        if matches!(anchor, Anchor::End | Anchor::Anywhere) {
            parts.push(Glob::AnyRun);
        }
        let mut literal = String::new();
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        literal.push(next);
                        chars.next();
                    }
                    _ => literal.push('\\'),
                },
                '*' | '?' => {
                    if !literal.is_empty() {
                        parts.push(Glob::Literal(
                            std::mem::take(&mut literal).chars().collect(),
                        ));
                    }
                    parts.push(if c == '*' {
                        Glob::AnyRun
                    } else {
                        Glob::AnyChar
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Glob::Literal(literal.chars().collect()));
        }
        if matches!(anchor, Anchor::Start | Anchor::Anywhere) {
            parts.push(Glob::AnyRun);
        }
        parts.dedup_by(|b, a| *a == Glob::AnyRun && *b == Glob::AnyRun);
        let fold = |chars: &[char]| -> String {
            let text: String = chars.iter().collect();
            if cased { text } else { text.to_lowercase() }
        };
        let shape = match parts.as_slice() {
            [] => Shape::Exact(String::new()),
            [Glob::AnyRun] => Shape::Any,
            [Glob::Literal(l)] => Shape::Exact(fold(l)),
            [Glob::Literal(l), Glob::AnyRun] => Shape::Prefix(fold(l)),
            [Glob::AnyRun, Glob::Literal(l)] => Shape::Suffix(fold(l)),
            [Glob::AnyRun, Glob::Literal(l), Glob::AnyRun] => Shape::Contains(fold(l)),
            _ => Shape::Glob(
                parts
                    .into_iter()
                    .map(|part| match part {
                        Glob::Literal(l) => Glob::Literal(fold(&l).chars().collect()),
                        other => other,
                    })
                    .collect(),
            ),
        };
        TextPattern { shape, cased }
    }

    /// The longest literal run every matching leaf contains (lowercased
    /// unless cased); `None` for `*`, which any leaf matches.
    pub fn longest_literal(&self) -> Option<String> {
        match &self.shape {
            Shape::Exact(l) | Shape::Prefix(l) | Shape::Suffix(l) | Shape::Contains(l) => {
                Some(l.clone())
            }
            Shape::Any => None,
            Shape::Glob(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    Glob::Literal(chars) => Some(chars.iter().collect::<String>()),
                    _ => None,
                })
                .max_by_key(String::len),
        }
    }

    /// The lowercased value when only that whole value matches (no
    /// wildcard, no anchor): what the rule index keys by.
    pub fn exact_folded(&self) -> Option<String> {
        match &self.shape {
            Shape::Exact(literal) => Some(literal.to_lowercase()),
            _ => None,
        }
    }

    pub fn matches(&self, leaf: &str) -> bool {
        if self.cased {
            return self.shape.matches_exactly(leaf);
        }
        if leaf.is_ascii() {
            return self.shape.matches_ascii_folded(leaf.as_bytes());
        }
        self.shape.matches_exactly(&leaf.to_lowercase())
    }
}

impl Shape {
    /// `leaf` is compared as is (already lowercased, or a cased pattern).
    fn matches_exactly(&self, leaf: &str) -> bool {
        match self {
            Shape::Exact(l) => leaf == l,
            Shape::Prefix(l) => leaf.starts_with(l.as_str()),
            Shape::Suffix(l) => leaf.ends_with(l.as_str()),
            Shape::Contains(l) => leaf.contains(l.as_str()),
            Shape::Any => true,
            Shape::Glob(parts) => glob(parts, &leaf.chars().collect::<Vec<_>>()),
        }
    }

    /// `leaf` is ASCII; the pattern's literals are lowercase.
    fn matches_ascii_folded(&self, leaf: &[u8]) -> bool {
        match self {
            Shape::Exact(l) => leaf.eq_ignore_ascii_case(l.as_bytes()),
            Shape::Prefix(l) => {
                leaf.len() >= l.len() && leaf[..l.len()].eq_ignore_ascii_case(l.as_bytes())
            }
            Shape::Suffix(l) => {
                leaf.len() >= l.len()
                    && leaf[leaf.len() - l.len()..].eq_ignore_ascii_case(l.as_bytes())
            }
            Shape::Contains(l) => {
                let needle = l.as_bytes();
                needle.is_empty()
                    || leaf
                        .windows(needle.len())
                        .any(|window| window.eq_ignore_ascii_case(needle))
            }
            Shape::Any => true,
            Shape::Glob(parts) => {
                let chars: Vec<char> = leaf
                    .iter()
                    .map(|b| char::from(b.to_ascii_lowercase()))
                    .collect();
                glob(parts, &chars)
            }
        }
    }
}

/// Wildcard match of the whole `text` (iterative, backtracking to the last
/// `*` only: linear in practice).
fn glob(parts: &[Glob], text: &[char]) -> bool {
    // Flatten to single-character steps.
    enum Step<'a> {
        Char(&'a char),
        One,
        Run,
    }
    let steps: Vec<Step> = parts
        .iter()
        .flat_map(|part| -> Box<dyn Iterator<Item = Step> + '_> {
            match part {
                Glob::Literal(chars) => Box::new(chars.iter().map(Step::Char)),
                Glob::AnyChar => Box::new(std::iter::once(Step::One)),
                Glob::AnyRun => Box::new(std::iter::once(Step::Run)),
            }
        })
        .collect();
    let (mut s, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match steps.get(s) {
            Some(Step::Char(c)) if **c == text[t] => {
                s += 1;
                t += 1;
            }
            Some(Step::One) => {
                s += 1;
                t += 1;
            }
            Some(Step::Run) => {
                star = Some((s, t));
                s += 1;
            }
            _ => match star {
                Some((star_s, star_t)) => {
                    s = star_s + 1;
                    t = star_t + 1;
                    star = Some((star_s, star_t + 1));
                }
                None => return false,
            },
        }
    }
    steps[s..].iter().all(|step| matches!(step, Step::Run))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str, anchor: Anchor) -> TextPattern {
        TextPattern::new(value, anchor, false)
    }

    #[test]
    fn plain_values_are_whole_case_insensitive_matches() {
        let p = text("ConsoleLogin", Anchor::Whole);
        assert!(p.matches("consolelogin"));
        assert!(p.matches("CONSOLELOGIN"));
        assert!(!p.matches("ConsoleLoginZ"));
        assert!(!p.matches("XConsoleLogin"));
        let unicode = text("Élan", Anchor::Whole);
        assert!(unicode.matches("éLAN"));
        assert!(!unicode.matches("elan"));
    }

    #[test]
    fn contains_startswith_endswith() {
        assert!(text("Suspended", Anchor::Anywhere).matches("status=SUSPENDED;"));
        assert!(!text("Suspended", Anchor::Anywhere).matches("Suspend"));
        assert!(text("Update", Anchor::Start).matches("updateFunctionConfiguration20150331"));
        assert!(!text("Update", Anchor::Start).matches("xUpdate"));
        assert!(text(".exe", Anchor::End).matches("A.EXE"));
        assert!(!text(".exe", Anchor::End).matches("a.exe "));
        assert!(text("", Anchor::Whole).matches(""));
        assert!(!text("", Anchor::Whole).matches("x"));
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(text("*", Anchor::Anywhere).matches(""));
        assert!(text("list*", Anchor::Whole).matches("ListBuckets"));
        assert!(!text("list*", Anchor::Whole).matches("GetList"));
        assert!(text("a?c", Anchor::Whole).matches("abc"));
        assert!(!text("a?c", Anchor::Whole).matches("ac"));
        assert!(text("a*b*c", Anchor::Whole).matches("aXXbYYbc"));
        assert!(!text("a*b*c", Anchor::Whole).matches("aXXbYYbcd"));
        assert!(text("é?x", Anchor::Whole).matches("ÉÖX"));
        // Escaped wildcards are literal.
        let star = text(r"a\*b", Anchor::Whole);
        assert!(star.matches("a*b"));
        assert!(!star.matches("aXb"));
        let question = text(r"a\?", Anchor::Anywhere);
        assert!(question.matches("why a?"));
        assert!(!question.matches("ab"));
        // `\\` is one backslash, and the `*` after it stays a wildcard.
        let backslash = text(r"c:\\*", Anchor::Whole);
        assert!(backslash.matches(r"C:\windows"));
        // A backslash before anything else is itself.
        assert!(text(r"a\b", Anchor::Whole).matches(r"A\B"));
        // `contains` keeps inner wildcards.
        assert!(text("arn:*:s3", Anchor::Anywhere).matches("x ARN:aws:S3 y"));
    }

    #[test]
    fn cased_text_is_exact() {
        let p = TextPattern::new("Admin", Anchor::Whole, true);
        assert!(p.matches("Admin"));
        assert!(!p.matches("admin"));
    }

    #[test]
    fn regex_cidr_and_comparisons() {
        let re = Pattern::Regex(regex::Regex::new(".+:assumed-role/aws:.+").unwrap());
        assert!(re.matches("arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"));
        assert!(!re.matches("arn:aws:sts::1:assumed-role/AWS:x"));
        let v4 = Pattern::Cidr("198.51.100.0/24".parse().unwrap());
        assert!(v4.matches("198.51.100.7"));
        assert!(!v4.matches("198.51.101.7"));
        assert!(!v4.matches("AWS Internal"));
        let v6 = Pattern::Cidr("2001:db8::/32".parse().unwrap());
        assert!(v6.matches("2001:db8::1"));
        assert!(!v6.matches("2001:db9::1"));
        assert!(!v6.matches("198.51.100.7"));
        let gt = Pattern::Compare(Comparison::Greater, 5.0);
        assert!(gt.matches("6"));
        assert!(!gt.matches("5"));
        assert!(!gt.matches("many"));
        assert!(Pattern::Compare(Comparison::LessOrEqual, 5.0).matches("5"));
    }
}
