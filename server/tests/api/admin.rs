//! The admin console's operations over the API: users (search, suspension that ends sessions and
//! live streams at once, reinstatement, roles), listing moderation, refunds, and the audit trail
//! each leaves.

use std::time::Duration;

use crate::{
    events::wait_for_notification,
    helpers::*,
    orders::{add, address, checkout, dealer_with_product, order_reaches, pay, scalar, size_choice},
};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn audit(app: &TestApp, admin: &Signed, action: &str, target: &str) -> Vec<Value> {
    let v: Value = app.get(&format!("/api/v1/admin/audit?action={action}&target={target}"), Some(&admin.token)).await.json().await.expect("json");
    v["entries"].as_array().cloned().unwrap_or_default()
}

both!(admins_suspend_reinstate_and_change_roles, |app: TestApp| async move {
    let email = unique_email("suspendee");
    let customer = app.sign_up(&email, "customer pass", "customer").await;
    let other = app.sign_up(&unique_email("bystander"), "customer pass", "customer").await;
    let admin = app.admin().await;
    let id = customer.user["id"].as_str().expect("id").to_owned();
    let a = Some(admin.token.as_str());

    // nobody but an admin reaches these
    for token in [None, Some(customer.token.as_str()), Some(other.token.as_str())] {
        let res = app.get("/api/v1/admin/users", token).await;
        assert!(matches!(res.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{}", res.status());
        let res = app.post_json(&format!("/api/v1/admin/users/{id}/suspend"), &json!({ "reason": "x" }), token).await;
        assert!(matches!(res.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{}", res.status());
    }

    // search by a fragment of the email, case-insensitively; a wildcard in the text is literal
    let fragment = email.split('@').next().expect("local part").to_uppercase();
    let found: Value = app.get(&format!("/api/v1/admin/users?q={fragment}"), a).await.json().await.expect("json");
    let users = found["users"].as_array().expect("users");
    assert_eq!(users.len(), 1, "{found}");
    assert_eq!(users[0]["id"], id.as_str());
    let none: Value = app.get("/api/v1/admin/users?q=%25", a).await.json().await.expect("json");
    assert_eq!(none["users"].as_array().map(Vec::len), Some(0), "% is not a wildcard");
    let (status, body) = error_of(app.get("/api/v1/admin/users?status=frozen", a).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("status")));

    // a live notification stream of the customer's, open before the suspension
    let mut stream = app.client.get(app.url("/api/v1/me/stream")).bearer_auth(&customer.token).send().await.expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let first = stream.chunk().await.expect("chunk").expect("ready event");
    assert!(String::from_utf8_lossy(&first).contains("ready"));

    // a reason is required; an admin cannot suspend themselves
    let (status, body) = error_of(app.post_json(&format!("/api/v1/admin/users/{id}/suspend"), &json!({ "reason": " " }), a).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));
    let me = admin.user["id"].as_str().expect("id");
    let (status, _) = error_of(app.post_json(&format!("/api/v1/admin/users/{me}/suspend"), &json!({ "reason": "oops" }), a).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let res = app.post_json(&format!("/api/v1/admin/users/{id}/suspend"), &json!({ "reason": "fraudulent orders" }), a).await;
    assert_eq!(res.status(), StatusCode::OK);
    let u: Value = res.json().await.expect("json");
    assert_eq!(u["suspended"], true);

    // at once: the open session fails, the stream ends, signing in is refused
    assert_eq!(app.get("/api/v1/me", Some(&customer.token)).await.status(), StatusCode::UNAUTHORIZED);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the live stream of a suspended person ends");
    let (status, body) = error_of(app.sign_in(&email, "customer pass").await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("account_suspended")));
    // the bystander is untouched
    assert_eq!(app.get("/api/v1/me", Some(&other.token)).await.status(), StatusCode::OK);
    let listed: Value = app.get("/api/v1/admin/users?status=suspended", a).await.json().await.expect("json");
    assert!(listed["users"].as_array().is_some_and(|l| l.len() == 1 && l[0]["id"] == id.as_str()), "{listed}");

    // reinstated: signs in again
    let res = app.post_json(&format!("/api/v1/admin/users/{id}/reinstate"), &json!({}), a).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.sign_in(&email, "customer pass").await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned();

    // roles: customer → dealer (approved) works at once; unknown roles and one's own role are refused
    let res = app.put_json(&format!("/api/v1/admin/users/{id}/role"), &json!({ "role": "dealer" }), a).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/dealer/me", Some(&token)).await.status(), StatusCode::OK);
    let (status, body) = error_of(app.put_json(&format!("/api/v1/admin/users/{id}/role"), &json!({ "role": "owner" }), a).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("role")));
    let (status, _) = error_of(app.put_json(&format!("/api/v1/admin/users/{me}/role"), &json!({ "role": "customer" }), a).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.put_json(&format!("/api/v1/admin/users/{id}/role"), &json!({ "role": "dealer", "dealer_id": me }), a).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");

    // the audit trail: who, what, to whom, from where, in which request
    let s = audit(&app, &admin, "user.suspended", &id).await;
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0]["actor_id"], me);
    assert_eq!(s[0]["ip"], "127.0.0.1");
    assert!(s[0]["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(s[0]["detail"].as_str().is_some_and(|d| d.contains("fraudulent orders") && d.contains("\"sessions_ended\":1")), "{s:?}");
    assert_eq!(audit(&app, &admin, "user.reinstated", &id).await.len(), 1);
    assert_eq!(audit(&app, &admin, "auth.sign_in_refused", &id).await.len(), 1);
    assert_eq!(audit(&app, &admin, "user.role_changed", &id).await.len(), 1);
    assert!(!audit(&app, &admin, "auth.sign_in", &id).await.is_empty());
    let _ = app.sign_in(&email, "wrong password").await;
    assert_eq!(audit(&app, &admin, "auth.sign_in_failed", &email).await.len(), 1);
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let v = kernel::audit::verify(&db).await.expect("verify");
    assert!(v.ok() && v.rows >= 7, "{v:?}");
    db.close().await;
});

both!(moderation_unlists_a_listing_and_tells_the_dealer, |app: TestApp| async move {
    let (dealer, product, slug) = dealer_with_product(&app, "moderated", "25.00", Some(3)).await;
    let admin = app.admin().await;
    let a = Some(admin.token.as_str());
    let d = Some(dealer.token.as_str());
    // dealers cannot moderate, not even their own listing
    let res = app.post_json(&format!("/api/v1/admin/products/{product}/unlist"), &json!({ "reason": "x" }), d).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (status, body) = error_of(app.post_json(&format!("/api/v1/admin/products/{product}/unlist"), &json!({ "reason": "" }), a).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reason")));

    let res = app.post_json(&format!("/api/v1/admin/products/{product}/unlist"), &json!({ "reason": "counterfeit brand" }), a).await;
    assert_eq!(res.status(), StatusCode::OK);
    // gone for the public, in the dealer's notifications, and the dealer cannot republish it
    assert_eq!(app.get(&format!("/api/v1/products/{slug}"), None).await.status(), StatusCode::NOT_FOUND);
    wait_for_notification(&app, &dealer.token, "\u{201c}moderated bowl\u{201d} was unlisted by moderation").await;
    let (status, body) = error_of(app.post_json(&format!("/api/v1/dealer/products/{product}/status"), &json!({ "action": "publish" }), d).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("counterfeit brand")), "{body}");
    let listed: Value = app.get("/api/v1/admin/products?moderated=true", a).await.json().await.expect("json");
    assert!(listed["products"].as_array().is_some_and(|l| l.iter().any(|p| p["id"] == product.as_str() && p["moderation_note"] == "counterfeit brand")), "{listed}");

    // restored: a draft the dealer may publish again
    assert_eq!(app.post_json(&format!("/api/v1/admin/products/{product}/restore"), &json!({}), a).await.status(), StatusCode::OK);
    wait_for_notification(&app, &dealer.token, "\u{201c}moderated bowl\u{201d} was restored").await;
    assert_eq!(app.post_json(&format!("/api/v1/dealer/products/{product}/status"), &json!({ "action": "publish" }), d).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/products/{slug}"), None).await.status(), StatusCode::OK);
    assert_eq!(audit(&app, &admin, "listing.unlisted", &product).await.len(), 1);
    assert_eq!(audit(&app, &admin, "listing.restored", &product).await.len(), 1);
});

both!(support_refunds_a_shipped_order_once, |app: TestApp| async move {
    let (dealer, product, slug) = dealer_with_product(&app, "refundable", "40.00", Some(4)).await;
    let customer = app.sign_up(&unique_email("refundee"), "buyer password", "customer").await;
    let c = customer.token.as_str();
    add(&app, c, &product, size_choice(&app, &slug, "Small").await, 1).await;
    let co: Value = checkout(&app, c, None, &address()).await.json().await.expect("json");
    pay(&app, &co, "4242424242424242").await;
    let id = co["orders"][0]["id"].as_str().expect("id").to_owned();
    order_reaches(&app, c, &id, "paid").await;
    let d = Some(dealer.token.as_str());
    assert_eq!(app.post_json(&format!("/api/v1/dealer/orders/{id}/accept"), &json!({}), d).await.status(), StatusCode::OK);
    let ship = json!({ "carrier": "PostNL", "tracking_number": "3SABC123" });
    assert_eq!(app.post_json(&format!("/api/v1/dealer/orders/{id}/ship"), &ship, d).await.status(), StatusCode::OK);

    let admin = app.admin().await;
    let a = Some(admin.token.as_str());
    // the customer cannot cancel a shipped order, and cannot use the admin refund
    assert_eq!(app.post_json(&format!("/api/v1/orders/{id}/cancel"), &json!({}), Some(c)).await.status(), StatusCode::CONFLICT);
    assert_eq!(app.post_json(&format!("/api/v1/admin/orders/{id}/refund"), &json!({ "reason": "x" }), Some(c)).await.status(), StatusCode::NOT_FOUND);
    let (status, body) = error_of(app.post_json(&format!("/api/v1/admin/orders/{id}/refund"), &json!({ "reason": "" }), a).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")));

    let number = co["orders"][0]["number"].as_str().expect("number");
    let found: Value = app.get(&format!("/api/v1/admin/orders?q={}", &number[..number.len().min(8)]), a).await.json().await.expect("json");
    assert!(found["orders"].as_array().is_some_and(|l| l.iter().any(|o| o["id"] == id.as_str())), "{found}");

    let res = app.post_json(&format!("/api/v1/admin/orders/{id}/refund"), &json!({ "reason": "parcel lost in transit" }), a).await;
    assert_eq!(res.status(), StatusCode::OK);
    order_reaches(&app, c, &id, "refunded").await;
    let (status, _) = error_of(app.post_json(&format!("/api/v1/admin/orders/{id}/refund"), &json!({ "reason": "again" }), a).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "refunded once");
    let refunds = scalar(&app, "SELECT COUNT(*) FROM refund WHERE order_id = $1", &id).await;
    assert_eq!(refunds, 1);
    // the dashboard counts the paid order and its value
    let k: Value = app.get("/api/v1/admin/kpis?days=7", a).await.json().await.expect("json");
    assert_eq!((k["orders"].as_i64(), k["series"].as_array().map(Vec::len)), (Some(1), Some(7)), "{k}");
    assert_eq!(k["gmv"], co["orders"][0]["total"]["display"], "{k}");
    assert_eq!(k["series"][6]["orders"], 1, "today is the last day: {k}");
    assert!(k["conversion_pct"].as_f64().is_some_and(|c| (c - 100.0).abs() < 1e-9), "{k}");
    assert!(k["users"].as_i64().is_some_and(|n| n >= 3) && k["dealers"].as_i64() >= Some(1), "{k}");
    let (status, body) = error_of(app.get("/api/v1/admin/kpis?days=12", a).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("days")));
    let e = audit(&app, &admin, "order.refunded", &id).await;
    assert!(e.len() == 1 && e[0]["detail"].as_str().is_some_and(|d| d.contains("parcel lost") && d.contains("shipped")), "{e:?}");
});
