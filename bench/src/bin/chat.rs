//! Live chat figures against the real server binary: many idle WebSocket connections on one instance
//! (the server's memory before and after), then message delivery latency (sent on one socket of a
//! thread → received on another) while many threads are active at once.
//!
//! `cargo run --release -p bench --bin chat [-- --idle 10000 --active 1000 --seconds 20 --backend sqlite]`
//! (uses the release `server` binary of the same target dir; each person may hold 8 sockets, so the
//! idle sockets are spread over idle/8 customers, each with a thread of its own).

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bench::{arg, cleanup, free_port, fresh_database, ms, percentile, rss_kib};
use futures::{stream, SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};



async fn post(c: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Result<Value, reqwest::Error> {
    let mut r = c.post(url).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await?.json().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let idle: usize = arg("--idle").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let active: usize = arg("--active").and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let seconds: u64 = arg("--seconds").and_then(|v| v.parse().ok()).unwrap_or(20);
    let backend = arg("--backend").unwrap_or_else(|| "sqlite".into());
    let people = idle.div_ceil(8).max(active);

    let (url, drop_sql) = fresh_database(&backend).await?;
    let exe = std::env::current_exe()?.with_file_name("server");
    let dir = std::env::temp_dir().join(format!("bespoke-chat-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port();
    let envs = [("DATABASE_URL", url.clone()), ("BESPOKE_DATA_DIR", dir.display().to_string()), ("BESPOKE_ADDR", format!("127.0.0.1:{port}")), ("RUST_LOG", "error".into())];
    std::process::Command::new(&exe).args(["seed", "--products", "0"]).envs(envs.clone()).stdout(Stdio::null()).status()?;
    // glibc raises its mmap threshold after argon2's 19 MiB blocks are freed, then keeps such blocks on
    // the heap: the RSS would hide the sockets. A fixed threshold returns them (`--keep-malloc` skips it).
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.envs(envs);
    if std::env::args().all(|a| a != "--keep-malloc") {
        cmd.env("MALLOC_MMAP_THRESHOLD_", "131072");
    }
    let mut server = cmd.stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true).spawn()?;
    let pid = server.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::builder().pool_max_idle_per_host(64).timeout(Duration::from_secs(120)).build()?;
    for _ in 0..300 {
        if c.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = post(&c, &format!("{base}/api/v1/auth/sign-in"), None, &json!({ "email": "dealer01@bespoke.test", "password": "bespoke-demo" })).await?;
    let dt = d["token"].as_str().ok_or("dealer sign-in failed")?.to_owned();
    let p = post(&c, &format!("{base}/api/v1/dealer/products"), Some(&dt), &json!({ "title": "Commission piece", "category": "/home", "price": "100" })).await?;
    let pid_s = p["id"].as_str().ok_or("product")?.to_owned();
    post(&c, &format!("{base}/api/v1/dealer/products/{pid_s}/status"), Some(&dt), &json!({ "action": "publish" })).await?;

    let setup = Instant::now();
    let people: Vec<(String, String)> = stream::iter(0..people)
        .map(|i| {
            let (c, base, product) = (c.clone(), base.clone(), pid_s.clone());
            async move {
                let s = post(&c, &format!("{base}/api/v1/auth/sign-up"), None, &json!({ "email": format!("chat{i}-{}@example.com", uuid::Uuid::now_v7().simple()), "password": "chat password", "display_name": "Chat" })).await.ok()?;
                let token = s["token"].as_str()?.to_owned();
                let t = post(&c, &format!("{base}/api/v1/threads"), Some(&token), &json!({ "product": product, "text": "A custom piece, please" })).await.ok()?;
                Some((token, t["id"].as_str()?.to_owned()))
            }
        })
        .buffer_unordered(16)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    eprintln!("{} customers with a thread each, in {:.1} s", people.len(), setup.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss0 = rss_kib(pid);

    // idle sockets: 8 per customer (each person's limit), up to `idle`
    let t0 = Instant::now();
    let received: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let ws_base = base.replace("http://", "ws://");
    let targets: Vec<(usize, usize)> = (0..idle).map(|k| (k / 8, k % 8)).filter(|(i, _)| *i < people.len()).collect();
    let sockets: Vec<(usize, usize, _)> = stream::iter(targets)
        .map(|(i, slot)| {
            let (token, thread) = people[i].clone();
            let ws_base = ws_base.clone();
            async move {
                let mut req = format!("{ws_base}/api/v1/threads/{thread}/ws?after=1").into_client_request().ok()?;
                req.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).ok()?);
                let (s, _) = tokio_tungstenite::connect_async(req).await.ok()?;
                Some((i, slot, s))
            }
        })
        .buffer_unordered(64)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let connected = sockets.len();
    let connect_secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss1 = rss_kib(pid);

    // every socket is read (as a browser would); slot 1 of each thread records the latency of pings
    let mut senders = Vec::new();
    let origin = Instant::now();
    for (i, slot, s) in sockets {
        let (tx, mut rx) = s.split();
        if slot == 0 && i < active {
            senders.push(tx);
        }
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = rx.next().await {
                if slot != 1 {
                    continue;
                }
                if let Message::Text(t) = frame {
                    let v: Value = serde_json::from_str(&t).unwrap_or_default();
                    if let Some(sent) = v["message"]["body"].as_str().and_then(|b| b.strip_prefix("ping ")).and_then(|n| n.parse::<u64>().ok()) {
                        let now = origin.elapsed().as_micros() as u64;
                        received.lock().unwrap_or_else(|p| p.into_inner()).push(Duration::from_micros(now.saturating_sub(sent)));
                    }
                }
            }
        });
    }
    // active threads: one message every 3 s each (under the 30-a-minute limit), staggered
    let n_active = senders.len();
    let run = Duration::from_secs(seconds);
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(k, mut tx)| {
            let sent = sent.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis((k as u64 * 3000) / n_active.max(1) as u64)).await;
                let start = Instant::now();
                while start.elapsed() < run {
                    let body = format!("ping {}", origin.elapsed().as_micros());
                    if tx.send(Message::Text(json!({ "type": "message", "body": body }).to_string().into())).await.is_err() {
                        return;
                    }
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss2 = rss_kib(pid);
    let mut lat = received.lock().unwrap_or_else(|p| p.into_inner()).clone();
    lat.sort();
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    println!("backend: {backend}; server RSS: {} MiB after setup, {} MiB with {connected} idle sockets ({:.1} KiB each), {} MiB after the active phase",
        rss0 / 1024, rss1 / 1024, (rss1.saturating_sub(rss0)) as f64 / connected.max(1) as f64, rss2 / 1024);
    println!("sockets connected: {connected} of {idle} in {connect_secs:.1} s");
    println!("active threads: {n_active}; messages sent {sent}, delivered {} ({:.0}/s); delivery latency p50 {} ms, p99 {} ms, max {} ms",
        lat.len(), lat.len() as f64 / seconds as f64, ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.99)), ms(lat.last().copied().unwrap_or_default()));
    let _ = server.kill().await;
    cleanup(drop_sql).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
