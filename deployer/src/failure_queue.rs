//! The ingest function's on-failure queue (`<stack>-ingest-failures`, in
//! the application stack): Lambda sends there every invocation that still
//! fails after its retries, with the event it carried, so no log file's
//! failure is silent. `tracker backfill --from-failures` replays it
//! ([`crate::backfill::failures`]); teardown counts what is left in it.
//!
//! Queues are named `<stack>-<purpose>` ([`Names::queue`]), so another
//! queue of the stack (a work queue) is found the same way.

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

/// Failed invocations waiting in the on-failure queue (approximately, as
/// SQS counts); None when the queue does not exist.
pub async fn waiting(aws: &Aws, names: &Names) -> anyhow::Result<Option<u64>> {
    let Some(url) = url(&aws.sqs, &names.failure_queue).await? else {
        return Ok(None);
    };
    let attributes = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!("cannot read SQS queue `{}`", names.failure_queue),
            )
        })?;
    let count = |name: QueueAttributeName| {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Some(
        count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}
