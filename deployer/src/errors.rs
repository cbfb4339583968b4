//! Named predicates over AWS SDK errors, so that deploy and teardown say
//! what they branch on ("the stack does not exist", "the statement is
//! already there") and can be re-run safely, plus one-line descriptions of
//! errors for messages.
//!
//! They look at the error code and message the service sent (the same on
//! AWS and on emulators), never at `Debug` text.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The service's error code, if the service answered.
pub fn code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    error.as_service_error().and_then(|e| e.code())
}

/// The service's error message, if the service answered.
pub fn message<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> &str {
    error
        .as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
}

fn code_is<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>, codes: &[&str]) -> bool {
    code(error).is_some_and(|c| codes.contains(&c))
}

/// CloudFormation: `DescribeStacks` on a stack that does not exist (or was deleted).
pub fn is_stack_missing<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["ValidationError"]) && message(error).contains("does not exist")
}

/// The text AWS (a FAILED change set's reason) and moto (a ValidationError
/// on `CreateChangeSet`) use when a template changes nothing.
pub fn is_no_changes_text(text: &str) -> bool {
    text.contains("didn't contain changes")
        || text.contains("No updates are to be performed")
        || text.contains("No updates to be performed")
}

/// CloudFormation: `CreateChangeSet` refused because nothing would change.
pub fn is_no_changes<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["ValidationError"]) && is_no_changes_text(message(error))
}

/// Lambda, API Gateway, DynamoDB: the named thing does not exist.
pub fn is_not_found<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(
        error,
        &[
            "ResourceNotFoundException",
            "NotFoundException",
            "NoSuchEntity",
            "NoSuchKey",
            "NotFound",
        ],
    )
}

/// Lambda `AddPermission`: a statement with this id already exists.
pub fn is_permission_conflict<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["ResourceConflictException"]) && message(error).contains("already exists")
}

/// Lambda: the function is being updated; the call may be retried shortly.
pub fn is_update_in_progress<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["ResourceConflictException"]) && !message(error).contains("already exists")
}

/// API Gateway: a request refused for the state things are in (e.g. a
/// usage plan still attached a moment after its stages were detached).
pub fn is_bad_request_or_conflict<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["BadRequestException", "ConflictException"])
}

/// Throttled; the call may be retried after a pause.
pub fn is_too_many_requests<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(
        error,
        &[
            "TooManyRequestsException",
            "ThrottlingException",
            "Throttling",
        ],
    )
}

/// API Gateway: the thing already exists (e.g. the key is already in the plan).
pub fn is_conflict<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["ConflictException"])
}

/// S3: the bucket does not exist.
pub fn is_no_such_bucket<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool
where
    R: HttpStatus,
{
    code_is(error, &["NoSuchBucket"])
        // HeadBucket answers a bare 404 without a body, hence without a code.
        || (code(error).is_none_or(|c| c == "NotFound") && status(error) == Some(404))
}

/// S3 `CreateBucket`: the name is taken by someone else.
pub fn is_bucket_taken<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["BucketAlreadyExists"])
}

/// S3 `CreateBucket`: we own it already.
pub fn is_bucket_ours<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    code_is(error, &["BucketAlreadyOwnedByYou"])
}

/// S3 `GetBucketNotificationConfiguration` on a bucket without any
/// notification, as moto answers it: 200 with an empty
/// `<GetBucketNotificationResponse/>` root (AWS sends an empty
/// `<NotificationConfiguration/>`), which the SDK cannot parse.
pub fn is_empty_notification_answer<E>(
    error: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    error.raw_response().is_some_and(|response| {
        response.status().as_u16() == 200
            && response.body().bytes().is_some_and(|body| {
                let text = String::from_utf8_lossy(body);
                text.contains("<GetBucketNotificationResponse") && text.trim_end().ends_with("/>")
            })
    })
}

/// The region S3 names in `x-amz-bucket-region` (sent with a 301 for a
/// bucket in another region).
pub fn bucket_region_header<E>(
    error: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<String> {
    error
        .raw_response()
        .and_then(|r| r.headers().get("x-amz-bucket-region"))
        .map(str::to_owned)
}

/// The caller is not allowed to do this.
pub fn is_access_denied<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool
where
    R: HttpStatus,
{
    code_is(
        error,
        &[
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "AuthorizationError",
        ],
    ) || (code(error).is_none() && status(error) == Some(403))
}

/// The request was signed for, or sent to, the wrong region.
pub fn is_wrong_region<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool
where
    R: HttpStatus,
{
    code_is(
        error,
        &[
            "PermanentRedirect",
            "AuthorizationHeaderMalformed",
            "IllegalLocationConstraintException",
        ],
    ) || status(error) == Some(301)
}

/// No credentials, or expired/invalid ones.
pub fn is_credentials_problem<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    error.as_service_error().is_none() && chain(error).to_lowercase().contains("credential")
        || code_is(
            error,
            &[
                "ExpiredToken",
                "ExpiredTokenException",
                "InvalidClientTokenId",
                "SignatureDoesNotMatch",
                "UnrecognizedClientException",
            ],
        )
}

/// The HTTP status of a raw response (S3 reports some errors only by status).
pub trait HttpStatus {
    fn http_status(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }
}

fn status<E, R: HttpStatus>(error: &SdkError<E, R>) -> Option<u16> {
    error.raw_response().map(HttpStatus::http_status)
}

use tracker_runtime::aws::error_chain as chain;

pub use tracker_runtime::aws::describe_sdk_error as describe;

/// An SDK error as an `anyhow::Error` whose text is [`describe`]'s line
/// followed by `advice` when there is one for it (credentials, access,
/// region).
pub fn explain<E, R>(error: SdkError<E, R>, what: &str) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus + Send + Sync + 'static,
{
    let mut text = format!("{what}: {}", describe(&error));
    if is_credentials_problem(&error) {
        text.push_str(
            " — no usable AWS credentials: set AWS_PROFILE or aws.profile in the settings, run \
             `aws sso login` for an SSO profile, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        );
    } else if is_access_denied(&error) {
        text.push_str(
            " — the credentials in use may not do this: use a profile with permission for it \
             (README: \"Deploying\" lists what deploy needs)",
        );
    } else if is_wrong_region(&error) {
        text.push_str(
            " — the resource is in another region: set aws.region in the settings to its region",
        );
    }
    anyhow::anyhow!(text)
}
