//! What the host tells the router about a request, beyond the request
//! itself: the public URL the client used (API Gateway adds `https://host/
//! stage`) and the time by which the response must leave (a Lambda's
//! deadline). Both are request extensions, set by the Lambda host; a plain
//! HTTP server sets neither.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::PublicBase;

/// When the response must have left (the Lambda invocation's deadline,
/// less the time to send it).
#[derive(Debug, Clone, Copy)]
pub struct ResponseDeadline(pub Instant);

/// The extensions a handler reads.
#[derive(Debug, Clone, Default)]
pub struct HostContext {
    pub base: Option<PublicBase>,
    pub deadline: Option<Instant>,
}

impl<S: Send + Sync> FromRequestParts<S> for HostContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(HostContext {
            base: parts.extensions.get::<PublicBase>().cloned(),
            deadline: parts.extensions.get::<ResponseDeadline>().map(|d| d.0),
        })
    }
}
