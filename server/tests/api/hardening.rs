//! Hardening over real HTTP: security headers and the page's CSP nonce, cross-site request
//! refusal (cookies, WebSocket upgrades, server functions), rate limits with Retry-After, and
//! oversized bodies answered clearly.

use crate::helpers::*;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn pages_and_api_carry_security_headers() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.get("/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let csp = h.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).expect("a CSP on pages").to_owned();
    for part in ["default-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("stripe"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce").to_owned();
    assert!(nonce.len() >= 16, "{nonce}");
    assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()), Some(&b"nosniff"[..]));
    assert_eq!(h.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()), Some(&b"DENY"[..]));
    assert_eq!(h.get(header::REFERRER_POLICY).map(|v| v.as_bytes()), Some(&b"strict-origin-when-cross-origin"[..]));
    assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over plain http");
    assert!(h.get("x-bespoke-csp-nonce").is_none(), "the internal header does not leave");
    let html = res.text().await.expect("html");
    // every inline script carries this response's nonce
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1);
    assert!(html.matches(&format!("nonce=\"{nonce}\"")).count() >= scripts, "{scripts} scripts, nonce {nonce}");
    // a second page gets another nonce
    let csp2 = app.get("/", None).await.headers().get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(!csp2.contains(&nonce));

    let api = app.get("/api/v1/categories", None).await;
    let csp = api.headers().get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert_eq!(api.headers().get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()), Some(&b"nosniff"[..]));

    // behind TLS: HSTS
    let tls = spawn_app_with(Backend::Sqlite, |s| s.secure_cookies = true).await;
    let hsts = tls.get("/healthz", None).await.headers().get(header::STRICT_TRANSPORT_SECURITY).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(hsts.starts_with("max-age=63072000"), "{hsts}");
}

#[tokio::test]
async fn cross_site_requests_riding_cookies_are_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let c = app.sign_up(&unique_email("csrf"), "customer pass", "customer").await;
    let cookie = format!("bespoke_session={}", c.token);
    let post = |origin: Option<&str>, site: Option<&str>, with_cookie: bool| {
        let mut r = app.client.post(app.url("/api/v1/me/sessions/revoke-all")).json(&json!({}));
        if with_cookie {
            r = r.header(header::COOKIE, cookie.clone());
        }
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        r.send()
    };
    for (origin, site) in [(Some("https://evil.example"), None), (None, Some("cross-site")), (Some(app.base.as_str()), Some("same-site")), (Some("null"), None)] {
        let (status, body) = error_of(post(origin, site, true).await.expect("send")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("cross_site_request")), "{origin:?} {site:?}");
    }
    // still signed in: nothing was done
    assert_eq!(app.get("/api/v1/me", Some(&c.token)).await.status(), StatusCode::OK);
    // a server function is refused the same way, in the shape the page decodes
    let res = app
        .client
        .post(app.url("/api/sign_out"))
        .header(header::COOKIE, cookie.clone())
        .header("sec-fetch-site", "cross-site")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["code"], "cross_site_request", "{v}");
    // a WebSocket upgrade from another site is refused even though it is a GET
    let res = app
        .client
        .get(app.url("/api/v1/threads/00000000-0000-0000-0000-000000000000/ws"))
        .header(header::COOKIE, cookie.clone())
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // same-origin browsers and cookie-less API clients pass
    assert_eq!(post(Some(app.base.as_str()), Some("same-origin"), true).await.expect("send").status(), StatusCode::OK);
    let other = app.sign_up(&unique_email("api"), "customer pass", "customer").await;
    let res = app.client.post(app.url("/api/v1/me/sessions/revoke-all")).bearer_auth(&other.token).header(header::ORIGIN, "https://elsewhere.example").json(&json!({})).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK, "no cookie, no CSRF");
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.limits = server::http::guard::RateLimits { sign_up_per_hour: 3, search_per_minute: 5, checkout_per_minute: 2 };
    })
    .await;
    let mut last = None;
    for i in 0..3 {
        last = Some(app.sign_up(&unique_email(&format!("limit{i}")), "customer pass", "customer").await);
    }
    let res = app
        .post_json("/api/v1/auth/sign-up", &json!({ "email": unique_email("limit3"), "password": "customer pass", "display_name": "L", "account_type": "customer" }), None)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=1200).contains(&wait), "{wait}");
    let (_, body) = error_of(res).await;
    assert_eq!(body["error"]["code"], "too_many_requests");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("sign-ups")), "{body}");

    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/search?q=bowl", None).await.status(), StatusCode::OK);
    }
    let res = app.get("/api/v1/search?q=bowl", None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(header::RETRY_AFTER));

    // checkouts count per session, refused or not
    let t = last.expect("a customer").token;
    for _ in 0..2 {
        let s = app.post_json("/api/v1/checkout", &json!({}), Some(&t)).await.status();
        assert!(s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS, "{s}");
    }
    assert_eq!(app.post_json("/api/v1/checkout", &json!({}), Some(&t)).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn oversized_bodies_get_a_clear_413() {
    let app = spawn_app(Backend::Sqlite).await;
    let big = "x".repeat(200 * 1024);
    let res = app.post_json("/api/v1/auth/sign-in", &json!({ "email": "a@b.test", "password": big }), None).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (_, body) = error_of(res).await;
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    // the framework's own rejections come in the same shape, saying what is wrong
    let c = app.sign_up(&unique_email("shape"), "customer pass", "customer").await;
    let res = app.get("/api/v1/threads/x/messages?after=soon", Some(&c.token)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json")));
    let (_, body) = error_of(res).await;
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("after")), "{body}");
}
