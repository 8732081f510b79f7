//! Service errors to HTTP: a stable code, a message that says what is wrong, the field when one
//! is at fault, and the request id. Internal errors are logged and never shown.

use accounts::AccountsError;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
    /// A field named at run time (e.g. `options[2].name`); wins over `field`.
    pub field_owned: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, field_owned: None, retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
}

impl From<recommend::service::ServiceError> for ApiError {
    fn from(e: recommend::service::ServiceError) -> Self {
        match e {
            recommend::service::ServiceError::NotEnoughData(m) => Self::new(StatusCode::CONFLICT, "not_enough_data", m),
            other => {
                tracing::error!(error = %other, "recommendations failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
            }
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        let status = match &e {
            AccountsError::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AccountsError::EmailTaken | AccountsError::MfaAlreadyEnabled | AccountsError::MfaNotStarted | AccountsError::Conflict(_) => StatusCode::CONFLICT,
            AccountsError::InvalidCredentials
            | AccountsError::InvalidMfaCode
            | AccountsError::ChallengeExpired
            | AccountsError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AccountsError::Forbidden | AccountsError::Suspended => StatusCode::FORBIDDEN,
            AccountsError::NotFound => StatusCode::NOT_FOUND,
            AccountsError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AccountsError::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side");
            }
        };
        let message = match &e {
            AccountsError::InvalidInput { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let retry_after = match e {
            AccountsError::Throttled { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        Self { status, code: e.code(), message, field: e.field(), field_owned: None, retry_after }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // the id is also in the x-request-id header; repeated here for clients that only read bodies
        let request_id = super::middleware::current_request_id();
        let body = json!({ "error": { "code": self.code, "message": self.message, "field": self.field_owned.as_deref().or(self.field), "request_id": request_id } });
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}
