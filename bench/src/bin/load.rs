//! The whole product under an open-model load: `--users` concurrent users (10,000) against one
//! release server on this machine, each user a Poisson process of requests with a mean think time
//! (`--think`, seconds) between them, so the arrival rate does not slow down when the server does.
//! Every latency is measured from the moment the request was *due*, not from when it was sent
//! (coordinated omission corrected, as wrk2 does): a user whose previous request is still running
//! waits, and that wait is counted.
//!
//! The mix, by kind of user (as a share of users):
//! - 88 % anonymous browsers: home page, search (API and page), product page, recommendations,
//!   add to a guest cart (cookie), view the cart;
//! - 10 % signed-in shoppers: the same with "recommended for you", and checkout (cart + order +
//!   stock reservation + payment intent);
//! - 2 % in a live custom-work chat: a message over a WebSocket, timed until it is delivered to the
//!   thread's other socket.
//!
//! Levels: 10/25/50/75/100 % of the users (the same think time, so 10 % load is a tenth of the
//! arrival rate), each for `--seconds`. Pass: p99 at 100 % ≤ 1.2 × p99 at 10 %, errors < 0.1 %.
//! In the same run: the closed-loop ceiling of an axum hello-world server (a child process of this
//! binary) and of ours on the read mix, and the server's CPU time per request and memory, which
//! feed the cost model printed at the end.
//!
//! `cargo build --release -p server -p bench && ./target/release/load [--users 10000 --think 20 --seconds 30 --products 10000 --chart docs/bench/load-latency.svg]`

use std::{
    collections::HashMap,
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use bench::{arg, free_port, ms, percentile, rss_kib};
use futures::{SinkExt, StreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Action {
    Home,
    SearchApi,
    SearchPage,
    Product,
    Recommendations,
    CartAdd,
    Cart,
    Checkout,
    Chat,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Home => "home page",
            Action::SearchApi => "search (API)",
            Action::SearchPage => "search page",
            Action::Product => "product page",
            Action::Recommendations => "recommendations (API)",
            Action::CartAdd => "add to cart",
            Action::Cart => "cart (API)",
            Action::Checkout => "checkout",
            Action::Chat => "chat message",
        }
    }
}

const BROWSER: &[(Action, u32)] = &[
    (Action::Home, 15),
    (Action::SearchApi, 20),
    (Action::SearchPage, 10),
    (Action::Product, 25),
    (Action::Recommendations, 15),
    (Action::CartAdd, 8),
    (Action::Cart, 7),
];
const SHOPPER: &[(Action, u32)] = &[
    (Action::Home, 10),
    (Action::SearchApi, 20),
    (Action::Product, 25),
    (Action::Recommendations, 15),
    (Action::CartAdd, 15),
    (Action::Cart, 5),
    (Action::Checkout, 10),
];
const CHATTER: &[(Action, u32)] = &[(Action::Chat, 50), (Action::Product, 25), (Action::SearchApi, 25)];

const WORDS: &[&str] = &["oak", "walnut", "ceramic", "linen", "leather", "silver", "bowl", "table", "lamp", "ring", "wool", "vase", "chair", "print", "mug"];

fn pick(rng: &mut StdRng, mix: &[(Action, u32)]) -> Action {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut r = rng.gen_range(0..total);
    for (a, w) in mix {
        if r < *w {
            return *a;
        }
        r -= w;
    }
    mix[0].0
}

struct Shared {
    base: String,
    client: reqwest::Client,
    products: Vec<String>,
    shoppers: Vec<String>,
    chatters: Vec<ChatUser>,
    samples: Arc<Mutex<Vec<(Action, Duration, bool)>>>,
    refused: AtomicUsize,
}

struct ChatUser {
    sender: tokio::sync::Mutex<futures::stream::SplitSink<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, Message>>,
    /// message tag → when it was due
    pending: Arc<Mutex<HashMap<u64, Instant>>>,
}

enum Outcome {
    Ok,
    Refused,
    Error,
}

fn classify(status: u16) -> Outcome {
    match status {
        200..=399 => Outcome::Ok,
        429 | 500..=599 => Outcome::Error,
        _ => Outcome::Refused,
    }
}

/// The first few failures are printed, so a level's errors say what they were.
static REPORTED: AtomicUsize = AtomicUsize::new(0);

fn report_failure(what: String) {
    if REPORTED.fetch_add(1, Ordering::Relaxed) < 10 {
        eprintln!("      failure: {what}");
    }
}

async fn request(sh: &Shared, rb: reqwest::RequestBuilder) -> (Outcome, Option<String>) {
    match rb.send().await {
        Ok(res) => {
            let cookie = res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|c| c.starts_with("bespoke_cart=")).map(|c| c.split(';').next().unwrap_or("").to_owned());
            let status = res.status().as_u16();
            let url = res.url().path().to_owned();
            let body = res.bytes().await;
            let _ = sh;
            let outcome = match (&body, classify(status)) {
                (Err(e), _) => {
                    report_failure(format!("{url}: {status}, the body failed: {e}"));
                    Outcome::Error
                }
                (Ok(b), Outcome::Error) => {
                    report_failure(format!("{url}: {status} {}", String::from_utf8_lossy(&b[..b.len().min(200)])));
                    Outcome::Error
                }
                (_, o) => o,
            };
            (outcome, cookie)
        }
        Err(e) => {
            report_failure(format!("{e:?}"));
            (Outcome::Error, None)
        }
    }
}

static TAG: AtomicU64 = AtomicU64::new(1);

/// Runs one action for a user; the caller times it from when it was due.
async fn act(sh: &Shared, a: Action, user: usize, cart: &mut Option<String>, rng: &mut StdRng, due: Instant) -> Option<Outcome> {
    let c = &sh.client;
    let base = &sh.base;
    let product = &sh.products[rng.gen_range(0..sh.products.len())];
    let word = WORDS[rng.gen_range(0..WORDS.len())];
    // each shopper and chatter of the mix has an account of their own (as far as there are
    // accounts): users 2–11 of every hundred shop, 0–1 chat
    let token = (!sh.shoppers.is_empty() && user % 100 >= 2 && user % 100 < 12).then(|| &sh.shoppers[(user / 100 * 10 + user % 100 - 2) % sh.shoppers.len()]);
    let with_id = |mut rb: reqwest::RequestBuilder, cart: &Option<String>| {
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        } else if let Some(ck) = cart {
            rb = rb.header("cookie", ck.as_str());
        }
        rb
    };
    let (outcome, cookie) = match a {
        Action::Home => request(sh, with_id(c.get(format!("{base}/")), cart)).await,
        Action::SearchApi => request(sh, with_id(c.get(format!("{base}/api/v1/search?q={word}")), cart)).await,
        Action::SearchPage => request(sh, with_id(c.get(format!("{base}/search?q={word}")), cart)).await,
        Action::Product => request(sh, with_id(c.get(format!("{base}/p/{product}")), cart)).await,
        Action::Recommendations => {
            let q = if token.is_some() { "kind=for_you".to_owned() } else { format!("kind=similar&product={product}") };
            request(sh, with_id(c.get(format!("{base}/api/v1/recommendations?{q}")), cart)).await
        }
        Action::CartAdd => request(sh, with_id(c.post(format!("{base}/api/v1/cart/items")).json(&json!({ "product": product, "quantity": 1 })), cart)).await,
        Action::Cart => request(sh, with_id(c.get(format!("{base}/api/v1/cart")), cart)).await,
        Action::Checkout => {
            let _ = request(sh, with_id(c.post(format!("{base}/api/v1/cart/items")).json(&json!({ "product": product, "quantity": 1 })), cart)).await;
            let address = json!({ "shipping_address": { "name": "Load Buyer", "line1": "1 Main St", "city": "Ghent", "postal_code": "9000", "country": "BE" } });
            request(sh, with_id(c.post(format!("{base}/api/v1/checkout")).json(&address), cart)).await
        }
        Action::Chat => {
            let u = &sh.chatters[(user / 100 * 2 + user % 100) % sh.chatters.len()];
            let tag = TAG.fetch_add(1, Ordering::Relaxed);
            u.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(tag, due);
            let frame = json!({ "type": "message", "body": format!("load {tag}") }).to_string();
            let sent = u.sender.lock().await.send(Message::Text(frame.into())).await;
            // the latency is recorded when the other socket receives it
            return if sent.is_ok() { None } else { Some(Outcome::Error) };
        }
    };
    if cookie.is_some() && token.is_none() {
        *cart = cookie;
    }
    Some(outcome)
}

fn exp(rng: &mut StdRng, mean: f64) -> Duration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    Duration::from_secs_f64(-u.ln() * mean)
}

/// One level of load: users `0..active`, each a Poisson process, for `secs`.
async fn level(sh: Arc<Shared>, active: usize, think: f64, secs: f64) -> Vec<(Action, Duration, bool)> {
    sh.samples.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..active)
        .map(|user| {
            let sh = sh.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(user as u64 * 7919 + 17);
                let mix = match user % 100 {
                    0..=1 if !sh.chatters.is_empty() => CHATTER,
                    2..=11 if !sh.shoppers.is_empty() => SHOPPER,
                    _ => BROWSER,
                };
                let mut cart = None;
                let mut due = start + exp(&mut rng, think);
                while due < end {
                    tokio::time::sleep_until(due.into()).await;
                    let a = pick(&mut rng, mix);
                    let outcome = act(&sh, a, user, &mut cart, &mut rng, due).await;
                    let took = due.elapsed();
                    match outcome {
                        Some(Outcome::Ok) => sh.samples.lock().unwrap_or_else(|p| p.into_inner()).push((a, took, true)),
                        Some(Outcome::Error) => sh.samples.lock().unwrap_or_else(|p| p.into_inner()).push((a, took, false)),
                        Some(Outcome::Refused) => {
                            sh.refused.fetch_add(1, Ordering::Relaxed);
                            sh.samples.lock().unwrap_or_else(|p| p.into_inner()).push((a, took, true));
                        }
                        None => {}
                    }
                    due += exp(&mut rng, think);
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    // chat messages still undelivered 5 s after the level are failures
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut out = std::mem::take(&mut *sh.samples.lock().unwrap_or_else(|p| p.into_inner()));
    for u in &sh.chatters {
        let lost: Vec<_> = u.pending.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        out.extend(lost.into_iter().map(|(_, due)| (Action::Chat, due.elapsed(), false)));
    }
    out
}

/// Process CPU time (user + system) in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks * 10.0 // USER_HZ = 100
}

/// The closed-loop ceiling: `conc` loops of back-to-back GETs for `secs`.
async fn closed_loop(client: &reqwest::Client, urls: Arc<Vec<String>>, conc: usize, secs: f64) -> (f64, usize) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..conc)
        .map(|k| {
            let (client, urls, done, errors) = (client.clone(), urls.clone(), done.clone(), errors.clone());
            tokio::spawn(async move {
                let mut i = k;
                while Instant::now() < end {
                    match client.get(&urls[i % urls.len()]).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 7;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    (done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64(), errors.load(Ordering::Relaxed))
}

/// The ceiling's server: axum's hello world, on this process's runtime (two worker threads here).
async fn hello(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(l, app).await?;
    Ok(())
}

/// The samples by kind of request: each kind's latencies, sorted, and how many failed.
fn by_kind(samples: &[(Action, Duration, bool)]) -> Vec<(Action, Vec<Duration>, usize)> {
    let mut kinds: Vec<Action> = samples.iter().map(|s| s.0).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|k| {
            let mut lat: Vec<Duration> = samples.iter().filter(|s| s.0 == k).map(|s| s.1).collect();
            lat.sort();
            (k, lat, samples.iter().filter(|s| s.0 == k && !s.2).count())
        })
        .collect()
}

async fn wait_ready(base: &str) -> Result<(), Box<dyn std::error::Error>> {
    let c = reqwest::Client::new();
    for _ in 0..600 {
        if c.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) || c.get(base).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{base} did not come up").into())
}

struct Row {
    pct: usize,
    users: usize,
    offered: f64,
    rps: f64,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
    errors: usize,
    total: usize,
    cpu_ms_per_req: f64,
    cpu_share: f64,
    rss_mib: f64,
}

fn chart(rows: &[Row], path: &str, hello_p: Option<f64>) -> std::io::Result<()> {
    let (w, h, l, b) = (720.0, 420.0, 70.0, 50.0);
    let max_rps = rows.iter().map(|r| r.rps).fold(1.0, f64::max) * 1.1;
    let max_ms = rows.iter().map(|r| r.p99.as_secs_f64() * 1e3).fold(1.0, f64::max) * 1.2;
    let x = |v: f64| l + v / max_rps * (w - l - 20.0);
    let y = |v: f64| h - b - v / max_ms * (h - b - 30.0);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\"><rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    s.push_str(&format!("<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">Latency against load (open model, coordinated omission corrected)</text>", w / 2.0));
    s.push_str(&format!("<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/><line x1=\"{l}\" y1=\"30\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/>", h - b, w - 20.0, h - b, h - b));
    for k in 0..=5 {
        let v = max_ms * k as f64 / 5.0;
        s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.1}</text><line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#eee\"/>", l - 6.0, y(v) + 4.0, y(v), w - 20.0, y(v)));
        let r = max_rps * k as f64 / 5.0;
        s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{r:.0}</text>", x(r), h - b + 18.0));
    }
    s.push_str(&format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">requests per second (10 % … 100 % of the users)</text>", (l + w) / 2.0, h - 10.0));
    s.push_str(&format!("<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">latency, ms</text>", h / 2.0, h / 2.0));
    for (name, color, f) in [
        ("p50", "#2b8a3e", (|r: &Row| r.p50) as fn(&Row) -> Duration),
        ("p95", "#e67700", |r: &Row| r.p95),
        ("p99", "#c92a2a", |r: &Row| r.p99),
    ] {
        let pts: Vec<String> = rows.iter().map(|r| format!("{:.1},{:.1}", x(r.rps), y(f(r).as_secs_f64() * 1e3))).collect();
        s.push_str(&format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>", pts.join(" ")));
        for r in rows {
            s.push_str(&format!("<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>", x(r.rps), y(f(r).as_secs_f64() * 1e3)));
        }
        if let Some(last) = rows.last() {
            s.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{name}</text>", x(last.rps) - 30.0, y(f(last).as_secs_f64() * 1e3) - 6.0));
        }
    }
    if let Some(p) = hello_p {
        s.push_str(&format!("<text x=\"{}\" y=\"44\" fill=\"#555\">axum hello-world ceiling on this machine: {p:.0} req/s (off the chart)</text>", l + 10.0));
    }
    s.push_str("</svg>\n");
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, s)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(p) = arg("--hello").and_then(|v| v.parse().ok()) {
        return hello(p).await;
    }
    let users: usize = arg("--users").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let think: f64 = arg("--think").and_then(|v| v.parse().ok()).unwrap_or(20.0);
    let secs: f64 = arg("--seconds").and_then(|v| v.parse().ok()).unwrap_or(30.0);
    let products: usize = arg("--products").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let levels: Vec<usize> = arg("--levels").unwrap_or_else(|| "10,25,50,75,100".into()).split(',').filter_map(|v| v.parse().ok()).collect();
    let n_shoppers: usize = arg("--shoppers").and_then(|v| v.parse().ok()).unwrap_or(100);
    let n_chat: usize = arg("--chatters").and_then(|v| v.parse().ok()).unwrap_or(50);

    // the database: the demo catalogue with a trained model (reused between runs)
    let dir = std::env::temp_dir().join(format!("bespoke-load-{products}"));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bespoke.db").display());
    let server = std::env::current_exe()?.with_file_name("server");
    if !dir.join("bespoke.db").exists() {
        let t = Instant::now();
        let ok = Command::new(&server).args(["seed", "--products", &products.to_string(), "--shoppers", "120"]).env("DATABASE_URL", &url).env("BESPOKE_DATA_DIR", &dir).env("RUST_LOG", "warn").stdout(Stdio::null()).status()?.success();
        if !ok {
            return Err("seeding failed (cargo build --release -p server first)".into());
        }
        eprintln!("seeded {products} listings in {:.0} s", t.elapsed().as_secs_f64());
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(&server)
        .env("DATABASE_URL", &url)
        .env("BESPOKE_DATA_DIR", &dir)
        .env("BESPOKE_ADDR", format!("127.0.0.1:{port}"))
        .env("BESPOKE_LIMITS__SIGN_UP_PER_HOUR", "0")
        .env("BESPOKE_LIMITS__SEARCH_PER_MINUTE", "0")
        .env("BESPOKE_LIMITS__CHECKOUT_PER_MINUTE", "0")
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .env("RUST_LOG", "warn")
        // `--server-env K=V,K=V`: A/B runs of the server's environment (an allocator through
        // LD_PRELOAD, glibc's mmap threshold), the harness unchanged
        .envs(arg("--server-env").unwrap_or_default().split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())))
        // kept beside the database: what went wrong when a level shows errors
        .stdout(std::fs::File::create(dir.join("server.log"))?)
        .stderr(std::fs::File::create(dir.join("server.err"))?)
        .spawn()?;
    eprintln!("server log: {}", dir.join("server.log").display());
    let pid = child.id();
    wait_ready(&base).await?;

    // listings anyone can buy without choosing an option, with stock to spare
    let db = kernel::Db::connect(&url).await?;
    let slugs: Vec<String> = sqlx::query_scalar(
        "SELECT slug FROM product p WHERE status = 'published' AND (stock IS NULL OR stock > 50) \
         AND NOT EXISTS (SELECT 1 FROM product_option o WHERE o.product_id = p.product_id AND o.required = 1) ORDER BY slug LIMIT 3000",
    )
    .fetch_all(db.reader())
    .await?;
    db.close().await;
    if slugs.is_empty() {
        return Err("no listing without required options".into());
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(20_000).timeout(Duration::from_secs(60)).build()?;

    // signed-in shoppers and chatters (sign-ups are argon2id: a few seconds in all)
    let t = Instant::now();
    let sign_up = |tag: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let r = client
                .post(format!("{base}/api/v1/auth/sign-up"))
                .json(&json!({ "email": format!("{tag}-{}@load.test", uuid::Uuid::now_v7().simple()), "password": "load password", "display_name": "Load", "account_type": "customer" }))
                .send()
                .await
                .ok()?;
            let v: Value = r.json().await.ok()?;
            v["token"].as_str().map(str::to_owned)
        }
    };
    let shoppers: Vec<String> = futures::stream::iter((0..n_shoppers).map(|i| sign_up(format!("shopper{i}")))).buffer_unordered(4).filter_map(|x| async move { x }).collect().await;
    // chat: a commission listing of a demo dealer, a thread per chatter, two sockets each
    let d: Value = client.post(format!("{base}/api/v1/auth/sign-in")).json(&json!({ "email": "dealer01@bespoke.test", "password": "bespoke-demo" })).send().await?.json().await?;
    let dt = d["token"].as_str().unwrap_or_default().to_owned();
    let p: Value = client.post(format!("{base}/api/v1/dealer/products")).bearer_auth(&dt).json(&json!({ "title": "Commission piece", "category": "/home", "price": "100" })).send().await?.json().await?;
    let pid_s = p["id"].as_str().unwrap_or_default().to_owned();
    client.post(format!("{base}/api/v1/dealer/products/{pid_s}/status")).bearer_auth(&dt).json(&json!({ "action": "publish" })).send().await?;
    let ws_base = base.replace("http://", "ws://");
    let samples: Arc<Mutex<Vec<(Action, Duration, bool)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut chatters = Vec::new();
    for i in 0..n_chat {
        let Some(token) = sign_up(format!("chat{i}")).await else { continue };
        let th: Value = client.post(format!("{base}/api/v1/threads")).bearer_auth(&token).json(&json!({ "product": pid_s, "text": "A custom piece, please" })).send().await?.json().await?;
        let Some(thread) = th["id"].as_str().or(th["thread"]["id"].as_str()).map(str::to_owned) else {
            eprintln!("no thread: {th}");
            continue;
        };
        let mut socks = Vec::new();
        for _ in 0..2 {
            let mut req = format!("{ws_base}/api/v1/threads/{thread}/ws?after=1").into_client_request()?;
            req.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}"))?);
            let (s, _) = tokio_tungstenite::connect_async(req).await?;
            socks.push(s);
        }
        let (tx, mut rx0) = socks.remove(0).split();
        let (tx1, mut rx) = socks.remove(0).split();
        // a browser reads every socket it holds
        tokio::spawn(async move {
            while let Some(Ok(frame)) = rx0.next().await {
                if let Message::Text(t) = frame {
                    if t.contains("\"type\":\"error\"") {
                        report_failure(format!("chat: {t}"));
                    }
                }
            }
        });
        let pending: Arc<Mutex<HashMap<u64, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
        let (p2, s2) = (pending.clone(), samples.clone());
        tokio::spawn(async move {
            let _keep = tx1;
            while let Some(Ok(frame)) = rx.next().await {
                let Message::Text(t) = frame else { continue };
                let v: Value = serde_json::from_str(&t).unwrap_or_default();
                let Some(tag) = v["message"]["body"].as_str().and_then(|b| b.strip_prefix("load ")).and_then(|n| n.parse::<u64>().ok()) else { continue };
                let due = p2.lock().unwrap_or_else(|p| p.into_inner()).remove(&tag);
                if let Some(due) = due {
                    s2.lock().unwrap_or_else(|p| p.into_inner()).push((Action::Chat, due.elapsed(), true));
                }
            }
        });
        chatters.push(ChatUser { sender: tokio::sync::Mutex::new(tx), pending });
    }
    eprintln!("{} shoppers and {} chatters signed up in {:.1} s", shoppers.len(), chatters.len(), t.elapsed().as_secs_f64());
    let sh = Arc::new(Shared { base: base.clone(), client: client.clone(), products: slugs.clone(), shoppers, chatters, samples, refused: AtomicUsize::new(0) });
    let res = drive(sh, pid, users, think, secs, &levels, &slugs).await;
    let _ = child.kill();
    let _ = child.wait();
    res
}

fn report_level(pct: usize, users: usize, think: f64, secs: f64, samples: &[(Action, Duration, bool)], cpu: f64, rss_mib: f64) -> Row {
    let mut lat: Vec<Duration> = samples.iter().map(|s| s.1).collect();
    lat.sort();
    let errors = samples.iter().filter(|s| !s.2).count();
    Row {
        pct,
        users,
        offered: users as f64 / think,
        rps: samples.len() as f64 / secs,
        p50: percentile(&lat, 0.50),
        p95: percentile(&lat, 0.95),
        p99: percentile(&lat, 0.99),
        max: lat.last().copied().unwrap_or_default(),
        errors,
        total: samples.len(),
        cpu_ms_per_req: cpu / samples.len().max(1) as f64,
        cpu_share: cpu / (secs * 1e3),
        rss_mib,
    }
}

async fn drive(sh: Arc<Shared>, pid: u32, users: usize, think: f64, secs: f64, levels: &[usize], slugs: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let base = sh.base.clone();
    // warm-up: a few seconds at the first level (caches, connections), not counted
    let _ = level(sh.clone(), users * levels.first().copied().unwrap_or(10) / 100, think, 5.0).await;
    let mut rows = Vec::new();
    let mut by_action_full = Vec::new();
    let refused0 = sh.refused.load(Ordering::Relaxed);
    for &pct in levels {
        let active = users * pct / 100;
        let rss_peak = Arc::new(AtomicU64::new(0));
        let (rp, stop) = (rss_peak.clone(), Arc::new(std::sync::atomic::AtomicBool::new(false)));
        let stop2 = stop.clone();
        let sampler = tokio::spawn(async move {
            while !stop2.load(Ordering::Relaxed) {
                rp.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let c0 = cpu_ms(pid);
        let samples = level(sh.clone(), active, think, secs).await;
        // the last 5 s of `level` are a wait for late chat deliveries: the CPU window is the level
        let cpu = cpu_ms(pid) - c0;
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.await;
        let row = report_level(pct, active, think, secs, &samples, cpu, rss_peak.load(Ordering::Relaxed) as f64 / 1024.0);
        eprintln!("{pct:>3} %: {} users, {:.0} req/s, p50 {} p99 {} ms, errors {}", active, row.rps, ms(row.p50), ms(row.p99), row.errors);
        for (k, lat, _) in by_kind(&samples) {
            eprintln!("      {:<22} {:>6} p50 {:>10} p99 {:>10} ms", k.name(), lat.len(), ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.99)));
        }
        if pct == *levels.last().unwrap_or(&100) {
            by_action_full = samples;
        }
        rows.push(row);
    }
    let refused = sh.refused.load(Ordering::Relaxed) - refused0;

    // the ceilings, closed loop: an axum hello-world (a child process), then ours on the read mix
    let hport = free_port();
    let mut hello = Command::new(std::env::current_exe()?).args(["--hello", &hport.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let hbase = format!("http://127.0.0.1:{hport}");
    wait_ready(&hbase).await?;
    let (hello_rps, _) = closed_loop(&sh.client, Arc::new(vec![format!("{hbase}/")]), 64, 10.0).await;
    let _ = hello.kill();
    let _ = hello.wait();
    let mut urls = Vec::new();
    for (k, slug) in slugs.iter().take(200).enumerate() {
        let w = WORDS[k % WORDS.len()];
        urls.push(format!("{base}/p/{slug}"));
        urls.push(format!("{base}/api/v1/search?q={w}"));
        urls.push(format!("{base}/api/v1/recommendations?kind=similar&product={slug}"));
        if k % 4 == 0 {
            urls.push(format!("{base}/"));
        }
    }
    let (ours_rps, ours_err) = closed_loop(&sh.client, Arc::new(urls), 64, 10.0).await;

    // the report
    println!("## Load: {users} concurrent users, mean think time {think} s, {secs} s per level\n");
    println!("| load | users | offered req/s | served req/s | p50 ms | p95 ms | p99 ms | max ms | errors | server CPU (of 2 cores) | CPU ms / request | server RSS peak MiB |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} % | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} of {} ({:.3} %) | {:.0} % | {:.2} | {:.0} |",
            r.pct, r.users, r.offered, r.rps, ms(r.p50), ms(r.p95), ms(r.p99), ms(r.max), r.errors, r.total,
            r.errors as f64 * 100.0 / r.total.max(1) as f64, r.cpu_share * 100.0, r.cpu_ms_per_req, r.rss_mib
        );
    }
    let (low, full) = (rows.first(), rows.last());
    if let (Some(low), Some(full)) = (low, full) {
        let ratio = full.p99.as_secs_f64() / low.p99.as_secs_f64().max(1e-9);
        let err = full.errors as f64 / full.total.max(1) as f64;
        println!(
            "\np99 at {} % ÷ p99 at {} %: **{ratio:.2}** (pass ≤ 1.2: {}); errors at full load {:.3} % (pass < 0.1 %: {}); refused by the product (4xx other than 429, e.g. sold out): {refused}",
            full.pct, low.pct, if ratio <= 1.2 { "yes" } else { "NO" }, err * 100.0, if err < 0.001 { "yes" } else { "NO" }
        );
    }
    println!("\nBy request kind at full load:\n\n| kind | count | p50 ms | p99 ms | errors |\n|---|---|---|---|---|");
    for (k, lat, e) in by_kind(&by_action_full) {
        println!("| {} | {} | {} | {} | {e} |", k.name(), lat.len(), ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.99)));
    }
    println!("\nCeilings, closed loop, 64 connections, 10 s, same client and machine: axum hello-world **{hello_rps:.0} req/s**; ours on the read mix (product pages, search, similar items, home) **{ours_rps:.0} req/s** ({ours_err} errors) = **{:.1} %** of the hello-world ceiling.", ours_rps * 100.0 / hello_rps.max(1.0));
    if let Some(path) = arg("--chart") {
        chart(&rows, &path, Some(hello_rps))?;
        println!("\nChart: {path}");
    }
    if let (Some(low), Some(full)) = (rows.first(), rows.last()) {
        cost_model(full.cpu_ms_per_req, low.p50.as_secs_f64() * 1e3, full.rss_mib, ours_rps);
    }
    Ok(())
}

/// $/month on AWS Lambda (+ API Gateway HTTP API) against two always-on VMs behind a load balancer.
/// Every price is an input, stated; what the run measured goes in.
fn cost_model(cpu_ms: f64, p50_ms: f64, rss_mib: f64, capacity_rps: f64) {
    let f = |name: &str, default: f64| arg(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let lambda_gb_s = f("--price-lambda-gb-s", 0.000_016_666_7);
    let lambda_per_m = f("--price-lambda-per-million", 0.20);
    let apigw_per_m = f("--price-http-api-per-million", 1.00);
    let vm_hour = f("--price-vm-hour", 0.0832); // a 2 vCPU / 8 GiB general-purpose VM (e.g. m7i.large-class, on demand)
    let lb_month = f("--price-lb-month", 16.43 + 5.84); // ALB hours + ~1 LCU
    let mem_mb = f("--lambda-memory-mb", 1024.0);
    // Lambda gives CPU in proportion to memory: 1,769 MB = one vCPU. CPU work stretches by that
    // share; the rest of the wall time (waiting on the database) does not.
    let vcpu = (mem_mb / 1769.0).min(1.0);
    let io_ms = (p50_ms - cpu_ms).max(0.0);
    let billed_ms = (cpu_ms / vcpu + io_ms).ceil().max(1.0);
    println!("\n## Cost model (per month; inputs stated, from this run where marked)\n");
    println!("- measured: server CPU per request **{cpu_ms:.2} ms** (at full load), p50 latency at 10 % load {p50_ms:.2} ms, server RSS peak {rss_mib:.0} MiB, closed-loop capacity {capacity_rps:.0} req/s on 2 cores");
    println!("- Lambda: {mem_mb:.0} MB ({:.2} vCPU), billed duration per request = CPU ÷ vCPU share + the rest of the p50 = **{billed_ms:.0} ms**; ${lambda_gb_s} per GB-s, ${lambda_per_m} per million requests; API Gateway HTTP API ${apigw_per_m} per million; no free tier", vcpu);
    println!("- VMs: two always-on at ${vm_hour}/h each (730 h) + a load balancer ${lb_month:.2}/month; each VM is this machine's size, and one alone serves {capacity_rps:.0} req/s, so two cover any of the volumes below");
    println!("- the same for both and left out: the database, CloudFront, data transfer\n");
    println!("| requests / month | Lambda + HTTP API $ | two VMs + LB $ | Lambda saves |");
    println!("|---|---|---|---|");
    let vms = 2.0 * vm_hour * 730.0 + lb_month;
    for m in [1e6, 1e7, 1e8] {
        let lambda = m / 1e6 * (lambda_per_m + apigw_per_m) + m * billed_ms / 1e3 * (mem_mb / 1024.0) * lambda_gb_s;
        println!("| {:.0}M | {lambda:.2} | {vms:.2} | {:.0} % |", m / 1e6, (1.0 - lambda / vms) * 100.0);
    }
    let per_req = (lambda_per_m + apigw_per_m) / 1e6 + billed_ms / 1e3 * (mem_mb / 1024.0) * lambda_gb_s;
    println!("\nBreak-even: {:.1}M requests a month (≈ {:.1} req/s on average); above it the VMs are cheaper.", vms / per_req / 1e6, vms / per_req / (730.0 * 3600.0));
}
