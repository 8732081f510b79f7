use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

both!(sign_up_sign_in_sign_out, |app: TestApp| async move {
    let email = unique_email("ana");
    let s = app.sign_up(&email, "correct horse", "customer").await;
    assert_eq!(s.user["role"], "customer");
    assert_eq!(s.user["email"], email.as_str());

    let me: Value = app.get("/api/v1/me", Some(&s.token)).await.json().await.expect("json");
    assert_eq!(me["email"], email.as_str());

    // the same email again is a conflict on the email field, whatever its case
    let res = app
        .post_json("/api/v1/auth/sign-up", &json!({ "email": email.to_uppercase(), "password": "another pw", "display_name": "X" }), None)
        .await;
    let (status, body) = error_of(res).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "email_taken");
    assert_eq!(body["error"]["field"], "email");

    // wrong password, then right
    let (status, body) = error_of(app.sign_in(&email, "wrong horse").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let res = app.sign_in(&email, "correct horse").await;
    assert_eq!(res.status(), StatusCode::OK);

    // sign-out kills the session on the server: the token no longer works
    let res = app.post_json("/api/v1/auth/sign-out", &json!({}), Some(&s.token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get("/api/v1/me", Some(&s.token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
});

both!(profile_and_password_change, |app: TestApp| async move {
    let email = unique_email("pw");
    let a = app.sign_up(&email, "first password", "customer").await;
    let b: Value = app.sign_in(&email, "first password").await.json().await.expect("json");
    let b_token = b["token"].as_str().expect("token").to_owned();

    let res = app.client.patch(app.url("/api/v1/me")).bearer_auth(&a.token).json(&json!({ "display_name": "  Zoë Ōno 🦀 " })).send().await.expect("req");
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["display_name"], "Zoë Ōno 🦀");

    let (status, body) = error_of(
        app.post_json("/api/v1/me/password", &json!({ "current_password": "nope nope", "new_password": "second password" }), Some(&a.token)).await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "current_password");

    let res = app
        .post_json("/api/v1/me/password", &json!({ "current_password": "first password", "new_password": "second password" }), Some(&a.token))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // the other session is gone, this one stays
    assert_eq!(app.get("/api/v1/me", Some(&b_token)).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/me", Some(&a.token)).await.status(), StatusCode::OK);
    assert_eq!(app.sign_in(&email, "first password").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.sign_in(&email, "second password").await.status(), StatusCode::OK);
});

both!(service_endpoints, |app: TestApp| async move {
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let _ = app.get("/api/v1/me", None).await;
    let metrics = app.get("/metrics", None).await.text().await.expect("text");
    assert!(metrics.contains("http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"401\"} 1"), "{metrics}");
    assert!(metrics.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"+Inf\"} 1"));

    let spec: Value = app.get("/api/openapi.json", None).await.json().await.expect("json");
    assert_eq!(spec["openapi"], "3.0.3");
    for path in [
        "/auth/sign-up", "/auth/sign-in", "/auth/sign-in/mfa", "/auth/sign-out", "/me", "/me/password", "/me/sessions",
        "/me/sessions/revoke-all", "/me/sessions/{id}", "/me/mfa/setup", "/me/mfa/confirm", "/me/mfa/disable",
        "/me/mfa/recovery-codes", "/dealer/me", "/admin/dealers", "/admin/dealers/{id}/decision",
        "/cart", "/cart/items", "/cart/items/{id}", "/checkout", "/checkouts/{id}", "/checkouts/{id}/cancel", "/payments/config",
        "/payments/webhooks/{provider}", "/sandbox/payment_intents/{id}/confirm", "/sandbox/payment_intents/{id}/authenticate",
        "/orders", "/orders/{id}", "/orders/{id}/cancel", "/orders/{id}/received", "/orders/{id}/lines/{line}/review",
        "/dealer/orders", "/dealer/orders/{id}/{action}", "/dealer/balance", "/products/{slug}/reviews",
        "/threads", "/threads/{id}", "/threads/{id}/messages", "/threads/{id}/quotes", "/threads/{id}/decline", "/threads/{id}/ws",
        "/quotes/{id}/accept", "/quotes/{id}/decline", "/quotes/{id}/counter", "/threads/{id}/attachments", "/threads/{id}/attachments/{attachment}",
        "/categories", "/search", "/search/suggest", "/products/{slug}", "/products/{slug}/price", "/stores/{slug}", "/dealer/store", "/dealer/store/logo",
        "/dealer/products", "/dealer/products/{id}", "/dealer/products/{id}/status", "/dealer/products/{id}/stock", "/dealer/products/{id}/images",
        "/dealer/products/{id}/images/{image_id}", "/dealer/import", "/me/export", "/me/delete", "/admin/users", "/admin/users/{id}/suspend",
        "/admin/users/{id}/reinstate", "/admin/users/{id}/role", "/admin/products", "/admin/products/{id}/unlist", "/admin/products/{id}/restore",
        "/admin/orders", "/admin/orders/{id}/refund", "/admin/audit", "/admin/kpis", "/admin/events", "/admin/events/dead-letters/{event_id}/{consumer}/redrive",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
});
