use crate::helpers::*;
use reqwest::{header, StatusCode};

both!(pages_render_on_the_server, |app: TestApp| async move {
    let res = app.get("/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("Made for you, straight from the maker."));
    assert!(html.contains("/pkg/bespoke.js"), "the hydration script is referenced");
    assert!(html.contains("Create account"), "anonymous navigation");

    for path in ["/sign-in", "/sign-up", "/account", "/admin", "/dealer"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }

    let res = app.get("/no/such/page", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap_or_default().contains("Page not found"));

    // signed in (cookie), the page is rendered for that user, with user text escaped
    let s = app.sign_up(&unique_email("page"), "page password", "customer").await;
    app.client
        .patch(app.url("/api/v1/me"))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({ "display_name": "<script>alert(1)</script>" }))
        .send()
        .await
        .expect("req");
    let html = app
        .client
        .get(app.url("/account"))
        .header(header::COOKIE, format!("bespoke_session={}", s.token))
        .send()
        .await
        .expect("req")
        .text()
        .await
        .expect("html");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "user text is escaped");
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("Where you&#x27;re signed in") || html.contains("Where you're signed in"));
});
