//! Writes that happen once: `PutItem` with `attribute_not_exists(pk)`, so an
//! item already stored is left as it is and reported as such (DynamoDB's
//! `ConditionalCheckFailedException`). Alerts are written this way, which
//! makes "is this alert new?" atomic however many times (and however
//! concurrently) a log file is delivered. Throttling is retried by the SDK;
//! what is still refused is a [`StoreError`] (transient when worth retrying).
//! [`delete_items`] takes such items back (`DeleteItem`), for alerts whose
//! notification failed.

use std::collections::HashSet;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use futures::{StreamExt, TryStreamExt, stream};

use super::item::stored_to_item;
use super::{DynamoStore, schema};
use crate::store::{StoreError, StoredItem};

/// `PutItem` calls in flight at once.
const CONCURRENT_PUTS: usize = 8;

/// Writes each item unless its key is stored; `true` for those written now.
/// A key repeated in `items` is written once (its first occurrence).
pub async fn put_new_items(
    store: &DynamoStore,
    items: &[StoredItem],
) -> Result<Vec<bool>, StoreError> {
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(items.len());
    let first: Vec<bool> = items
        .iter()
        .map(|item| seen.insert((&item.partition, &item.sort)))
        .collect();
    let puts: Vec<_> = items
        .iter()
        .zip(first)
        .map(|(item, first)| put_first(store, item, first))
        .collect();
    stream::iter(puts)
        .buffered(CONCURRENT_PUTS)
        .try_collect()
        .await
}

/// Puts an item's first occurrence; a repeated one is not new.
async fn put_first(
    store: &DynamoStore,
    item: &StoredItem,
    first: bool,
) -> Result<bool, StoreError> {
    if first {
        put_if_absent(store, item).await
    } else {
        Ok(false)
    }
}

async fn put_if_absent(store: &DynamoStore, item: &StoredItem) -> Result<bool, StoreError> {
    let raw = stored_to_item(item);
    let result = store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(raw.clone()))
        .condition_expression("attribute_not_exists(#p)")
        .expression_attribute_names("#p", schema::PK)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await;
    match result {
        Ok(_) => {
            store.meter().wrote(std::slice::from_ref(&raw));
            Ok(true)
        }
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(PutItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Ok(false)
        }
        Err(error) => Err(store.error("PutItem", error)),
    }
}

/// Deletes the items with these keys (`DeleteItem`, a few at a time).
pub async fn delete_items(
    store: &DynamoStore,
    keys: &[(String, String)],
) -> Result<(), StoreError> {
    let deletes: Vec<_> = keys
        .iter()
        .map(|(partition, sort)| async move {
            store
                .client()
                .delete_item()
                .table_name(store.table())
                .key(schema::PK, AttributeValue::S(partition.clone()))
                .key(schema::SK, AttributeValue::S(sort.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|error| store.error("DeleteItem", error))
        })
        .collect();
    stream::iter(deletes)
        .buffered(CONCURRENT_PUTS)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}
