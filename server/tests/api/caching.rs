//! Edge caching: what browsers and a CDN may keep, for how long, and revalidation.

use reqwest::{header, StatusCode};

use crate::helpers::*;

const BUNDLE: &str = "bespoke-0123456789abcdef";

/// A test app whose site root holds a bundle (with a Brotli copy of its script) named by the build.
async fn app_with_bundle(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        let site = s.site_root.clone().expect("site root");
        std::fs::create_dir_all(site.join("pkg")).expect("pkg");
        std::fs::write(site.join("bundle.txt"), format!("{BUNDLE}\n")).expect("bundle name");
        std::fs::write(site.join(format!("pkg/{BUNDLE}.js")), "export default function init() {}\n".repeat(50)).expect("js");
        std::fs::write(site.join(format!("pkg/{BUNDLE}.js.br")), b"brotli bytes").expect("js.br");
        std::fs::write(site.join(format!("pkg/{BUNDLE}.css")), "body{margin:0}").expect("css");
        std::fs::write(site.join("favicon.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").expect("favicon");
    })
    .await
}

/// Runs a test body on both backends against [`app_with_bundle`].
macro_rules! both_with_bundle {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                bounded(|| with_bundle(Backend::Sqlite, $body))
            }
            #[test]
            fn postgres() {
                bounded(|| with_bundle(Backend::Postgres, $body))
            }
        }
    };
}

async fn with_bundle<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run_spawned(backend, app_with_bundle(backend), body).await
}

fn h(res: &reqwest::Response, name: header::HeaderName) -> String {
    res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

both_with_bundle!(anonymous_pages_are_cached_at_the_edge_and_revalidate, |app: TestApp| async move {
    // the first renders after start may still see the recommendations settling (a slow machine
    // takes a while): two renders in a row then agree
    let (mut res, mut again) = (app.get("/", None).await, app.get("/", None).await);
    for _ in 0..20 {
        if h(&res, header::ETAG) == h(&again, header::ETAG) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        (res, again) = (again, app.get("/", None).await);
    }
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(h(&res, header::CACHE_CONTROL), "public, max-age=0, s-maxage=60, stale-while-revalidate=600");
    assert!(h(&res, header::VARY).to_ascii_lowercase().contains("cookie"), "{:?}", res.headers());
    let etag = h(&res, header::ETAG);
    assert!(etag.starts_with("W/\"") && etag.len() > 10, "{etag}");
    let csp = h(&res, header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("'nonce-"), "{csp}");
    // another render has another nonce but the same tag
    assert_eq!(h(&again, header::ETAG), etag, "the nonce is not part of the tag");
    assert_ne!(h(&again, header::CONTENT_SECURITY_POLICY), csp, "each render has its own nonce");
    let html = res.text().await.expect("page");
    assert!(html.contains(&format!("/pkg/{BUNDLE}.css")) && html.contains(&format!("/pkg/{BUNDLE}.js")), "the page names the hashed bundle");

    // revalidation: 304, no body, and no policy that would not match the stored copy's nonce
    let res = app.client.get(app.url("/")).header(header::IF_NONE_MATCH, &etag).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(h(&res, header::ETAG), etag);
    assert_eq!(h(&res, header::CACHE_CONTROL), "public, max-age=0, s-maxage=60, stale-while-revalidate=600");
    assert!(res.headers().get(header::CONTENT_SECURITY_POLICY).is_none());
    assert!(res.bytes().await.expect("body").is_empty());
    // a stale tag gets the page
    let res = app.client.get(app.url("/")).header(header::IF_NONE_MATCH, "W/\"0000\"").send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);

    // a product page and search are public too; the cart, the account and the admin are not
    for path in ["/search?q=oak", "/sign-in"] {
        let res = app.get(path, None).await;
        assert_eq!(h(&res, header::CACHE_CONTROL), "public, max-age=0, s-maxage=60, stale-while-revalidate=600", "{path}");
    }
    // (some answer an anonymous visitor 401 with a page that says to sign in: not stored either)
    for path in ["/cart", "/checkout", "/account", "/orders", "/admin", "/requests", "/p/no-such-listing"] {
        let res = app.get(path, None).await;
        assert_eq!(h(&res, header::CACHE_CONTROL), "private, no-store", "{path} ({})", res.status());
        assert!(res.headers().get(header::ETAG).is_none(), "{path}");
    }
});

both_with_bundle!(signed_in_pages_are_private, |app: TestApp| async move {
    let s = app.sign_up(&unique_email("cache"), "cache password", "customer").await;
    for path in ["/", "/search?q=oak", "/account"] {
        let res = app.client.get(app.url(path)).header(header::COOKIE, format!("bespoke_session={}", s.token)).send().await.expect("request");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(h(&res, header::CACHE_CONTROL), "private, no-store", "{path}");
        assert!(res.headers().get(header::ETAG).is_none(), "{path}");
    }
    // a bearer token makes an API answer someone's own as well
    let res = app.get("/", Some(&s.token)).await;
    assert_eq!(h(&res, header::CACHE_CONTROL), "private, no-store");
});

both_with_bundle!(the_bundle_is_immutable_and_compressed, |app: TestApp| async move {
    let res = app.get(&format!("/pkg/{BUNDLE}.js"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(h(&res, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert_eq!(h(&res, header::ETAG), "W/\"0123456789abcdef\"");
    let res = app.client.get(app.url(&format!("/pkg/{BUNDLE}.css"))).header(header::IF_NONE_MATCH, "W/\"0123456789abcdef\"").send().await.expect("request");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // the precompressed Brotli copy is served as it is to a client that takes Brotli
    let res = app.client.get(app.url(&format!("/pkg/{BUNDLE}.js"))).header(header::ACCEPT_ENCODING, "br, gzip").send().await.expect("request");
    assert_eq!(h(&res, header::CONTENT_ENCODING), "br");
    assert_eq!(h(&res, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert_eq!(&res.bytes().await.expect("body")[..], b"brotli bytes");

    // other site files: an hour; a missing bundle file: 404
    let res = app.get("/favicon.svg", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(h(&res, header::CACHE_CONTROL), "public, max-age=3600");
    assert_eq!(app.get("/pkg/bespoke-ffffffffffffffff.js", None).await.status(), StatusCode::NOT_FOUND);

    // pages and the API are compressed on the fly for clients that ask (Brotli first, then gzip)
    let res = app.client.get(app.url("/")).header(header::ACCEPT_ENCODING, "br").send().await.expect("request");
    assert_eq!(h(&res, header::CONTENT_ENCODING), "br");
    let res = app.client.get(app.url("/api/v1/search?q=oak")).header(header::ACCEPT_ENCODING, "gzip").send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(h(&res, header::CONTENT_ENCODING), "gzip");
    let bytes = res.bytes().await.expect("body");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).expect("gunzip");
    assert!(serde_json::from_str::<serde_json::Value>(&text).expect("json")["hits"].is_array());
    // without Accept-Encoding nothing is compressed
    let res = app.get("/api/v1/search?q=oak", None).await;
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
});
