//! Hardening applied to every request, inside the observing layer (so refusals carry a request id
//! and show in the metrics): cross-site request refusal, rate limits, security headers and a clear
//! answer for oversized bodies.
//!
//! - **CSRF**: an unsafe request (anything but GET/HEAD/OPTIONS) that carries cookies, and every
//!   WebSocket upgrade, must come from this site: `Sec-Fetch-Site` must be `same-origin` or `none`
//!   when the browser sends it, else `Origin` must name this host. Cookies are `SameSite=Lax` besides.
//!   Requests without cookies (API clients with bearer tokens, provider webhooks) cannot ride a
//!   victim's session and pass.
//! - **Rate limits** (per instance, token buckets): sign-up per IP, search per IP, checkout per
//!   session (or IP). Over the limit: 429 with `Retry-After`. Sign-in and chat have their own,
//!   database-backed limits in their services (they hold across a fleet).
//! - **Headers**: a Content-Security-Policy of self (plus a per-response nonce for the inline
//!   hydration scripts, and Stripe's origins when Stripe is on), `frame-ancestors 'none'`,
//!   `X-Frame-Options`, `nosniff`, a referrer policy, a permissions policy, and HSTS when the site is
//!   served over TLS.
//! - **Oversized bodies**: a body refused with 413 before it was read to the end is read on (up to
//!   8 MiB, for at most 2 s) and thrown away before the answer goes out, as web servers' "lingering
//!   close" does: closing a socket with unread data resets the connection, and the client may then
//!   lose the 413 that explains its mistake.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::error::ApiError;
use crate::AppState;

/// The header the page shell uses to hand its CSP nonce to this layer (removed before sending).
pub const NONCE_HEADER: &str = "x-bespoke-csp-nonce";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    SignUp,
    Search,
    Checkout,
}

impl Bucket {
    fn what(self) -> &'static str {
        match self {
            Bucket::SignUp => "sign-ups",
            Bucket::Search => "searches",
            Bucket::Checkout => "checkouts",
        }
    }
}

/// Limits as (requests, per window); 0 requests = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `BESPOKE_LIMITS__SIGN_UP_PER_HOUR` (per IP, default 20).
    pub sign_up_per_hour: u32,
    /// `BESPOKE_LIMITS__SEARCH_PER_MINUTE` (per IP, default 600).
    pub search_per_minute: u32,
    /// `BESPOKE_LIMITS__CHECKOUT_PER_MINUTE` (per session or IP, default 10).
    pub checkout_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { sign_up_per_hour: 20, search_per_minute: 600, checkout_per_minute: 10 }
    }
}

impl RateLimits {
    pub const OFF: RateLimits = RateLimits { sign_up_per_hour: 0, search_per_minute: 0, checkout_per_minute: 0 };

    fn of(&self, b: Bucket) -> (u32, Duration) {
        match b {
            Bucket::SignUp => (self.sign_up_per_hour, Duration::from_secs(3600)),
            Bucket::Search => (self.search_per_minute, Duration::from_secs(60)),
            Bucket::Checkout => (self.checkout_per_minute, Duration::from_secs(60)),
        }
    }
}

struct TokenBucket {
    tokens: f64,
    at: Instant,
}

/// Keyed token buckets: `limit` requests at once, refilled evenly over `window`.
pub struct Limiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(Bucket, String), TokenBucket>>,
}

const MAX_KEYS: usize = 200_000;

impl Limiter {
    pub fn new(limits: RateLimits) -> Self {
        Self { limits, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token; `Err(seconds)` says when the next one is due.
    pub fn take(&self, bucket: Bucket, key: &str) -> Result<(), u64> {
        let (limit, window) = self.limits.of(bucket);
        if limit == 0 {
            return Ok(());
        }
        let cap = f64::from(limit);
        let rate = cap / window.as_secs_f64();
        let now = Instant::now();
        let Ok(mut map) = self.buckets.lock() else { return Ok(()) };
        if map.len() >= MAX_KEYS {
            // forget the buckets that have refilled (they hold no state worth keeping)
            map.retain(|(b, _), t| {
                let (l, w) = self.limits.of(*b);
                let r = f64::from(l) / w.as_secs_f64();
                t.tokens + now.duration_since(t.at).as_secs_f64() * r < f64::from(l)
            });
        }
        let t = map.entry((bucket, key.to_owned())).or_insert(TokenBucket { tokens: cap, at: now });
        t.tokens = (t.tokens + now.duration_since(t.at).as_secs_f64() * rate).min(cap);
        t.at = now;
        if t.tokens >= 1.0 {
            t.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - t.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Which limit a request counts against, if any.
fn bucket_of(method: &Method, path: &str) -> Option<Bucket> {
    let post = *method == Method::POST;
    match path {
        "/api/v1/auth/sign-up" if post => Some(Bucket::SignUp),
        "/api/v1/search" | "/api/v1/search/suggest" | "/search" => Some(Bucket::Search),
        "/api/v1/checkout" if post => Some(Bucket::Checkout),
        p if p.starts_with("/api/sign_up") => Some(Bucket::SignUp),
        p if p.starts_with("/api/search_products") || p.starts_with("/api/suggest") => Some(Bucket::Search),
        p if p.starts_with("/api/place_order") => Some(Bucket::Checkout),
        _ => None,
    }
}

/// Whether a request that could ride the browser's cookies comes from this site.
fn same_site(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err("this request came from another site"),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // no browser signal at all: not a modern browser's cross-site request; SameSite=Lax covers the rest
        return Ok(());
    };
    let authority = |u: &str| u.split_once("://").map(|(_, rest)| rest.split('/').next().unwrap_or("").to_ascii_lowercase());
    let Some(from) = authority(origin) else { return Err("the request's Origin is not this site") };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    if host.as_deref() == Some(from.as_str()) || public_url.and_then(authority).as_deref() == Some(from.as_str()) {
        Ok(())
    } else {
        Err("the request's Origin is not this site")
    }
}

fn refusal(path: &str, status: StatusCode, code: &'static str, message: String, retry_after: Option<u64>) -> Response {
    let server_fn = path.starts_with("/api/") && !path.starts_with("/api/v1/");
    if server_fn {
        // server functions decode our AppError from the body
        let mut err = app::AppError::new(code, message);
        err.request_id = super::middleware::current_request_id();
        err.retry_after_secs = retry_after;
        let mut res = (status, axum::Json(err)).into_response();
        if let Some(s) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            res.headers_mut().insert(header::RETRY_AFTER, s);
        }
        return res;
    }
    let mut e = ApiError::new(status, code, message);
    e.retry_after = retry_after;
    e.into_response()
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let headers = req.headers();
    let upgrade = headers.get(header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let has_cookies = headers.contains_key(header::COOKIE);
    if (upgrade || (!is_safe(&method) && has_cookies)) && !path.starts_with("/api/v1/payments/webhooks/") {
        if let Err(why) = same_site(headers, state.settings.public_url.as_deref()) {
            tracing::warn!(path = %path, "refused a cross-site request");
            return refusal(&path, StatusCode::FORBIDDEN, "cross_site_request", format!("{why}: refused to protect your account"), None);
        }
    }
    if let Some(bucket) = bucket_of(&method, &path) {
        let key = match bucket {
            Bucket::Checkout => app::ssr::cookie_value(headers, app::ssr::SESSION_COOKIE)
                .or_else(|| headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned))
                .map(|t| format!("s:{}", accounts::token_hash(&t)))
                .or_else(|| req.extensions().get::<app::ssr::ClientIp>().map(|ip| ip.0.clone())),
            _ => req.extensions().get::<app::ssr::ClientIp>().map(|ip| ip.0.clone()),
        }
        .unwrap_or_default();
        if let Err(secs) = state.limiter.take(bucket, &key) {
            return refusal(
                &path,
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many {} from you just now: try again in {secs} s", bucket.what()),
                Some(secs),
            );
        }
    }
    let (req, tail) = keep_tail(req);
    let mut res = next.run(req).await;
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        if let Some(t) = tail {
            drain(t).await;
        }
    }
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&res) {
        res = refusal(&path, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is larger than this endpoint accepts".into(), None);
    } else if res.status().is_client_error() && is_plain_text(&res) && path.starts_with("/api/") {
        // the framework's own rejections (a malformed path parameter or query string): our shape,
        // with its description of what is wrong
        let status = res.status();
        let text = axum::body::to_bytes(res.into_body(), 8 * 1024).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let message = if text.trim().is_empty() { status.canonical_reason().unwrap_or("bad request").to_lowercase() } else { text.trim().to_owned() };
        let code = if status == StatusCode::NOT_FOUND { "not_found" } else if status == StatusCode::METHOD_NOT_ALLOWED { "method_not_allowed" } else { "bad_request" };
        res = refusal(&path, status, code, message, None);
    }
    secure_headers(&state, &mut res);
    res
}

/// What is left of a large request body once the handler has stopped reading it.
type Tail = Arc<tokio::sync::Mutex<axum::body::BodyDataStream>>;

/// A body over the smallest limit (64 KiB), or of unknown length, is handed to the handler through
/// a shared stream, so that what the handler leaves unread can still be drained.
fn keep_tail(req: Request) -> (Request, Option<Tail>) {
    let h = req.headers();
    let large = h.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).is_some_and(|n| n > 64 * 1024) || h.contains_key(header::TRANSFER_ENCODING);
    if !large {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    let tail: Tail = Arc::new(tokio::sync::Mutex::new(body.into_data_stream()));
    let stream = futures::stream::unfold(tail.clone(), |t| async move {
        let next = t.lock().await.next().await;
        next.map(|chunk| (chunk, t))
    });
    (Request::from_parts(parts, Body::from_stream(stream)), Some(tail))
}

/// Reads and drops the rest of a refused body: at most 8 MiB, for at most 2 s.
async fn drain(tail: Tail) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async move {
        let mut stream = tail.lock().await;
        let mut read = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len();
            if read > 8 * 1024 * 1024 {
                break;
            }
        }
    })
    .await;
}

fn is_plain_text(res: &Response) -> bool {
    res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/plain"))
}

fn is_json(res: &Response) -> bool {
    res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// The policy for an HTML page rendered with `nonce`.
pub fn page_policy(nonce: Option<&str>, stripe: bool) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let (script, connect, frame) = if stripe {
        (" https://js.stripe.com", " https://api.stripe.com https://m.stripe.network", " https://js.stripe.com https://hooks.stripe.com")
    } else {
        ("", "", "")
    };
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'{script}; style-src 'self'; img-src 'self' data: blob:; \
         font-src 'self'; connect-src 'self'{connect}; frame-src {frame_src}; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'",
        frame_src = if frame.is_empty() { "'none'".to_owned() } else { frame.trim_start().to_owned() },
    )
}

fn secure_headers(state: &AppState, res: &mut Response<Body>) {
    let nonce = res.headers_mut().remove(NONCE_HEADER).and_then(|v| v.to_str().ok().map(str::to_owned));
    if let Some(n) = &nonce {
        // the caching layer outside blanks it out of the page's ETag
        res.extensions_mut().insert(super::cache::CspNonce(n.clone()));
    }
    let h = res.headers_mut();
    let html = h.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let stripe = state.settings.payments.provider == crate::config::PaymentsProvider::Stripe;
    let csp = if html { page_policy(nonce.as_deref(), stripe) } else { "default-src 'none'; frame-ancestors 'none'; sandbox".to_owned() };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(self)"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if state.settings.serves_tls() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_and_say_when() {
        let l = Limiter::new(RateLimits { sign_up_per_hour: 2, search_per_minute: 0, checkout_per_minute: 1 });
        assert!(l.take(Bucket::SignUp, "a").is_ok());
        assert!(l.take(Bucket::SignUp, "a").is_ok());
        let wait = l.take(Bucket::SignUp, "a").expect_err("the third within the hour");
        assert!((1..=1800).contains(&wait), "{wait}");
        assert!(l.take(Bucket::SignUp, "b").is_ok(), "keys are separate");
        for _ in 0..1000 {
            assert!(l.take(Bucket::Search, "a").is_ok(), "0 = unlimited");
        }
        assert!(l.take(Bucket::Checkout, "a").is_ok());
        assert_eq!(l.take(Bucket::Checkout, "a"), Err(60));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("a header value"));
        }
        h
    }

    #[test]
    fn cross_site_requests_are_told_apart() {
        assert!(same_site(&headers(&[("sec-fetch-site", "same-origin")]), None).is_ok());
        assert!(same_site(&headers(&[("sec-fetch-site", "cross-site")]), None).is_err());
        assert!(same_site(&headers(&[("sec-fetch-site", "same-site")]), None).is_err());
        assert!(same_site(&headers(&[("host", "shop.test:3000"), ("origin", "http://shop.test:3000")]), None).is_ok());
        assert!(same_site(&headers(&[("host", "shop.test:3000"), ("origin", "http://evil.test")]), None).is_err());
        assert!(same_site(&headers(&[("host", "10.0.0.5"), ("origin", "https://shop.test")]), Some("https://shop.test")).is_ok());
        assert!(same_site(&headers(&[("host", "shop.test"), ("origin", "null")]), None).is_err());
        assert!(same_site(&headers(&[("host", "shop.test")]), None).is_ok(), "no browser signal");
    }

    #[test]
    fn the_page_policy_names_the_nonce_and_stripe_only_when_on() {
        let p = page_policy(Some("abc"), false);
        assert!(p.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';") && p.contains("frame-ancestors 'none'") && p.contains("frame-src 'none'"), "{p}");
        assert!(!p.contains("stripe"));
        let s = page_policy(None, true);
        assert!(s.contains("https://js.stripe.com") && s.contains("connect-src 'self' https://api.stripe.com"), "{s}");
    }

    #[test]
    fn limited_paths() {
        assert_eq!(bucket_of(&Method::POST, "/api/v1/auth/sign-up"), Some(Bucket::SignUp));
        assert_eq!(bucket_of(&Method::GET, "/api/v1/auth/sign-up"), None);
        assert_eq!(bucket_of(&Method::GET, "/api/v1/search"), Some(Bucket::Search));
        assert_eq!(bucket_of(&Method::POST, "/api/place_order123"), Some(Bucket::Checkout));
        assert_eq!(bucket_of(&Method::GET, "/api/v1/products/x"), None);
    }
}
