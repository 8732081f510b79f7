//! The error every server function returns: a stable code the UI can match, a message fit to show,
//! the offending field (for forms) and the request id (for support).

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
    pub request_id: Option<String>,
    pub retry_after_secs: Option<u64>,
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), field: None, request_id: None, retry_after_secs: None }
    }

    pub fn field_error(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    pub fn http_status(&self) -> u16 {
        match self.code.as_str() {
            "invalid_input" | "bad_request" => 422,
            "email_taken" | "mfa_already_enabled" | "mfa_not_started" => 409,
            "invalid_credentials" | "invalid_mfa_code" | "challenge_expired" | "unauthenticated" => 401,
            "forbidden" | "account_suspended" => 403,
            "not_found" => 404,
            "conflict" | "out_of_stock" | "idempotency_key_in_use" => 409,
            "idempotency_key_reused" => 422,
            "provider_unavailable" => 503,
            "too_many_attempts" => 429,
            _ => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) | ServerFnErrorErr::Deserialization(m) => {
                AppError::new("bad_request", format!("the request is malformed: {m}"))
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                AppError::new("network", "could not reach the server, check your connection and try again")
            }
            other => AppError::new("internal", format!("something went wrong ({other})")),
        }
    }

}
