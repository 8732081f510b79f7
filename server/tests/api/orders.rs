//! Carts, checkout, payments, the order lifecycle, the ledger and reviews — on both databases.
//! Money moves exactly once: concurrency on the last item, one Idempotency-Key under fire,
//! verified webhooks applied once, compensation on failure, and the sandbox provider end to end.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

pub const SANDBOX_SECRET: &str = "whsec_bespoke_sandbox_local";

pub fn address() -> Value {
    json!({ "shipping_address": { "name": "Carmen Díaz", "line1": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "country": "es" } })
}

/// An approved dealer with a store and one published listing; returns (dealer, product id, slug).
pub async fn dealer_with_product(app: &TestApp, tag: &str, price: &str, stock: Option<i64>) -> (Signed, String, String) {
    let dealer = app.approved_dealer(tag).await;
    let t = Some(dealer.token.as_str());
    let res = app.put_json("/api/v1/dealer/store", &json!({ "name": format!("{tag} works"), "location": "Ghent" }), t).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json!({
        "title": format!("{tag} bowl"),
        "category": "/woodwork/utensils",
        "price": price,
        "stock": stock.map(|s| s.to_string()),
        "options": [{ "name": "Size", "kind": "choice", "values": [["Small", ""], ["Large", "10.00"]] }]
    });
    let res = app.post_json("/api/v1/dealer/products", &body, t).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let p: Value = res.json().await.expect("json");
    let id = p["id"].as_str().expect("id").to_owned();
    let res = app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), t).await;
    assert_eq!(res.status(), StatusCode::OK);
    (dealer, id, p["slug"].as_str().expect("slug").to_owned())
}

pub async fn size_choice(app: &TestApp, slug: &str, label: &str) -> Value {
    let p: Value = app.get(&format!("/api/v1/products/{slug}"), None).await.json().await.expect("json");
    let opt = &p["options"][0];
    let v = opt["values"].as_array().expect("values").iter().find(|v| v["label"] == label).expect("value");
    json!([{ "option_id": opt["id"], "value": v["id"] }])
}

pub async fn add(app: &TestApp, token: &str, product: &str, options: Value, quantity: i64) -> reqwest::Response {
    app.post_json("/api/v1/cart/items", &json!({ "product": product, "options": options, "quantity": quantity }), Some(token)).await
}

pub async fn checkout(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = app.client.post(app.url("/api/v1/checkout")).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("request")
}

pub async fn pay(app: &TestApp, checkout: &Value, card: &str) -> reqwest::Response {
    let intent = checkout["payment"]["intent_id"].as_str().expect("intent id");
    let secret = checkout["payment"]["client_secret"].as_str().expect("client secret");
    app.post_json(&format!("/api/v1/sandbox/payment_intents/{intent}/confirm"), &json!({ "client_secret": secret, "card_number": card }), None).await
}

/// Polls an order until it reaches `status`.
pub async fn order_reaches(app: &TestApp, token: &str, order_id: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let v: Value = app.get(&format!("/api/v1/orders/{order_id}"), Some(token)).await.json().await.expect("json");
        if v["status"] == status {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "order {order_id} stuck at {} (waiting for {status})", v["status"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stock_of(app: &TestApp, slug: &str) -> Option<i64> {
    let p: Value = app.get(&format!("/api/v1/products/{slug}"), None).await.json().await.expect("json");
    p["stock"].as_i64()
}

pub async fn scalar(app: &TestApp, sql: &str, arg: &str) -> i64 {
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let n: i64 = sqlx::query_scalar(sql).bind(arg).fetch_one(db.reader()).await.expect(sql);
    db.close().await;
    n
}

fn signed(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", orders::payments::sign(secret, t, body.as_bytes()))
}

async fn post_webhook(app: &TestApp, provider: &str, sig: Option<&str>, body: &str) -> reqwest::Response {
    let mut req = app.client.post(app.url(&format!("/api/v1/payments/webhooks/{provider}"))).header("content-type", "application/json").body(body.to_owned());
    if let Some(s) = sig {
        req = req.header("Stripe-Signature", s);
    }
    req.send().await.expect("request")
}

both!(two_dealers_one_checkout_through_fulfilment_and_reviews, |app: TestApp| async move {
    let (d1, p1, slug1) = dealer_with_product(&app, "alder", "40.00", Some(3)).await;
    let (d2, p2, slug2) = dealer_with_product(&app, "birch", "25.00", None).await;
    let customer = app.sign_up(&unique_email("buyer"), "buyer password", "customer").await;
    let c = customer.token.as_str();

    // a guest cart (cookie), merged at sign-in
    let large = size_choice(&app, &slug1, "Large").await;
    let res = app.client.post(app.url("/api/v1/cart/items")).json(&json!({ "product": slug1, "options": large, "quantity": 2 })).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("guest cart cookie").split(';').next().expect("kv").to_owned();
    let guest: Value = app.client.get(app.url("/api/v1/cart")).header("cookie", &cookie).send().await.expect("req").json().await.expect("json");
    assert_eq!(guest["item_count"], 2);
    let merged: Value = app.client.get(app.url("/api/v1/cart")).header("cookie", &cookie).bearer_auth(c).send().await.expect("req").json().await.expect("json");
    assert_eq!(merged["item_count"], 2, "the guest cart moved into the customer's");
    let small = size_choice(&app, &slug2, "Small").await;
    assert_eq!(add(&app, c, &p2, small, 1).await.status(), StatusCode::CREATED);

    // prices come from the catalogue, recomputed at every read
    let cart: Value = app.get("/api/v1/cart", Some(c)).await.json().await.expect("json");
    assert_eq!(cart["groups"].as_array().map(Vec::len), Some(2), "grouped per dealer");
    assert_eq!(cart["total"]["minor"], 2 * 5000 + 2500);
    assert_eq!(cart["can_check_out"], true);

    let res = checkout(&app, c, Some("two-dealers-1"), &address()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let co: Value = res.json().await.expect("json");
    assert_eq!(co["orders"].as_array().map(Vec::len), Some(2), "one order per dealer");
    assert_eq!(co["total"]["minor"], 12500, "one payment for the whole checkout");
    assert_eq!(co["payment"]["provider"], "sandbox");
    assert_eq!(stock_of(&app, &slug1).await, Some(1), "stock held at checkout");

    assert_eq!(pay(&app, &co, "4242 4242 4242 4242").await.status(), StatusCode::OK);
    let ids: Vec<String> = co["orders"].as_array().expect("orders").iter().map(|o| o["id"].as_str().expect("id").to_owned()).collect();
    let mut by_dealer = std::collections::HashMap::new();
    for id in &ids {
        let o = order_reaches(&app, c, id, "paid").await;
        by_dealer.insert(o["dealer_id"].as_str().expect("dealer").to_owned(), o);
    }
    let o1 = by_dealer[d1.user["id"].as_str().expect("id")].clone();
    let o2 = by_dealer[d2.user["id"].as_str().expect("id")].clone();
    // the commission is a snapshot per line (10 % by default)
    assert_eq!(o1["commission"]["minor"], 1000);
    assert_eq!(o1["lines"][0]["commission"]["minor"], 1000);
    assert_eq!(o1["net"]["minor"], 9000);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM cart_item WHERE owner = $1", &format!("u:{}", customer.user["id"].as_str().expect("id"))).await, 0, "bought items left the cart");

    // each dealer sees its own order, is notified, and has a pending balance
    let t1 = Some(d1.token.as_str());
    let q: Value = app.get("/api/v1/dealer/orders", t1).await.json().await.expect("json");
    assert_eq!(q["orders"].as_array().map(Vec::len), Some(1));
    let start = Instant::now();
    loop {
        let n: Value = app.get("/api/v1/me/notifications", t1).await.json().await.expect("json");
        if n["notifications"].as_array().is_some_and(|l| l.iter().any(|x| x["title"].as_str().is_some_and(|t| t.starts_with("New order")))) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "dealer not notified of the order: {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b: Value = app.get("/api/v1/dealer/balance", t1).await.json().await.expect("json");
    assert_eq!((b["pending"]["minor"].as_i64(), b["available"]["minor"].as_i64()), (Some(9000), Some(0)));

    // fulfilment: accept → ship (with tracking) → delivered
    let id1 = o1["id"].as_str().expect("id");
    let (status, body) = error_of(app.post_json(&format!("/api/v1/dealer/orders/{id1}/ship"), &json!({ "carrier": "DHL", "tracking_number": "" }), t1).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("tracking_number")));
    assert_eq!(app.post_json(&format!("/api/v1/dealer/orders/{id1}/accept"), &json!({}), t1).await.status(), StatusCode::OK);
    let (status, _) = error_of(app.post_json(&format!("/api/v1/dealer/orders/{id1}/accept"), &json!({}), t1).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "a repeated move is refused");
    // another dealer cannot touch it
    let (status, _) = error_of(app.post_json(&format!("/api/v1/dealer/orders/{id1}/deliver"), &json!({}), Some(&d2.token)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app.post_json(&format!("/api/v1/dealer/orders/{id1}/ship"), &json!({ "carrier": "DHL", "tracking_number": "JD0146" }), t1).await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen = order_reaches(&app, c, id1, "shipped").await;
    assert_eq!((seen["carrier"].as_str(), seen["tracking_number"].as_str()), (Some("DHL"), Some("JD0146")));
    // a review before delivery is refused
    let line1 = seen["lines"][0]["id"].as_str().expect("line").to_owned();
    let (status, _) = error_of(app.put_json(&format!("/api/v1/orders/{id1}/lines/{line1}/review"), &json!({ "product_rating": 5, "dealer_rating": 5 }), Some(c)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.post_json(&format!("/api/v1/dealer/orders/{id1}/deliver"), &json!({}), t1).await.status(), StatusCode::OK);
    let delivered = order_reaches(&app, c, id1, "delivered").await;
    let statuses: Vec<&str> = delivered["timeline"].as_array().expect("timeline").iter().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(statuses, vec!["placed", "paid", "accepted", "shipped", "delivered"]);

    // reviews: once per line, editable; averages reach the product and the search index
    let (status, body) = error_of(app.put_json(&format!("/api/v1/orders/{id1}/lines/{line1}/review"), &json!({ "product_rating": 6, "dealer_rating": 5 }), Some(c)).await).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("product_rating")));
    let res = app.put_json(&format!("/api/v1/orders/{id1}/lines/{line1}/review"), &json!({ "product_rating": 4, "dealer_rating": 5, "body": "Lovely grain." }), Some(c)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.put_json(&format!("/api/v1/orders/{id1}/lines/{line1}/review"), &json!({ "product_rating": 2, "dealer_rating": 3, "body": "Cracked after a week." }), Some(c)).await;
    assert_eq!(res.status(), StatusCode::OK, "an edit within the window");
    let start = Instant::now();
    loop {
        let r: Value = app.get(&format!("/api/v1/products/{slug1}/reviews"), None).await.json().await.expect("json");
        if r["rating_avg"].as_f64() == Some(2.0) {
            assert_eq!(r["rating_count"], 1, "an edit does not count twice");
            assert_eq!(r["reviews"][0]["body"], "Cracked after a week.");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "rating not applied: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = Instant::now();
    loop {
        let s: Value = app.get("/api/v1/search?q=alder&min_rating=2", None).await.json().await.expect("json");
        if s["hits"].as_array().is_some_and(|h| h.iter().any(|x| x["slug"] == slug1.as_str())) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "rating filter does not see the review: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // the second dealer declines: refunded, restocked (made to order: nothing to give back), ledger reversed
    let id2 = o2["id"].as_str().expect("id");
    let t2 = Some(d2.token.as_str());
    assert_eq!(app.post_json(&format!("/api/v1/dealer/orders/{id2}/decline"), &json!({ "reason": "Out of birch" }), t2).await.status(), StatusCode::OK);
    order_reaches(&app, c, id2, "refunded").await;
    let b2: Value = app.get("/api/v1/dealer/balance", t2).await.json().await.expect("json");
    assert_eq!((b2["pending"]["minor"].as_i64(), b2["entries"][0]["state"].as_str()), (Some(0), Some("reversed")));
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM sandbox_refund WHERE amount_minor = CAST($1 AS BIGINT)", "2500").await, 1, "refunded once, in full");
    let _ = p1;
});

both!(a_customer_cancels_before_shipping_and_the_stock_comes_back, |app: TestApp| async move {
    let (_d, p, slug) = dealer_with_product(&app, "cedar", "30.00", Some(5)).await;
    let customer = app.sign_up(&unique_email("canceller"), "buyer password", "customer").await;
    let c = customer.token.as_str();
    add(&app, c, &p, size_choice(&app, &slug, "Small").await, 2).await;
    let co: Value = checkout(&app, c, None, &address()).await.json().await.expect("json");
    assert_eq!(stock_of(&app, &slug).await, Some(3));
    pay(&app, &co, "4242424242424242").await;
    let id = co["orders"][0]["id"].as_str().expect("id");
    order_reaches(&app, c, id, "paid").await;
    assert_eq!(app.post_json(&format!("/api/v1/orders/{id}/cancel"), &json!({}), Some(c)).await.status(), StatusCode::OK);
    order_reaches(&app, c, id, "refunded").await;
    assert_eq!(stock_of(&app, &slug).await, Some(5), "cancelled before shipping: stock released");
    let (status, _) = error_of(app.post_json(&format!("/api/v1/orders/{id}/cancel"), &json!({}), Some(c)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
});

both!(the_last_item_sells_once_under_100_concurrent_checkouts, |app: TestApp| async move {
    let (_d, p, slug) = dealer_with_product(&app, "last", "99.00", Some(1)).await;
    let small = size_choice(&app, &slug, "Small").await;
    // 20 customers, each firing 5 checkouts at once: 100 concurrent attempts at one item
    let customers = join_all((0..20).map(|i| {
        let app = &app;
        async move { app.sign_up(&unique_email(&format!("rush{i}")), "rush password", "customer").await }
    }))
    .await;
    for cu in &customers {
        assert_eq!(add(&app, &cu.token, &p, small.clone(), 1).await.status(), StatusCode::CREATED);
    }
    let started = Instant::now();
    let results = join_all(customers.iter().flat_map(|cu| (0..5).map(move |_| cu)).map(|cu| {
        let app = &app;
        async move {
            let res = checkout(app, &cu.token, None, &address()).await;
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    }))
    .await;
    eprintln!("100 concurrent checkouts answered in {:?}", started.elapsed());
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let sold_out: Vec<&Value> = results.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).map(|(_, v)| v).collect();
    assert_eq!(ok, 1, "exactly one order: {:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    assert_eq!(sold_out.len(), 99);
    assert!(sold_out.iter().all(|v| v["error"]["code"] == "out_of_stock" && v["error"]["message"].as_str().is_some_and(|m| m.contains("left in stock"))));
    assert_eq!(stock_of(&app, &slug).await, Some(0), "never below zero");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM customer_order WHERE order_id IN (SELECT order_id FROM order_line WHERE product_id = $1)", &p).await, 1);
});

both!(one_idempotency_key_under_50_concurrent_requests, |app: TestApp| async move {
    let (_d, p, slug) = dealer_with_product(&app, "idem", "10.00", Some(100)).await;
    let cu = app.sign_up(&unique_email("idem"), "idem password", "customer").await;
    add(&app, &cu.token, &p, size_choice(&app, &slug, "Small").await, 1).await;
    let results = join_all((0..50).map(|_| {
        let app = &app;
        let t = cu.token.clone();
        async move {
            let res = checkout(app, &t, Some("key-0001"), &address()).await;
            (res.status(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    }))
    .await;
    let ids: std::collections::HashSet<String> = results.iter().filter_map(|(s, v)| (*s == StatusCode::CREATED).then(|| v["id"].as_str().unwrap_or("").to_owned())).collect();
    assert_eq!(results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count(), 50, "every repeat gets the first answer: {:?}", results.iter().map(|r| &r.1).collect::<Vec<_>>());
    assert_eq!(ids.len(), 1, "one checkout");
    let uid = cu.user["id"].as_str().expect("id");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM checkout WHERE customer_id = $1", uid).await, 1);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM payment WHERE checkout_id IN (SELECT checkout_id FROM checkout WHERE customer_id = $1)", uid).await, 1);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM sandbox_intent WHERE checkout_id IN (SELECT checkout_id FROM checkout WHERE customer_id = $1)", uid).await, 1);
    assert_eq!(stock_of(&app, &slug).await, Some(99), "stock held once");
    // the same key with another body is refused, clearly
    let mut other = address();
    other["shipping_address"]["city"] = json!("Sevilla");
    let (status, body) = error_of(checkout(&app, &cu.token, Some("key-0001"), &other).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_key_reused")));
    // payment confirmation takes a key too: a repeat replays, no second charge attempt
    let co: Value = results[0].1.clone();
    let intent = co["payment"]["intent_id"].as_str().expect("intent");
    let secret = co["payment"]["client_secret"].as_str().expect("secret");
    let body = json!({ "client_secret": secret, "card_number": "4242424242424242" });
    let send = || app.client.post(app.url(&format!("/api/v1/sandbox/payment_intents/{intent}/confirm"))).header("Idempotency-Key", "pay-1").json(&body).send();
    let (a, b) = (send().await.expect("req"), send().await.expect("req"));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    order_reaches(&app, &cu.token, co["orders"][0]["id"].as_str().expect("id"), "paid").await;
});

both!(webhooks_are_verified_and_applied_once, |app: TestApp| async move {
    let (_d, p, slug) = dealer_with_product(&app, "hook", "12.00", Some(10)).await;
    let cu = app.sign_up(&unique_email("hook"), "hook password", "customer").await;
    add(&app, &cu.token, &p, size_choice(&app, &slug, "Small").await, 1).await;
    let co: Value = checkout(&app, &cu.token, None, &address()).await.json().await.expect("json");
    let intent = co["payment"]["intent_id"].as_str().expect("intent");
    let now = kernel::Timestamp::now().unix_seconds();
    let body = json!({ "id": "evt_test_1", "type": "payment_intent.succeeded", "data": { "object": { "id": intent, "object": "payment_intent", "status": "succeeded" } } }).to_string();

    let tampered = body.replace("succeeded\"}", "succeeded\" }");
    let cases = [
        ("tampered body", signed(SANDBOX_SECRET, now, &body), tampered.clone()),
        ("wrong secret", signed("whsec_someone_else_entirely", now, &body), body.clone()),
        ("stale timestamp", signed(SANDBOX_SECRET, now - 301, &body), body.clone()),
        ("malformed header", "v1=abc".to_owned(), body.clone()),
    ];
    for (what, sig, b) in &cases {
        let (status, e) = error_of(post_webhook(&app, "sandbox", Some(sig), b).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(e["error"]["code"], "invalid_webhook", "{what}");
    }
    let (status, _) = error_of(post_webhook(&app, "sandbox", None, &body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no signature");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM webhook_event WHERE event_id = $1", "evt_test_1").await, 0, "nothing refused was recorded");

    // either of two v1 values (a secret rotation) is accepted; the replay is acknowledged and ignored
    let two = format!("t={now},v1={},v1={}", orders::payments::sign("whsec_old_secret_rotated", now, body.as_bytes()), orders::payments::sign(SANDBOX_SECRET, now, body.as_bytes()));
    let r1: Value = post_webhook(&app, "sandbox", Some(&two), &body).await.json().await.expect("json");
    assert_eq!(r1["outcome"], "applied");
    let r2: Value = post_webhook(&app, "sandbox", Some(&signed(SANDBOX_SECRET, now, &body)), &body).await.json().await.expect("json");
    assert_eq!(r2["outcome"], "duplicate");
    let id = co["orders"][0]["id"].as_str().expect("id");
    order_reaches(&app, &cu.token, id, "paid").await;
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox_event WHERE event_type = 'orders.OrderPaid' AND aggregate_id = $1", id).await, 1);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM ledger_entry WHERE order_id = $1", id).await, 1);
    // another provider's path is refused
    let (status, _) = error_of(post_webhook(&app, "stripe", Some(&signed(SANDBOX_SECRET, now, &body)), &body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
});

both!(a_failed_payment_releases_the_stock, |app: TestApp| async move {
    let (_d, p, slug) = dealer_with_product(&app, "decl", "15.00", Some(2)).await;
    let cu = app.sign_up(&unique_email("decl"), "decl password", "customer").await;
    add(&app, &cu.token, &p, size_choice(&app, &slug, "Small").await, 2).await;
    let co: Value = checkout(&app, &cu.token, None, &address()).await.json().await.expect("json");
    assert_eq!(stock_of(&app, &slug).await, Some(0));
    // a card that is not a test card is refused by the sandbox with a clear message
    let (status, e) = error_of(pay(&app, &co, "4111111111111111").await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("card_number")));
    let r: Value = pay(&app, &co, "4000000000000002").await.json().await.expect("json");
    assert_eq!(r["status"], "requires_payment_method");
    let id = co["orders"][0]["id"].as_str().expect("id");
    order_reaches(&app, &cu.token, id, "cancelled").await;
    assert_eq!(stock_of(&app, &slug).await, Some(2), "stock released");
    let v: Value = app.get(&format!("/api/v1/checkouts/{}", co["id"].as_str().expect("id")), Some(&cu.token)).await.json().await.expect("json");
    assert_eq!((v["status"].as_str(), v["payment"]["status"].as_str()), (Some("failed"), Some("failed")));
    assert_eq!(v["payment"]["failure_reason"], "Your card was declined.");
    // the cart still holds the items, so the customer can try again
    let cart: Value = app.get("/api/v1/cart", Some(&cu.token)).await.json().await.expect("json");
    assert_eq!(cart["item_count"], 2);

    // "requires action" then a failed authentication also releases; an approved one pays
    let co2: Value = checkout(&app, &cu.token, None, &address()).await.json().await.expect("json");
    let r: Value = pay(&app, &co2, "4000002500003155").await.json().await.expect("json");
    assert_eq!(r["status"], "requires_action");
    let intent = co2["payment"]["intent_id"].as_str().expect("intent");
    let secret = co2["payment"]["client_secret"].as_str().expect("secret");
    let res = app.post_json(&format!("/api/v1/sandbox/payment_intents/{intent}/authenticate"), &json!({ "client_secret": secret, "outcome": "approve" }), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    order_reaches(&app, &cu.token, co2["orders"][0]["id"].as_str().expect("id"), "paid").await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_reservation_expires() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres && pg_admin_url().is_none() {
            continue;
        }
        let app = spawn_app_with(backend, |s| s.reservation_ttl = Duration::from_secs(2)).await;
        let (_d, p, slug) = dealer_with_product(&app, "expiry", "15.00", Some(1)).await;
        let cu = app.sign_up(&unique_email("expiry"), "expiry password", "customer").await;
        add(&app, &cu.token, &p, size_choice(&app, &slug, "Small").await, 1).await;
        let co: Value = checkout(&app, &cu.token, None, &address()).await.json().await.expect("json");
        assert_eq!(stock_of(&app, &slug).await, Some(0));
        let id = co["orders"][0]["id"].as_str().expect("id");
        let o = order_reaches(&app, &cu.token, id, "cancelled").await;
        assert!(o["timeline"].to_string().contains("not completed in time"), "{o}");
        assert_eq!(stock_of(&app, &slug).await, Some(1), "{backend:?}: the expired reservation gave the stock back");
        if let Some(name) = app.pg_name.clone() {
            drop_pg_database(&name).await;
        }
    }
}

both!(bad_input_gets_clear_errors, |app: TestApp| async move {
    let (d, p, slug) = dealer_with_product(&app, "bad", "15.00", Some(2)).await;
    let cu = app.sign_up(&unique_email("bad"), "bad password", "customer").await;
    let c = cu.token.as_str();
    let (status, e) = error_of(checkout(&app, c, None, &address()).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cart")), "empty cart");
    for (q, field) in [(0, "quantity"), (100, "quantity")] {
        let (status, e) = error_of(add(&app, c, &p, size_choice(&app, &slug, "Small").await, q).await).await;
        assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)));
    }
    let (status, e) = error_of(add(&app, c, "no-such-thing", json!([]), 1).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("product")));
    let (status, e) = error_of(add(&app, c, &p, json!([]), 1).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("options[0]")), "a required option");
    let (status, e) = error_of(add(&app, c, &p, size_choice(&app, &slug, "Small").await, 3).await).await;
    assert_eq!((status, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("out_of_stock")));
    let (status, e) = error_of(add(&app, &d.token, &p, size_choice(&app, &slug, "Small").await, 1).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("product")), "own store");
    add(&app, c, &p, size_choice(&app, &slug, "Small").await, 1).await;
    let mut a = address();
    a["shipping_address"]["country"] = json!("Spain");
    let (status, e) = error_of(checkout(&app, c, None, &a).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("shipping_address.country")));
    let mut a = address();
    a["shipping_address"]["line1"] = json!("   ");
    let (status, e) = error_of(checkout(&app, c, None, &a).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("shipping_address.line1")));
    let (status, _) = error_of(checkout(&app, c, None, &json!({ "shipping_address": {}, "price": 1 })).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields (a client never sets a price)");
    let res = app.client.post(app.url("/api/v1/checkout")).bearer_auth(c).header("content-type", "application/json").body("{not json").send().await.expect("req");
    assert_eq!(error_of(res).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = error_of(checkout(&app, c, Some(&"k".repeat(300)), &address()).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an over-long Idempotency-Key");
    let (status, _) = error_of(app.get("/api/v1/orders/nope", Some(c)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(app.post_json("/api/v1/dealer/orders/x/teleport", &json!({}), Some(&d.token)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(app.get("/api/v1/dealer/orders", Some(c)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "customers have no order queue");
    let (status, e) = error_of(app.get("/api/v1/dealer/orders?status=lost", Some(&d.token)).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
    let res = post_webhook(&app, "sandbox", Some("t=1,v1=00"), "garbage").await;
    assert_eq!(error_of(res).await.0, StatusCode::BAD_REQUEST);
});

/// The Stripe provider, checked against a local stand-in for Stripe's API: what we send (paths,
/// Idempotency-Key, amounts, metadata), and a Stripe-signed webhook completing the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stripe_provider_sends_what_stripe_expects() {
    use wiremock::{
        matchers::{body_string_contains, header, header_exists, method, path},
        Mock, MockServer, ResponseTemplate,
    };
    let stripe = MockServer::start().await;
    let intent = json!({
        "id": "pi_3Test", "object": "payment_intent", "amount": 4000, "amount_capturable": 0, "amount_received": 0,
        "capture_method": "automatic", "confirmation_method": "automatic", "created": 1_700_000_000, "currency": "eur",
        "livemode": false, "metadata": {}, "payment_method_types": ["card"], "status": "requires_payment_method",
        "client_secret": "pi_3Test_secret_abc"
    });
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header("authorization", "Bearer sk_test_standin"))
        .and(header_exists("idempotency-key"))
        .and(body_string_contains("amount=4000"))
        .and(body_string_contains("currency=eur"))
        .and(body_string_contains("automatic_payment_methods[enabled]=true"))
        .and(body_string_contains("metadata[checkout_id]="))
        .respond_with(ResponseTemplate::new(200).set_body_json(&intent))
        // the request and the saga may both create it (racing right after the commit): with one key,
        // which Stripe answers with the same intent
        .expect(1..=2)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(body_string_contains("payment_intent=pi_3Test"))
        .and(body_string_contains("amount=4000"))
        .and(header_exists("idempotency-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "re_1", "object": "refund", "amount": 4000, "created": 1_700_000_001, "currency": "eur", "status": "succeeded", "payment_intent": "pi_3Test" })))
        .expect(1)
        .mount(&stripe)
        .await;
    let base = stripe.uri();
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.payments.provider = server::config::PaymentsProvider::Stripe;
        s.payments.stripe_secret_key = Some(server::config::SecretString::new("sk_test_standin"));
        s.payments.stripe_publishable_key = Some("pk_test_standin".into());
        s.payments.stripe_webhook_secrets = vec![server::config::SecretString::new("whsec_stripe_1"), server::config::SecretString::new("whsec_stripe_2")];
        s.payments.stripe_api_base = Some(base);
    })
    .await;
    let cfg: Value = app.get("/api/v1/payments/config", None).await.json().await.expect("json");
    assert_eq!((cfg["provider"].as_str(), cfg["publishable_key"].as_str()), (Some("stripe"), Some("pk_test_standin")));
    let (d, p, slug) = dealer_with_product(&app, "stripe", "40.00", Some(4)).await;
    let cu = app.sign_up(&unique_email("stripe"), "stripe password", "customer").await;
    add(&app, &cu.token, &p, size_choice(&app, &slug, "Small").await, 1).await;
    let co: Value = checkout(&app, &cu.token, Some("stripe-co-1"), &address()).await.json().await.expect("json");
    assert_eq!((co["payment"]["intent_id"].as_str(), co["payment"]["client_secret"].as_str()), (Some("pi_3Test"), Some("pi_3Test_secret_abc")));
    let requests = stripe.received_requests().await.expect("recorded");
    let creates: Vec<_> = requests.iter().filter(|r| r.url.path() == "/v1/payment_intents").collect();
    let create = creates.first().expect("create sent");
    for c in &creates {
        let key = c.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).expect("key");
        assert_eq!(key, format!("bespoke-checkout-{}", co["id"].as_str().expect("id")), "every create carries the checkout's key");
    }
    assert!(String::from_utf8_lossy(&create.body).contains(&format!("metadata[checkout_id]={}", co["id"].as_str().expect("id"))));

    // Stripe's webhook, signed with the second of two endpoint secrets
    let now = kernel::Timestamp::now().unix_seconds();
    let body = json!({ "id": "evt_1Stripe", "object": "event", "type": "payment_intent.succeeded", "data": { "object": { "id": "pi_3Test", "object": "payment_intent", "status": "succeeded" } } }).to_string();
    let res = post_webhook(&app, "stripe", Some(&signed("whsec_stripe_2", now, &body)), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = co["orders"][0]["id"].as_str().expect("id");
    order_reaches(&app, &cu.token, id, "paid").await;
    // a decline refunds through Stripe with our key
    app.post_json(&format!("/api/v1/dealer/orders/{id}/decline"), &json!({}), Some(&d.token)).await;
    order_reaches(&app, &cu.token, id, "refunded").await;
    let requests = stripe.received_requests().await.expect("recorded");
    let refund = requests.iter().find(|r| r.url.path() == "/v1/refunds").expect("refund sent");
    assert_eq!(refund.headers.get("idempotency-key").and_then(|v| v.to_str().ok()), Some(format!("bespoke-refund-{id}").as_str()));
    stripe.verify().await;
}
