//! GDPR: a person downloads everything held about them, and erases their account — refused while
//! an order is in progress, then every service erases its part (driven by `accounts.UserDeleted`)
//! while the dealer keeps the order, without the personal data.

use std::time::Duration;

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::{
    custom::{png, send_image},
    encryption::all_text,
    helpers::*,
    orders::*,
};

both!(a_person_exports_their_data_and_erases_their_account, |app: TestApp| async move {
    let (dealer, product, slug) = dealer_with_product(&app, "keeper", "30.00", Some(5)).await;
    let email = unique_email("leaver");
    let customer = app.sign_up(&email, "leaver password", "customer").await;
    let other = app.sign_up(&unique_email("stayer"), "stayer password", "customer").await;
    let c = customer.token.as_str();
    let id = customer.user["id"].as_str().expect("id").to_owned();

    // an order, a request with a phone number, a reference image, something in the cart
    add(&app, c, &product, size_choice(&app, &slug, "Small").await, 1).await;
    let co: Value = checkout(&app, c, None, &address()).await.json().await.expect("json");
    pay(&app, &co, "4242424242424242").await;
    let order = co["orders"][0]["id"].as_str().expect("order").to_owned();
    let number = co["orders"][0]["number"].as_str().expect("number").to_owned();
    order_reaches(&app, c, &order, "paid").await;
    let t: Value = app.post_json("/api/v1/threads", &json!({ "product": slug, "text": "Ring me on +44 7700 900123 about a walnut version" }), Some(c)).await.json().await.expect("json");
    let thread = t["id"].as_str().expect("thread").to_owned();
    assert_eq!(send_image(&app, c, &thread, png(64, 64), "ref.png").await.status(), StatusCode::CREATED);
    add(&app, c, &product, size_choice(&app, &slug, "Large").await, 1).await;

    // the export: everything, as an attachment, and nobody else's
    let res = app.get("/api/v1/me/export", Some(c)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("attachment")));
    let data: Value = res.json().await.expect("json");
    assert_eq!(data["account"]["email"], email.as_str());
    assert_eq!(data["orders"][0]["shipping_address"]["line1"], "Calle Mayor 1", "{}", data["orders"]);
    assert!(data["custom_requests"][0]["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["body"].as_str().is_some_and(|b| b.contains("+44 7700 900123")))));
    assert_eq!(data["cart"]["item_count"], 1);
    assert!(data["account"]["sessions"].as_array().is_some_and(|s| !s.is_empty()));
    let theirs: Value = app.get("/api/v1/me/export", Some(&other.token)).await.json().await.expect("json");
    assert!(!theirs.to_string().contains(&email) && !theirs.to_string().contains("Calle Mayor"), "{theirs}");
    assert_eq!(app.get("/api/v1/me/export", None).await.status(), StatusCode::UNAUTHORIZED);

    // not while the order is in progress; never with a wrong password
    let (status, body) = error_of(app.post_json("/api/v1/me/delete", &json!({ "password": "leaver password" }), Some(c)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(&number)), "{body}");
    let d = Some(dealer.token.as_str());
    for (step, body) in [("accept", json!({})), ("ship", json!({ "carrier": "DHL", "tracking_number": "JD01" })), ("deliver", json!({}))] {
        assert_eq!(app.post_json(&format!("/api/v1/dealer/orders/{order}/{step}"), &body, d).await.status(), StatusCode::OK, "{step}");
    }
    order_reaches(&app, c, &order, "delivered").await;
    let (status, body) = error_of(app.post_json("/api/v1/me/delete", &json!({ "password": "not my password" }), Some(c)).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));

    let res = app.post_json("/api/v1/me/delete", &json!({ "password": "leaver password" }), Some(c)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/me", Some(c)).await.status(), StatusCode::UNAUTHORIZED);

    // every service erased its part (asynchronously, through the event backbone)
    let mut erased = false;
    for _ in 0..100 {
        let o: Value = app.get(&format!("/api/v1/orders/{order}"), d).await.json().await.expect("json");
        let th: Value = app.get(&format!("/api/v1/threads/{thread}"), d).await.json().await.expect("json");
        if o["shipping_address"]["name"] == "Deleted customer" && th["request_text"] == "[deleted by its author]" {
            // the dealer keeps the order itself
            assert_eq!(o["status"], "delivered");
            assert_eq!(o["total"]["minor"], co["orders"][0]["total"]["minor"]);
            erased = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(erased, "the order address and the request text were erased");
    let msgs: Value = app.get(&format!("/api/v1/threads/{thread}/messages"), d).await.json().await.expect("json");
    let list = msgs["messages"].as_array().expect("messages");
    assert!(list.iter().all(|m| !m["body"].as_str().unwrap_or("").contains("900123")), "{msgs}");
    assert!(list.iter().all(|m| m["attachment"].is_null()), "reference images are gone: {msgs}");
    let files = walk(&app.data_dir().join("private"));
    assert!(files.is_empty(), "their reference image files are deleted: {files:?}");

    // nothing anywhere still names them: no email, no phone number, nothing in clear
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let leftovers: Vec<_> = all_text(&db).await.into_iter().filter(|(_, _, v)| v.contains(&email) || v.contains("900123")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notification WHERE account_id = $1").bind(&id).fetch_one(db.reader()).await.expect("count");
    assert_eq!(notes, 0);
    let cart: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cart_item WHERE owner = $1").bind(format!("u:{id}")).fetch_one(db.reader()).await.expect("count");
    assert_eq!(cart, 0);
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'user.deleted' AND target = $1").bind(&id).fetch_one(db.reader()).await.expect("count");
    assert_eq!(audited, 1);
    db.close().await;
    // and the account cannot come back
    assert_eq!(app.sign_in(&email, "leaver password").await.status(), StatusCode::UNAUTHORIZED);
    // the email is free for a new account
    app.sign_up(&email, "a new password", "customer").await;
});

both!(an_admin_cannot_erase_itself, |app: TestApp| async move {
    let admin = app.admin().await;
    let (status, body) = error_of(app.post_json("/api/v1/me/delete", &json!({ "password": "admin-password" }), Some(&admin.token)).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    assert_eq!(app.get("/api/v1/me", Some(&admin.token)).await.status(), StatusCode::OK);
});

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
