//! One layer around every request: assigns the request id (kept from a sane incoming
//! `x-request-id`), resolves the client IP, opens the tracing span and records metrics.

use std::{net::SocketAddr, time::Instant};

use app::ssr::{ClientIp, RequestId};
use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

tokio::task_local! {
    /// The current request's id, for error bodies built deep inside handlers.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Leptos answers every failed server function with 500, including its own argument-decoding
/// errors. The body is our `AppError`, whose code says what went wrong: use its status instead.
async fn server_fn_status(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 256 * 1024).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(err) = serde_json::from_slice::<app::AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.http_status()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

use crate::AppState;

fn incoming_request_id(req: &Request) -> Option<String> {
    let v = req.headers().get("x-request-id")?.to_str().ok()?;
    (!v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| v.to_owned())
}

fn client_ip(req: &Request, trust_proxy: bool) -> Option<String> {
    if trust_proxy {
        if let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
        {
            return Some(first.to_owned());
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .or_else(|| crate::lambda::source_ip(req.extensions()))
}

fn is_read_only(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| if req.uri().path().starts_with("/pkg/") { "/pkg/*".into() } else { "unmatched".into() });
    let method = req.method().as_str().to_owned();
    let ip = client_ip(&req, state.settings.trust_proxy);
    if let Some(ip) = ip.clone() {
        req.extensions_mut().insert(ClientIp(ip));
    }
    let audit_ctx = kernel::audit::RequestContext { request_id: request_id.clone(), ip: ip.unwrap_or_default() };
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let is_server_fn = req.uri().path().starts_with("/api/") && !req.uri().path().starts_with("/api/v1/");
    let mut res = kernel::audit::CONTEXT.scope(audit_ctx, REQUEST_ID.scope(request_id.clone(), next.run(req).instrument(span.clone()))).await;
    if is_server_fn && res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        res = server_fn_status(res).await;
    }
    // serverless mode: nothing runs between requests, so dispatch what this request committed now
    // (a refused request committed nothing worth dispatching; the drain endpoint drains by itself)
    let dispatch = state.settings.events_mode == crate::config::EventsMode::Inline
        && !is_read_only(&method)
        && (res.status().is_success() || res.status().is_redirection())
        && route != "/internal/events/drain";
    if dispatch {
        if let Err(e) = super::drain(&state, std::time::Duration::from_secs(2)).await {
            tracing::warn!(error = %e, "inline event dispatch failed; the scheduled drain will retry");
        }
    }
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    state.metrics.observe(&method, &route, status, elapsed);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request failed");
        } else {
            tracing::debug!(status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
