//! The key layout both stores share, in one place. Every item is addressed
//! by a partition key and a sort key (DynamoDB's `pk`/`sk`; the embedded
//! store keeps the same pairs):
//!
//! | item | partition | sort key |
//! |---|---|---|
//! | event | `E#<eventID>` | `E` |
//! | by-principal index entry | `U#<principal>` | `<time>#<eventID>` |
//! | by-time index entry | `T#<YYYY-MM>#<service>` | `<time>#<eventID>` |
//! | catalog entry | `C#user`, `C#service`, `C#param`, `C#bucket` | the value |
//! | block | `B#<YYYY-MM-DD>` | `<HH>#<source>#<part>` |
//! | hour generation | `G#<YYYY>` | `<MM>-<DD>T<HH>` |
//! | hour rollup | `R#<YYYY-MM-DD>` | `H#<HH>` |
//! | day rollup | `R#<YYYY>` | `D#<MM>-<DD>` |
//! | alert | `A#<YYYY-MM>` (`A#-` without a time) | `<time>#<eventID>#<ruleId>` |
//! | month holding alerts | `A#months` | `<YYYY-MM>` |
//!
//! `<time>` is the fixed-width UTC form (`2014-09-27T14:00:00.000000Z`), so
//! string order is time order. A **block** holds the summaries of the events
//! one log file (its `<source>`, a hash of the file's identity) brought for
//! one UTC hour, split in `<part>`s as the file is read: lookups and
//! statistics read blocks instead of events. An hour's **generation** grows
//! each time a block of that hour is written; **rollups** (counts and which
//! blocks hold each value of one attribute, per hour and per day) are
//! derived from blocks, record the generations they were built from, and are
//! rebuilt when those have moved (see `query::rollup`). An **alert** is one
//! rule matching one event (see `store::alerts`): one item per (rule,
//! event), so a log file delivered twice records each alert once.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use crate::event::EventItem;

/// One UTC hour: the unit blocks, generations and hour rollups are kept by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hour {
    pub day: NaiveDate,
    /// 0..=23.
    pub hour: u8,
}

impl Hour {
    pub fn of(instant: &DateTime<Utc>) -> Hour {
        Hour {
            day: instant.date_naive(),
            hour: instant.hour() as u8,
        }
    }

    /// The first instant of the hour.
    pub fn start(&self) -> DateTime<Utc> {
        crate::time::start_of_day(self.day) + chrono::Duration::hours(i64::from(self.hour))
    }

    /// The first instant after the hour.
    pub fn end(&self) -> DateTime<Utc> {
        self.start() + chrono::Duration::hours(1)
    }

    /// The hours overlapping `[from, to)`, ascending.
    pub fn overlapping(from: &DateTime<Utc>, to: &DateTime<Utc>) -> Vec<Hour> {
        let mut hours = Vec::new();
        if from >= to {
            return hours;
        }
        let mut hour = Hour::of(from);
        while hour.start() < *to {
            hours.push(hour);
            hour = Hour::of(&hour.end());
        }
        hours
    }
}

/// The hour an event belongs to (`None` without a usable time).
pub fn hour_of(event: &EventItem) -> Option<Hour> {
    let time = event.sort_key.as_deref()?.get(..27)?;
    crate::time::parse_event_time(time).map(|t| Hour::of(&t))
}

/// `YYYY-MM-DD`.
pub fn day_text(day: NaiveDate) -> String {
    // Not `format("%Y-%m-%d")`: queries make thousands of these, and
    // chrono's format strings are parsed on every call.
    format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
}

/// `YYYY-MM`.
pub fn month_text(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// `E#<eventID>`: the key of an event item.
pub fn event_pk(event_id: &str) -> String {
    format!("E#{event_id}")
}

/// The partition of the months that hold alerts (one item per month,
/// sort key `YYYY-MM`): `GET /alerts` reads only those of its window.
pub const ALERT_MONTHS_PARTITION: &str = "A#months";

/// The longest rule id kept as is in an alert's sort key.
const MAX_RULE_KEY_BYTES: usize = 256;

/// `A#<YYYY-MM>`: the alerts of one month (of their events' times).
pub fn alert_partition(month: &str) -> String {
    format!("A#{month}")
}

/// The partition and sort key of an alert: `A#<YYYY-MM>` and
/// `<time>#<eventID>#<ruleId>` (time order, as the event routes list), or
/// `A#-` and `<eventID>#<ruleId>` for an event without a usable time (kept
/// so that it alerts once, listed by no window).
pub fn alert_key(
    instant: Option<&DateTime<Utc>>,
    event_id: &str,
    rule_id: &str,
) -> (String, String) {
    // A sort key holds at most 1,024 bytes: a long rule id (a file stem)
    // is named by its hash.
    let digest;
    let rule_id = if rule_id.len() <= MAX_RULE_KEY_BYTES {
        rule_id
    } else {
        digest = crate::digest::sha256_hex(rule_id, 16);
        digest.as_str()
    };
    match instant {
        Some(t) => (
            alert_partition(&crate::time::month_bucket(t)),
            format!("{}#{event_id}#{rule_id}", crate::time::sortable(t)),
        ),
        None => (alert_partition("-"), format!("{event_id}#{rule_id}")),
    }
}

/// Where a block is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockKey {
    /// The hour of its events; `None` for events without a usable time,
    /// which are kept (by `eventID`) but in no index, rollup or statistic.
    pub hour: Option<Hour>,
    /// A hash of the log file's identity (see [`source_id`]).
    pub source: String,
    /// Which part of the file (files are read in chunks).
    pub part: u32,
}

impl BlockKey {
    /// `B#<YYYY-MM-DD>` (or `B#-` without an hour).
    pub fn partition(&self) -> String {
        match &self.hour {
            Some(hour) => block_partition(hour.day),
            None => "B#-".to_owned(),
        }
    }

    /// `<HH>#<source>#<part>` (or `<source>#<part>` without an hour).
    pub fn sort(&self) -> String {
        match &self.hour {
            Some(hour) => format!("{:02}#{}#{}", hour.hour, self.source, self.part),
            None => format!("{}#{}", self.source, self.part),
        }
    }

    /// Reads a block key back from its partition and sort key.
    pub fn parse(partition: &str, sort: &str) -> Option<BlockKey> {
        let day = partition.strip_prefix("B#")?;
        if day == "-" {
            let (source, part) = sort.rsplit_once('#')?;
            return Some(BlockKey {
                hour: None,
                source: source.to_owned(),
                part: part.parse().ok()?,
            });
        }
        let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        let mut pieces = sort.splitn(3, '#');
        let hour: u8 = pieces.next()?.parse().ok()?;
        let source = pieces.next()?.to_owned();
        let part = pieces.next()?.parse().ok()?;
        (hour < 24).then_some(BlockKey {
            hour: Some(Hour { day, hour }),
            source,
            part,
        })
    }
}

/// `B#<YYYY-MM-DD>`: the blocks of one day.
pub fn block_partition(day: NaiveDate) -> String {
    format!("B#{}", day_text(day))
}

/// The sort-key prefix of one hour's blocks: `<HH>#`.
pub fn block_hour_prefix(hour: u8) -> String {
    format!("{hour:02}#")
}

/// The hour of a block of `day` from its sort key (`<HH>#…`), without
/// parsing the rest.
pub fn block_hour(day: NaiveDate, sort: &str) -> Option<Hour> {
    let hour: u8 = sort.split_once('#')?.0.parse().ok()?;
    (hour < 24).then_some(Hour { day, hour })
}

/// `G#<YYYY>`: the generations of a year's hours (one range read gives a
/// whole window's).
pub fn generation_partition(day: NaiveDate) -> String {
    format!("G#{:04}", day.year())
}

/// `<MM>-<DD>T<HH>`: an hour's generation within its year.
pub fn generation_sort(hour: &Hour) -> String {
    format!(
        "{:02}-{:02}T{:02}",
        hour.day.month(),
        hour.day.day(),
        hour.hour
    )
}

/// Reads an hour back from a generation's keys.
pub fn parse_generation(partition: &str, sort: &str) -> Option<Hour> {
    // Read by hand: a query reads one generation per hour of its window.
    let year: i32 = partition.strip_prefix("G#")?.parse().ok()?;
    let (day, hour) = sort.split_once('T')?;
    let (month, day) = day.split_once('-')?;
    let day = NaiveDate::from_ymd_opt(year, month.parse().ok()?, day.parse().ok()?)?;
    let hour: u8 = hour.parse().ok()?;
    (hour < 24).then_some(Hour { day, hour })
}

/// `R#<YYYY-MM-DD>` and `H#<HH>`: the rollup of one hour (every attribute).
pub fn hour_rollup_key(hour: &Hour) -> (String, String) {
    (
        format!("R#{}", day_text(hour.day)),
        format!("H#{:02}", hour.hour),
    )
}

/// `R#<YYYY>` and `D#<MM>-<DD>`: the rollup of one day (every attribute; a
/// year's days are one range).
pub fn day_rollup_key(day: NaiveDate) -> (String, String) {
    (
        format!("R#{:04}", day.year()),
        format!("D#{:02}-{:02}", day.month(), day.day()),
    )
}

/// A short, stable identity of a log file. CloudTrail names every log file
/// uniquely (`<account>_CloudTrail_<region>_<time>_<random>.json.gz`), so
/// such a file is known by its name wherever it is read from (S3, a
/// download, a backfill); any other file by its whole path or URL.
pub fn source_id(source: &str) -> String {
    let name = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let cloudtrail_name = name.len() > 13
        && name.as_bytes()[..12].iter().all(u8::is_ascii_digit)
        && name[12..].starts_with("_CloudTrail_")
        && name.ends_with(".json.gz");
    let identity = if cloudtrail_name { name } else { source };
    crate::digest::sha256_hex(identity, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(text: &str) -> Hour {
        Hour::of(&crate::time::parse_event_time(text).unwrap())
    }

    #[test]
    fn block_keys_round_trip() {
        let key = BlockKey {
            hour: Some(hour("2024-05-01T13:59:59Z")),
            source: "abc".into(),
            part: 2,
        };
        assert_eq!(key.partition(), "B#2024-05-01");
        assert_eq!(key.sort(), "13#abc#2");
        assert_eq!(BlockKey::parse(&key.partition(), &key.sort()), Some(key));
        let timeless = BlockKey {
            hour: None,
            source: "abc".into(),
            part: 0,
        };
        assert_eq!(
            BlockKey::parse(&timeless.partition(), &timeless.sort()),
            Some(timeless)
        );
        assert_eq!(BlockKey::parse("B#2024-05-01", "24#a#0"), None);
    }

    #[test]
    fn hours_cover_a_window() {
        let from = crate::time::parse_event_time("2024-05-01T22:30:00Z").unwrap();
        let to = crate::time::parse_event_time("2024-05-02T01:00:00Z").unwrap();
        let hours = Hour::overlapping(&from, &to);
        assert_eq!(hours.len(), 3, "22, 23 and 00, not 01");
        assert_eq!(hours[2], hour("2024-05-02T00:10:00Z"));
        let h = hours[1];
        assert_eq!(
            parse_generation(&generation_partition(h.day), &generation_sort(&h)),
            Some(h)
        );
        assert_eq!(hour_rollup_key(&h), ("R#2024-05-01".into(), "H#23".into()));
        assert_eq!(day_rollup_key(h.day), ("R#2024".into(), "D#05-01".into()));
        assert_eq!(generation_sort(&h), "05-01T23");
        for (partition, sort) in [
            ("G#2024", "02-30T01"),
            ("G#x", "05-01T01"),
            ("G#2024", "05-01T24"),
        ] {
            assert_eq!(
                parse_generation(partition, sort),
                None,
                "{partition} {sort}"
            );
        }
        assert_eq!(day_text(h.day), "2024-05-01");
    }

    #[test]
    fn alerts_sort_by_time_within_their_month() {
        let t = crate::time::parse_event_time("2024-05-01T13:59:59Z").unwrap();
        assert_eq!(
            alert_key(Some(&t), "e1", "r1"),
            (
                "A#2024-05".to_owned(),
                "2024-05-01T13:59:59.000000Z#e1#r1".to_owned()
            )
        );
        assert_eq!(
            alert_key(None, "e1", "r1"),
            ("A#-".to_owned(), "e1#r1".to_owned())
        );
    }

    #[test]
    fn cloudtrail_files_are_known_by_their_name() {
        let name = "123456789012_CloudTrail_us-east-1_20240501T1305Z_abcdefghijklmnop.json.gz";
        let a = source_id(&format!(
            "s3://bucket/AWSLogs/123456789012/CloudTrail/us-east-1/2024/05/01/{name}"
        ));
        let b = source_id(&format!("/home/me/logs/{name}"));
        assert_eq!(a, b);
        assert_ne!(
            source_id("/a/f.json"),
            source_id("/b/f.json"),
            "other files by their path"
        );
        assert_eq!(a.len(), 16);
    }
}
