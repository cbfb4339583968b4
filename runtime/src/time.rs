//! Instants as the store orders them: every event time is normalised to one
//! fixed-width UTC form, so that string order is time order in both stores.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};

/// Parses a CloudTrail `eventTime` (RFC 3339: `Z` or an offset, optional
/// fraction). Years outside 1970..=9999 are refused: they would break the
/// fixed-width ordering and no real record has them.
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    (1970..=9999).contains(&parsed.year()).then_some(parsed)
}

/// The fixed-width sortable form: `2014-09-27T14:00:00.000000Z` (27 chars).
pub fn sortable(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The month bucket an instant falls in: `2014-09`.
pub fn month_bucket(instant: &DateTime<Utc>) -> String {
    format!("{:04}-{:02}", instant.year(), instant.month())
}

/// Midnight UTC at the start of `date`.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_fixed_width_utc() {
        let t = parse_event_time("2014-09-27T14:00:00Z").unwrap();
        assert_eq!(sortable(&t), "2014-09-27T14:00:00.000000Z");
        let t = parse_event_time("2014-09-27T16:00:00.5+02:00").unwrap();
        assert_eq!(sortable(&t), "2014-09-27T14:00:00.500000Z");
        assert_eq!(month_bucket(&t), "2014-09");
        assert!(parse_event_time("eventTime").is_none());
        assert!(parse_event_time("0001-01-01T00:00:00Z").is_none());
    }
}
