//! Customization threads on both databases: request → messages → quote → accept → order at the
//! quoted price; strangers and forged ids are refused on HTTP and on the WebSocket; a reconnect gets
//! exactly what it missed; expired quotes cannot be accepted; and (PostgreSQL) two instances relay
//! each other's messages.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};

use crate::{helpers::*, orders::*};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(app: &TestApp, token: &str, thread: &str, after: i64) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/api/v1/threads/{thread}/ws?after={after}", app.base.replace("http://", "ws://"));
    let mut req = url.into_client_request()?;
    req.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));
    tokio_tungstenite::connect_async(req).await.map(|(s, _)| s)
}

/// The next frame of `type` (skipping others), within a few seconds.
async fn next_of(s: &mut Ws, kind: &str) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let frame = tokio::time::timeout_at(deadline, s.next()).await.ok()??.ok()?;
        if let Message::Text(t) = frame {
            let v: Value = serde_json::from_str(&t).ok()?;
            if v["type"] == kind {
                return Some(v);
            }
        }
    }
}

/// Every message frame that arrives within `quiet` of the previous one.
async fn drain_messages(s: &mut Ws, quiet: Duration) -> Vec<i64> {
    let mut seqs = Vec::new();
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(quiet, s.next()).await {
        if let Message::Text(t) = frame {
            let v: Value = serde_json::from_str(&t).unwrap_or_default();
            if v["type"] == "message" {
                seqs.push(v["message"]["seq"].as_i64().unwrap_or(-1));
            }
        }
    }
    seqs
}

async fn open_request(app: &TestApp, customer: &Signed, slug: &str) -> String {
    let res = app
        .post_json("/api/v1/threads", &json!({ "product": slug, "text": "Could you make it in walnut, 40 cm?", "budget": "150", "deadline": "2027-03-31" }), Some(&customer.token))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let t: Value = res.json().await.expect("json");
    assert_eq!(t["status"], "new");
    t["id"].as_str().expect("id").to_owned()
}

both!(request_chat_quote_accept_and_pay_at_the_quoted_price, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "custom", "80.00", None).await;
    let customer = app.sign_up(&unique_email("commission"), "custom password", "customer").await;
    let thread = open_request(&app, &customer, &slug).await;

    // both connect; a message from one arrives at the other live
    let mut cws = ws(&app, &customer.token, &thread, 0).await.expect("customer socket");
    let first = next_of(&mut cws, "message").await.expect("the request is message 1");
    assert_eq!((first["message"]["seq"].as_i64(), first["message"]["kind"].as_str()), (Some(1), Some("request")));
    let mut dws = ws(&app, &dealer.token, &thread, 1).await.expect("dealer socket");
    dws.send(Message::Text(r#"{"type":"typing"}"#.into())).await.expect("send");
    assert!(next_of(&mut cws, "typing").await.is_some(), "typing indicator");
    dws.send(Message::Text(r#"{"type":"message","body":"Yes — walnut, oiled. <b>bold</b> stays text."}"#.into())).await.expect("send");
    let got = next_of(&mut cws, "message").await.expect("live message");
    assert_eq!(got["message"]["seq"], 2);
    assert_eq!(got["message"]["body"], "Yes — walnut, oiled. <b>bold</b> stays text.");
    cws.send(Message::Text(r#"{"type":"read","seq":2}"#.into())).await.expect("send");
    // the first read frames are the positions at connection time; the receipt for message 2 follows
    let mut seen = None;
    for _ in 0..4 {
        let r = next_of(&mut dws, "read").await.expect("read receipt");
        if r["seq"] == 2 && r["user_id"] == customer.user["id"] {
            seen = Some(r);
            break;
        }
    }
    assert!(seen.is_some(), "the dealer sees that the customer read message 2");
    // bad frames get a clear error, not a dropped connection
    cws.send(Message::Text("nonsense".into())).await.expect("send");
    assert_eq!(next_of(&mut cws, "error").await.map(|e| e["code"].clone()), Some(json!("bad_frame")));

    // the dealer quotes; the customer sees it live
    let res = app.post_json(&format!("/api/v1/threads/{thread}/quotes"), &json!({ "price": "0", "lead_time_days": 10, "spec": "x" }), Some(&dealer.token)).await;
    assert_eq!(error_of(res).await.1["error"]["field"], "price");
    let res = app.post_json(&format!("/api/v1/threads/{thread}/quotes"), &json!({ "price": "135.00", "lead_time_days": 10, "spec": "Walnut bowl, 40 cm, oiled" }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "only the dealer quotes");
    let res = app.post_json(&format!("/api/v1/threads/{thread}/quotes"), &json!({ "price": "135.00", "lead_time_days": 10, "spec": "Walnut bowl, 40 cm, oiled" }), Some(&dealer.token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let q = next_of(&mut cws, "message").await.expect("quote pushed");
    assert_eq!(q["message"]["kind"], "quote");
    let quote_id = q["message"]["quote"]["id"].as_str().expect("quote id").to_owned();
    let inbox: Value = app.get("/api/v1/threads?status=quoted", Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(inbox["threads"].as_array().map(Vec::len), Some(1));

    // accepting ignores any price the client sends: the cart line is the quote's
    let res = app.post_json(&format!("/api/v1/quotes/{quote_id}/accept"), &json!({ "price": "1.00", "price_minor": 100 }), Some(&dealer.token)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "the dealer cannot accept its own quote");
    let res = app.post_json(&format!("/api/v1/quotes/{quote_id}/accept"), &json!({ "price": "1.00", "price_minor": 100 }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = error_of(app.post_json(&format!("/api/v1/quotes/{quote_id}/accept"), &json!({}), Some(&customer.token)).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "accepted once");
    let cart: Value = app.get("/api/v1/cart", Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(cart["total"]["minor"], 13500, "{cart}");
    let line = &cart["groups"][0]["lines"][0];
    assert!(line["options_label"].as_str().is_some_and(|l| l.contains("Walnut bowl, 40 cm")), "{line}");
    let res = app.put_json(&format!("/api/v1/cart/items/{}", line["id"].as_str().expect("id")), &json!({ "quantity": 3 }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "a quoted line's quantity is fixed");

    // through the normal checkout and payment
    let co: Value = app.client.post(app.url("/api/v1/checkout")).bearer_auth(&customer.token).json(&address()).send().await.expect("req").json().await.expect("json");
    assert_eq!(co["total"]["minor"], 13500);
    pay(&app, &co, "4242424242424242").await;
    let order = order_reaches(&app, &customer.token, co["orders"][0]["id"].as_str().expect("id"), "paid").await;
    assert_eq!(order["lines"][0]["unit_price"]["minor"], 13500);
    assert_eq!(order["lines"][0]["thread_id"], thread.as_str(), "the order links back to the thread");
    assert!(order["lines"][0]["options_label"].as_str().is_some_and(|l| l.contains("Walnut bowl")), "the agreed specification is on the order");
    assert_eq!(order["has_custom"], true);
    let types: Vec<String> = {
        let db = kernel::Db::connect(&app.database_url).await.expect("db");
        let v = sqlx::query_scalar("SELECT event_type FROM outbox_event WHERE aggregate_id = $1 ORDER BY created_at").bind(&thread).fetch_all(db.reader()).await.expect("events");
        db.close().await;
        v
    };
    for t in ["customization.CustomizationRequested", "customization.MessagePosted", "customization.QuoteOffered", "customization.QuoteAccepted"] {
        assert!(types.iter().any(|x| x == t), "{t} missing from {types:?}");
    }
});

both!(strangers_and_forged_ids_can_neither_read_nor_post, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "private", "80.00", None).await;
    let customer = app.sign_up(&unique_email("owner"), "custom password", "customer").await;
    let stranger = app.sign_up(&unique_email("stranger"), "custom password", "customer").await;
    let thread = open_request(&app, &customer, &slug).await;
    let forged = uuid::Uuid::now_v7().to_string();
    for id in [thread.as_str(), forged.as_str()] {
        let t = Some(stranger.token.as_str());
        assert_eq!(app.get(&format!("/api/v1/threads/{id}"), t).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/api/v1/threads/{id}/messages"), t).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.post_json(&format!("/api/v1/threads/{id}/messages"), &json!({ "body": "hi" }), t).await.status(), StatusCode::NOT_FOUND);
        let err = ws(&app, &stranger.token, id, 0).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("404"), "the socket is refused before the upgrade: {err}");
    }
    assert!(ws(&app, "not-a-token", &thread, 0).await.is_err(), "no session, no socket");
    let v: Value = app.get(&format!("/api/v1/threads/{thread}"), Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(v["viewer_is_dealer"], true);
    // an admin may read (audited) but not write
    let admin = app.admin().await;
    assert_eq!(app.get(&format!("/api/v1/threads/{thread}/messages"), Some(&admin.token)).await.status(), StatusCode::OK);
    assert_eq!(app.post_json(&format!("/api/v1/threads/{thread}/messages"), &json!({ "body": "hi" }), Some(&admin.token)).await.status(), StatusCode::FORBIDDEN);
    // limits: message size, control characters, empty
    let long = "x".repeat(customization::MAX_MESSAGE_CHARS + 1);
    for body in [long.as_str(), "", "bell\u{7}"] {
        let (status, e) = error_of(app.post_json(&format!("/api/v1/threads/{thread}/messages"), &json!({ "body": body }), Some(&customer.token)).await).await;
        assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("body")));
    }
});

both!(a_reconnect_gets_exactly_the_missed_messages, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "resume", "80.00", None).await;
    let customer = app.sign_up(&unique_email("resume"), "custom password", "customer").await;
    let thread = open_request(&app, &customer, &slug).await;
    let mut a = ws(&app, &customer.token, &thread, 0).await.expect("socket");
    assert_eq!(drain_messages(&mut a, Duration::from_millis(300)).await, vec![1]);
    // a second tab of the same person stays in sync
    let mut tab2 = ws(&app, &customer.token, &thread, 1).await.expect("socket");
    drop(a);
    for i in 0..3 {
        let res = app.post_json(&format!("/api/v1/threads/{thread}/messages"), &json!({ "body": format!("while you were away {i}") }), Some(&dealer.token)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    assert_eq!(drain_messages(&mut tab2, Duration::from_millis(500)).await, vec![2, 3, 4], "the open tab saw them live");
    let mut back = ws(&app, &customer.token, &thread, 1).await.expect("socket");
    assert_eq!(drain_messages(&mut back, Duration::from_millis(500)).await, vec![2, 3, 4], "exactly the missed ones, once");
    back.send(Message::Text(r#"{"type":"message","body":"back again"}"#.into())).await.expect("send");
    assert_eq!(drain_messages(&mut back, Duration::from_millis(500)).await, vec![5]);
    // history pages backwards
    let page: Value = app.get(&format!("/api/v1/threads/{thread}/messages?before=4"), Some(&customer.token)).await.json().await.expect("json");
    let seqs: Vec<i64> = page["messages"].as_array().expect("list").iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
});

both!(an_expired_quote_cannot_be_accepted, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "expire", "80.00", None).await;
    let customer = app.sign_up(&unique_email("late"), "custom password", "customer").await;
    let thread = open_request(&app, &customer, &slug).await;
    let res = app.post_json(&format!("/api/v1/threads/{thread}/quotes"), &json!({ "price": "99.00", "lead_time_days": 5, "spec": "As asked", "valid_days": 1 }), Some(&dealer.token)).await;
    let m: Value = res.json().await.expect("json");
    let quote_id = m["quote"]["id"].as_str().expect("quote").to_owned();
    // time passes: the quote's validity ends
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    sqlx::query("UPDATE custom_quote SET expires_at = $1 WHERE quote_id = $2").bind(kernel::Timestamp::now().0 - 1).bind(&quote_id).execute(db.writer()).await.expect("update");
    db.close().await;
    let (status, e) = error_of(app.post_json(&format!("/api/v1/quotes/{quote_id}/accept"), &json!({}), Some(&customer.token)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("expired")), "{e}");
    let t: Value = app.get(&format!("/api/v1/threads/{thread}"), Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(t["status"], "expired");
    let cart: Value = app.get("/api/v1/cart", Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(cart["item_count"], 0, "nothing reached the cart");
});

both!(a_dealer_declines_a_request, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "declines", "80.00", None).await;
    let customer = app.sign_up(&unique_email("declined"), "custom password", "customer").await;
    let thread = open_request(&app, &customer, &slug).await;
    let res = app.post_json(&format!("/api/v1/threads/{thread}/quotes"), &json!({ "price": "99.00", "lead_time_days": 5, "spec": "As asked" }), Some(&dealer.token)).await;
    let quote_id = res.json::<Value>().await.expect("json")["quote"]["id"].as_str().expect("quote").to_owned();
    assert_eq!(app.post_json(&format!("/api/v1/threads/{thread}/decline"), &json!({}), Some(&customer.token)).await.status(), StatusCode::FORBIDDEN);
    let res = app.post_json(&format!("/api/v1/threads/{thread}/decline"), &json!({ "reason": "Fully booked until June" }), Some(&dealer.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = app.get(&format!("/api/v1/threads/{thread}"), Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(t["status"], "declined");
    let (status, _) = error_of(app.post_json(&format!("/api/v1/quotes/{quote_id}/accept"), &json!({}), Some(&customer.token)).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "the open quote lapsed with the request");
    let (status, _) = error_of(app.post_json(&format!("/api/v1/threads/{thread}/decline"), &json!({}), Some(&dealer.token)).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "declined once");
    let inbox: Value = app.get("/api/v1/threads?status=declined", Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(inbox["threads"].as_array().map(Vec::len), Some(1));
});

/// Two instances on one PostgreSQL database: the customer on A, the dealer on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_cross_instances_on_postgres() {
    if pg_admin_url().is_none() {
        eprintln!("SKIPPED on PostgreSQL: BESPOKE_SKIP_PG=1");
        return;
    }
    let a = spawn_app(Backend::Postgres).await;
    let url = a.database_url.clone();
    // B is given its own throwaway database by the helper, then pointed at A's
    let b = spawn_app_with(Backend::Postgres, |s| s.database_url = Some(server::config::SecretString::new(url.clone()))).await;
    let (dealer, _p, slug) = dealer_with_product(&a, "fleetchat", "80.00", None).await;
    let customer = a.sign_up(&unique_email("fleetchat"), "custom password", "customer").await;
    let thread = open_request(&a, &customer, &slug).await;
    let mut on_a = ws(&a, &customer.token, &thread, 1).await.expect("socket on A");
    let mut on_b = ws(&b, &dealer.token, &thread, 1).await.expect("socket on B");
    on_b.send(Message::Text(r#"{"type":"message","body":"from B"}"#.into())).await.expect("send");
    let m = next_of(&mut on_a, "message").await.expect("B → A");
    assert_eq!(m["message"]["body"], "from B");
    on_a.send(Message::Text(r#"{"type":"message","body":"from A"}"#.into())).await.expect("send");
    let mut got = None;
    for _ in 0..3 {
        let m = next_of(&mut on_b, "message").await.expect("A → B");
        if m["message"]["body"] == "from A" {
            got = Some(m);
            break;
        }
    }
    assert!(got.is_some(), "A → B");
    for name in [a.pg_name.clone(), b.pg_name.clone()].into_iter().flatten() {
        drop_pg_database(&name).await;
    }
}
