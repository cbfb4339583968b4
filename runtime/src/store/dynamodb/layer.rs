//! Reads of the block and rollup layer (and of events by id): a sort-key
//! range of one partition with `Query` (strongly consistent when asked),
//! and items by key with `BatchGetItem` (100 keys a request, unprocessed
//! keys asked again with backoff). Every read is metered by DynamoDB's rule.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};

use super::item::{self, Item};
use super::metering::items_size;
use super::{DynamoStore, schema};
use crate::store::{EventStore, ItemRange, StoreError, StoredItem};

/// DynamoDB's limit of keys per `BatchGetItem` request.
const MAX_KEYS: usize = 100;
/// Requests in flight at once.
const CONCURRENT_GETS: usize = 8;
/// Rounds of unprocessed keys asked again before giving up (as throttling).
const MAX_ROUNDS: u32 = 10;

/// Every item of a range, ascending, page after page.
pub async fn read_range(
    store: &DynamoStore,
    range: &ItemRange,
) -> Result<Vec<StoredItem>, StoreError> {
    read_at_most(store, range, None).await
}

/// At most `limit` items of a range, ascending, and whether more follow
/// (one more item is asked for to tell).
pub async fn read_range_page(
    store: &DynamoStore,
    range: &ItemRange,
    limit: usize,
) -> Result<(Vec<StoredItem>, bool), StoreError> {
    let mut found = read_at_most(store, range, Some(limit.saturating_add(1))).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}

async fn read_at_most(
    store: &DynamoStore,
    range: &ItemRange,
    most: Option<usize>,
) -> Result<Vec<StoredItem>, StoreError> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let wanted = most.map(|most| most.saturating_sub(found.len()));
        if wanted == Some(0) {
            return Ok(found);
        }
        let request = store
            .client()
            .query()
            .table_name(store.table())
            .expression_attribute_names("#p", schema::PK)
            .expression_attribute_names("#s", schema::SK)
            .expression_attribute_values(":p", AttributeValue::S(range.partition.clone()))
            .expression_attribute_values(":hi", AttributeValue::S(range.end.clone()));
        // DynamoDB refuses an empty key value: no lower bound then.
        let request = if range.start.is_empty() {
            request.key_condition_expression("#p = :p AND #s <= :hi")
        } else {
            request
                .key_condition_expression("#p = :p AND #s BETWEEN :lo AND :hi")
                .expression_attribute_values(":lo", AttributeValue::S(range.start.clone()))
        };
        let output = request
            .set_limit(wanted.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
            .consistent_read(range.consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store.error("Query", e))?;
        store.meter().read(
            output.items().len() as u64,
            items_size(output.items()),
            range.consistent,
            output.consumed_capacity(),
        );
        for raw in output.items() {
            found.push(decode_stored(store, raw)?);
        }
        match output.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(found),
        }
    }
}

/// The items with these keys (partition, sort), those found, in any order.
pub async fn batch_get(
    store: &DynamoStore,
    keys: &[(String, String)],
) -> Result<Vec<Item>, StoreError> {
    use futures::{StreamExt, TryStreamExt};
    let mut unique: Vec<&(String, String)> = keys.iter().collect();
    unique.sort();
    unique.dedup();
    let chunks: Vec<Vec<Item>> = unique
        .chunks(MAX_KEYS)
        .map(|chunk| {
            chunk
                .iter()
                .map(|(pk, sk)| {
                    Item::from([
                        (schema::PK.to_owned(), AttributeValue::S(pk.clone())),
                        (schema::SK.to_owned(), AttributeValue::S(sk.clone())),
                    ])
                })
                .collect()
        })
        .collect();
    let found: Vec<Vec<Item>> = futures::stream::iter(chunks)
        .map(|chunk| get_chunk(store, chunk))
        .buffer_unordered(CONCURRENT_GETS)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

async fn get_chunk(store: &DynamoStore, mut keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    for round in 0..MAX_ROUNDS {
        let asked = keys.len();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .map_err(|e| StoreError::Permanent {
                operation: "BatchGetItem",
                store: store.describe(),
                message: e.to_string(),
            })?;
        let output = store
            .client()
            .batch_get_item()
            .request_items(store.table(), request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| store.error("BatchGetItem", e))?;
        let items: Vec<Item> = output
            .responses()
            .and_then(|r: &HashMap<String, Vec<Item>>| r.get(store.table()))
            .cloned()
            .unwrap_or_default();
        keys = output
            .unprocessed_keys()
            .and_then(|u| u.get(store.table()))
            .map(|k| k.keys().to_vec())
            .unwrap_or_default();
        let sizes: Vec<u64> = items.iter().map(|i| item::billed_size(i) as u64).collect();
        let misses = asked.saturating_sub(items.len() + keys.len());
        store
            .meter()
            .batch_get(&sizes, misses, output.consumed_capacity());
        found.extend(items);
        if keys.is_empty() {
            return Ok(found);
        }
        let delay = Duration::from_millis(50u64 << round.min(6));
        tokio::time::sleep(fastrand_jitter(delay)).await;
    }
    Err(StoreError::Transient {
        operation: "BatchGetItem",
        store: store.describe(),
        message: format!(
            "{} key(s) still unprocessed after {MAX_ROUNDS} rounds",
            keys.len()
        ),
    })
}

/// Full jitter: a random delay up to `delay`.
fn fastrand_jitter(delay: Duration) -> Duration {
    delay.mul_f64(fastrand::f64())
}

/// Decodes an item of the block and rollup layer; the error names its key.
pub fn decode_stored(store: &DynamoStore, raw: &Item) -> Result<StoredItem, StoreError> {
    item::item_to_stored(raw).map_err(|message| StoreError::Corrupt {
        store: store.describe(),
        key: format!("{:?}", item::key_of(raw)),
        message,
    })
}
