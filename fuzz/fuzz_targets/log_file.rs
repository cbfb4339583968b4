//! Arbitrary bytes as a CloudTrail log file (gzip'd or plain), through the
//! ingest pipeline exactly as the Lambda, `backfill` and `serve` run it.
//!
//! Invariants (beyond "never panics"):
//! - every record read is counted once: kept + filtered + rejected = records,
//!   and a complete read reports as many `Records` as were counted;
//! - the same document gzip'd reads the same (gzip is detected from content);
//! - every prepared event survives both stores' encodings unchanged:
//!   DynamoDB (`item_to_event(event_to_item(e)) == e`) and the embedded
//!   store's postcard bytes;
//! - the stored record decompresses to a JSON object, and ingesting that
//!   stored text again extracts the same event (redaction is idempotent and
//!   touches nothing tracker indexes);
//! - no secret survives: under `requestParameters`, `responseElements` and
//!   `additionalEventData`, every field named like a secret (`sessionToken`,
//!   `password`, …, any case) holds `null` or the redaction marker;
//! - the one typed pass over a record (`cloudtrail::fields`) extracts what a
//!   plain `serde_json::Value` reading of the same record gives by the rules
//!   the README states (eventID, names, time, region, account, error code,
//!   the principal rule, the session name, the parameter names);
//! - the keys are consistent: `sort_key` = `<27-char UTC time>#<eventID>`,
//!   `month` is its first 7 chars, the catalog names the principal, the
//!   service and (with a time) the month×service bucket;
//! - every DynamoDB item the pipeline yields (events and catalog entries) is
//!   one DynamoDB accepts: key attributes non-empty and within 2048 (partition)
//!   / 1024 (sort) bytes, the item within 400 KB.
//!
//! `TRACKER_FUZZ_KNOWN=dynamodb-keys,unreadable-records,dotted-names`
//! tolerates the known violations of README.md's findings, to fuzz past them.
#![no_main]

mod common;

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use serde_json::value::RawValue;
use tracker_runtime::cloudtrail::logfile::LogShape;
use tracker_runtime::cloudtrail::redact::REDACTED;
use tracker_runtime::cloudtrail::{Record, read_log_records};
use tracker_runtime::event::{EventItem, key_safe};
use tracker_runtime::ingest::{Pipeline, Prepared};
use tracker_runtime::store::CatalogKind;
use tracker_runtime::store::dynamodb::item::{
    Item, billed_size, catalog_to_item, event_to_item, item_to_event,
};
use tracker_runtime::store::dynamodb::schema::{PK, PRINCIPAL_PK, SK, TIME_PK, TIME_SK};

fuzz_target!(|data: &[u8]| {
    let pipeline = Pipeline::default();
    let mut kept: Vec<Prepared> = Vec::new();
    let (counts, result) = pipeline.read(data, |prepared| kept.push(prepared));

    assert_eq!(
        counts.records,
        kept.len() as u64 + counts.filtered + counts.rejected,
        "every record is kept, filtered or rejected exactly once"
    );
    assert_eq!(counts.filtered, 0, "the default pipeline filters nothing");
    match &result {
        Ok(LogShape::Records(n)) => assert_eq!(*n as u64, counts.records),
        Ok(LogShape::NoRecords) => assert_eq!(counts.records, 0),
        Err(_) => {}
    }

    for prepared in &kept {
        check_prepared(prepared);
    }

    // Each record, against a plain `serde_json::Value` reading of it.
    let mut raws: Vec<String> = Vec::new();
    let raw_result = read_log_records(data, |raw| raws.push(raw.get().to_owned()));
    assert_eq!(raws.len() as u64, counts.records);
    assert_eq!(raw_result.as_ref().ok(), result.as_ref().ok());
    for raw in &raws {
        check_against_value(raw);
    }

    // The same document gzip'd: the same records, the same outcome.
    if !data.starts_with(&[0x1f, 0x8b]) && !data.is_empty() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        let gz = encoder.finish().unwrap();
        let mut kept_gz: Vec<Prepared> = Vec::new();
        let (counts_gz, result_gz) = pipeline.read(&gz[..], |p| kept_gz.push(p));
        assert_eq!(counts, counts_gz, "gzip'd, the same records are read");
        assert_eq!(
            result.as_ref().ok(),
            result_gz.as_ref().ok(),
            "gzip'd, the same outcome: {result:?} vs {result_gz:?}"
        );
        let events = |v: &[Prepared]| v.iter().map(|p| p.event.clone()).collect::<Vec<_>>();
        assert_eq!(events(&kept), events(&kept_gz));
    }
});

fn check_prepared(prepared: &Prepared) {
    let event = &prepared.event;

    // Both stores' encodings round-trip.
    let item = event_to_item(event);
    assert_eq!(
        item_to_event(&item).as_ref(),
        Ok(event),
        "DynamoDB item round trip"
    );
    let with_ttl = EventItem {
        expires_at: Some(i64::from(event.event_id.len() as u32) * 86_400 - 1),
        ..event.clone()
    };
    assert_eq!(
        item_to_event(&event_to_item(&with_ttl)).as_ref(),
        Ok(&with_ttl),
        "DynamoDB item round trip with a TTL"
    );
    let bytes = postcard::to_allocvec(event).expect("postcard encodes every event");
    let decoded: EventItem = postcard::from_bytes(&bytes).expect("postcard decodes what it wrote");
    assert_eq!(&decoded, event, "embedded store round trip");

    // The stored record.
    let text = event.record_json().expect("a stored record decompresses");
    let value: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(_) if common::known("unreadable-records") => return,
        Err(e) => panic!("a stored record does not read as a serde_json::Value ({e}): {text}"),
    };
    assert!(value.is_object(), "a stored record is a JSON object");
    assert_no_secret(&value, &text);
    serde_json::to_string(&event.summary()).expect("a summary serializes");
    let synthetic = event.event_id.starts_with("synthetic-");
    if let Some(id) = value
        .get("eventID")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    {
        // Cut to fit in a key when longer than `MAX_KEY_VALUE_BYTES`.
        assert_eq!(key_safe(id.to_owned()), event.event_id);
    }
    assert!(!event.event_id.is_empty() && !event.principal.is_empty());

    // Ingesting the stored text again extracts the same event.
    let raw = RawValue::from_string(text.clone()).expect("the stored record is raw JSON");
    let again = Record::from_raw(&raw).expect("the stored record is a record");
    assert_eq!(again.json, text, "redaction is idempotent");
    let again = EventItem::from_record(again, 0);
    assert_eq!(again.event_name, event.event_name);
    assert_eq!(again.event_source, event.event_source);
    assert_eq!(again.service, event.service);
    assert_eq!(again.event_time, event.event_time);
    assert_eq!(again.month, event.month);
    assert_eq!(again.aws_region, event.aws_region);
    assert_eq!(again.principal, event.principal);
    assert_eq!(again.account, event.account);
    assert_eq!(again.session_name, event.session_name);
    assert_eq!(again.error_code, event.error_code);
    if !synthetic {
        assert_eq!(again.event_id, event.event_id);
        assert_eq!(again.sort_key, event.sort_key);
    }

    // Keys.
    assert_eq!(event.sort_key.is_some(), event.month.is_some());
    if let (Some(sort_key), Some(month)) = (&event.sort_key, &event.month) {
        assert_eq!(sort_key.len(), 27 + 1 + event.event_id.len(), "{sort_key}");
        assert!(sort_key.ends_with(&format!("#{}", event.event_id)));
        assert_eq!(&sort_key[..7], month.as_str());
        assert_eq!(&sort_key[26..28], "Z#");
    }
    let has = |kind: CatalogKind, value: &str| {
        prepared
            .catalog
            .iter()
            .any(|c| c.kind == kind && c.value == value)
    };
    assert!(has(CatalogKind::User, &event.principal));
    assert!(has(CatalogKind::Service, &event.service));
    if let Some(month) = &event.month {
        assert!(has(
            CatalogKind::Bucket,
            &format!("{month}#{}", event.service)
        ));
    }

    if !common::known("dynamodb-keys") {
        check_dynamodb_item(&item, event);
        for entry in &prepared.catalog {
            check_dynamodb_item(&catalog_to_item(entry), entry);
        }
    }
}

/// What DynamoDB refuses with a `ValidationException` (which fails the whole
/// `BatchWriteItem` call, and with it the file).
fn check_dynamodb_item(item: &Item, what: &dyn std::fmt::Debug) {
    for (name, max) in [
        (PK, 2048),
        (SK, 1024),
        (PRINCIPAL_PK, 2048),
        (TIME_PK, 2048),
        (TIME_SK, 1024),
    ] {
        if let Some(value) = item.get(name) {
            let value = value.as_s().expect("key attributes are strings");
            assert!(
                !value.is_empty() && value.len() <= max,
                "DynamoDB refuses key attribute `{name}` of {} bytes (1..={max}): {what:?}",
                value.len()
            );
        }
    }
    assert!(
        billed_size(item) <= 400 * 1024,
        "DynamoDB refuses items over 400 KB: {what:?}"
    );
}

/// Field names whose values are secrets (runtime/src/cloudtrail/redact.rs).
const SECRET_FIELDS: &[&str] = &[
    "sessiontoken",
    "secretaccesskey",
    "password",
    "newpassword",
    "oldpassword",
    "keymaterial",
    "privatekey",
    "clientsecret",
];

fn assert_no_secret(record: &Value, text: &str) {
    fn walk(value: &Value, text: &str) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if SECRET_FIELDS.iter().any(|f| key.eq_ignore_ascii_case(f)) {
                        assert!(
                            child.is_null() || child.as_str() == Some(REDACTED),
                            "secret field `{key}` stored unredacted: {text}"
                        );
                    } else {
                        walk(child, text);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, text)),
            _ => {}
        }
    }
    for section in [
        "requestParameters",
        "responseElements",
        "additionalEventData",
    ] {
        if let Some(value) = record.get(section) {
            walk(value, text);
        }
    }
}

/// A non-empty string at `path` (absent, null, empty, other type: `None`).
fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut current = value;
    for step in path {
        current = current.get(step)?;
    }
    current.as_str().filter(|s| !s.is_empty())
}

/// The rules of the README and of `Record`'s documentation, over a
/// `serde_json::Value`: what the one typed pass must agree with.
fn check_against_value(raw: &str) {
    let value: Value = match serde_json::from_str(raw) {
        Ok(value) => value,
        Err(error) => {
            // Not a JSON value serde_json accepts (a number out of range, a
            // lone surrogate): then it must not be stored, since the stored
            // text is read back as a `Value` (filters, redaction).
            let raw_value = RawValue::from_string(raw.to_owned()).unwrap();
            if let Ok(record) = Record::from_raw(&raw_value)
                && !common::known("unreadable-records")
            {
                panic!(
                    "a record serde_json cannot read ({error}) is accepted, stored as {:?}",
                    record.json
                );
            }
            return;
        }
    };
    let raw_value = RawValue::from_string(raw.to_owned()).unwrap();
    let record = Record::from_raw(&raw_value);
    let Some(object) = value.as_object() else {
        assert!(record.is_err(), "only objects are records: {raw}");
        return;
    };
    let record = record.unwrap_or_else(|e| panic!("an object is a record ({e}): {raw}"));
    let insight = |field: &str| str_at(&value, &["insightDetails", field]);
    match str_at(&value, &["eventID"]) {
        Some(id) => assert_eq!(record.event_id, id, "{raw}"),
        None => assert!(record.event_id.starts_with("synthetic-"), "{raw}"),
    }
    let expected = |got: &Option<String>, want: Option<&str>, what: &str| {
        assert_eq!(got.as_deref(), want, "{what} of {raw}");
    };
    expected(
        &record.event_name,
        str_at(&value, &["eventName"]).or_else(|| insight("eventName")),
        "eventName",
    );
    expected(
        &record.event_source,
        str_at(&value, &["eventSource"]).or_else(|| insight("eventSource")),
        "eventSource",
    );
    expected(
        &record.event_time,
        str_at(&value, &["eventTime"]),
        "eventTime",
    );
    expected(
        &record.aws_region,
        str_at(&value, &["awsRegion"]),
        "awsRegion",
    );
    expected(
        &record.error_code,
        str_at(&value, &["errorCode"]),
        "errorCode",
    );
    expected(
        &record.account,
        str_at(&value, &["recipientAccountId"])
            .or_else(|| str_at(&value, &["userIdentity", "accountId"])),
        "account",
    );
    // The principal rule.
    let identity = value.get("userIdentity").filter(|v| v.is_object());
    let assumed = identity.and_then(|i| str_at(i, &["type"])) == Some("AssumedRole");
    let principal = identity
        .and_then(|i| {
            str_at(i, &["userName"])
                .or_else(|| {
                    str_at(i, &["sessionContext", "sessionIssuer", "userName"]).filter(|_| assumed)
                })
                .or_else(|| str_at(i, &["arn"]))
                .or_else(|| str_at(i, &["principalId"]))
                .or_else(|| str_at(i, &["invokedBy"]))
        })
        .unwrap_or("(none)");
    assert_eq!(record.principal, principal, "principal of {raw}");
    let session = identity.filter(|_| assumed).and_then(|i| {
        str_at(i, &["arn"])
            .filter(|arn| arn.contains(":assumed-role/"))
            .and_then(|arn| arn.rsplit('/').next())
            .or_else(|| str_at(i, &["principalId"]).and_then(|p| p.split_once(':').map(|(_, s)| s)))
            .filter(|s| !s.is_empty())
    });
    expected(&record.session_name, session, "sessionName");
    // Parameter names: the top-level fields, then `requestParameters.<key>`.
    let mut names: Vec<String> = object.keys().cloned().collect();
    if let Some(params) = value.get("requestParameters").and_then(Value::as_object) {
        names.extend(params.keys().map(|k| format!("requestParameters.{k}")));
    }
    if common::known("dotted-names") {
        // F4: a top-level name `requestParameters.<x>` read before
        // `requestParameters` itself is dropped.
        names.retain(|n| !n.starts_with("requestParameters.") || record.param_names.contains(n));
    }
    names.sort();
    names.dedup();
    let mut got = record.param_names.clone();
    got.sort();
    let before = got.len();
    got.dedup();
    assert_eq!(before, got.len(), "parameter names are listed once: {raw}");
    assert_eq!(got, names, "parameter names of {raw}");
}
