//! Talking to the operator: progress on stderr (stdout is for results such
//! as the rendered template or the summary), and yes/no questions, asked
//! only on a terminal.

use std::io::{BufRead, IsTerminal, Write};

/// How a question to the operator is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Ask on the terminal; when stdin is not a terminal nobody can answer.
    Terminal,
    /// Every question is answered with this (`--yes` is `Always(true)`).
    Always(bool),
    /// Nobody can answer (as when stdin is not a terminal).
    Nobody,
}

impl Confirm {
    /// The answer to `question`, or None when there is nobody to ask.
    pub fn ask(self, question: &str) -> anyhow::Result<Option<bool>> {
        match self {
            Confirm::Always(answer) => Ok(Some(answer)),
            Confirm::Nobody => Ok(None),
            Confirm::Terminal => {
                let stdin = std::io::stdin();
                if !stdin.is_terminal() {
                    return Ok(None);
                }
                eprint!("{question} [y/N] ");
                std::io::stderr().flush()?;
                let mut line = String::new();
                stdin.lock().read_line(&mut line)?;
                let answer = line.trim().to_ascii_lowercase();
                Ok(Some(answer == "y" || answer == "yes"))
            }
        }
    }
}

/// One progress line on stderr.
pub fn step(text: impl std::fmt::Display) {
    eprintln!("tracker: {text}");
}
