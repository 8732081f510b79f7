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

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 60]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

pub async fn send_image(app: &TestApp, token: &str, thread: &str, bytes: Vec<u8>, name: &'static str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part("image", reqwest::multipart::Part::bytes(bytes).file_name(name))
        .text("caption", "Like this, but darker");
    app.client.post(app.url(&format!("/api/v1/threads/{thread}/attachments"))).bearer_auth(token).multipart(form).send().await.expect("request")
}

both!(reference_images_are_checked_private_and_live, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "refimg", "80.00", None).await;
    let customer = app.sign_up(&unique_email("refimg"), "custom password", "customer").await;
    let stranger = app.sign_up(&unique_email("peeker"), "custom password", "customer").await;
    let thread = open_request(&app, &customer, &slug).await;
    let mut dws = ws(&app, &dealer.token, &thread, 1).await.expect("dealer socket");

    let original = png(640, 400);
    let res = send_image(&app, &customer.token, &thread, original.clone(), "sketch.png").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let m: Value = res.json().await.expect("json");
    assert_eq!((m["body"].as_str(), m["attachment"]["width"].as_i64()), (Some("Like this, but darker"), Some(640)));
    let pushed = next_of(&mut dws, "message").await.expect("the dealer sees the image live");
    assert_eq!(pushed["message"]["attachment"]["id"], m["attachment"]["id"]);

    let url = m["attachment"]["url"].as_str().expect("url").to_owned();
    let res = app.get(&url, Some(&dealer.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["cache-control"].to_str().unwrap_or("").starts_with("private"), "never in a shared cache");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), original, "the bytes as sent");
    let thumb = app.get(m["attachment"]["thumb_url"].as_str().expect("thumb"), Some(&customer.token)).await;
    assert_eq!((thumb.status(), thumb.headers()["content-type"].to_str().unwrap_or("").to_owned()), (StatusCode::OK, "image/jpeg".to_owned()));
    // strangers, anonymous callers and forged ids learn nothing; nothing lands in the public media folder
    assert_eq!(app.get(&url, Some(&stranger.token)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&url, None).await.status(), StatusCode::UNAUTHORIZED);
    let forged = format!("/api/v1/threads/{thread}/attachments/{}", uuid::Uuid::now_v7().simple());
    assert_eq!(app.get(&forged, Some(&customer.token)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(send_image(&app, &stranger.token, &thread, png(10, 10), "x.png").await.status(), StatusCode::NOT_FOUND);
    assert!(!app.data_dir().join("media").join("threads").exists(), "private images are not under /media");
    // the type comes from the bytes; what is not an image is refused with the field named
    for (bytes, name) in [(b"<svg onload=alert(1)>".to_vec(), "evil.png"), (b"GIF89a......".to_vec(), "anim.gif"), (Vec::new(), "empty.png")] {
        let (status, e) = error_of(send_image(&app, &customer.token, &thread, bytes, name).await).await;
        assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("image")), "{name}: {e}");
    }
    // the page's plain form answers with a redirect back to the thread, carrying a refusal's reason
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let form = reqwest::multipart::Form::new().part("image", reqwest::multipart::Part::bytes(b"plain text".to_vec()).file_name("notes.txt"));
    let res = no_redirects.post(app.url(&format!("/requests/{thread}/attachments"))).bearer_auth(&customer.token).multipart(form).send().await.expect("req");
    assert!(res.status().is_redirection());
    let to = res.headers()["location"].to_str().unwrap_or("").to_owned();
    assert!(to.starts_with(&format!("/requests/{thread}?attach_error=")), "{to}");
    let form = reqwest::multipart::Form::new().part("image", reqwest::multipart::Part::bytes(png(30, 30)).file_name("ok.png"));
    let res = no_redirects.post(app.url(&format!("/requests/{thread}/attachments"))).bearer_auth(&dealer.token).multipart(form).send().await.expect("req");
    assert_eq!(res.headers()["location"].to_str().unwrap_or(""), format!("/requests/{thread}"));
    let all: Value = app.get(&format!("/api/v1/threads/{thread}/messages"), Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(all["messages"].as_array().expect("list").iter().filter(|m| m["attachment"].is_object()).count(), 2);
});

both!(a_request_from_a_store_page_with_a_counter_offer_ends_in_an_order, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "atelier", "80.00", None).await;
    let product: Value = app.get(&format!("/api/v1/products/{slug}"), None).await.json().await.expect("json");
    let store = product["store"]["slug"].as_str().expect("store slug").to_owned();
    let customer = app.sign_up(&unique_email("patron"), "custom password", "customer").await;
    for (body, field) in [
        (json!({ "text": "Something new" }), "product"),
        (json!({ "store": "no-such-store", "text": "Something new" }), "store"),
    ] {
        let (status, e) = error_of(app.post_json("/api/v1/threads", &body, Some(&customer.token)).await).await;
        assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{e}");
    }
    let (status, e) = error_of(app.post_json("/api/v1/threads", &json!({ "store": store, "text": "For myself" }), Some(&dealer.token)).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("store")));
    let res = app.post_json("/api/v1/threads", &json!({ "store": store, "text": "A walnut serving board, 60 cm, with my initials", "budget": "120" }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let t: Value = res.json().await.expect("json");
    let thread = t["id"].as_str().expect("id").to_owned();
    let view: Value = app.get(&format!("/api/v1/threads/{thread}"), Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(view["listing_url"], Value::Null, "a store request has no public listing");
    assert_eq!(view["store_url"], format!("/s/{store}"));
    // the commission listing behind it is neither searchable nor public
    let commission = view["product_id"].as_str().expect("product").to_owned();
    assert_eq!(app.get(&format!("/api/v1/products/{commission}"), Some(&customer.token)).await.status(), StatusCode::NOT_FOUND);
    let found: Value = app.get("/api/v1/search?q=commission", None).await.json().await.expect("json");
    assert_eq!(found["total"], 0, "{found}");
    // a second store request reuses the same listing
    let again: Value = app.post_json("/api/v1/threads", &json!({ "store": store, "text": "And a matching one" }), Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(again["product_id"].as_str(), Some(commission.as_str()));

    let quote = |price: &'static str| {
        let (app, token, thread) = (&app, dealer.token.clone(), thread.clone());
        async move {
            let res = app.post_json(&format!("/api/v1/threads/{thread}/quotes"), &json!({ "price": price, "lead_time_days": 21, "spec": "Walnut board 60 cm, initials engraved" }), Some(&token)).await;
            assert_eq!(res.status(), StatusCode::CREATED);
            res.json::<Value>().await.expect("json")["quote"]["id"].as_str().expect("quote").to_owned()
        }
    };
    let first = quote("160.00").await;
    // the customer counters: bad amounts are refused, the dealer cannot counter its own quote
    let (status, e) = error_of(app.post_json(&format!("/api/v1/quotes/{first}/counter"), &json!({ "price": "-5" }), Some(&customer.token)).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("price")));
    assert_eq!(app.post_json(&format!("/api/v1/quotes/{first}/counter"), &json!({ "price": "100" }), Some(&dealer.token)).await.status(), StatusCode::FORBIDDEN);
    let res = app.post_json(&format!("/api/v1/quotes/{first}/counter"), &json!({ "price": "130", "note": "Could you do 130?" }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let c: Value = res.json().await.expect("json");
    assert_eq!((c["counter"].as_str(), c["quote"]["status"].as_str()), (Some("€130.00"), Some("declined")), "{c}");
    let t: Value = app.get(&format!("/api/v1/threads/{thread}"), Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(t["status"], "in_discussion");
    assert_eq!(app.post_json(&format!("/api/v1/quotes/{first}/accept"), &json!({}), Some(&customer.token)).await.status(), StatusCode::CONFLICT, "a countered quote is closed");
    // the dealer meets in the middle; the customer accepts; checkout at the agreed price
    let second = quote("140.00").await;
    assert_eq!(app.post_json(&format!("/api/v1/quotes/{second}/accept"), &json!({}), Some(&customer.token)).await.status(), StatusCode::OK);
    let cart: Value = app.get("/api/v1/cart", Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(cart["total"]["minor"], 14000, "{cart}");
    assert!(cart["groups"][0]["lines"][0]["problem"].is_null(), "{cart}");
    let co: Value = app.client.post(app.url("/api/v1/checkout")).bearer_auth(&customer.token).json(&address()).send().await.expect("req").json().await.expect("json");
    pay(&app, &co, "4242424242424242").await;
    let order = order_reaches(&app, &customer.token, co["orders"][0]["id"].as_str().expect("id"), "paid").await;
    assert_eq!((order["lines"][0]["unit_price"]["minor"].as_i64(), order["lines"][0]["thread_id"].as_str()), (Some(14000), Some(thread.as_str())));
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox_event WHERE aggregate_id = $1 AND event_type = 'customization.QuoteCountered'").bind(&thread).fetch_one(db.reader()).await.expect("count");
    db.close().await;
    assert_eq!(n, 1);
});

both!(admin_reads_of_private_threads_are_in_the_audit_chain, |app: TestApp| async move {
    let (_dealer, _p, slug) = dealer_with_product(&app, "audited", "80.00", None).await;
    let customer = app.sign_up(&unique_email("private"), "custom password", "customer").await;
    let thread = open_request(&app, &customer, &slug).await;
    let admin = app.admin().await;
    let admin_id = admin.user["id"].as_str().expect("id").to_owned();
    let res = app.client.get(app.url(&format!("/api/v1/threads/{thread}/messages"))).bearer_auth(&admin.token).header("x-request-id", "audit-check-1").send().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let rows = kernel::audit::list(&db, &kernel::audit::Filter { action: "thread.admin_read".into(), ..Default::default() }, 10).await.expect("list");
    let row = rows.iter().find(|r| r.request_id == "audit-check-1").expect("the read is audited with its request id");
    assert_eq!((row.actor_id.as_str(), row.target.as_str()), (admin_id.as_str(), thread.as_str()));
    assert_eq!(row.ip, "127.0.0.1");
    // participants' own reads are not admin reads
    app.get(&format!("/api/v1/threads/{thread}/messages"), Some(&customer.token)).await;
    assert_eq!(kernel::audit::list(&db, &kernel::audit::Filter { actor: customer.user["id"].as_str().expect("id").into(), ..Default::default() }, 10).await.expect("list").len(), 0);

    // the chain holds; editing or deleting a row, or dropping the newest, is detected
    for _ in 0..3 {
        kernel::audit::record(&db, &kernel::audit::Entry::new("system", "test.filler", "x")).await.expect("append");
    }
    let ok = kernel::audit::verify(&db).await.expect("verify");
    assert!(ok.ok() && ok.rows >= 4, "{ok:?}");
    sqlx::query("UPDATE audit_log SET target = 'someone-else' WHERE seq = $1").bind(row.seq).execute(db.writer()).await.expect("tamper");
    let v = kernel::audit::verify(&db).await.expect("verify");
    assert!(v.problems.iter().any(|p| p.contains(&format!("row {} was edited", row.seq))), "{v:?}");
    sqlx::query("UPDATE audit_log SET target = $1 WHERE seq = $2").bind(&thread).bind(row.seq).execute(db.writer()).await.expect("restore");
    assert!(kernel::audit::verify(&db).await.expect("verify").ok());
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log").fetch_one(db.reader()).await.expect("max");
    sqlx::query("DELETE FROM audit_log WHERE seq = $1").bind(last - 1).execute(db.writer()).await.expect("delete");
    let v = kernel::audit::verify(&db).await.expect("verify");
    assert!(v.problems.iter().any(|p| p.contains("missing")), "{v:?}");
    sqlx::query("DELETE FROM audit_log WHERE seq = $1").bind(last).execute(db.writer()).await.expect("delete newest");
    let v = kernel::audit::verify(&db).await.expect("verify");
    assert!(v.problems.iter().any(|p| p.contains("newest were deleted")), "{v:?}");
    db.close().await;
    // and the CLI says so, with a failing exit status
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.database_url)
        .env_remove("BESPOKE_CONFIG")
        .output()
        .await
        .expect("run server audit verify");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not intact"), "{}", String::from_utf8_lossy(&out.stderr));
});

both!(a_request_carries_the_chosen_options, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "options", "80.00", None).await;
    let customer = app.sign_up(&unique_email("chooser"), "custom password", "customer").await;
    let (status, e) = error_of(app.post_json("/api/v1/threads", &json!({ "product": slug, "text": "x", "choices": [{ "option_id": "nope", "value": "x" }] }), Some(&customer.token)).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("choices[0]")));
    let choices = size_choice(&app, &slug, "Large").await;
    let t: Value = app.post_json("/api/v1/threads", &json!({ "product": slug, "text": "Large, in cherry", "choices": choices }), Some(&customer.token)).await.json().await.expect("json");
    let view: Value = app.get(&format!("/api/v1/threads/{}", t["id"].as_str().expect("id")), Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(view["choices"], json!(["Size: Large"]), "{view}");
});
