//! The authorization matrix: every JSON API route (every path and method of the OpenAPI document)
//! and every server function, called by every kind of caller — anonymous, the customer who owns the
//! data, another customer, a pending dealer, the dealer concerned, another dealer and an admin —
//! each expected to be let through or refused. Refused means 401/403/404 with the code
//! `unauthenticated`, `forbidden` or `not_found`; let through means anything else but a server
//! error (a 409 or 422 from the operation itself is fine: the caller got past authorization).
//! Afterwards nothing the others did shows in the owner's data (BOLA). A second test sends
//! mass-assigned fields (price, role, dealer id, status) and checks they are refused or ignored (BOPLA).

use std::collections::{BTreeSet, HashMap};

use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::{
    custom::{png, send_image},
    helpers::*,
    orders::*,
};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
enum Who {
    Anon,
    /// the customer who owns the order, cart line, thread and session under test
    A,
    /// another customer
    B,
    Pending,
    /// the dealer of A's order and thread
    D,
    /// another dealer
    E,
    Admin,
}
use Who::*;

const EVERYONE: [Who; 7] = [Anon, A, B, Pending, D, E, Admin];
const SIGNED_IN: [Who; 6] = [A, B, Pending, D, E, Admin];
const DEALERS: [Who; 2] = [D, E];

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    Image,
    Csv(&'static str),
}

struct Case {
    method: Method,
    /// The OpenAPI path (`/orders/{id}`) or the server function's name.
    name: String,
    url: String,
    body: Body,
    allowed: Vec<Who>,
    /// Some operations on made-up ids answer `not_found` to an allowed caller too.
    not_found_ok: bool,
    websocket: bool,
}

fn api(method: Method, path: &str, url: String, body: Body, allowed: &[Who]) -> Case {
    Case { method, name: path.to_owned(), url: format!("/api/v1{url}"), body, allowed: allowed.to_vec(), not_found_ok: false, websocket: false }
}

struct World {
    app: TestApp,
    tokens: HashMap<Who, String>,
    ids: HashMap<&'static str, String>,
    fns: HashMap<String, String>,
}

impl World {
    fn id(&self, k: &str) -> String {
        self.ids.get(k).unwrap_or_else(|| panic!("no id {k}")).clone()
    }

    async fn send(&self, who: Who, c: &Case, as_cookie: bool) -> (StatusCode, Value) {
        let mut req = self.app.client.request(c.method.clone(), self.app.url(&c.url));
        if let Some(t) = self.tokens.get(&who) {
            req = if as_cookie { req.header(header::COOKIE, format!("bespoke_session={t}")) } else { req.bearer_auth(t) };
        }
        if c.websocket {
            req = req
                .header(header::CONNECTION, "upgrade")
                .header(header::UPGRADE, "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        }
        req = match &c.body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Form(f) => req.form(f),
            Body::Image => req.multipart(reqwest::multipart::Form::new().part("image", reqwest::multipart::Part::bytes(png(32, 32)).file_name("x.png"))),
            Body::Csv(s) => req.header(header::CONTENT_TYPE, "text/csv").body(*s),
        };
        let res = req.send().await.expect("request");
        let status = res.status();
        if c.websocket || c.url.ends_with("/me/stream") {
            // no body to read: the status says it (101 or 200 let through; 401/404 refused)
            return (status, Value::Null);
        }
        let v: Value = res.json().await.unwrap_or(Value::Null);
        (status, v)
    }

    /// Runs a case for every caller (the refused first, so the allowed ones' changes come last).
    async fn check(&self, c: &Case, as_cookie: bool, report: &mut Vec<String>) {
        let mut order: Vec<Who> = EVERYONE.iter().copied().filter(|w| !c.allowed.contains(w)).collect();
        order.extend(EVERYONE.iter().copied().filter(|w| c.allowed.contains(w)));
        for who in order {
            let (status, v) = self.send(who, c, as_cookie).await;
            // server functions answer the AppError itself, the API wraps it in `error`
            let code = v["error"]["code"].as_str().or(v["code"].as_str()).unwrap_or("");
            let refused = matches!(status.as_u16(), 401 | 403 | 404)
                && (c.websocket || c.url.ends_with("/me/stream") || matches!(code, "unauthenticated" | "forbidden" | "not_found" | "account_suspended"));
            let ok = if c.allowed.contains(&who) {
                !status.is_server_error() && (!refused || (c.not_found_ok && status == StatusCode::NOT_FOUND))
            } else {
                refused
            };
            if !ok {
                report.push(format!(
                    "{} {} as {who:?}: {} {code} (expected {})",
                    c.method,
                    c.name,
                    status.as_u16(),
                    if c.allowed.contains(&who) { "to be let through" } else { "a refusal" }
                ));
            }
        }
    }
}

async fn token_of(app: &TestApp, email: &str, password: &str) -> String {
    let res = app.sign_in(email, password).await;
    assert_eq!(res.status(), StatusCode::OK, "sign-in of {email}");
    res.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned()
}

/// The people and the data the cases act on.
async fn world(app: TestApp) -> World {
    let run = &uuid::Uuid::now_v7().simple().to_string()[24..];
    let (dealer, product, slug) = dealer_with_product(&app, &format!("matrixd{run}"), "50.00", Some(20)).await;
    let (other_dealer, other_product, _) = dealer_with_product(&app, &format!("matrixe{run}"), "30.00", Some(20)).await;
    let a_email = unique_email("owner");
    let a = app.sign_up(&a_email, "owner password", "customer").await;
    let b = app.sign_up(&unique_email("other"), "other password", "customer").await;
    let pending = app.sign_up(&unique_email("pending"), "pending password", "dealer").await;
    let admin = app.admin().await;
    let victim = app.sign_up(&unique_email("victim"), "victim password", "customer").await;
    let at = a.token.as_str();
    let dt = Some(dealer.token.as_str());

    // A's paid order from D, a line in A's cart, a thread with a quote and an image, a second session
    add(&app, at, &product, size_choice(&app, &slug, "Small").await, 1).await;
    let co: Value = checkout(&app, at, None, &address()).await.json().await.expect("json");
    pay(&app, &co, "4242424242424242").await;
    let order = co["orders"][0]["id"].as_str().expect("order").to_owned();
    let o = order_reaches(&app, at, &order, "paid").await;
    let cart: Value = add(&app, at, &product, size_choice(&app, &slug, "Large").await, 1).await.json().await.expect("json");
    let line = cart["groups"][0]["lines"][0]["id"].as_str().expect("cart line").to_owned();
    let t: Value = app.post_json("/api/v1/threads", &json!({ "product": slug, "text": "A larger one, please" }), Some(at)).await.json().await.expect("json");
    let thread = t["id"].as_str().expect("thread").to_owned();
    let q: Value = app
        .post_json(&format!("/api/v1/threads/{thread}/quotes"), &json!({ "price": "90.00", "lead_time_days": 10, "spec": "Walnut, 40 cm", "valid_days": 7 }), dt)
        .await
        .json()
        .await
        .expect("json");
    let quote = q["quote"]["id"].as_str().unwrap_or_else(|| panic!("quote id in {q}")).to_owned();
    let img: Value = send_image(&app, at, &thread, png(40, 40), "ref.png").await.json().await.expect("json");
    let attachment = img["attachment"]["id"].as_str().expect("attachment").to_owned();
    let _second = token_of(&app, &a_email, "owner password").await;
    let sessions: Value = app.get("/api/v1/me/sessions", Some(at)).await.json().await.expect("json");
    let session = sessions["sessions"].as_array().and_then(|s| s.iter().find(|s| s["current"] == false)).expect("second session")["id"].as_str().expect("id").to_owned();
    // D's draft listing and an image on the published one; D's store slug
    let draft: Value = app
        .post_json("/api/v1/dealer/products", &json!({ "title": "Draft stool", "category": "/woodwork/utensils", "price": "20.00" }), dt)
        .await
        .json()
        .await
        .expect("json");
    let up = app.client.post(app.url(&format!("/api/v1/dealer/products/{product}/images"))).bearer_auth(&dealer.token)
        .multipart(reqwest::multipart::Form::new().part("image", reqwest::multipart::Part::bytes(png(64, 64)).file_name("p.png"))).send().await.expect("upload");
    let image = up.json::<Value>().await.expect("json")["id"].as_str().expect("image id").to_owned();
    let store: Value = app.get("/api/v1/dealer/store", dt).await.json().await.expect("json");

    let mut ids = HashMap::new();
    for (k, v) in [
        ("order", order),
        ("order_number", o["number"].as_str().unwrap_or_default().to_owned()),
        ("order_line", o["lines"][0]["id"].as_str().expect("order line").to_owned()),
        ("checkout", co["id"].as_str().expect("checkout").to_owned()),
        ("intent", co["payment"]["intent_id"].as_str().unwrap_or("none").to_owned()),
        ("cart_line", line),
        ("thread", thread),
        ("quote", quote),
        ("attachment", attachment),
        ("session", session),
        ("product", product),
        ("slug", slug),
        ("draft", draft["id"].as_str().expect("draft id").to_owned()),
        ("draft_slug", draft["slug"].as_str().expect("draft slug").to_owned()),
        ("image", image),
        ("store_slug", store["store"]["slug"].as_str().expect("store slug").to_owned()),
        ("other_product", other_product),
        ("pending", pending.user["id"].as_str().expect("id").to_owned()),
        ("victim", victim.user["id"].as_str().expect("id").to_owned()),
    ] {
        ids.insert(k, v);
    }
    let tokens = HashMap::from([(A, a.token), (B, b.token), (Pending, pending.token), (D, dealer.token), (E, other_dealer.token), (Admin, admin.token)]);
    // the registered server functions by name (their paths end in a hash)
    let fns = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| (path.trim_start_matches("/api/").trim_end_matches(|c: char| c.is_ascii_digit()).to_owned(), path.to_owned()))
        .collect();
    World { app, tokens, ids, fns }
}

fn api_cases(w: &World) -> Vec<Case> {
    use Body::*;
    let i = |k: &str| w.id(k);
    let (order, thread, quote, product) = (i("order"), i("thread"), i("quote"), i("product"));
    let a_d_admin = [A, D, Admin];
    let mut cases = vec![
        api(Method::POST, "/auth/sign-up", "/auth/sign-up".into(), Json(json!({ "email": unique_email("matrix"), "password": "matrix password", "display_name": "M" })), &EVERYONE),
        api(Method::POST, "/auth/sign-in/mfa", "/auth/sign-in/mfa".into(), Json(json!({ "challenge": "made-up", "code": "123456" })), &EVERYONE),
        api(Method::GET, "/me", "/me".into(), None, &SIGNED_IN),
        api(Method::PATCH, "/me", "/me".into(), Json(json!({ "display_name": "Renamed" })), &SIGNED_IN),
        api(Method::POST, "/me/password", "/me/password".into(), Json(json!({ "current_password": "x", "new_password": "short" })), &SIGNED_IN),
        api(Method::GET, "/me/sessions", "/me/sessions".into(), None, &SIGNED_IN),
        api(Method::DELETE, "/me/sessions/{id}", format!("/me/sessions/{}", i("session")), None, &[A]),
        api(Method::POST, "/me/mfa/setup", "/me/mfa/setup".into(), None, &SIGNED_IN),
        api(Method::POST, "/me/mfa/confirm", "/me/mfa/confirm".into(), Json(json!({ "code": "000000" })), &SIGNED_IN),
        api(Method::POST, "/me/mfa/disable", "/me/mfa/disable".into(), Json(json!({ "code": "000000" })), &SIGNED_IN),
        api(Method::POST, "/me/mfa/recovery-codes", "/me/mfa/recovery-codes".into(), Json(json!({ "code": "000000" })), &SIGNED_IN),
        api(Method::GET, "/me/notifications", "/me/notifications".into(), None, &SIGNED_IN),
        api(Method::POST, "/me/notifications/read-all", "/me/notifications/read-all".into(), None, &SIGNED_IN),
        api(Method::GET, "/me/stream", "/me/stream".into(), None, &SIGNED_IN),
        api(Method::GET, "/me/export", "/me/export".into(), None, &SIGNED_IN),
        api(Method::POST, "/me/delete", "/me/delete".into(), Json(json!({ "password": "not the password" })), &SIGNED_IN),
        // catalogue
        api(Method::GET, "/categories", "/categories".into(), None, &EVERYONE),
        api(Method::GET, "/search", "/search?q=bowl".into(), None, &EVERYONE),
        api(Method::GET, "/search/suggest", "/search/suggest?q=bo".into(), None, &EVERYONE),
        api(Method::GET, "/recommendations", "/recommendations?kind=for_you".into(), None, &EVERYONE),
        api(Method::GET, "/products/{slug}", format!("/products/{}", i("slug")), None, &EVERYONE),
        api(Method::GET, "/products/{slug}", format!("/products/{}", i("draft_slug")), None, &[D, Admin]),
        api(Method::POST, "/products/{slug}/price", format!("/products/{}/price", i("slug")), Json(json!({ "selections": [] })), &EVERYONE),
        api(Method::GET, "/stores/{slug}", format!("/stores/{}", i("store_slug")), None, &EVERYONE),
        api(Method::GET, "/products/{slug}/reviews", format!("/products/{}/reviews", i("slug")), None, &EVERYONE),
        // dealers
        api(Method::GET, "/dealer/me", "/dealer/me".into(), None, &DEALERS),
        api(Method::GET, "/dealer/store", "/dealer/store".into(), None, &DEALERS),
        api(Method::PUT, "/dealer/store", "/dealer/store".into(), Json(json!({ "name": "Renamed works", "location": "Ghent" })), &DEALERS),
        api(Method::POST, "/dealer/store/logo", "/dealer/store/logo".into(), Image, &DEALERS),
        api(Method::GET, "/dealer/products", "/dealer/products".into(), None, &DEALERS),
        api(Method::POST, "/dealer/products", "/dealer/products".into(), Json(json!({ "title": "Matrix cup", "category": "/woodwork/utensils", "price": "9.00" })), &DEALERS),
        api(Method::PUT, "/dealer/products/{id}", format!("/dealer/products/{}", i("draft")), Json(json!({ "title": "Draft stool II", "category": "/woodwork/utensils", "price": "21.00" })), &[D]),
        api(Method::POST, "/dealer/products/{id}/status", format!("/dealer/products/{}/status", i("draft")), Json(json!({ "action": "unpublish" })), &[D]),
        api(Method::PUT, "/dealer/products/{id}/stock", format!("/dealer/products/{product}/stock"), Json(json!({ "stock": 19 })), &[D]),
        api(Method::POST, "/dealer/products/{id}/images", format!("/dealer/products/{product}/images"), Image, &[D]),
        api(Method::DELETE, "/dealer/products/{id}/images/{image_id}", format!("/dealer/products/{product}/images/{}", i("image")), None, &[D]),
        api(Method::POST, "/dealer/import", "/dealer/import".into(), Csv("title,category,price\nImported spoon,/woodwork/utensils,4.00\n"), &DEALERS),
        api(Method::GET, "/dealer/orders", "/dealer/orders".into(), None, &DEALERS),
        api(Method::POST, "/dealer/orders/{id}/{action}", format!("/dealer/orders/{order}/accept"), Json(json!({})), &[D]),
        api(Method::GET, "/dealer/balance", "/dealer/balance".into(), None, &DEALERS),
        // cart, checkout, payments
        api(Method::GET, "/cart", "/cart".into(), None, &EVERYONE),
        api(Method::POST, "/cart/items", "/cart/items".into(), Json(json!({ "product": i("other_product"), "quantity": 1 })), &EVERYONE),
        api(Method::PUT, "/cart/items/{id}", format!("/cart/items/{}", i("cart_line")), Json(json!({ "quantity": 2 })), &[A]),
        api(Method::GET, "/checkouts/{id}", format!("/checkouts/{}", i("checkout")), None, &[A, Admin]),
        api(Method::POST, "/checkouts/{id}/cancel", format!("/checkouts/{}/cancel", i("checkout")), None, &[A]),
        api(Method::GET, "/payments/config", "/payments/config".into(), None, &EVERYONE),
        api(Method::POST, "/payments/webhooks/{provider}", "/payments/webhooks/sandbox".into(), Json(json!({ "id": "evt_1" })), &EVERYONE),
        api(Method::POST, "/sandbox/payment_intents/{id}/confirm", format!("/sandbox/payment_intents/{}/confirm", i("intent")), Json(json!({ "client_secret": "guessed", "card_number": "4242424242424242" })), &EVERYONE),
        api(Method::POST, "/sandbox/payment_intents/{id}/authenticate", format!("/sandbox/payment_intents/{}/authenticate", i("intent")), Json(json!({ "client_secret": "guessed", "outcome": "approve" })), &EVERYONE),
        // orders
        api(Method::GET, "/orders", "/orders".into(), None, &SIGNED_IN),
        api(Method::GET, "/orders/{id}", format!("/orders/{order}"), None, &a_d_admin),
        api(Method::POST, "/orders/{id}/received", format!("/orders/{order}/received"), None, &[A]),
        api(Method::PUT, "/orders/{id}/lines/{line}/review", format!("/orders/{order}/lines/{}/review", i("order_line")), Json(json!({ "product_rating": 5, "dealer_rating": 5, "body": "x" })), &[A]),
        // custom work
        api(Method::GET, "/threads", "/threads".into(), None, &SIGNED_IN),
        api(Method::POST, "/threads", "/threads".into(), Json(json!({ "product": i("other_product"), "text": "Something custom" })), &SIGNED_IN),
        api(Method::GET, "/threads/{id}", format!("/threads/{thread}"), None, &a_d_admin),
        api(Method::GET, "/threads/{id}/messages", format!("/threads/{thread}/messages"), None, &a_d_admin),
        api(Method::POST, "/threads/{id}/messages", format!("/threads/{thread}/messages"), Json(json!({ "body": "hello" })), &[A, D]),
        api(Method::POST, "/threads/{id}/read", format!("/threads/{thread}/read"), Json(json!({ "seq": 1 })), &[A, D]),
        api(Method::POST, "/threads/{id}/attachments", format!("/threads/{thread}/attachments"), Image, &[A, D]),
        api(Method::GET, "/threads/{id}/attachments/{attachment}", format!("/threads/{thread}/attachments/{}", i("attachment")), None, &a_d_admin),
        Case { websocket: true, ..api(Method::GET, "/threads/{id}/ws", format!("/threads/{thread}/ws"), None, &a_d_admin) },
        api(Method::POST, "/threads/{id}/quotes", format!("/threads/{thread}/quotes"), Json(json!({ "price": "95.00", "lead_time_days": 9, "spec": "Oak", "valid_days": 5 })), &[D]),
        api(Method::POST, "/quotes/{id}/counter", format!("/quotes/{quote}/counter"), Json(json!({ "price": "80.00", "note": "a bit less?" })), &[A]),
        api(Method::POST, "/quotes/{id}/decline", format!("/quotes/{quote}/decline"), None, &[A]),
        api(Method::POST, "/quotes/{id}/accept", format!("/quotes/{quote}/accept"), None, &[A]),
        // admin
        api(Method::GET, "/admin/events", "/admin/events".into(), None, &[Admin]),
        Case { not_found_ok: true, ..api(Method::POST, "/admin/events/dead-letters/{event_id}/{consumer}/redrive", "/admin/events/dead-letters/evt/notify.mail/redrive".into(), None, &[Admin]) },
        api(Method::GET, "/admin/dealers", "/admin/dealers".into(), None, &[Admin]),
        api(Method::GET, "/admin/users", "/admin/users?q=victim".into(), None, &[Admin]),
        api(Method::POST, "/admin/users/{id}/suspend", format!("/admin/users/{}/suspend", i("victim")), Json(json!({ "reason": "matrix" })), &[Admin]),
        api(Method::POST, "/admin/users/{id}/reinstate", format!("/admin/users/{}/reinstate", i("victim")), None, &[Admin]),
        api(Method::PUT, "/admin/users/{id}/role", format!("/admin/users/{}/role", i("victim")), Json(json!({ "role": "customer" })), &[Admin]),
        api(Method::GET, "/admin/products", "/admin/products?q=bowl".into(), None, &[Admin]),
        api(Method::POST, "/admin/products/{id}/unlist", format!("/admin/products/{}/unlist", i("other_product")), Json(json!({ "reason": "matrix" })), &[Admin]),
        api(Method::POST, "/admin/products/{id}/restore", format!("/admin/products/{}/restore", i("other_product")), None, &[Admin]),
        api(Method::GET, "/admin/orders", "/admin/orders".into(), None, &[Admin]),
        api(Method::GET, "/admin/audit", "/admin/audit".into(), None, &[Admin]),
        api(Method::GET, "/admin/kpis", "/admin/kpis?days=7".into(), None, &[Admin]),
        api(Method::GET, "/admin/recommendations", "/admin/recommendations".into(), None, &[Admin]),
        // too few signals in the matrix's database to train on: the admin gets a clear 409
        api(Method::POST, "/admin/recommendations/train", "/admin/recommendations/train".into(), None, &[Admin]),
        api(Method::POST, "/admin/dealers/{id}/decision", format!("/admin/dealers/{}/decision", i("pending")), Json(json!({ "approve": false, "reason": "matrix" })), &[Admin]),
        // last: these end sessions, take the cart line away or refund the order
        api(Method::POST, "/threads/{id}/decline", format!("/threads/{thread}/decline"), Json(json!({ "reason": "no" })), &[D]),
        api(Method::DELETE, "/cart/items/{id}", format!("/cart/items/{}", i("cart_line")), None, &[A]),
        api(Method::POST, "/checkout", "/checkout".into(), Json(address()), &SIGNED_IN),
        api(Method::POST, "/orders/{id}/cancel", format!("/orders/{order}/cancel"), None, &[A]),
        api(Method::POST, "/admin/orders/{id}/refund", format!("/admin/orders/{order}/refund"), Json(json!({ "reason": "matrix" })), &[Admin]),
        api(Method::POST, "/me/sessions/revoke-all", "/me/sessions/revoke-all".into(), None, &SIGNED_IN),
        // signing out without a session is a harmless no-op
        api(Method::POST, "/auth/sign-out", "/auth/sign-out".into(), None, &EVERYONE),
    ];
    // sign-in with A's own credentials works for anyone who knows them
    cases.insert(1, api(Method::POST, "/auth/sign-in", "/auth/sign-in".into(), Json(json!({ "email": "nobody@example.com", "password": "wrong password" })), &EVERYONE));
    cases
}

both!(every_route_and_server_function_by_every_role, |app: TestApp| async move {
    let w = world(app).await;
    let mut report = Vec::new();
    // phase 1 (server functions) ends sessions and consumes the order, cart line and thread, so
    // phase 2 (the API) gets fresh ones

    // the API: every path and method of the OpenAPI document has a case
    let spec: Value = w.app.get("/api/openapi.json", None).await.json().await.expect("json");
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(p, ops)| ops.as_object().into_iter().flat_map(|o| o.keys().map(|m| (m.to_uppercase(), p.clone()))).collect::<Vec<_>>())
        .collect();
    let server_fn_cases = server_fn_cases(&w);
    let first_api_cases = api_cases(&w);
    let covered: BTreeSet<(String, String)> = first_api_cases.iter().map(|c| (c.method.to_string(), c.name.clone())).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "API routes without a matrix case: {missing:?}");
    // every server function has a case
    let named: BTreeSet<&str> = server_fn_cases.iter().map(|c| c.name.as_str()).collect();
    let missing: Vec<_> = w.fns.keys().filter(|n| !named.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "server functions without a matrix case: {missing:?}");

    // server functions first (through the session cookie, as the pages call them); then the API
    for c in &server_fn_cases {
        w.check(c, true, &mut report).await;
    }
    let w = world(w.app).await;
    for c in &api_cases(&w) {
        w.check(c, false, &mut report).await;
    }
    assert!(report.is_empty(), "{} wrong answers:\n{}", report.len(), report.join("\n"));
});

fn server_fn_cases(w: &World) -> Vec<Case> {
    let i = |k: &str| w.id(k);
    let f = |name: &str, args: Vec<(&'static str, String)>, allowed: &[Who]| {
        let path = w.fns.get(name).cloned().unwrap_or_else(|| format!("/api/{name}-not-registered"));
        Case { method: Method::POST, name: name.to_owned(), url: path, body: Body::Form(args), allowed: allowed.to_vec(), not_found_ok: false, websocket: false }
    };
    let s = |v: &str| v.to_owned();
    let (order, thread, quote) = (i("order"), i("thread"), i("quote"));
    vec![
        f("current_user", vec![], &EVERYONE),
        f("oidc_provider", vec![], &EVERYONE),
        f("sign_in", vec![("email", s("nobody@example.com")), ("password", s("wrong password"))], &EVERYONE),
        f("sign_in_mfa", vec![("challenge", s("made-up")), ("code", s("123456"))], &EVERYONE),
        f("sign_up", vec![("display_name", s("M")), ("email", unique_email("fnmatrix")), ("password", s("matrix password")), ("account_type", s("customer"))], &EVERYONE),
        f("home_rails", vec![], &EVERYONE),
        f("recommended_for_you", vec![], &EVERYONE),
        f("also_bought", vec![("product_id", i("product"))], &EVERYONE),
        f("note_view", vec![("product_id", i("product"))], &EVERYONE),
        f("search_products", vec![("params[q]", s("bowl")), ("params[category]", s("")), ("params[min_price]", s("")), ("params[max_price]", s("")), ("params[store]", s("")),
            ("params[in_stock]", s("false")), ("params[customizable]", s("false")), ("params[min_rating]", s("")), ("params[sort]", s("")), ("params[page]", s("1"))], &EVERYONE),
        f("suggest", vec![("q", s("bo"))], &EVERYONE),
        f("product_page", vec![("slug", i("slug"))], &EVERYONE),
        f("product_page", vec![("slug", i("draft_slug"))], &[D, Admin]),
        f("store_page", vec![("slug", i("store_slug"))], &EVERYONE),
        f("category_choices", vec![], &EVERYONE),
        f("product_reviews", vec![("product_id", i("product"))], &EVERYONE),
        f("payment_config", vec![], &EVERYONE),
        f("get_cart", vec![], &EVERYONE),
        f("cart_count", vec![], &EVERYONE),
        f("add_to_cart", vec![("product", i("other_product")), ("quantity", s("1"))], &EVERYONE),
        f("set_cart_quantity", vec![("item", i("cart_line")), ("quantity", s("2"))], &[A]),
        f("checkout_form", vec![], &SIGNED_IN),
        f("checkout_status", vec![("id", i("checkout"))], &[A, Admin]),
        f("cancel_checkout", vec![("id", i("checkout"))], &[A]),
        f("sandbox_pay", vec![("checkout", i("checkout")), ("card_number", s("4242424242424242"))], &[A]),
        f("sandbox_authenticate", vec![("checkout", i("checkout")), ("approve", s("true"))], &[A]),
        f("update_profile", vec![("display_name", s("Renamed"))], &SIGNED_IN),
        f("change_password", vec![("current_password", s("x")), ("new_password", s("short"))], &SIGNED_IN),
        f("list_sessions", vec![], &SIGNED_IN),
        f("mfa_status", vec![], &SIGNED_IN),
        f("mfa_begin", vec![], &SIGNED_IN),
        f("mfa_confirm", vec![("code", s("000000"))], &SIGNED_IN),
        f("mfa_disable", vec![("code", s("000000"))], &SIGNED_IN),
        f("regenerate_recovery_codes", vec![("code", s("000000"))], &SIGNED_IN),
        f("delete_my_account", vec![("password", s("not the password"))], &SIGNED_IN),
        f("my_notifications", vec![], &SIGNED_IN),
        f("mark_notifications_read", vec![], &SIGNED_IN),
        // the navigation's badge: 0 for anonymous visitors
        f("unread_notifications", vec![], &EVERYONE),
        f("my_orders", vec![], &SIGNED_IN),
        f("order_detail", vec![("id", order.clone())], &[A, D, Admin]),
        f("order_action", vec![("id", order.clone()), ("action", s("confirm_receipt")), ("carrier", s("")), ("tracking_number", s("")), ("reason", s(""))], &[A]),
        f("order_action", vec![("id", order.clone()), ("action", s("start_production")), ("carrier", s("")), ("tracking_number", s("")), ("reason", s(""))], &[D]),
        f("save_review", vec![("order", order.clone()), ("line", i("order_line")), ("product_rating", s("5")), ("dealer_rating", s("5")), ("body", s("x"))], &[A]),
        f("my_threads", vec![("status", s(""))], &SIGNED_IN),
        f("request_customization", vec![("product", i("other_product")), ("store", s("")), ("text", s("Custom please")), ("budget", s("")), ("deadline", s(""))], &SIGNED_IN),
        f("thread_detail", vec![("id", thread.clone())], &[A, D, Admin]),
        f("older_messages", vec![("id", thread.clone()), ("before", s("100"))], &[A, D, Admin]),
        f("post_thread_message", vec![("id", thread.clone()), ("body", s("hello"))], &[A, D]),
        f("offer_quote", vec![("id", thread.clone()), ("price", s("95.00")), ("lead_time_days", s("9")), ("spec", s("Oak")), ("valid_days", s("5"))], &[D]),
        f("counter_quote", vec![("quote", quote.clone()), ("price", s("80.00")), ("note", s("less?"))], &[A]),
        f("respond_quote", vec![("quote", quote.clone()), ("accept", s("false"))], &[A]),
        // the caller's own store, if any (nothing for others)
        f("dealer_home", vec![], &SIGNED_IN),
        f("save_store", vec![("name", s("Renamed works")), ("description", s("")), ("location", s("Ghent"))], &DEALERS),
        f("create_listing", vec![("listing[title]", s("Fn cup")), ("listing[category]", s("/woodwork/utensils")), ("listing[price]", s("9.00")), ("listing[description]", s("")), ("listing[stock]", s("")), ("listing[brand]", s("")), ("listing[material]", s(""))], &DEALERS),
        f("update_listing", vec![("id", i("draft")), ("listing[title]", s("Draft stool III")), ("listing[category]", s("/woodwork/utensils")), ("listing[price]", s("22.00")), ("listing[description]", s("")), ("listing[stock]", s("")), ("listing[brand]", s("")), ("listing[material]", s(""))], &[D]),
        f("listing_status", vec![("id", i("draft")), ("action", s("unpublish"))], &[D]),
        f("my_listing", vec![("id", i("draft"))], &[D]),
        f("import_listings", vec![("csv", s("title,category,price\nFn spoon,/woodwork/utensils,4.00\n"))], &DEALERS),
        f("dealer_queue", vec![("status", s(""))], &DEALERS),
        f("dealer_new_order_count", vec![], &DEALERS),
        f("dealer_balance", vec![], &DEALERS),
        f("pending_dealers", vec![], &[Admin]),
        f("admin_users", vec![("q", s("victim"))], &[Admin]),
        f("suspend_user", vec![("user_id", i("victim")), ("reason", s("matrix"))], &[Admin]),
        f("reinstate_user", vec![("user_id", i("victim"))], &[Admin]),
        f("change_role", vec![("user_id", i("victim")), ("role", s("customer"))], &[Admin]),
        f("admin_listings", vec![("q", s("bowl"))], &[Admin]),
        f("moderate_listing", vec![("id", i("other_product")), ("reason", s("matrix"))], &[Admin]),
        f("moderate_listing", vec![("id", i("other_product")), ("restore", s("true"))], &[Admin]),
        f("admin_orders", vec![], &[Admin]),
        f("admin_threads", vec![], &[Admin]),
        f("admin_events", vec![], &[Admin]),
        f("admin_recommendations", vec![], &[Admin]),
        f("admin_train_model", vec![], &[Admin]),
        Case { not_found_ok: true, ..f("redrive", vec![("event_id", s("evt")), ("consumer", s("notify.mail"))], &[Admin]) },
        f("audit_log", vec![], &[Admin]),
        f("admin_kpis", vec![("days", s("30"))], &[Admin]),
        f("decide_dealer", vec![("dealer_id", i("pending")), ("approve", s("false")), ("reason", s("matrix"))], &[Admin]),
        // last: these decline the thread, take the cart line, refund the order or end sessions
        f("decline_request", vec![("id", thread), ("reason", s("no"))], &[D]),
        f("remove_cart_item", vec![("item", i("cart_line"))], &[A]),
        f("place_order", vec![("name", s("Carmen")), ("line1", s("Calle Mayor 1")), ("line2", s("")), ("city", s("Madrid")), ("postal_code", s("28013")), ("country", s("ES")), ("idempotency_key", uuid::Uuid::now_v7().to_string())], &SIGNED_IN),
        f("admin_refund", vec![("order_id", order), ("reason", s("matrix"))], &[Admin]),
        f("revoke_session", vec![("id", i("session"))], &[A]),
        f("sign_out_everywhere", vec![], &SIGNED_IN),
        f("sign_out", vec![], &EVERYONE),
    ]
}

both!(mass_assigned_fields_are_refused_or_ignored, |app: TestApp| async move {
    let run = &uuid::Uuid::now_v7().simple().to_string()[24..];
    let (dealer, product, slug) = dealer_with_product(&app, &format!("bopla{run}"), "50.00", Some(5)).await;
    let (other, ..) = dealer_with_product(&app, &format!("boplb{run}"), "30.00", Some(5)).await;
    let customer = app.sign_up(&unique_email("bopla"), "bopla password", "customer").await;
    let c = Some(customer.token.as_str());
    let d = Some(dealer.token.as_str());
    let other_id = other.user["id"].as_str().expect("id");
    let refused = |res: reqwest::Response, what: &'static str| async move {
        let (status, body) = error_of(res).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    };

    // a role, a status or another owner cannot ride along on the caller's own writes
    refused(app.client.patch(app.url("/api/v1/me")).bearer_auth(&customer.token).json(&json!({ "display_name": "X", "role": "admin" })).send().await.expect("req"), "role on /me").await;
    let me: Value = app.get("/api/v1/me", c).await.json().await.expect("json");
    assert_eq!(me["role"], "customer");
    refused(app.post_json("/api/v1/dealer/products", &json!({ "title": "Sneaky", "category": "/woodwork/utensils", "price": "5.00", "dealer_id": other_id }), d).await, "dealer_id on a listing").await;
    refused(app.post_json("/api/v1/dealer/products", &json!({ "title": "Sneaky", "category": "/woodwork/utensils", "price": "5.00", "status": "published" }), d).await, "status on a listing").await;
    refused(app.put_json("/api/v1/dealer/store", &json!({ "name": "Mine", "dealer_id": other_id }), d).await, "dealer_id on a store").await;
    refused(app.post_json("/api/v1/cart/items", &json!({ "product": product, "quantity": 1, "price": "0.01" }), c).await, "price on a cart line").await;
    refused(app.post_json("/api/v1/threads", &json!({ "product": slug, "text": "hi", "dealer_id": other_id, "status": "accepted" }), c).await, "owner and status on a request").await;
    let mut with_total = address();
    with_total["total_minor"] = json!(1);
    refused(app.post_json("/api/v1/checkout", &with_total, c).await, "a total on a checkout").await;
    refused(app.post_json("/api/v1/auth/sign-up", &json!({ "email": unique_email("x"), "password": "long enough", "display_name": "X", "role": "admin" }), None).await, "role at sign-up").await;

    // the page's server functions ignore fields they do not take: the price stays the listing's
    let fns: HashMap<String, String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| (p.trim_start_matches("/api/").trim_end_matches(|c: char| c.is_ascii_digit()).to_owned(), p.to_owned()))
        .collect();
    let choice = size_choice(&app, &slug, "Small").await;
    let (option, value) = (choice[0]["option_id"].as_str().expect("option").to_owned(), choice[0]["value"].as_str().expect("value").to_owned());
    let res = app
        .client
        .post(app.url(&fns["add_to_cart"]))
        .header(header::COOKIE, format!("bespoke_session={}", customer.token))
        .form(&[("product", product.as_str()), ("options[0][option_id]", &option), ("options[0][value]", &value), ("quantity", "1"), ("price", "0.01"), ("unit_price_minor", "1")])
        .send()
        .await
        .expect("req");
    assert!(res.status().is_success(), "{}: {}", res.status(), res.text().await.unwrap_or_default());
    let cart: Value = app.get("/api/v1/cart", c).await.json().await.expect("json");
    assert_eq!(cart["groups"][0]["lines"][0]["unit_price"]["minor"], 5000, "{cart}");
    // nothing changed hands: the listing is still the dealer's draft-free published one at its price
    let p: Value = app.get(&format!("/api/v1/products/{slug}"), None).await.json().await.expect("json");
    assert_eq!((p["price"]["minor"].as_i64(), p["store"]["dealer_id"].as_str()), (Some(5000), dealer.user["id"].as_str()));
});
