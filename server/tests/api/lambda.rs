//! AWS Lambda mode: the real `server` binary started with `AWS_LAMBDA_RUNTIME_API` pointing at a
//! stand-in for the Lambda Runtime API (the one AWS service we cannot reach here). The stand-in
//! hands the binary recorded API Gateway events — HTTP API v2 and REST API v1, shaped like the
//! ones AWS documents — and collects what the binary answers, as Lambda would.

use std::{
    collections::HashMap,
    io::Read,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::IntoResponse,
    routing::{get, post},
    Router,
};
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::helpers::*;

type Answer = Result<Value, Value>;

#[derive(Clone)]
struct RuntimeApi {
    next: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>,
}

async fn next_invocation(State(rt): State<RuntimeApi>) -> impl IntoResponse {
    let Some((id, event)) = rt.next.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let mut h = HeaderMap::new();
    h.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).expect("id"));
    let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() + 300_000;
    h.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline.to_string()).expect("deadline"));
    h.insert("lambda-runtime-invoked-function-arn", HeaderValue::from_static("arn:aws:lambda:eu-west-1:123456789012:function:bespoke"));
    h.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"));
    (StatusCode::OK, h, event.to_string())
}

fn settle(rt: &RuntimeApi, id: &str, answer: Answer) -> StatusCode {
    match rt.waiting.lock().expect("lock").remove(id) {
        Some(tx) => {
            let _ = tx.send(answer);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn invocation_response(State(rt): State<RuntimeApi>, Path(id): Path<String>, body: String) -> StatusCode {
    settle(&rt, &id, Ok(serde_json::from_str(&body).unwrap_or(Value::String(body))))
}

async fn invocation_error(State(rt): State<RuntimeApi>, Path(id): Path<String>, body: String) -> StatusCode {
    settle(&rt, &id, Err(serde_json::from_str(&body).unwrap_or(Value::String(body))))
}

async fn init_error(body: String) -> StatusCode {
    panic!("the function failed to initialise: {body}");
}

struct Function {
    events: mpsc::Sender<(String, Value)>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>,
    child: tokio::process::Child,
    log: std::path::PathBuf,
}

impl Function {
    async fn invoke(&mut self, event: Value) -> Answer {
        let id = uuid::Uuid::now_v7().to_string();
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().expect("lock").insert(id.clone(), tx);
        self.events.send((id, event)).await.expect("queue the event");
        match tokio::time::timeout(Duration::from_secs(120), rx).await {
            Ok(Ok(a)) => a,
            _ => {
                let status = self.child.try_wait().ok().flatten();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("no answer from the function (exit: {status:?}); its log:\n{log}");
            }
        }
    }

    /// Invokes with an HTTP event and expects a successful invocation.
    async fn http(&mut self, event: Value) -> Value {
        self.invoke(event).await.unwrap_or_else(|e| panic!("the invocation failed: {e}"))
    }
}

/// Starts the binary as a Lambda function on `database_url` with its site files in `site`.
async fn start_function(database_url: &str, dir: &std::path::Path) -> Function {
    let (events, rx) = mpsc::channel(16);
    let waiting = Arc::new(Mutex::new(HashMap::new()));
    let rt = RuntimeApi { next: Arc::new(tokio::sync::Mutex::new(rx)), waiting: waiting.clone() };
    let api = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, api).await });
    let log = dir.join("function.log");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bespoke")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bespoke")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/07/[$LATEST]test")
        .env("DATABASE_URL", database_url)
        .env("BESPOKE_DATA_DIR", dir)
        .env("BESPOKE_SITE_ROOT", dir.join("site"))
        .env("BESPOKE_KEYS", TEST_KEYS)
        .env("BESPOKE_PUBLIC_URL", "https://shop.example")
        .env("BESPOKE_LIMITS__SIGN_UP_PER_HOUR", "0")
        .env("RUST_LOG", "warn")
        .env_remove("BESPOKE_CONFIG")
        .env_remove("BESPOKE_ADDR")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the function");
    Function { events, waiting, child, log }
}

/// An HTTP API (payload 2.0) event as API Gateway sends it.
fn v2_event(method: &str, path: &str, query: &str, headers: Value, cookies: &[String], body: Option<&[u8]>) -> Value {
    let mut e = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r3pmxmplak",
            "domainName": "r3pmxmplak.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "r3pmxmplak",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0" },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "07/Dec/2026:05:00:00 +0000",
            "timeEpoch": 1796619600000_i64
        },
        "isBase64Encoded": false
    });
    if !cookies.is_empty() {
        e["cookies"] = json!(cookies);
    }
    if let Some(b) = body {
        e["body"] = json!(base64::engine::general_purpose::STANDARD.encode(b));
        e["isBase64Encoded"] = json!(true);
    }
    e
}

/// A REST API (payload 1.0) proxy event, on stage `prod`.
fn v1_event(method: &str, path: &str, headers: Value, body: Option<&[u8]>) -> Value {
    let multi: serde_json::Map<String, Value> = headers.as_object().expect("headers").iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    let mut e = json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": { "proxy": path.trim_start_matches('/') },
        "stageVariables": null,
        "requestContext": {
            "resourceId": "2gxmpl",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": format!("/prod{path}"),
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "requestId": "e0GRaFmplq4EQ0o=",
            "apiId": "70ixmpl4fl",
            "identity": { "sourceIp": "198.51.100.20", "userAgent": "Mozilla/5.0" },
            "requestTimeEpoch": 1796619600000_i64
        },
        "body": null,
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        e["body"] = json!(base64::engine::general_purpose::STANDARD.encode(b));
        e["isBase64Encoded"] = json!(true);
    }
    e
}

fn body_bytes(res: &Value) -> Vec<u8> {
    let text = res["body"].as_str().unwrap_or("");
    if res["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD.decode(text).expect("base64 body")
    } else {
        text.as_bytes().to_vec()
    }
}

fn body_json(res: &Value) -> Value {
    serde_json::from_slice(&body_bytes(res)).unwrap_or_else(|e| panic!("a JSON body ({e}): {res}"))
}

fn header<'a>(res: &'a Value, name: &str) -> &'a str {
    res["headers"][name].as_str().unwrap_or("")
}

// the catalogue is seeded (40 listings) before anything starts; the function then opens the same database
both_seeded!(api_gateway_events_through_the_binary, 40, |app: TestApp| async move {
    let dir = tempfile::tempdir().expect("dir");
    let pkg = dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    let wasm: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(pkg.join("bespoke-0123456789abcdef_bg.wasm"), &wasm).expect("wasm");
    std::fs::write(dir.path().join("site/bundle.txt"), "bespoke-0123456789abcdef\n").expect("bundle name");
    let mut f = start_function(&app.database_url, dir.path()).await;

    // HTTP API v2: a page, anonymous: rendered, cacheable at the edge, in the bundle's names
    let res = f.http(v2_event("GET", "/", "", json!({ "host": "shop.example", "accept": "text/html" }), &[], None)).await;
    assert_eq!(res["statusCode"], 200, "{res}");
    assert!(header(&res, "content-type").starts_with("text/html"), "{res}");
    assert_eq!(header(&res, "cache-control"), "public, max-age=0, s-maxage=60, stale-while-revalidate=600");
    assert!(header(&res, "etag").starts_with("W/\""), "{res}");
    assert!(!header(&res, "x-request-id").is_empty());
    let html = String::from_utf8(body_bytes(&res)).expect("utf-8 page");
    assert!(html.contains("/pkg/bespoke-0123456789abcdef.css") && html.contains("bespoke-0123456789abcdef"), "the page names the hashed bundle");

    // v2: a search, gzip-compressed: the body comes back base64 and decodes to the answer
    let res = f.http(v2_event("GET", "/api/v1/search", "q=", json!({ "host": "shop.example", "accept-encoding": "gzip" }), &[], None)).await;
    assert_eq!(res["statusCode"], 200, "{res}");
    assert_eq!(header(&res, "content-encoding"), "gzip");
    assert_eq!(res["isBase64Encoded"], true);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body_bytes(&res)[..]).read_to_string(&mut text).expect("gunzip");
    let found: Value = serde_json::from_str(&text).expect("search json");
    let hits = found["hits"].as_array().expect("hits");
    assert!(!hits.is_empty(), "{found}");

    // a listing that needs no option choice
    let mut product = None;
    for h in hits {
        let slug = h["slug"].as_str().expect("slug");
        let res = f.http(v2_event("GET", &format!("/api/v1/products/{slug}"), "", json!({ "host": "shop.example" }), &[], None)).await;
        let p = body_json(&res);
        if h["in_stock"] == true && p["options"].as_array().is_none_or(|o| o.iter().all(|o| o["required"] != true)) {
            product = Some(slug.to_owned());
            break;
        }
    }
    let product = product.expect("a listing without required options");

    // v2: a guest adds to the cart with a base64 body; the cookie comes back in `cookies`
    let body = json!({ "product": product, "quantity": 2 }).to_string();
    let res = f
        .http(v2_event("POST", "/api/v1/cart/items", "", json!({ "host": "shop.example", "content-type": "application/json" }), &[], Some(body.as_bytes())))
        .await;
    assert_eq!(res["statusCode"], 201, "{res}");
    let cookies: Vec<String> = res["cookies"].as_array().expect("cookies").iter().map(|c| c.as_str().expect("cookie").to_owned()).collect();
    let cart = cookies.iter().find(|c| c.starts_with("bespoke_cart=")).expect("the cart cookie");
    assert!(res["headers"].get("set-cookie").is_none(), "v2 answers carry cookies in `cookies`, not headers");
    let pair = cart.split(';').next().expect("pair").to_owned();
    let res = f.http(v2_event("GET", "/api/v1/cart", "", json!({ "host": "shop.example" }), &[pair.clone()], None)).await;
    let view = body_json(&res);
    assert_eq!(view["item_count"], 2, "the cookie names the same cart: {view}");
    assert_eq!(view["groups"][0]["lines"][0]["product_slug"], product.as_str(), "{view}");

    // a guest's cart page is not for a shared cache
    let res = f.http(v2_event("GET", "/cart", "", json!({ "host": "shop.example" }), &[pair], None)).await;
    assert_eq!(header(&res, "cache-control"), "private, no-store");

    // REST API v1 on stage `prod`: sign-up with a base64 body; the stage is not part of the route
    let email = unique_email("lambda");
    let body = json!({ "email": email, "password": "lambda password", "display_name": "Lambda Person", "account_type": "customer" }).to_string();
    let res = f
        .http(v1_event("POST", "/api/v1/auth/sign-up", json!({ "Host": "70ixmpl4fl.execute-api.eu-west-1.amazonaws.com", "Content-Type": "application/json" }), Some(body.as_bytes())))
        .await;
    assert_eq!(res["statusCode"], 201, "{res}");
    assert!(res["multiValueHeaders"]["content-type"][0].as_str().is_some_and(|v| v.starts_with("application/json")), "v1 answers use multiValueHeaders: {res}");
    let token = body_json(&res)["token"].as_str().expect("token").to_owned();
    let res = f.http(v1_event("GET", "/api/v1/me", json!({ "Host": "x", "Authorization": format!("Bearer {token}") }), None)).await;
    assert_eq!(res["statusCode"], 200, "{res}");
    assert_eq!(body_json(&res)["email"], email.as_str());

    // v1: a signed-in page is private; the session cookie rides in the Cookie header
    let res = f.http(v1_event("GET", "/", json!({ "Host": "x", "Cookie": format!("bespoke_session={token}") }), None)).await;
    assert_eq!(res["statusCode"], 200);
    assert_eq!(res["multiValueHeaders"]["cache-control"][0], "private, no-store", "{}", res["multiValueHeaders"]);

    // a binary file: base64 in the answer, the same bytes after decoding, cached for ever
    let res = f.http(v2_event("GET", "/pkg/bespoke-0123456789abcdef_bg.wasm", "", json!({ "host": "shop.example" }), &[], None)).await;
    assert_eq!(res["statusCode"], 200, "{res}");
    assert_eq!(res["isBase64Encoded"], true);
    assert_eq!(body_bytes(&res), wasm);
    assert_eq!(header(&res, "cache-control"), "public, max-age=31536000, immutable");

    // a bad request is a clear 4xx, not a failed invocation
    let res = f.http(v2_event("POST", "/api/v1/auth/sign-up", "", json!({ "host": "x", "content-type": "application/json" }), &[], Some(b"{not json"))).await;
    assert_eq!(res["statusCode"], 400, "{res}");
    assert!(body_json(&res)["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));

    // scheduled tasks: the drain answers with what it handled; an unknown task fails by name
    let res = f.invoke(json!({ "bespoke_task": "events-drain" })).await.expect("the drain task");
    assert_eq!(res["task"], "events-drain");
    assert!(res["events"].is_u64() && res["sagas"].is_u64(), "{res}");
    let res = f.invoke(json!({ "bespoke_task": "recommend-retrain" })).await.expect("the retraining task");
    assert_eq!(res["trained"], false, "too few signals to retrain: {res}");
    let err = f.invoke(json!({ "bespoke_task": "tidy-up" })).await.expect_err("an unknown task");
    assert!(err.to_string().contains("unknown bespoke_task"), "{err}");
    let err = f.invoke(json!({ "hello": "world" })).await.expect_err("not an event we know");
    assert!(err.to_string().contains("neither an API Gateway"), "{err}");

    // the function is still serving after the failed invocations
    let res = f.http(v2_event("GET", "/healthz", "", json!({ "host": "x" }), &[], None)).await;
    assert_eq!(res["statusCode"], 200);
    drop(f);
    drop(dir);
    // the whole test app (its temp dir holds the SQLite file) lives until here
    drop(app);
});
