use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

both!(role_boundaries, |app: TestApp| async move {
    let customer = app.sign_up(&unique_email("cust"), "customer pass", "customer").await;
    let dealer = app.sign_up(&unique_email("deal"), "dealer pass!", "dealer").await;
    assert_eq!(dealer.user["role"], "dealer");
    assert_eq!(dealer.user["dealer_status"], "pending");
    let admin = app.admin().await;
    let dealer_id = dealer.user["id"].as_str().expect("id").to_owned();
    let decide = format!("/api/v1/admin/dealers/{dealer_id}/decision");

    // anonymous: 401 everywhere that needs a session
    for path in ["/api/v1/me", "/api/v1/dealer/me", "/api/v1/admin/dealers"] {
        assert_eq!(app.get(path, None).await.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(app.get("/api/v1/me", Some("not-a-real-token")).await.status(), StatusCode::UNAUTHORIZED);

    // a customer can't reach dealer or admin operations
    assert_eq!(app.get("/api/v1/dealer/me", Some(&customer.token)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/admin/dealers", Some(&customer.token)).await.status(), StatusCode::FORBIDDEN);
    let res = app.post_json(&decide, &json!({ "approve": true }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // a pending dealer can't act as a dealer, nor approve itself
    assert_eq!(app.get("/api/v1/dealer/me", Some(&dealer.token)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.post_json(&decide, &json!({ "approve": true }), Some(&dealer.token)).await.status(), StatusCode::FORBIDDEN);

    // the admin sees the application; a rejection needs a reason
    let pending: Value = app.get("/api/v1/admin/dealers?status=pending", Some(&admin.token)).await.json().await.expect("json");
    assert!(pending["dealers"].as_array().is_some_and(|d| d.iter().any(|u| u["id"] == dealer_id.as_str())));
    let (status, body) = error_of(app.post_json(&decide, &json!({ "approve": false, "reason": "  " }), Some(&admin.token)).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let (status, _) = error_of(app.get("/api/v1/admin/dealers?status=bogus", Some(&admin.token)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let approved: Value = app.post_json(&decide, &json!({ "approve": true }), Some(&admin.token)).await.json().await.expect("json");
    assert_eq!(approved["dealer_status"], "approved");
    // the same session now acts as a dealer: roles are checked per request, not cached in the token
    assert_eq!(app.get("/api/v1/dealer/me", Some(&dealer.token)).await.status(), StatusCode::OK);
    let pending: Value = app.get("/api/v1/admin/dealers", Some(&admin.token)).await.json().await.expect("json");
    assert!(pending["dealers"].as_array().is_some_and(|d| d.iter().all(|u| u["id"] != dealer_id.as_str())));

    // deciding on a customer or an unknown id is "not found", not a role change
    let cust_id = customer.user["id"].as_str().expect("id");
    let res = app.post_json(&format!("/api/v1/admin/dealers/{cust_id}/decision"), &json!({ "approve": true }), Some(&admin.token)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.post_json("/api/v1/admin/dealers/not-a-uuid/decision", &json!({ "approve": true }), Some(&admin.token)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let me: Value = app.get("/api/v1/me", Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(me["role"], "customer");
});

both!(sign_up_cannot_choose_admin, |app: TestApp| async move {
    // mass assignment: extra fields are refused, and there is no way to ask for the admin role
    let (status, body) = error_of(
        app.post_json(
            "/api/v1/auth/sign-up",
            &json!({ "email": unique_email("mass"), "password": "mass assign", "display_name": "M", "role": "admin" }),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("role"), "{body}");
    let (status, _) = error_of(
        app.post_json(
            "/api/v1/auth/sign-up",
            &json!({ "email": unique_email("mass"), "password": "mass assign", "display_name": "M", "account_type": "admin" }),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
});

both!(server_functions_check_roles_too, |app: TestApp| async move {
    use leptos::server_fn::ServerFn;
    let customer = app.sign_up(&unique_email("sfn"), "customer pass", "customer").await;
    let res = app
        .client
        .post(app.url(<app::api::admin::PendingDealers as ServerFn>::PATH))
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::COOKIE, format!("bespoke_session={}", customer.token))
        .send()
        .await
        .expect("req");
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("forbidden"), "{body}");
    let res = app
        .client
        .post(app.url(<app::api::admin::PendingDealers as ServerFn>::PATH))
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
});
