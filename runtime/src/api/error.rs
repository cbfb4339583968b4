//! API errors as JSON: `{"error": "..."}` with the status that fits — 400 for
//! a bad request, 404 for an unknown route or event, 503 when the store is
//! throttled or unreachable, 500 for the rest.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::event::CorruptRecord;
use crate::query::{BadRequest, QueryError};
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn from_path(rejection: PathRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad path: {}", rejection.body_text()),
        )
    }
}

impl From<BadRequest> for ApiError {
    fn from(error: BadRequest) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        tracing::error!(%error, "Store failed.");
        let status = if error.is_transient() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError::new(status, error.to_string())
    }
}

impl From<CorruptRecord> for ApiError {
    fn from(error: CorruptRecord) -> ApiError {
        tracing::error!(%error, "Corrupt record.");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        match error {
            QueryError::Store(e) => e.into(),
            QueryError::Corrupt(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}
