//! Server-side glue for server functions: the injected services, the caller's session, cookies,
//! and the mapping from service errors to [`AppError`].

use accounts::{Accounts, AccountsError, ClientInfo, Principal};
use http::{header, request::Parts, HeaderValue};
use leptos::prelude::{expect_context, use_context};
use leptos_axum::ResponseOptions;

use crate::AppError;

pub const SESSION_COOKIE: &str = "bespoke_session";

/// Everything a server function may call, injected at wiring time by the server crate.
#[derive(Clone)]
pub struct Services {
    pub accounts: Accounts,
    /// Set the cookie's `Secure` flag (served over TLS).
    pub secure_cookies: bool,
}

/// The request id the server's middleware assigned (also in logs and the `x-request-id` header).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub fn services() -> Services {
    expect_context::<Services>()
}

pub fn request_id() -> Option<String> {
    use_context::<Parts>()
        .and_then(|p| p.extensions.get::<RequestId>().cloned())
        .map(|r| r.0)
}

pub fn cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub fn session_token() -> Option<String> {
    use_context::<Parts>().and_then(|p| cookie_value(&p.headers, SESSION_COOKIE))
}

pub fn client_info() -> ClientInfo {
    let parts = use_context::<Parts>();
    let ip = parts.as_ref().and_then(|p| p.extensions.get::<ClientIp>().map(|c| c.0.clone()));
    let user_agent = parts
        .as_ref()
        .and_then(|p| p.headers.get(header::USER_AGENT))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    ClientInfo { ip, user_agent }
}

/// The client's address as the server determined it (inserted by the server's middleware).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

/// The signed-in caller, or `unauthenticated`.
pub async fn principal() -> Result<Principal, AppError> {
    let token = session_token().ok_or_else(|| map_err(AccountsError::Unauthenticated))?;
    services().accounts.authenticate(&token).await.map_err(map_err)
}

pub async fn maybe_principal() -> Result<Option<Principal>, AppError> {
    match principal().await {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.code == "unauthenticated" || e.code == "account_suspended" => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn set_session_cookie(token: &str, expires_at: kernel::Timestamp) {
    let max_age = (expires_at.0 - kernel::Timestamp::now().0) / 1_000_000;
    let cookie = session_cookie(token, max_age, services().secure_cookies);
    if let (Some(opts), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(&cookie)) {
        opts.append_header(header::SET_COOKIE, v);
    }
}

pub fn clear_session_cookie() {
    let cookie = session_cookie("", 0, services().secure_cookies);
    if let (Some(opts), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(&cookie)) {
        opts.append_header(header::SET_COOKIE, v);
    }
}

/// Maps a service error to what the UI shows; unexpected errors are logged with the request id and
/// shown as a bare "something went wrong".
pub fn map_err(e: AccountsError) -> AppError {
    let request_id = request_id();
    let mut out = match &e {
        AccountsError::Internal(inner) => {
            tracing::error!(error = %inner, request_id = request_id.as_deref().unwrap_or("-"), "internal error");
            AppError::new("internal", "something went wrong on our side")
        }
        AccountsError::InvalidInput { message, .. } => AppError::new(e.code(), message.clone()),
        other => AppError::new(other.code(), other.to_string()),
    };
    out.field = e.field().map(str::to_owned);
    if let AccountsError::Throttled { retry_after_secs } = e {
        out.retry_after_secs = Some(retry_after_secs);
    }
    out.request_id = request_id;
    if let Some(opts) = use_context::<ResponseOptions>() {
        opts.set_status(http::StatusCode::from_u16(out.http_status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
    }
    out
}
