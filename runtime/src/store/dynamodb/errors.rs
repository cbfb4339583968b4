//! Named predicates over DynamoDB SDK errors, so that callers say what they
//! branch on (throttled? missing table?) instead of matching codes inline.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;

const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

const SERVER_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "InternalFailure",
];

/// Throttling, a server-side failure or a network problem: worth retrying.
pub fn is_retryable<E>(error: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            THROTTLING_CODES.contains(&code)
                || SERVER_CODES.contains(&code)
                || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// `BatchWriteItem` refused for now: its modeled throttling and server
/// errors (matched by variant, so errors without metadata count too), or
/// anything [`is_retryable`] accepts.
pub fn is_batch_write_retryable(error: &SdkError<BatchWriteItemError, HttpResponse>) -> bool {
    matches!(
        error.as_service_error(),
        Some(
            BatchWriteItemError::ProvisionedThroughputExceededException(_)
                | BatchWriteItemError::RequestLimitExceeded(_)
                | BatchWriteItemError::InternalServerError(_)
        )
    ) || is_retryable(error)
}

/// `BatchWriteItem` names a table that does not exist.
pub fn is_batch_write_missing_table(error: &SdkError<BatchWriteItemError, HttpResponse>) -> bool {
    matches!(
        error.as_service_error(),
        Some(BatchWriteItemError::ResourceNotFoundException(_))
    ) || is_missing_table(error)
}

/// The table (or index) does not exist.
pub fn is_missing_table<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ResourceNotFoundException")
}

pub use crate::aws::describe_sdk_error as describe;
