//! Extractors for the JSON API: the caller (bearer token or session cookie) and a JSON body whose
//! rejection says what is wrong with it.

use accounts::{ClientInfo, Principal};
use app::ssr::{cookie_value, ClientIp, SESSION_COOKIE};
use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::AppState;

/// The session token from `Authorization: Bearer …`, else from the session cookie.
pub fn token_from(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    cookie_value(headers, SESSION_COOKIE)
}

/// An authenticated caller; 401 otherwise.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = token_from(&parts.headers).ok_or(accounts::AccountsError::Unauthenticated)?;
        Ok(Caller(state.accounts.authenticate(&token).await?))
    }
}

/// The caller's token as sent (for sign-out).
pub struct Token(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Token {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Token(token_from(&parts.headers)))
    }
}

pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(ClientInfo {
            ip: parts.extensions.get::<ClientIp>().map(|c| c.0.clone()),
            user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        }))
    }
}

/// `Json<T>` whose rejection is our error shape, with serde's description of the problem.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::new(axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::bad_request(format!("the body is not valid JSON: {}", e.body_text()))),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                e.body_text(),
            )),
            Err(JsonRejection::BytesRejection(e)) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                e.status(),
                "payload_too_large",
                "the request body is too large (at most 64 KiB)",
            )),
            Err(JsonRejection::BytesRejection(e)) => Err(ApiError::new(e.status(), "bad_request", e.body_text())),
            Err(e) => Err(ApiError::new(e.status(), "bad_request", e.body_text())),
        }
    }
}
