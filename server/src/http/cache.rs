//! Caching for browsers and for a CDN in front (CloudFront in `deploy/aws/`).
//!
//! - **The browser bundle** (`/pkg/bespoke-<hash>.js|_bg.wasm|.css`): the name carries a hash of
//!   the content, so `public, max-age=31536000, immutable`. Other files of the site root
//!   (`/favicon.svg`): an hour.
//! - **Anonymous catalogue pages** (`/`, `/search`, `/p/…`, `/s/…`, sign-in and sign-up) answered
//!   200 to a request without a session: `public, max-age=0, s-maxage=60,
//!   stale-while-revalidate=600` and `Vary: Cookie` (a guest's cart or recent views change the
//!   page, and the CDN keys on those cookies), with a weak `ETag`; `If-None-Match` gets a 304.
//! - **Everything personal** (any page with a session, any other page, a response that sets a
//!   cookie): `private, no-store`.
//!
//! The page's CSP nonce differs on every render: the ETag is computed with it blanked out, and a
//! 304 carries no `Content-Security-Policy`, so the stored copy keeps the policy that matches its
//! own nonce.
//!
//! A GET that has no answer head after [`RENDER_LIMIT`] gets a 503 saying so, with `Retry-After`
//! (a page whose render never settles must not hold a connection, a worker or a test for ever).

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};
use sha2::{Digest, Sha256};

/// The nonce the page was rendered with, left on the response by the security layer.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const PUBLIC_PAGE: &str = "public, max-age=0, s-maxage=60, stale-while-revalidate=600";
pub const PRIVATE: &str = "private, no-store";
const STATIC_FILE: &str = "public, max-age=3600";
/// How long a GET may take to produce its answer's head (a whole page, for the public ones).
pub const RENDER_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// Pages larger than this are sent as they stream, without an ETag.
const MAX_TAGGED_PAGE: usize = 4 * 1024 * 1024;

/// The content hash in a bundle file's name (`/pkg/bespoke-0123456789abcdef.js` → its hash).
pub fn bundle_hash(path: &str) -> Option<&str> {
    let name = path.strip_prefix("/pkg/bespoke-")?;
    let hash = name.get(..16)?;
    let rest = &name[16..];
    (hash.bytes().all(|b| b.is_ascii_hexdigit()) && matches!(rest, ".js" | "_bg.wasm" | ".css")).then_some(hash)
}

fn is_public_page(path: &str) -> bool {
    matches!(path, "/" | "/search" | "/sign-in" | "/sign-up")
        || ["/p/", "/s/"].iter().any(|p| path.strip_prefix(p).is_some_and(|rest| !rest.is_empty() && !rest.contains('/')))
}

/// Whether the request carries anything that makes its answer someone's own.
fn is_personal(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || app::ssr::cookie_value(headers, app::ssr::SESSION_COOKIE).is_some()
}

fn is_html(res: &Response) -> bool {
    res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
}

/// Whether `If-None-Match` names `etag` (weak comparison, as for GET).
fn matches(if_none_match: Option<&str>, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match.is_some_and(|v| v.trim() == "*" || v.split(',').any(|t| bare(t) == bare(etag)))
}

fn not_modified(etag: &str, cache_control: &'static str, vary: bool) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NOT_MODIFIED;
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    if vary {
        h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    }
    res
}

/// What a page's ETag is computed over: the document without its nonce and without Leptos'
/// hydration bookkeeping (`<script>__RESOLVED_RESOURCES…</script>` and the like, whose resource
/// numbering depends on the order async work finished in; the data itself is in the rendered HTML).
fn page_digest(html: &str, nonce: Option<&str>) -> sha2::digest::Output<Sha256> {
    let blanked;
    let mut rest = match nonce.filter(|n| !n.is_empty()) {
        Some(n) => {
            blanked = html.replace(n, "");
            blanked.as_str()
        }
        None => html,
    };
    let mut hasher = Sha256::new();
    while let Some(start) = rest.find("<script") {
        let from = &rest[start..];
        let (Some(open_end), Some(close)) = (from.find('>'), from.find("</script>")) else { break };
        if close < open_end {
            break;
        }
        hasher.update(rest[..start].as_bytes());
        let body = &from[open_end + 1..close];
        if !body.trim_start().starts_with("__") {
            hasher.update(from[..close].as_bytes());
        }
        rest = &from[close + "</script>".len()..];
    }
    hasher.update(rest.as_bytes());
    hasher.finalize()
}

/// After this long without an answer head, a page GET is rendered a second time alongside the
/// first, and whichever answers first is sent (see [`hedged`]).
pub const HEDGE_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves a page request from `pages`; a GET or HEAD that has no answer head after [`HEDGE_AFTER`]
/// is rendered once more alongside, and the first answer wins.
///
/// Why: a page rendered whole before it is sent (the public ones, `SsrMode::Async`) waits for every
/// `<Suspense>` of the page, and the framework has had lost-wakeup races there (leptos#4851,
/// #4673, #4698: one render in thousands never finishes while the process serves everything else in
/// milliseconds). Our suites saw one home page render hang in 2 of 4 full runs (8,000 renders
/// under 32-way load did not reproduce it). A page GET has no side effects, so a second render is
/// safe; the first keeps running in case it was only slow. Renders normally take milliseconds, so
/// this costs nothing unless a render is stuck.
pub async fn hedged(pages: axum::Router, req: Request) -> Response {
    hedged_after(HEDGE_AFTER, pages, req).await
}

async fn hedged_after(after: std::time::Duration, pages: axum::Router, req: Request) -> Response {
    use tower::ServiceExt;
    let answer = |r: Result<Response, std::convert::Infallible>| r.unwrap_or_else(|never| match never {});
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return answer(pages.oneshot(req).await);
    }
    // a page GET's body is not read: the second render gets an empty one
    let (parts, body) = req.into_parts();
    let first = pages.clone().oneshot(Request::from_parts(parts.clone(), body));
    tokio::pin!(first);
    tokio::select! {
        r = &mut first => return answer(r),
        _ = tokio::time::sleep(after) => {}
    }
    tracing::warn!(path = %parts.uri.path(), after_ms = after.as_millis() as u64, "no answer yet: rendering the page a second time alongside");
    let second = pages.oneshot(Request::from_parts(parts, Body::empty()));
    tokio::select! {
        r = first => answer(r),
        r = second => answer(r),
    }
}

pub async fn cache(req: Request, next: Next) -> Response {
    cache_within(RENDER_LIMIT, req, next).await
}

async fn cache_within(limit: std::time::Duration, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let personal = is_personal(req.headers());
    let Ok(mut res) = tokio::time::timeout(limit, next.run(req)).await else {
        tracing::error!(path = %path, limit_ms = limit.as_millis() as u64, "no answer within the render limit");
        let mut res = Response::new(Body::from("This page took too long to put together. Please try again in a moment.\n"));
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        return res;
    };
    let ok = res.status() == StatusCode::OK;
    if let (Some(hash), true) = (bundle_hash(&path), ok) {
        let etag = format!("W/\"{hash}\"");
        if matches(if_none_match.as_deref(), &etag) {
            return not_modified(&etag, IMMUTABLE, false);
        }
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        return res;
    }
    if !is_html(&res) {
        // site-root files (the fallback serves them); handlers that chose a policy keep it
        if ok && !res.headers().contains_key(header::CACHE_CONTROL) && (path.starts_with("/pkg/") || path == "/favicon.svg") {
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(STATIC_FILE));
        }
        return res;
    }
    // an error page, a page for someone, a page setting a cookie: nobody else's to keep
    if !ok || personal || !is_public_page(&path) || res.headers().contains_key(header::SET_COOKIE) {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        return res;
    }
    let nonce = res.extensions().get::<CspNonce>().map(|n| n.0.clone());
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TAGGED_PAGE).await else {
        // too large to tag (or the render failed midway): not worth caching
        parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        return Response::from_parts(parts, Body::empty());
    };
    let digest = page_digest(&String::from_utf8_lossy(&bytes), nonce.as_deref());
    let etag = format!("W/\"{}\"", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
    if matches(if_none_match.as_deref(), &etag) {
        return not_modified(&etag, PUBLIC_PAGE, true);
    }
    let h = &mut parts.headers;
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(PUBLIC_PAGE));
    h.append(header::VARY, HeaderValue::from_static("Cookie"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_that_never_comes_is_a_503_after_the_limit() {
        use tower::ServiceExt;
        let limit = std::time::Duration::from_millis(100);
        let app = axum::Router::new()
            .route("/slow", axum::routing::get(|| std::future::pending::<&'static str>()))
            .route("/fast", axum::routing::get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(move |req, next| cache_within(limit, req, next)));
        let started = std::time::Instant::now();
        let res = app.clone().oneshot(Request::get("/slow").body(Body::empty()).expect("request")).await.expect("answer");
        assert!(started.elapsed() >= limit && started.elapsed() < limit * 20, "{:?}", started.elapsed());
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        assert_eq!(res.headers()[header::CACHE_CONTROL], PRIVATE);
        let body = axum::body::to_bytes(res.into_body(), 1024).await.expect("body");
        assert!(String::from_utf8_lossy(&body).contains("took too long"));
        let res = app.oneshot(Request::get("/fast").body(Body::empty()).expect("request")).await.expect("answer");
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_stuck_render_is_rendered_again_and_a_slow_one_is_still_awaited() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let pages = axum::Router::new()
            // the first render never finishes; the second answers at once
            .route("/stuck", axum::routing::get(move || {
                let n = c.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        std::future::pending::<()>().await;
                    }
                    format!("render {n}")
                }
            }))
            // slower than the hedge, but it finishes before the second render does
            .route("/slow", axum::routing::get(|| async {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                "slow"
            }))
            .route("/form", axum::routing::post(|| std::future::pending::<&'static str>()));
        let after = std::time::Duration::from_millis(100);
        let started = std::time::Instant::now();
        let res = hedged_after(after, pages.clone(), Request::get("/stuck").body(Body::empty()).expect("request")).await;
        assert!(started.elapsed() >= after && started.elapsed() < after * 20, "{:?}", started.elapsed());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(&axum::body::to_bytes(res.into_body(), 1024).await.expect("body")[..], b"render 1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let res = hedged_after(after, pages.clone(), Request::get("/slow").body(Body::empty()).expect("request")).await;
        assert_eq!(&axum::body::to_bytes(res.into_body(), 1024).await.expect("body")[..], b"slow");

        // what is not a GET is never sent twice
        let post = hedged_after(after, pages, Request::post("/form").body(Body::empty()).expect("request"));
        assert!(tokio::time::timeout(after * 3, post).await.is_err(), "a POST waits for its one answer");
    }

    #[test]
    fn bundle_names_carry_their_hash() {
        assert_eq!(bundle_hash("/pkg/bespoke-0123456789abcdef.js"), Some("0123456789abcdef"));
        assert_eq!(bundle_hash("/pkg/bespoke-0123456789abcdef_bg.wasm"), Some("0123456789abcdef"));
        assert_eq!(bundle_hash("/pkg/bespoke-0123456789abcdef.css"), Some("0123456789abcdef"));
        assert_eq!(bundle_hash("/pkg/bespoke.js"), None);
        assert_eq!(bundle_hash("/pkg/bespoke-0123456789abcdeg.js"), None);
        assert_eq!(bundle_hash("/pkg/bespoke-0123456789abcdef.js.map"), None);
        assert_eq!(bundle_hash("/pkg/snippets/x.js"), None);
    }

    #[test]
    fn only_catalogue_pages_are_public() {
        for p in ["/", "/search", "/p/oak-board-1", "/s/quay-woodworks", "/sign-in"] {
            assert!(is_public_page(p), "{p}");
        }
        for p in ["/cart", "/checkout", "/account", "/admin", "/p/", "/p/a/b", "/orders/1", "/requests"] {
            assert!(!is_public_page(p), "{p}");
        }
    }

    #[test]
    fn the_page_tag_ignores_the_nonce_and_the_hydration_bookkeeping() {
        let a = r#"<link crossorigin="N1"><script nonce="N1">boot('bespoke-1')</script><p>Oak</p><script nonce="N1">__RESOLVED_RESOURCES[7] = "x";</script>"#;
        let b = r#"<link crossorigin="N2"><script nonce="N2">boot('bespoke-1')</script><p>Oak</p><script nonce="N2">__RESOLVED_RESOURCES[7] = "x";__RESOLVED_RESOURCES[9] = "x";</script>"#;
        assert_eq!(page_digest(a, Some("N1")), page_digest(b, Some("N2")));
        let other_bundle = a.replace("bespoke-1", "bespoke-2");
        assert_ne!(page_digest(a, Some("N1")), page_digest(&other_bundle, Some("N1")), "the bootstrap script counts");
        let other_text = a.replace("Oak", "Elm");
        assert_ne!(page_digest(a, Some("N1")), page_digest(&other_text, Some("N1")));
        assert_ne!(page_digest("<p>a</p><script>", None), page_digest("<p>b</p><script>", None), "an unclosed script is hashed as text");
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(matches(Some("W/\"abc\""), "W/\"abc\""));
        assert!(matches(Some("\"abc\""), "W/\"abc\""));
        assert!(matches(Some("\"x\", W/\"abc\""), "W/\"abc\""));
        assert!(matches(Some("*"), "W/\"abc\""));
        assert!(!matches(Some("W/\"abd\""), "W/\"abc\""));
        assert!(!matches(None, "W/\"abc\""));
    }
}
