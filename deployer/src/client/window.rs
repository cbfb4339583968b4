//! The time window of a command: `--since 7d` (also `90m`, `24h`, `2w`) is
//! a `from` that far back from now; `--from`/`--to` go to the API as given
//! (`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`; the API checks
//! them and says what is wrong). Nothing given: the API's default, the last
//! 7 days.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

/// `--since`, `--from`, `--to`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WindowArgs {
    /// Only events of the last DURATION: 90m, 24h, 7d, 2w [default: the API's, the last 7 days].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "from")]
    pub since: Option<Duration>,
    /// Start of the window: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[Z|±HH:MM] (UTC without a zone).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the window, excluded; a date-only --to includes that whole day [default: now].
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
}

impl WindowArgs {
    /// The `from`/`to` query parameters, `now` fixing `--since`.
    pub fn params(&self, now: DateTime<Utc>) -> Vec<(String, String)> {
        let mut params = Vec::new();
        let from = match (self.since, &self.from) {
            (Some(since), _) => Some((now - since).to_rfc3339_opts(SecondsFormat::Secs, true)),
            (None, from) => from.clone(),
        };
        if let Some(from) = from {
            params.push(("from".to_owned(), from));
        }
        if let Some(to) = &self.to {
            params.push(("to".to_owned(), to.clone()));
        }
        params
    }
}

/// `90m`, `24h`, `7d`, `2w` (a number and a unit: s, m, h, d, w).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit: write e.g. 90m, 24h, 7d or 2w"))?;
    let (number, unit) = text.split_at(unit_at);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number: write e.g. 7d"))?;
    let duration = match unit {
        "s" => Duration::try_seconds(n),
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => {
            return Err(format!(
                "`{unit}` is not a unit: use s, m, h, d or w (e.g. 90m, 24h, 7d)"
            ));
        }
    };
    match duration {
        Some(d) if n > 0 && d <= Duration::days(365 * 100) => Ok(d),
        _ => Err(format!("`{text}` is out of range: from 1s to 100 years")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("2w"), Ok(Duration::days(14)));
        for bad in ["7", "d", "7y", "-1d", "0d", "99999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn since_is_a_from_before_now() {
        let now = DateTime::parse_from_rfc3339("2024-05-08T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let window = WindowArgs {
            since: Some(Duration::hours(36)),
            ..Default::default()
        };
        assert_eq!(
            window.params(now),
            [("from".to_owned(), "2024-05-07T00:00:00Z".to_owned())]
        );
        let window = WindowArgs {
            from: Some("2024-01-01".into()),
            to: Some("2024-01-31".into()),
            ..Default::default()
        };
        assert_eq!(
            window.params(now),
            [
                ("from".to_owned(), "2024-01-01".to_owned()),
                ("to".to_owned(), "2024-01-31".to_owned())
            ]
        );
    }
}
