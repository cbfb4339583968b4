//! What the client prints: aligned tables for people (columns capped, fit
//! to the terminal's width when there is one, long values cut with `…`),
//! JSON and NDJSON for scripts. A closed pipe (`tracker events | head`)
//! ends the output quietly.

use std::io::{self, Write};

use serde_json::Value;

/// `--json`, `--ndjson`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// Print the API's JSON (event pages joined into one array).
    #[arg(long, conflicts_with = "ndjson")]
    pub json: bool,
    /// Print one JSON value per line (one event, item or name), for scripts.
    #[arg(long)]
    pub ndjson: bool,
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Ndjson,
}

impl OutputArgs {
    pub fn format(&self) -> Format {
        match (self.json, self.ndjson) {
            (true, _) => Format::Json,
            (_, true) => Format::Ndjson,
            _ => Format::Table,
        }
    }
}

/// A column: its header and the widest it may get.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub max: usize,
    /// Right-aligned (numbers).
    pub right: bool,
}

impl Column {
    pub const fn left(header: &'static str, max: usize) -> Column {
        Column {
            header,
            max,
            right: false,
        }
    }

    pub const fn right(header: &'static str) -> Column {
        Column {
            header,
            max: 20,
            right: true,
        }
    }
}

/// Lays out rows under headers: each column as wide as its widest value
/// (up to its cap), then narrowed, widest first, to fit `width`.
pub fn table(columns: &[Column], rows: &[Vec<String>], width: Option<usize>) -> String {
    let count = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |v| count(v)))
                .chain([count(c.header)])
                .max()
                .unwrap_or(0)
                .min(c.max.max(count(c.header)))
        })
        .collect();
    if let Some(width) = width {
        let gaps = 2 * columns.len().saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > width {
            let Some((widest, _)) = widths
                .iter()
                .enumerate()
                .filter(|(i, w)| !columns[*i].right && **w > 8)
                .max_by_key(|(_, w)| **w)
            else {
                break;
            };
            widths[widest] -= 1;
        }
    }
    let mut out = String::new();
    let headers: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
    for row in std::iter::once(&headers).chain(rows) {
        let cells: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let value = fit(row.get(i).map_or("", String::as_str), widths[i]);
                let pad = widths[i].saturating_sub(count(&value));
                if column.right {
                    format!("{}{value}", " ".repeat(pad))
                } else if i + 1 == columns.len() {
                    value
                } else {
                    format!("{value}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `text` cut to `width` characters, ending in `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The terminal's width when stdout is one.
pub fn terminal_width() -> Option<usize> {
    console::Term::stdout()
        .size_checked()
        .map(|(_, columns)| usize::from(columns))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A string field of a JSON object (empty when absent or not a string).
pub fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Standard output that stops quietly when the reader goes away.
pub struct Out {
    out: io::BufWriter<io::Stdout>,
    closed: bool,
}

impl Out {
    pub fn new() -> Out {
        Out {
            out: io::BufWriter::new(io::stdout()),
            closed: false,
        }
    }

    /// Writes `text`; false once the pipe is closed (stop producing).
    pub fn write(&mut self, text: &str) -> io::Result<bool> {
        if self.closed {
            return Ok(false);
        }
        match self.out.write_all(text.as_bytes()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    pub fn line(&mut self, text: &str) -> io::Result<bool> {
        Ok(self.write(text)? && self.write("\n")?)
    }

    pub fn finish(mut self) -> io::Result<()> {
        match self.out.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

impl Default for Out {
    fn default() -> Self {
        Out::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_cut() {
        let columns = [
            Column::left("NAME", 10),
            Column::right("N"),
            Column::left("NOTE", 30),
        ];
        let rows = vec![
            vec!["alice".into(), "3".into(), "ok".into()],
            vec!["a-very-long-principal".into(), "1234".into(), "".into()],
        ];
        let text = table(&columns, &rows, None);
        assert_eq!(
            text,
            "NAME           N  NOTE\nalice          3  ok\na-very-lo…  1234\n"
        );
        let narrow = table(&columns, &rows, Some(20));
        assert!(narrow.lines().all(|l| l.chars().count() <= 20), "{narrow}");
        assert!(narrow.contains("a-very-…"), "{narrow}");
    }

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}
