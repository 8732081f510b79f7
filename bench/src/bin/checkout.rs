//! Checkout figures over HTTP against the real server binary, on each database: checkouts per second
//! when every client buys a different product, and the same when 100 clients all buy the same product
//! (contention on one stock row), in the same run. A checkout here is the whole `POST /api/v1/checkout`:
//! cart re-pricing, the stock reservation, orders, lines, payment, saga and outbox rows in one
//! transaction, then the payment intent at the (sandbox) provider.
//!
//! `cargo run --release -p bench --bin checkout [-- --clients 100 --per-client 10 --backends sqlite,postgres]`
//! (uses the release `server` binary of the same target dir).

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use bench::{arg, cleanup, free_port, fresh_database, ms, percentile};
use futures::future::join_all;
use serde_json::{json, Value};



struct Run {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    failed: usize,
}

async fn post(c: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value), reqwest::Error> {
    let mut r = c.post(url).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await?;
    let s = res.status().as_u16();
    Ok((s, res.json().await.unwrap_or(Value::Null)))
}

/// Each client: put its product in the cart, check out; `per_client` times. Only the checkout is timed.
async fn scenario(c: &reqwest::Client, base: &str, tokens: &[String], products: &[String], per_client: usize) -> Run {
    let address = json!({ "shipping_address": { "name": "Bench Buyer", "line1": "1 Main St", "city": "Ghent", "postal_code": "9000", "country": "BE" } });
    let t0 = Instant::now();
    let results = join_all(tokens.iter().enumerate().map(|(i, t)| {
        let product = products[i % products.len()].clone();
        let address = address.clone();
        async move {
            let mut lat = Vec::with_capacity(per_client);
            let mut failed = 0;
            for _ in 0..per_client {
                let _ = post(c, &format!("{base}/api/v1/cart/items"), Some(t), &json!({ "product": product, "quantity": 1, "options": [] })).await;
                let s = Instant::now();
                match post(c, &format!("{base}/api/v1/checkout"), Some(t), &address).await {
                    Ok((201, _)) => lat.push(s.elapsed()),
                    Ok((code, body)) => {
                        failed += 1;
                        if std::env::var("BENCH_DEBUG").is_ok() {
                            eprintln!("checkout {code}: {body}");
                        }
                    }
                    Err(_) => failed += 1,
                }
            }
            (lat, failed)
        }
    }))
    .await;
    let took = t0.elapsed();
    let mut all: Vec<Duration> = results.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    all.sort();
    let failed = results.iter().map(|(_, f)| f).sum();
    Run { per_sec: all.len() as f64 / took.as_secs_f64(), p50: percentile(&all, 0.5), p99: percentile(&all, 0.99), failed }
}

async fn backend(name: &str, clients: usize, per_client: usize) -> Result<(Run, Run), Box<dyn std::error::Error>> {
    let (url, drop_sql) = fresh_database(name).await?;
    let exe = std::env::current_exe()?.with_file_name("server");
    let dir = std::env::temp_dir().join(format!("bespoke-checkout-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port();
    let envs = [("DATABASE_URL", url.clone()), ("BESPOKE_DATA_DIR", dir.display().to_string()), ("BESPOKE_ADDR", format!("127.0.0.1:{port}")), ("RUST_LOG", "warn".into())];
    let status = std::process::Command::new(&exe).arg("seed").arg("--products").arg("0").envs(envs.clone()).stdout(Stdio::null()).status()?;
    if !status.success() {
        return Err("seeding failed".into());
    }
    let mut server = tokio::process::Command::new(&exe).envs(envs).stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true).spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::builder().pool_max_idle_per_host(256).timeout(Duration::from_secs(120)).build()?;
    for _ in 0..300 {
        if c.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // one approved demo dealer lists `clients` products with plenty of stock
    let (_, d) = post(&c, &format!("{base}/api/v1/auth/sign-in"), None, &json!({ "email": "dealer01@bespoke.test", "password": "bespoke-demo" })).await?;
    let dt = d["token"].as_str().ok_or("dealer sign-in failed")?.to_owned();
    let mut products = Vec::new();
    for i in 0..clients {
        let body = json!({ "title": format!("Bench item {i}"), "category": "/home", "price": "19.90", "stock": "1000000" });
        let (_, p) = post(&c, &format!("{base}/api/v1/dealer/products"), Some(&dt), &body).await?;
        let id = p["id"].as_str().ok_or("product create failed")?.to_owned();
        post(&c, &format!("{base}/api/v1/dealer/products/{id}/status"), Some(&dt), &json!({ "action": "publish" })).await?;
        products.push(id);
    }
    let tokens: Vec<String> = join_all((0..clients).map(|i| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let body = json!({ "email": format!("bench{i}-{}@example.com", uuid::Uuid::now_v7().simple()), "password": "bench password", "display_name": "Bench" });
            post(&c, &format!("{base}/api/v1/auth/sign-up"), None, &body).await.ok().and_then(|(_, v)| v["token"].as_str().map(str::to_owned))
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    if tokens.len() != clients {
        return Err(format!("only {} of {clients} customers signed up", tokens.len()).into());
    }
    // warm-up, then: every client its own product; then everyone the same product
    scenario(&c, &base, &tokens[..clients.min(10)], &products, 2).await;
    let spread = scenario(&c, &base, &tokens, &products, per_client).await;
    let one = scenario(&c, &base, &tokens, &products[..1], per_client).await;
    let _ = server.kill().await;
    cleanup(drop_sql).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((spread, one))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clients: usize = arg("--clients").and_then(|v| v.parse().ok()).unwrap_or(100);
    let per_client: usize = arg("--per-client").and_then(|v| v.parse().ok()).unwrap_or(10);
    let backends = arg("--backends").unwrap_or_else(|| "sqlite,postgres".into());
    println!("{clients} concurrent clients × {per_client} checkouts each, over HTTP (release server, sandbox payments)");
    println!("| database | scenario | checkouts/s | p50 ms | p99 ms | failed |");
    println!("|---|---|---:|---:|---:|---:|");
    for b in backends.split(',') {
        let (spread, one) = backend(b, clients, per_client).await?;
        for (label, r) in [("each client a different product", &spread), (&*format!("all {clients} clients the same product"), &one)] {
            println!("| {b} | {label} | {:.0} | {} | {} | {} |", r.per_sec, ms(r.p50), ms(r.p99), r.failed);
        }
        println!("| {b} | contention ratio (same ÷ different) | {:.2} | | | |", one.per_sec / spread.per_sec.max(1e-9));
    }
    Ok(())
}
