//! Sigma's condition language, parsed against a rule's selection names:
//! `and`, `or`, `not`, parentheses, `1 of pattern*`, `all of pattern*`,
//! `1 of them`, `all of them`; precedence `not` > `and` > `or`. Selection
//! names are resolved to indexes here, so evaluation never looks up a name.
//!
//! Aggregations after `|` (`count()`, `near`, `by`, …) need several events
//! and are refused: tracker evaluates each event on its own.

/// A parsed condition; `usize` is a selection's index in the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Selection(usize),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    /// Evaluates with `selection(i)` telling whether selection `i` holds;
    /// `and`/`or` stop at the first deciding operand.
    pub fn holds(&self, selection: &mut impl FnMut(usize) -> bool) -> bool {
        match self {
            Condition::Selection(index) => selection(*index),
            Condition::Not(inner) => !inner.holds(selection),
            Condition::And(all) => all.iter().all(|c| c.holds(selection)),
            Condition::Or(any) => any.iter().any(|c| c.holds(selection)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Open,
    Close,
    Pipe,
}

/// Parses `text`; `names` are the rule's selection names, in order.
pub fn parse_condition(text: &str, names: &[String]) -> Result<Condition, String> {
    let tokens = tokenize(text);
    if let Some((_, aggregation)) = text.split_once('|') {
        return Err(format!(
            "condition `{text}`: `| {}`: correlation/aggregation is not supported \
             (tracker evaluates each event on its own)",
            aggregation.trim()
        ));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        names,
    };
    let condition = parser
        .or()
        .map_err(|reason| format!("condition `{text}`: {reason}"))?;
    if let Some(extra) = parser.tokens.get(parser.at) {
        return Err(format!(
            "condition `{text}`: unexpected {extra:?} at the end"
        ));
    }
    Ok(condition)
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        match c {
            '(' | ')' | '|' => {
                flush(&mut word, &mut tokens);
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Pipe,
                });
            }
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    names: &'a [String],
}

impl Parser<'_> {
    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut operands = vec![self.and()?];
        while self.peek_keyword("or") {
            self.at += 1;
            operands.push(self.and()?);
        }
        Ok(flatten(operands, Condition::Or))
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut operands = vec![self.not()?];
        while self.peek_keyword("and") {
            self.at += 1;
            operands.push(self.not()?);
        }
        Ok(flatten(operands, Condition::And))
    }

    fn not(&mut self) -> Result<Condition, String> {
        if self.peek_keyword("not") {
            self.at += 1;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            None => Err("ends where a selection was expected".into()),
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.tokens.get(self.at) {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err("a `(` is not closed".into()),
                }
            }
            Some(Token::Close) => Err("unexpected `)`".into()),
            Some(Token::Pipe) => Err("unexpected `|`".into()),
            Some(Token::Word(word)) => {
                let quantifier = if word == "1" || word.eq_ignore_ascii_case("any") {
                    Some(false)
                } else if word.eq_ignore_ascii_case("all") {
                    Some(true)
                } else {
                    None
                };
                match quantifier {
                    Some(all) if self.peek_keyword("of") => {
                        self.at += 1;
                        self.quantified(all)
                    }
                    _ => self.selection(&word),
                }
            }
        }
    }

    fn quantified(&mut self, all: bool) -> Result<Condition, String> {
        let Some(Token::Word(pattern)) = self.tokens.get(self.at).cloned() else {
            return Err("`of` must be followed by a selection pattern or `them`".into());
        };
        self.at += 1;
        let indexes: Vec<usize> = if pattern == "them" {
            self.names
                .iter()
                .enumerate()
                .filter(|(_, name)| !name.starts_with('_'))
                .map(|(i, _)| i)
                .collect()
        } else {
            self.names
                .iter()
                .enumerate()
                .filter(|(_, name)| name_matches(&pattern, name))
                .map(|(i, _)| i)
                .collect()
        };
        if indexes.is_empty() {
            return Err(format!("`{pattern}` names no selection of the rule"));
        }
        let operands = indexes.into_iter().map(Condition::Selection).collect();
        Ok(if all {
            flatten(operands, Condition::And)
        } else {
            flatten(operands, Condition::Or)
        })
    }

    fn selection(&self, name: &str) -> Result<Condition, String> {
        if name.contains('*') {
            return Err(format!(
                "`{name}`: a pattern must follow `1 of` or `all of`"
            ));
        }
        self.names
            .iter()
            .position(|n| n == name)
            .map(Condition::Selection)
            .ok_or_else(|| format!("unknown selection `{name}`"))
    }
}

fn flatten(mut operands: Vec<Condition>, make: fn(Vec<Condition>) -> Condition) -> Condition {
    if operands.len() == 1 {
        operands.remove(0)
    } else {
        make(operands)
    }
}

/// A selection-name pattern: `*` matches any run of characters.
fn name_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn eval(text: &str, list: &[&str], truth: &[bool]) -> bool {
        parse_condition(text, &names(list))
            .unwrap()
            .holds(&mut |i| truth[i])
    }

    #[test]
    fn precedence_is_not_and_or() {
        // a or b and c  ==  a or (b and c)
        assert!(eval(
            "a or b and c",
            &["a", "b", "c"],
            &[true, false, false]
        ));
        assert!(!eval(
            "(a or b) and c",
            &["a", "b", "c"],
            &[true, false, false]
        ));
        // not a and b  ==  (not a) and b
        assert!(eval("not a and b", &["a", "b"], &[false, true]));
        assert!(!eval("not (a and b)", &["a", "b"], &[true, true]));
        assert!(eval("not not a", &["a"], &[true]));
        assert_eq!(
            parse_condition("a or b and c", &names(&["a", "b", "c"])).unwrap(),
            Condition::Or(vec![
                Condition::Selection(0),
                Condition::And(vec![Condition::Selection(1), Condition::Selection(2)])
            ])
        );
    }

    #[test]
    fn one_of_and_all_of_patterns() {
        let list = ["selection", "filter_a", "filter_b", "_hidden"];
        assert!(eval(
            "selection and not 1 of filter_*",
            &list,
            &[true, false, false, true]
        ));
        assert!(!eval(
            "selection and not 1 of filter_*",
            &list,
            &[true, false, true, false]
        ));
        assert!(eval("all of filter_*", &list, &[false, true, true, false]));
        assert!(!eval(
            "all of filter_*",
            &list,
            &[false, true, false, false]
        ));
        assert!(eval("1 of them", &list, &[false, false, true, false]));
        // `them` leaves out names starting with `_`.
        assert!(!eval("1 of them", &list, &[false, false, false, true]));
        assert!(eval("all of them", &list, &[true, true, true, false]));
        assert!(eval("1 of *", &list, &[false, false, false, true]));
        assert!(eval("1 of f*_b", &list, &[false, false, true, false]));
    }

    #[test]
    fn refuses_aggregations_and_unknown_names() {
        let err = parse_condition("sel | count() > 5", &names(&["sel"])).unwrap_err();
        assert!(
            err.contains("correlation/aggregation is not supported"),
            "{err}"
        );
        assert!(err.contains("count() > 5"), "{err}");
        let near = parse_condition("s1 | near s2", &names(&["s1", "s2"])).unwrap_err();
        assert!(near.contains("correlation/aggregation"), "{near}");
        let unknown = parse_condition("sel and other", &names(&["sel"])).unwrap_err();
        assert!(unknown.contains("unknown selection `other`"), "{unknown}");
        let pattern = parse_condition("1 of x*", &names(&["sel"])).unwrap_err();
        assert!(pattern.contains("names no selection"), "{pattern}");
        assert!(parse_condition("(sel", &names(&["sel"])).is_err());
        assert!(parse_condition("sel sel", &names(&["sel"])).is_err());
        assert!(parse_condition("", &names(&["sel"])).is_err());
    }
}
