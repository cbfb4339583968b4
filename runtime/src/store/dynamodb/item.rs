//! Event items and catalog entries to and from DynamoDB attribute maps.
//! Attribute names are short on purpose: they count toward the item size
//! that write units are billed on.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::schema::{EVENT_SK, PK, PRINCIPAL_PK, SK, TIME_PK, TIME_SK, TTL};
use crate::event::{EventItem, StoredRecord};
use crate::store::block::Block;
use crate::store::{CatalogEntry, StoredItem, WriteBatch, keys};

pub type Item = HashMap<String, AttributeValue>;

const EVENT_NAME: &str = "n";
const EVENT_SOURCE: &str = "src";
const SERVICE: &str = "svc";
const EVENT_TIME: &str = "t";
const MONTH: &str = "mo";
const REGION: &str = "r";
const PRINCIPAL: &str = "u";
const ACCOUNT: &str = "acct";
const SESSION: &str = "sess";
const ERROR_CODE: &str = "err";
const SOURCE_IP: &str = "ip";
const ACCESS_KEY: &str = "ak";
const READ_ONLY: &str = "ro";
const SOURCE_IDENTITY: &str = "sid";
const RESOURCE_NAMES: &str = "rn";
const RESOURCE_TYPES: &str = "rt";
const RECORD: &str = "rec";
const EVENT_ID: &str = "id";
/// Version of a stored item (an hour's generation; a rollup's source generations).
const VERSION: &str = "g";
/// Value of a stored item (an encoded block or rollup).
const VALUE: &str = "v";

pub use crate::store::keys::event_pk;

/// The items a write batch becomes, in the order they are written: catalog
/// entries, events and blocks; then (once those are in) the generations of
/// the hours the blocks belong to.
pub fn batch_items(batch: &WriteBatch) -> (Vec<Item>, Vec<Item>) {
    let mut items: Vec<Item> = batch.entries.iter().map(catalog_to_item).collect();
    items.extend(batch.events().map(event_to_item));
    let mut hours = std::collections::BTreeSet::new();
    for write in &batch.blocks {
        let Some(hour) = write.key.hour else { continue };
        let block = Block::build(&write.events);
        if block.is_empty() {
            continue;
        }
        items.push(stored_to_item(&StoredItem {
            partition: write.key.partition(),
            sort: write.key.sort(),
            version: 0,
            value: block.encode(),
            expires_at: block.expires_at(),
        }));
        hours.insert(hour);
    }
    let generations = hours
        .iter()
        .map(|hour| {
            stored_to_item(&StoredItem {
                partition: keys::generation_partition(hour.day),
                sort: keys::generation_sort(hour),
                version: crate::store::new_generation(),
                value: Vec::new(),
                expires_at: None,
            })
        })
        .collect();
    (items, generations)
}

/// An item of the block and rollup layer. It carries no index key, so it
/// is written once (not in the indexes).
pub fn stored_to_item(stored: &StoredItem) -> Item {
    let mut item = Item::from([
        (PK.to_owned(), AttributeValue::S(stored.partition.clone())),
        (SK.to_owned(), AttributeValue::S(stored.sort.clone())),
        (
            VERSION.to_owned(),
            AttributeValue::N(stored.version.to_string()),
        ),
    ]);
    if !stored.value.is_empty() {
        item.insert(
            VALUE.into(),
            AttributeValue::B(Blob::new(stored.value.clone())),
        );
    }
    if let Some(expires_at) = stored.expires_at {
        item.insert(TTL.into(), AttributeValue::N(expires_at.to_string()));
    }
    item
}

/// Decodes an item of the block and rollup layer.
pub fn item_to_stored(item: &Item) -> Result<StoredItem, String> {
    let (partition, sort) = key_of(item);
    let number = |name: &str| -> Result<Option<u64>, String> {
        match item.get(name) {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map(Some)
                .map_err(|_| format!("attribute `{name}` is not a whole number")),
            Some(_) => Err(format!("attribute `{name}` is not a number")),
            None => Ok(None),
        }
    };
    let value = match item.get(VALUE) {
        Some(AttributeValue::B(blob)) => blob.as_ref().to_vec(),
        Some(_) => return Err(format!("attribute `{VALUE}` is not binary")),
        None => Vec::new(),
    };
    Ok(StoredItem {
        partition,
        sort,
        version: number(VERSION)?.unwrap_or(0),
        value,
        expires_at: match item.get(TTL) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        },
    })
}

pub fn event_to_item(event: &EventItem) -> Item {
    let mut item = Item::with_capacity(18);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    item.insert(PK.into(), s(&event_pk(&event.event_id)));
    item.insert(SK.into(), s(EVENT_SK));
    item.insert(EVENT_ID.into(), s(&event.event_id));
    item.insert(SERVICE.into(), s(&event.service));
    item.insert(PRINCIPAL.into(), s(&event.principal));
    item.insert(
        RECORD.into(),
        AttributeValue::B(Blob::new(event.record.compressed())),
    );
    if let Some(sort_key) = &event.sort_key {
        // Events without a usable time are kept but left out of the indexes
        // (no index keys → not in the sparse indexes).
        item.insert(TIME_SK.into(), s(sort_key));
        item.insert(PRINCIPAL_PK.into(), s(&event.principal_partition()));
        if let Some(partition) = event.time_partition() {
            item.insert(TIME_PK.into(), s(&partition));
        }
    }
    let optional = [
        (EVENT_NAME, &event.event_name),
        (EVENT_SOURCE, &event.event_source),
        (EVENT_TIME, &event.event_time),
        (MONTH, &event.month),
        (REGION, &event.aws_region),
        (ACCOUNT, &event.account),
        (SESSION, &event.session_name),
        (ERROR_CODE, &event.error_code),
        (SOURCE_IP, &event.source_ip),
        (ACCESS_KEY, &event.access_key_id),
        (SOURCE_IDENTITY, &event.source_identity),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.into(), s(value));
        }
    }
    if let Some(read_only) = event.read_only {
        item.insert(READ_ONLY.into(), AttributeValue::Bool(read_only));
    }
    // String sets: DynamoDB refuses an empty set, so absent when empty.
    for (name, values) in [
        (RESOURCE_NAMES, &event.resource_names),
        (RESOURCE_TYPES, &event.resource_types),
    ] {
        if !values.is_empty() {
            item.insert(name.into(), AttributeValue::Ss(values.clone()));
        }
    }
    if let Some(expires_at) = event.expires_at {
        item.insert(TTL.into(), AttributeValue::N(expires_at.to_string()));
    }
    item
}

pub fn catalog_to_item(entry: &CatalogEntry) -> Item {
    Item::from([
        (
            PK.to_owned(),
            AttributeValue::S(entry.kind.partition().to_owned()),
        ),
        (SK.to_owned(), AttributeValue::S(entry.value.clone())),
    ])
}

/// Decodes an event item; the error names the missing or mistyped attribute.
pub fn item_to_event(item: &Item) -> Result<EventItem, String> {
    let text =
        |name: &str| -> Option<String> { item.get(name).and_then(|v| v.as_s().ok()).cloned() };
    let strings = |name: &str| -> Vec<String> {
        let mut values = item
            .get(name)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        values.sort();
        values
    };
    let required = |name: &str| {
        text(name).ok_or_else(|| format!("attribute `{name}` is missing or not a string"))
    };
    let record = match item.get(RECORD) {
        Some(AttributeValue::B(blob)) => blob.as_ref().to_vec(),
        _ => return Err(format!("attribute `{RECORD}` is missing or not binary")),
    };
    let expires_at = match item.get(TTL) {
        Some(AttributeValue::N(n)) => Some(
            n.parse()
                .map_err(|_| format!("attribute `{TTL}` is not an integer"))?,
        ),
        _ => None,
    };
    Ok(EventItem {
        event_id: required(EVENT_ID)?,
        event_name: text(EVENT_NAME),
        event_source: text(EVENT_SOURCE),
        service: required(SERVICE)?,
        event_time: text(EVENT_TIME),
        sort_key: text(TIME_SK),
        month: text(MONTH),
        aws_region: text(REGION),
        principal: required(PRINCIPAL)?,
        account: text(ACCOUNT),
        session_name: text(SESSION),
        error_code: text(ERROR_CODE),
        source_ip: text(SOURCE_IP),
        access_key_id: text(ACCESS_KEY),
        read_only: item.get(READ_ONLY).and_then(|v| v.as_bool().ok()).copied(),
        source_identity: text(SOURCE_IDENTITY),
        resource_names: strings(RESOURCE_NAMES),
        resource_types: strings(RESOURCE_TYPES),
        expires_at,
        record: StoredRecord::Compressed(record),
    })
}

/// The size DynamoDB bills an item at, in bytes: for every attribute, the
/// UTF-8 length of its name plus the size of its value (see [`value_size`]).
/// Reads are billed on it too (per 4 KB), writes per 1 KB.
pub fn billed_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of one attribute value by DynamoDB's item-size rules: strings
/// their UTF-8 length, binaries their length, numbers 1 byte per two
/// significant digits plus 1, booleans and nulls 1 byte, lists and maps 3
/// bytes plus 1 per element (and the element's name, for maps), sets the sum
/// of their members.
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A number's size: leading and trailing zeros (and the sign, point and
/// exponent) do not count; 1 byte per two significant digits, plus 1.
fn number_size(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    significant.len().div_ceil(2) + 1
}

/// Write units DynamoDB bills for putting `item`: one per started KB, for the
/// table and again for each global secondary index whose keys it carries
/// (both indexes project all attributes).
pub fn billed_write_units(item: &Item) -> u64 {
    let per_copy = billed_size(item).div_ceil(1024).max(1) as u64;
    let indexed = [PRINCIPAL_PK, TIME_PK]
        .iter()
        .filter(|k| item.contains_key(**k))
        .count() as u64;
    per_copy * (1 + indexed)
}

/// The table key of an item, for de-duplicating a batch.
pub fn key_of(item: &Item) -> (String, String) {
    let part = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    (part(PK), part(SK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudtrail::Record;
    use serde_json::value::RawValue;

    #[test]
    fn round_trips_and_stays_small() {
        let text = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2024-01-02T03:04:05Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.5","userAgent":"aws-cli/2.13.0 Python/3.11.4 Linux/6.1 exe/x86_64.amzn.2023","requestParameters":{"instancesSet":{},"filterSet":{}},"responseElements":null,"requestID":"0a1b2c3d-1111-2222-3333-444455556666","eventID":"9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}"#;
        let record = Record::from_raw(&RawValue::from_string(text.into()).unwrap()).unwrap();
        let event = EventItem::from_record(record, 30);
        let item = event_to_item(&event);
        let back = item_to_event(&item).unwrap();
        assert_eq!(back.record_json().unwrap(), event.record_json().unwrap());
        assert_eq!(
            EventItem {
                record: event.record.clone(),
                ..back
            },
            event
        );
        assert!(
            billed_size(&item) <= 1024,
            "a typical event fits one write unit: {}",
            billed_size(&item)
        );
        assert_eq!(billed_write_units(&item), 3, "table + two indexes");
    }

    #[test]
    fn item_size_follows_dynamodbs_rules() {
        let item = Item::from([
            ("pk".to_owned(), AttributeValue::S("E#é".into())), // 2 + 4 (é is 2 bytes)
            ("rec".to_owned(), AttributeValue::B(Blob::new(vec![0; 100]))), // 3 + 100
            ("ttl".to_owned(), AttributeValue::N("1735689600".into())), // 3 + 8 digits: 4 + 1
        ]);
        assert_eq!(billed_size(&item), 6 + 103 + 8);
        assert_eq!(value_size(&AttributeValue::N("0".into())), 1);
        assert_eq!(
            value_size(&AttributeValue::N("-12.50".into())),
            3,
            "3 digits: 2 + 1"
        );
        assert_eq!(value_size(&AttributeValue::N("00123".into())), 3);
        assert_eq!(value_size(&AttributeValue::Bool(true)), 1);
        assert_eq!(value_size(&AttributeValue::Null(true)), 1);
        assert_eq!(
            value_size(&AttributeValue::L(vec![
                AttributeValue::S("ab".into()),
                AttributeValue::Bool(false)
            ])),
            3 + (1 + 2) + (1 + 1)
        );
        assert_eq!(
            value_size(&AttributeValue::M(HashMap::from([(
                "key".to_owned(),
                AttributeValue::S("value".into())
            )]))),
            3 + 1 + 3 + 5
        );
        assert_eq!(
            value_size(&AttributeValue::Ss(vec!["a".into(), "bcd".into()])),
            4
        );
    }
}
