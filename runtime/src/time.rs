//! Instants as the store orders them: every event time is normalised to one
//! fixed-width UTC form, so that string order is time order in both stores.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

/// Parses a CloudTrail `eventTime` (RFC 3339: `Z` or an offset, optional
/// fraction). Years outside 1970..=9999 are refused: they would break the
/// fixed-width ordering and no real record has them.
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
    (1970..=9999).contains(&parsed.year()).then_some(parsed)
}

/// The fixed-width sortable form: `2014-09-27T14:00:00.000000Z` (27 chars).
pub fn sortable(instant: &DateTime<Utc>) -> String {
    let mut text = String::with_capacity(27);
    push_sortable(&mut text, instant);
    text
}

/// Appends the sortable form to `text` (a sort key is it, `#` and an id,
/// made in one allocation).
pub fn push_sortable(text: &mut String, instant: &DateTime<Utc>) {
    push_seconds(text, instant);
    text.pop();
    text.push('.');
    push_digits(text, instant.timestamp_subsec_micros().min(999_999), 6);
    text.push('Z');
}

/// `2014-09-27T14:00:00Z`: whole seconds (what CloudTrail writes). Written
/// digit by digit: queries make one per event they return, and chrono's
/// formatting parses its format on every call.
pub fn seconds_text(instant: &DateTime<Utc>) -> String {
    let mut text = String::with_capacity(20);
    push_seconds(&mut text, instant);
    text
}

fn push_seconds(text: &mut String, instant: &DateTime<Utc>) {
    use chrono::Timelike;
    // The naive UTC time: a `DateTime`'s accessors each add its offset first.
    let instant = instant.naive_utc();
    push_digits(text, instant.year().clamp(0, 9999) as u32, 4);
    text.push('-');
    push_digits(text, instant.month(), 2);
    text.push('-');
    push_digits(text, instant.day(), 2);
    text.push('T');
    push_digits(text, instant.hour(), 2);
    text.push(':');
    push_digits(text, instant.minute(), 2);
    text.push(':');
    push_digits(text, instant.second().min(59), 2);
    text.push('Z');
}

/// `value` in `width` decimal digits, zero-padded (width at most 6).
fn push_digits(text: &mut String, value: u32, width: usize) {
    let mut buffer = [b'0'; 6];
    let mut rest = value;
    for slot in buffer[..width].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    text.push_str(std::str::from_utf8(&buffer[..width]).unwrap_or_default());
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
        assert_eq!(seconds_text(&t), "2014-09-27T14:00:00Z");
        // The same text as chrono's RFC 3339, over a spread of instants.
        for micros in (0..2_000).map(|i| i * 7_777_777_777_i64 + 123_457) {
            let t = DateTime::from_timestamp_micros(micros).unwrap();
            assert_eq!(
                sortable(&t),
                t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
        }
        assert!(parse_event_time("eventTime").is_none());
        assert!(parse_event_time("0001-01-01T00:00:00Z").is_none());
    }
}
