//! Server-side glue for server functions: the injected services, the caller's session, cookies,
//! and the mapping from service errors to [`AppError`].

use accounts::{Accounts, AccountsError, ClientInfo, Principal};
use http::{header, request::Parts, HeaderValue};
use leptos::prelude::use_context;
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
    /// The admin pages: event health, the audit log and live pushes (sign-outs).
    pub bus: kernel::events::EventBus,
    pub hub: kernel::hub::Hub,
    pub db: kernel::Db,
    /// The HTTP layer's own figures since this instance started.
    pub http_figures: FiguresFn,
    /// Sign-in with an OpenID Connect provider, when one is configured.
    pub oidc: Option<std::sync::Arc<accounts::oidc::Oidc>>,
    /// Recommendations: personal picks, similar items, bought together, search re-ranking.
    pub recommend: recommend::Recommender,
}

/// Reads the HTTP figures at the moment of the call.
pub type FiguresFn = std::sync::Arc<dyn Fn() -> HttpFigures + Send + Sync>;

/// Request rate, latency and errors from the instance's metrics (admin dashboard).
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpFigures {
    pub requests: u64,
    pub per_second: f64,
    pub p95_ms: f64,
    pub error_rate: f64,
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
    /// The request's context. Outside a request (e.g. while the router walks the app to list its
    /// routes) there are no services: an error, never a panic.
    pub fn get() -> Result<Self, AppError> {
        let services = use_context::<Services>().ok_or_else(|| AppError::new("unavailable", "not inside a request"))?;
        Ok(Self { services, parts: use_context::<Parts>(), response: use_context::<ResponseOptions>() })
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

/// The listings viewed in this browser session, newest first (ids only; for "because you viewed"
/// and the real-time re-ranking of recommendations, signed in or not).
pub const RECENT_COOKIE: &str = "bespoke_recent";
const RECENT_MAX: usize = 12;

/// Personalised search (the page and the API): re-orders `hits` for this person with
/// `Recommender::rerank`; returns whether anything moved.
pub fn personalize_hits(rec: &recommend::Recommender, user_id: &str, hits: &mut Vec<search::Hit>) -> bool {
    let mut pairs: Vec<(String, f32)> = hits.iter().map(|h| (h.product_id.clone(), h.score)).collect();
    if !rec.rerank(user_id, &mut pairs) {
        return false;
    }
    let mut by_id: std::collections::HashMap<String, search::Hit> = hits.drain(..).map(|h| (h.product_id.clone(), h)).collect();
    *hits = pairs.iter().filter_map(|(id, _)| by_id.remove(id)).collect();
    true
}

/// The listing ids in the recent-views cookie, newest first (anything else in it is ignored).
pub fn recent_views(headers: &http::HeaderMap) -> Vec<String> {
    cookie_value(headers, RECENT_COOKIE)
        .map(|v| v.split('.').filter(|id| id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).take(RECENT_MAX).map(str::to_owned).collect())
        .unwrap_or_default()
}

impl Ctx {
    pub fn recent_views(&self) -> Vec<String> {
        self.parts.as_ref().map(|p| recent_views(&p.headers)).unwrap_or_default()
    }

    /// Puts a listing first in the recent-views cookie (a session cookie: it ends with the browser).
    pub fn note_recent_view(&self, product_id: &str) -> Vec<String> {
        let mut v = self.recent_views();
        v.retain(|x| x != product_id);
        v.insert(0, product_id.to_owned());
        v.truncate(RECENT_MAX);
        self.append_cookie(&format!("{RECENT_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}", v.join("."), if self.services.secure_cookies { "; Secure" } else { "" }));
        v
    }

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

/// Closes every live stream and socket of `account_id`, on every instance (after a suspension).
pub async fn end_live_sessions(hub: &kernel::hub::Hub, account_id: &str) {
    if let Err(e) = hub.publish(&kernel::hub::user_topic(account_id), kernel::hub::SIGNED_OUT).await {
        tracing::warn!(error = %e, "could not push the sign-out; the sessions are gone, open sockets close at their next check");
    }
}

/// Re-drives a dead letter and records who did it.
pub async fn redrive(bus: &kernel::events::EventBus, db: &kernel::Db, p: &Principal, event_id: &str, consumer: &str) -> Result<bool, String> {
    let done = bus.redrive(event_id, consumer).await.map_err(|e| e.to_string())?;
    if done {
        let target = format!("{event_id}/{consumer}");
        kernel::audit::record(db, &kernel::audit::Entry::new(&p.user.id.to_string(), "event.redriven", &target)).await.map_err(|e| e.to_string())?;
    }
    Ok(done)
}

/// The admin dashboard's figures (server function flavour: errors as the page shows them).
pub async fn kpis(cx: &Ctx, p: &Principal, days: i64) -> Result<crate::api::admin::Kpis, AppError> {
    kpis_for(&cx.services, p, days).await.map_err(|e| cx.internal(e))
}

/// The admin dashboard's figures over the last `days` days (whole UTC days, today included).
/// The caller must be an admin (each service checks).
pub async fn kpis_for(s: &Services, p: &Principal, days: i64) -> Result<crate::api::admin::Kpis, String> {
    const DAY: i64 = 86_400_000_000;
    let now = kernel::Timestamp::now().0;
    let since = kernel::Timestamp((now / DAY - (days - 1)) * DAY);
    let orders = s.orders.daily_figures(p, since).await.map_err(|e| e.to_string())?;
    let listings = s.catalog.new_listings_per_day(since).await.map_err(|e| e.to_string())?;
    let (users, dealers, suspended, new_users, active_users) = s.accounts.counts(p, since).await.map_err(|e| e.to_string())?;
    let mut series: Vec<crate::api::admin::DayRow> = (0..days)
        .map(|d| crate::api::admin::DayRow {
            date: kernel::Timestamp(since.0 + d * DAY).to_rfc3339().chars().take(10).collect(),
            orders: 0,
            gmv_minor: 0,
            checkouts_started: 0,
            checkouts_paid: 0,
            new_listings: 0,
        })
        .collect();
    for f in &orders {
        if let Some(row) = usize::try_from(f.day).ok().and_then(|i| series.get_mut(i)) {
            row.orders = f.orders;
            row.gmv_minor = f.gmv_minor;
            row.checkouts_started = f.checkouts_started;
            row.checkouts_paid = f.checkouts_paid;
        }
    }
    for (day, n) in listings {
        if let Some(row) = usize::try_from(day).ok().and_then(|i| series.get_mut(i)) {
            row.new_listings = n;
        }
    }
    let started: i64 = series.iter().map(|r| r.checkouts_started).sum();
    let paid: i64 = series.iter().map(|r| r.checkouts_paid).sum();
    let gmv: i64 = series.iter().map(|r| r.gmv_minor).sum();
    let http = (s.http_figures)();
    Ok(crate::api::admin::Kpis {
        days,
        orders: series.iter().map(|r| r.orders).sum(),
        gmv: kernel::Money::new(gmv, kernel::Currency::EUR).to_string(),
        conversion_pct: (started > 0).then(|| 100.0 * paid as f64 / started as f64),
        new_listings: series.iter().map(|r| r.new_listings).sum(),
        series,
        users,
        dealers,
        suspended,
        new_users,
        active_users,
        requests: http.requests,
        requests_per_second: http.per_second,
        p95_ms: http.p95_ms,
        error_rate_pct: 100.0 * http.error_rate,
    })
}

/// Everything Bespoke holds about the caller, gathered from each service: the data export
/// (`GET /api/v1/me/export`, "Download my data").
pub async fn export_data(s: &Services, p: &Principal) -> Result<serde_json::Value, String> {
    use serde_json::json;
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let me = p.user.id.to_string();
    let account = s.accounts.export(p).await.map_err(|x| e(&x))?;
    let notifications = s.notifications.list(&me, 1000).await.map_err(|x| e(&x))?;
    let mut orders = Vec::new();
    for o in s.orders.my_orders(p).await.map_err(|x| e(&x))? {
        orders.push(s.orders.order(p, &o.id).await.map_err(|x| e(&x))?);
    }
    let cart = s.orders.cart(&orders::CartOwner::User(me.clone())).await.map_err(|x| e(&x))?;
    let mut requests = Vec::new();
    for t in s.custom.inbox(p, None).await.map_err(|x| e(&x))? {
        let mut messages = Vec::new();
        let mut after = 0;
        loop {
            let page = s.custom.messages(p, &t.id, Some(after), None).await.map_err(|x| e(&x))?;
            let n = page.len();
            after = page.last().map(|m| m.seq).unwrap_or(after);
            messages.extend(page);
            if n < 500 {
                break;
            }
        }
        requests.push(json!({ "thread": t, "messages": messages }));
    }
    let mut out = json!({
        "format": "bespoke-export/1",
        "exported_at": kernel::Timestamp::now().to_rfc3339(),
        "account": account,
        "notifications": notifications,
        "orders": orders,
        "cart": cart,
        "custom_requests": requests,
    });
    if p.user.role == accounts::Role::Dealer {
        let store = s.catalog.store_of_dealer(&me).await.map_err(|x| e(&x))?;
        let listings: Vec<_> = match s.catalog.dealer_products(p).await {
            Ok(rows) => rows.into_iter().map(|r| json!({ "id": r.product_id, "slug": r.slug, "title": r.title, "status": r.status, "price_minor": r.price_minor, "currency": r.currency, "stock": r.stock })).collect(),
            Err(_) => Vec::new(),
        };
        out["store"] = json!(store);
        out["listings"] = json!(listings);
    }
    Ok(out)
}

/// Erases the caller's account once nothing they take part in is still moving: the accounts
/// service erases its part and announces it; each service erases its own (docs/OPERATIONS.md).
pub async fn delete_account(s: &Services, p: &Principal, password: &str) -> Result<(), AccountsError> {
    let open = s.orders.open_orders_of(p).await.map_err(|e| AccountsError::internal(e.to_string()))?;
    if !open.is_empty() {
        return Err(AccountsError::Conflict(format!(
            "these orders are still in progress: {}. Your account can be deleted once they are delivered, cancelled or refunded",
            open.join(", ")
        )));
    }
    s.accounts.delete_account(p, password).await?;
    end_live_sessions(&s.hub, &p.user.id.to_string()).await;
    Ok(())
}
