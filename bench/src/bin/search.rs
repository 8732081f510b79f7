//! Search figures at scale: index build time from the database, the raw index query rate, and
//! search latency over HTTP under concurrent load against a real server, in the same run (the ratio
//! shows the HTTP + JSON overhead), plus the server's memory.
//!
//! `cargo run --release -p bench --bin search -- --products 100000 [--seconds 20] [--concurrency 32]`
//! It seeds a fresh SQLite database with `server seed --products N` (release binary in the same
//! target dir) unless `--reuse DIR` names a data dir seeded before.

use std::{
    process::Stdio,
    sync::{atomic::{AtomicUsize, Ordering}, Arc},
    time::{Duration, Instant},
};

use bench::{arg, ms, percentile, rss_kib};
use kernel::Db;
use search::{SearchIndex, SearchQuery, Sort};

/// Queries shaped like real ones: words, typos, filters, sorts.
fn queries() -> Vec<(String, SearchQuery)> {
    let words = ["walnut board", "silver ring", "linen dress", "oak chair", "ceramic vase", "leather wallet", "wool throw", "brass lamp",
        "handmade mug", "engraved box", "walnt bord", "sliver rnig", "cashmere scarf", "bronze sculpture", "maple spoon", "tote bag"];
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let mut q = SearchQuery { q: (*w).to_owned(), per_page: 24, ..Default::default() };
        let mut url = format!("q={}", w.replace(' ', "+"));
        match i % 4 {
            1 => { q.in_stock = true; url.push_str("&in_stock=1"); }
            2 => { q.sort = Sort::PriceAsc; url.push_str("&sort=price_asc"); }
            3 => { q.category = Some("/home".into()); url.push_str("&category=/home"); q.min_price = Some(2000); url.push_str("&min_price=20"); }
            _ => {}
        }
        out.push((url, q));
    }
    out.push(("category=/jewelry&sort=newest".into(), SearchQuery { category: Some("/jewelry".into()), sort: Sort::Newest, per_page: 24, ..Default::default() }));
    out
}



#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let products: usize = arg("--products").and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let seconds: u64 = arg("--seconds").and_then(|v| v.parse().ok()).unwrap_or(20);
    let concurrency: usize = arg("--concurrency").and_then(|v| v.parse().ok()).unwrap_or(32);
    let exe = std::env::current_exe()?.with_file_name("server");
    let (dir, url) = bench::seeded_sqlite(products, arg("--reuse").map(std::path::PathBuf::from))?;

    // in-process: index build from the database and the raw query rate
    let db = Db::connect(&url).await?;
    let catalog = catalog::Catalog::new(db.clone(), catalog::LocalDiskStore::new(dir.join("media")));
    let (index, stats) = SearchIndex::build(db.clone(), catalog).await?;
    let qs = queries();
    let mut raw = Vec::new();
    let raw_start = Instant::now();
    let mut n = 0usize;
    while raw_start.elapsed() < Duration::from_secs(5) {
        for (_, q) in &qs {
            let s = Instant::now();
            index.search(q)?;
            raw.push(s.elapsed());
            n += 1;
        }
    }
    let raw_qps = n as f64 / raw_start.elapsed().as_secs_f64();
    raw.sort();
    drop(index);
    db.close().await;

    // the real server, over HTTP
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&exe)
        .env("DATABASE_URL", &url)
        .env("BESPOKE_DATA_DIR", &dir)
        .env("BESPOKE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let base = format!("http://127.0.0.1:{port}");
    while client.get(format!("{base}/readyz")).send().await.map(|r| r.status().is_success()).unwrap_or(false) == false {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if started.elapsed() > Duration::from_secs(120) {
            return Err("server did not start".into());
        }
    }
    let ready_in = started.elapsed();
    let pid = child.id().unwrap_or(0);
    let rss_idle = rss_kib(pid);
    let urls: Arc<Vec<String>> = Arc::new(qs.iter().map(|(u, _)| format!("{base}/api/v1/search?{u}")).collect());
    let errors = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (client, urls, errors) = (client.clone(), urls.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = w;
            while Instant::now() < deadline {
                let s = Instant::now();
                match client.get(&urls[i % urls.len()]).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(s.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += concurrency;
            }
            lat
        }));
    }
    let load_start = Instant::now();
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let elapsed = load_start.elapsed().as_secs_f64();
    let rss_load = rss_kib(pid);
    lat.sort();
    let _ = child.kill().await;

    println!("## Search at {products} products\n");
    println!("| figure | value |");
    println!("|---|---|");
    println!("| index build from the database (in process) | {:.2} s for {} documents |", stats.took.as_secs_f64(), stats.documents);
    println!("| server start → ready (incl. index build) | {:.2} s |", ready_in.as_secs_f64());
    println!("| raw index queries, 1 thread | {raw_qps:.0} / s (p50 {} ms, p99 {} ms) |", ms(percentile(&raw, 0.5)), ms(percentile(&raw, 0.99)));
    println!("| HTTP searches, {concurrency} concurrent clients, {seconds} s | {:.0} / s |", lat.len() as f64 / elapsed);
    println!("| HTTP latency p50 / p95 / p99 / max | {} / {} / {} / {} ms |", ms(percentile(&lat, 0.5)), ms(percentile(&lat, 0.95)), ms(percentile(&lat, 0.99)), ms(percentile(&lat, 1.0)));
    println!("| HTTP errors | {} |", errors.load(Ordering::Relaxed));
    println!("| server RSS idle / under load | {} / {} MiB |", rss_idle / 1024, rss_load / 1024);
    println!("| HTTP rate ÷ raw single-thread index rate (2 cores) | {:.2} |", lat.len() as f64 / elapsed / raw_qps);
    Ok(())
}
