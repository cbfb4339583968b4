//! `BatchWriteItem` done properly: at most 25 items a call, no duplicate keys
//! in a call, `UnprocessedItems` and throttling retried with exponential
//! backoff and full jitter until everything is written or the time budget
//! (a Lambda's remaining time) runs short — then an error, never a silent loss.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, ReturnConsumedCapacity, WriteRequest};
use futures::{StreamExt, TryStreamExt, stream};

use super::errors;
use super::item::{Item, billed_write_units, key_of};
use crate::store::{StoreError, WriteStats};

/// DynamoDB's limit of items per `BatchWriteItem` call.
pub const MAX_BATCH: usize = 25;
/// Calls in flight at once.
const CONCURRENT_CALLS: usize = 4;
/// Without a deadline, give up after this many consecutive refusals of a chunk.
const MAX_ATTEMPTS_WITHOUT_DEADLINE: u32 = 15;
const BASE_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Writes `items` to `table`; later duplicates of a key replace earlier ones.
pub async fn put_all(
    client: &Client,
    table: &str,
    items: Vec<Item>,
    deadline: Option<Instant>,
) -> Result<WriteStats, StoreError> {
    let items = dedupe(items);
    let chunks: Vec<Vec<Item>> = items.chunks(MAX_BATCH).map(<[Item]>::to_vec).collect();
    stream::iter(chunks)
        .map(|chunk| put_chunk(client, table, chunk, deadline))
        .buffer_unordered(CONCURRENT_CALLS)
        .try_fold(WriteStats::default(), |mut total, stats| async move {
            total += stats;
            Ok(total)
        })
        .await
}

fn dedupe(items: Vec<Item>) -> Vec<Item> {
    let mut position: HashMap<(String, String), usize> = HashMap::with_capacity(items.len());
    let mut unique: Vec<Item> = Vec::with_capacity(items.len());
    for item in items {
        match position.entry(key_of(&item)) {
            std::collections::hash_map::Entry::Occupied(slot) => unique[*slot.get()] = item,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(unique.len());
                unique.push(item);
            }
        }
    }
    unique
}

async fn put_chunk(
    client: &Client,
    table: &str,
    chunk: Vec<Item>,
    deadline: Option<Instant>,
) -> Result<WriteStats, StoreError> {
    let mut stats = WriteStats {
        items: chunk.len() as u64,
        billed_write_units: chunk.iter().map(billed_write_units).sum(),
        ..WriteStats::default()
    };
    let mut pending: Vec<WriteRequest> = chunk
        .into_iter()
        .map(|item| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("item is set"),
                )
                .build()
        })
        .collect();
    let mut attempt: u32 = 0;
    loop {
        stats.requests += 1;
        let result = client
            .batch_write_item()
            .request_items(table, pending.clone())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let problem = match result {
            Ok(output) => {
                stats.write_units += output
                    .consumed_capacity()
                    .iter()
                    .filter_map(|c| c.capacity_units())
                    .sum::<f64>();
                let unprocessed = output
                    .unprocessed_items()
                    .and_then(|u| u.get(table))
                    .cloned()
                    .unwrap_or_default();
                if unprocessed.is_empty() {
                    return Ok(stats);
                }
                let message = format!(
                    "{} of {} item(s) unprocessed",
                    unprocessed.len(),
                    pending.len()
                );
                pending = unprocessed;
                message
            }
            Err(error) if errors::is_batch_write_retryable(&error) => errors::describe(&error),
            Err(error) => {
                let hint = if errors::is_batch_write_missing_table(&error) {
                    " — does the table exist in this region? Deploy first (`tracker deploy`) or fix the table name"
                } else {
                    ""
                };
                return Err(StoreError::Permanent {
                    operation: "BatchWriteItem",
                    store: format!("DynamoDB table `{table}`"),
                    message: format!("{}{hint}", errors::describe(&error)),
                });
            }
        };
        attempt += 1;
        stats.retries += 1;
        let delay = backoff(attempt);
        let out_of_time = match deadline {
            Some(deadline) => Instant::now() + delay >= deadline,
            None => attempt >= MAX_ATTEMPTS_WITHOUT_DEADLINE,
        };
        if out_of_time {
            return Err(StoreError::DeadlineExceeded {
                store: format!("DynamoDB table `{table}`"),
                unwritten: pending.len(),
                message: format!("after {attempt} attempt(s): {problem}"),
            });
        }
        tracing::warn!(table, attempt, delay_ms = delay.as_millis() as u64, %problem, "Retrying BatchWriteItem.");
        tokio::time::sleep(delay).await;
    }
}

/// Exponential backoff with full jitter: uniform in `[0, min(max, base·2^attempt)]`.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY);
    ceiling.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn item(pk: &str, v: &str) -> Item {
        Item::from([
            ("pk".into(), AttributeValue::S(pk.into())),
            ("sk".into(), AttributeValue::S("E".into())),
            ("v".into(), AttributeValue::S(v.into())),
        ])
    }

    #[test]
    fn dedupe_keeps_the_last_copy_in_first_position() {
        let out = dedupe(vec![item("a", "1"), item("b", "1"), item("a", "2")]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["v"], AttributeValue::S("2".into()));
    }

    mod faults {
        //! What moto cannot do: unprocessed items, throttling, 500s, a time
        //! budget running out — injected with aws-smithy-mocks.
        use super::*;
        use aws_sdk_dynamodb::operation::batch_write_item::{
            BatchWriteItemError, BatchWriteItemOutput,
        };
        use aws_sdk_dynamodb::types::error::{
            ProvisionedThroughputExceededException, ResourceNotFoundException,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        use std::sync::{Arc, Mutex};

        fn items(n: usize) -> Vec<Item> {
            (0..n).map(|i| item(&format!("e{i}"), "v")).collect()
        }

        fn unprocessed(keys: &[&str]) -> Vec<WriteRequest> {
            keys.iter()
                .map(|k| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item(k, "v")))
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect()
        }

        /// The keys of each call, in order.
        type Calls = Arc<Mutex<Vec<Vec<String>>>>;
        type Input = aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;

        /// Records the keys each call carried.
        fn recorder() -> (Calls, impl Fn(&Input) -> bool + Send + Sync + 'static) {
            let calls = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&calls);
            let record = move |input: &Input| {
                let keys = input
                    .request_items()
                    .and_then(|m| m.get("t"))
                    .map(|requests| {
                        requests
                            .iter()
                            .filter_map(|r| r.put_request())
                            .map(|p| key_of(p.item()).0)
                            .collect()
                    })
                    .unwrap_or_default();
                sink.lock().unwrap().push(keys);
                true
            };
            (calls, record)
        }

        #[tokio::test]
        async fn unprocessed_items_are_sent_again_until_written() {
            let (calls, record) = recorder();
            let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
                .match_requests(record)
                .sequence()
                .output(|| {
                    BatchWriteItemOutput::builder()
                        .unprocessed_items("t", unprocessed(&["e1", "e3"]))
                        .build()
                })
                .output(|| {
                    BatchWriteItemOutput::builder()
                        .unprocessed_items("t", unprocessed(&["e3"]))
                        .build()
                })
                .output(|| BatchWriteItemOutput::builder().build())
                .build();
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
            let stats = put_all(&client, "t", items(5), None)
                .await
                .expect("written in the end");
            assert_eq!(rule.num_calls(), 3);
            let calls = calls.lock().unwrap();
            assert_eq!(
                calls.last().unwrap(),
                &vec!["e3".to_owned()],
                "only what was left is sent again"
            );
            assert_eq!((stats.items, stats.requests, stats.retries), (5, 3, 2));
        }

        #[tokio::test]
        async fn throttling_and_server_errors_are_retried() {
            let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
                .sequence()
                .error(|| {
                    BatchWriteItemError::ProvisionedThroughputExceededException(
                        ProvisionedThroughputExceededException::builder()
                            .message("slow down")
                            .build(),
                    )
                })
                .times(4)
                .http_status(500, None)
                .http_status(503, None)
                .output(|| BatchWriteItemOutput::builder().build())
                .repeatedly()
                .build();
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| c
                .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()));
            let stats = put_all(&client, "t", items(30), None)
                .await
                .expect("written in the end");
            assert_eq!(stats.items, 30, "two chunks (25 + 5), all written");
            assert!(
                rule.num_calls() >= 7,
                "every refusal was retried: {}",
                rule.num_calls()
            );
        }

        #[tokio::test]
        async fn the_time_budget_running_out_is_an_error_not_a_loss() {
            let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
                .sequence()
                .output(|| {
                    BatchWriteItemOutput::builder()
                        .unprocessed_items("t", unprocessed(&["e0", "e1"]))
                        .build()
                })
                .repeatedly()
                .build();
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
            let deadline = Instant::now() + Duration::from_millis(300);
            let error = put_all(&client, "t", items(3), Some(deadline))
                .await
                .expect_err("must not claim success");
            assert!(
                matches!(error, StoreError::DeadlineExceeded { unwritten: 2, .. }),
                "{error}"
            );
            assert!(
                error.is_transient(),
                "so that Lambda retries the invocation"
            );
        }

        #[tokio::test]
        async fn a_missing_table_is_permanent_and_says_what_to_do() {
            let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_error(|| {
                BatchWriteItemError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("Requested resource not found")
                        .build(),
                )
            });
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
            let error = put_all(&client, "t", items(1), None)
                .await
                .expect_err("no table");
            assert!(matches!(error, StoreError::Permanent { .. }) && !error.is_transient());
            assert!(error.to_string().contains("tracker deploy"), "{error}");
            assert_eq!(rule.num_calls(), 1, "not retried");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..40 {
            assert!(backoff(attempt) <= MAX_DELAY);
        }
    }
}
