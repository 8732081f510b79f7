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
    pub notifications: notify::Notifications,
    pub catalog: catalog::Catalog,
    pub orders: orders::Orders,
    pub custom: customization::Customization,
    /// The sandbox payment provider when configured (its card form on the payment page).
    pub sandbox: Option<orders::payments::sandbox::Sandbox>,
    pub search: search::SearchIndex,
    /// Records product views in batches (the server's `ViewRecorder`).
    pub views: std::sync::Arc<dyn Fn(&str, &str) + Send + Sync>,
    /// Serverless mode: the search index catches up before answering.
    pub inline_events: bool,
    /// Set the cookie's `Secure` flag (served over TLS).
    pub secure_cookies: bool,
}

/// The request id the server's middleware assigned (also in logs and the `x-request-id` header).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Everything a server function needs from its request, captured before the first `.await`:
/// reactive context is not guaranteed to be reachable after one (e.g. inside a resource during SSR).
#[derive(Clone)]
pub struct Ctx {
    pub services: Services,
    parts: Option<Parts>,
    response: Option<ResponseOptions>,
}

impl Ctx {
    pub fn get() -> Self {
        Self { services: expect_context::<Services>(), parts: use_context::<Parts>(), response: use_context::<ResponseOptions>() }
    }

    pub fn accounts(&self) -> &Accounts {
        &self.services.accounts
    }

    pub fn request_id(&self) -> Option<String> {
        self.parts.as_ref().and_then(|p| p.extensions.get::<RequestId>()).map(|r| r.0.clone())
    }

    pub fn session_token(&self) -> Option<String> {
        self.parts.as_ref().and_then(|p| cookie_value(&p.headers, SESSION_COOKIE))
    }

    pub fn client_info(&self) -> ClientInfo {
        let ip = self.parts.as_ref().and_then(|p| p.extensions.get::<ClientIp>().map(|c| c.0.clone()));
        let user_agent = self
            .parts
            .as_ref()
            .and_then(|p| p.headers.get(header::USER_AGENT))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        ClientInfo { ip, user_agent }
    }

    async fn authenticate(&self) -> Result<Principal, AccountsError> {
        let token = self.session_token().ok_or(AccountsError::Unauthenticated)?;
        self.accounts().authenticate(&token).await
    }

    /// The signed-in caller, or `unauthenticated`.
    pub async fn principal(&self) -> Result<Principal, AppError> {
        self.authenticate().await.map_err(|e| self.err(e))
    }

    /// The signed-in caller if there is one (for pages any visitor may see).
    pub async fn maybe_principal(&self) -> Result<Option<Principal>, AppError> {
        match self.authenticate().await {
            Ok(p) => Ok(Some(p)),
            Err(AccountsError::Unauthenticated | AccountsError::Suspended) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    fn append_cookie(&self, cookie: &str) {
        if let (Some(opts), Ok(v)) = (&self.response, HeaderValue::from_str(cookie)) {
            opts.append_header(header::SET_COOKIE, v);
        }
    }

    pub fn set_session_cookie(&self, token: &str, expires_at: kernel::Timestamp) {
        let max_age = (expires_at.0 - kernel::Timestamp::now().0) / 1_000_000;
        self.append_cookie(&session_cookie(token, max_age, self.services.secure_cookies));
    }

    pub fn clear_session_cookie(&self) {
        self.append_cookie(&session_cookie("", 0, self.services.secure_cookies));
    }

    /// An unexpected storage error: logged with the request id, shown as "something went wrong".
    pub fn internal(&self, e: impl std::fmt::Display) -> AppError {
        let request_id = self.request_id();
        tracing::error!(error = %e, request_id = request_id.as_deref().unwrap_or("-"), "internal error");
        let mut out = AppError::new("internal", "something went wrong on our side");
        out.request_id = request_id;
        if let Some(opts) = &self.response {
            opts.set_status(http::StatusCode::INTERNAL_SERVER_ERROR);
        }
        out
    }

    /// Maps a service error to what the UI shows; unexpected errors are logged with the request id
    /// and shown as a bare "something went wrong".
    pub fn err(&self, e: AccountsError) -> AppError {
        let request_id = self.request_id();
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
        if let Some(opts) = &self.response {
            opts.set_status(http::StatusCode::from_u16(out.http_status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
        out
    }
}

/// The guest cart's cookie (a random token; merged into the person's cart at sign-in).
pub const CART_COOKIE: &str = "bespoke_cart";

/// The `Set-Cookie` value of a guest cart (30 days).
pub fn cart_cookie(token: &str, secure: bool) -> String {
    format!("{CART_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000{}", if secure { "; Secure" } else { "" })
}

impl Ctx {
    pub fn guest_cart_token(&self) -> Option<String> {
        self.parts.as_ref().and_then(|p| cookie_value(&p.headers, CART_COOKIE)).filter(|t| orders::cart::valid_guest_token(t))
    }

    pub fn set_guest_cart_cookie(&self, token: &str) {
        self.append_cookie(&cart_cookie(token, self.services.secure_cookies));
    }

    /// Moves a guest cart into the person's after sign-in or sign-up (best effort).
    pub async fn merge_guest_cart(&self, user_id: &str) {
        if let Some(token) = self.guest_cart_token() {
            if let Err(e) = self.services.orders.merge_guest_cart(&token, user_id).await {
                tracing::warn!(error = %e, "merging the guest cart failed");
            }
            self.append_cookie(&format!("{CART_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
        }
    }

    /// A service's view as the page's mirror type (same field names; the wasm side cannot depend on
    /// the service crates).
    pub fn mirror<T: serde::Serialize, U: serde::de::DeserializeOwned>(&self, v: T) -> Result<U, AppError> {
        serde_json::to_value(v).and_then(serde_json::from_value).map_err(|e| self.internal(e))
    }

    /// Maps an orders error like [`Ctx::err`] does for accounts.
    pub fn orders_err(&self, e: orders::OrdersError) -> AppError {
        if let orders::OrdersError::Internal(m) = &e {
            return self.internal(m);
        }
        let mut out = AppError::new(e.code(), e.message());
        out.field = e.field().map(str::to_owned);
        out.request_id = self.request_id();
        if let Some(opts) = &self.response {
            opts.set_status(http::StatusCode::from_u16(out.http_status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
        out
    }
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

/// The client's address as the server determined it (inserted by the server's middleware).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}
