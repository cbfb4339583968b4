//! The stack's SQS queues, found by name (`<stack>-<purpose>`,
//! [`Names::queue`]):
//!
//! - the ingest function's on-failure queue (`<stack>-ingest-failures`):
//!   Lambda sends there every invocation that still fails after its retries,
//!   with the event it carried, so no log file's failure is silent;
//! - the backfill work queue (`<stack>-backfill`) of `tracker backfill
//!   --fan-out`, and its dead-letter queue (`<stack>-backfill-dead`), where
//!   a batch goes once its receives are used up.
//!
//! `tracker backfill --from-failures` replays the on-failure queue and the
//! dead-letter queue ([`crate::backfill::failures`]); teardown counts what is
//! left in all three.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::clients::Aws;
use crate::errors;
use crate::names::Names;

/// The URL of one of the stack's queues; None when it does not exist.
pub async fn url(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<Option<String>> {
    match sqs.get_queue_url().queue_name(queue).send().await {
        Ok(output) => Ok(output.queue_url().map(str::to_owned)),
        // `QueueDoesNotExist` (SQS's JSON protocol), or the query protocol's code.
        Err(e)
            if errors::code(&e).is_some_and(|c| {
                c.contains("QueueDoesNotExist") || c.contains("NonExistentQueue")
            }) =>
        {
            Ok(None)
        }
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot find SQS queue `{queue}`"),
        )),
    }
}

/// Messages in a queue, as SQS counts them (approximately).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// Waiting to be received.
    pub waiting: u64,
    /// Received and not yet deleted (being worked on).
    pub in_flight: u64,
}

impl Depth {
    pub fn total(self) -> u64 {
        self.waiting + self.in_flight
    }
}

/// How many messages a queue holds.
pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str, queue: &str) -> anyhow::Result<Depth> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| errors::explain(e, &format!("cannot read SQS queue `{queue}`")))?;
    let count = |name: QueueAttributeName| {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Depth {
        waiting: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    })
}

/// Messages of a queue found by name; None when it does not exist.
async fn messages_in(aws: &Aws, queue: &str) -> anyhow::Result<Option<u64>> {
    match url(&aws.sqs, queue).await? {
        Some(url) => Ok(Some(depth(&aws.sqs, &url, queue).await?.total())),
        None => Ok(None),
    }
}

/// Failures waiting to be replayed: failed invocations in the on-failure
/// queue and dead-lettered backfill batches; None when neither queue exists.
pub async fn waiting(aws: &Aws, names: &Names) -> anyhow::Result<Option<u64>> {
    let failed = messages_in(aws, &names.failure_queue).await?;
    let dead = messages_in(aws, &names.backfill_dead_queue).await?;
    Ok(match (failed, dead) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    })
}

/// Backfill batches not ingested yet (queued or being ingested).
pub async fn backfill_pending(aws: &Aws, names: &Names) -> anyhow::Result<Option<u64>> {
    messages_in(aws, &names.backfill_queue).await
}
