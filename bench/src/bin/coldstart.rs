//! Cold start: process exec → the first 200 on `/`, with the demo catalogue (10,000 listings by
//! default) and a trained recommendation model in the database, on each backend. The server's own
//! log gives the parts: opening the database, the search index and the recommendations' item space
//! (built side by side), and loading the ONNX model into tract.
//!
//! `cargo build --release -p server -p bench && ./target/release/coldstart [--products 10000 --runs 15 --backends sqlite,postgres] [--timeline]`
//!
//! `--timeline` also prints, for the last start of each backend, every line the server logged
//! before the first answer with its time since exec (from the log's own timestamps).
//!
//! `--baseline PATH` also starts another build of the server (an older commit's) against the same
//! database, alternating with this one start by start, and prints its row and the ratio: a change
//! compared within one run, on a machine whose load drifts between runs.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bench::{arg, cleanup, free_port, fresh_database, rss_kib};
use serde_json::Value;

#[derive(Default, Clone, Copy)]
struct Run {
    first_200: f64,
    index: f64,
    item_space: f64,
    model: f64,
    ready: f64,
    rss_mib: f64,
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC timestamp (`2026-12-07T19:20:01.123456Z`),
/// counted within its day: enough to compare with a start on the same day.
fn ms_of_day(ts: &str) -> Option<f64> {
    let t = ts.split('T').nth(1)?.trim_end_matches('Z');
    let mut p = t.split(':');
    let (h, m, s): (f64, f64, f64) = (p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?);
    Some(((h * 60.0 + m) * 60.0 + s) * 1e3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

/// The smallest and the largest.
fn range(v: &[f64]) -> (f64, f64) {
    (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(0.0, f64::max))
}

/// One start of `exe` from the snapshots: exec → first 200 on `/`, ms.
async fn first_200(exe: &std::path::Path, url: &str, dir: &std::path::Path) -> Result<f64, String> {
    let (exe, url, dir) = (exe.to_owned(), url.to_owned(), dir.to_owned());
    let r = tokio::task::spawn_blocking(move || once(&exe, &url, &dir, Duration::ZERO, false).map_err(|e| e.to_string())).await.map_err(|e| e.to_string())??;
    Ok(r.first_200)
}

fn server_exe() -> std::path::PathBuf {
    std::env::current_exe().map(|e| e.with_file_name("server")).unwrap_or_else(|_| "server".into())
}

/// Seeds `url` with the catalogue and the demo shoppers' history, which trains the first model.
fn seed(url: &str, dir: &std::path::Path, products: usize) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let status = Command::new(server_exe())
        .args(["seed", "--products", &products.to_string(), "--shoppers", "120"])
        .env("DATABASE_URL", url)
        .env("BESPOKE_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err("seeding failed (build the server first: cargo build --release -p server)".into());
    }
    eprintln!("seeded {products} listings and a model in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// A field of a JSON log line (the server flattens events' fields into the line).
fn field(v: &Value, name: &str) -> f64 {
    v[name].as_f64().or_else(|| v["fields"][name].as_f64()).unwrap_or(0.0)
}

/// One start: exec → first 200 on `/`. The server then runs on for `linger` (the first start after
/// seeding saves the snapshots the next starts load) before it is killed.
fn once(exe: &std::path::Path, url: &str, dir: &std::path::Path, linger: Duration, timeline: bool) -> Result<Run, Box<dyn std::error::Error>> {
    let port = free_port();
    let wall0 = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| (d.as_secs_f64() * 1e3) % 86_400_000.0).unwrap_or(0.0);
    let t0 = Instant::now();
    let mut child = Command::new(exe)
        .env("DATABASE_URL", url)
        .env("BESPOKE_DATA_DIR", dir)
        .env("BESPOKE_ADDR", format!("127.0.0.1:{port}"))
        .env("BESPOKE_LOG_FORMAT", "json")
        // with the timeline, each request's line too (when it ended and how long it took)
        .env("RUST_LOG", if timeline { "info,server::http::middleware=debug" } else { "info" })
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let log = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    let mut run = Run::default();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // a blocking GET on a fresh connection, as the first visitor's would be
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            if s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").is_ok() {
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && &head[9..12] == b"200" {
                    run.first_200 = t0.elapsed().as_secs_f64() * 1e3;
                    let mut rest = Vec::new();
                    let _ = s.read_to_end(&mut rest);
                    break;
                }
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("the server did not answer 200 on / within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    run.rss_mib = rss_kib(child.id()) as f64 / 1024.0;
    std::thread::sleep(linger);
    let _ = child.kill();
    let _ = child.wait();
    for line in log.join().unwrap_or_default() {
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        if timeline {
            if let Some(at) = v["timestamp"].as_str().and_then(ms_of_day) {
                let since = at - wall0;
                if since <= run.first_200 {
                    let msg = v["message"].as_str().or_else(|| v["fields"]["message"].as_str()).unwrap_or("");
                    let took = field(&v, "elapsed_ms");
                    let extra = if took > 0.0 { format!(" (took {took:.1} ms, so began at +{:.1})", since - took) } else { String::new() };
                    println!("    +{since:>6.1} ms  {msg}{extra}");
                }
            }
        }
        match v["message"].as_str().or_else(|| v["fields"]["message"].as_str()).unwrap_or("") {
            "search index ready" => run.index = field(&v, "ms"),
            "recommendations: item space built" | "recommendations: item space restored from snapshot" => run.item_space = field(&v, "ms"),
            "recommendation model loaded" => run.model = field(&v, "ms"),
            "search and recommendations ready" => run.ready = field(&v, "ms"),
            _ => {}
        }
    }
    Ok(run)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let products: usize = arg("--products").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let runs: usize = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(15);
    let backends = arg("--backends").unwrap_or_else(|| "sqlite,postgres".into());
    let timeline = std::env::args().any(|a| a == "--timeline");
    let baseline = arg("--baseline").map(std::path::PathBuf::from);
    println!("| backend | exec → first 200 on `/` p50 (min–max) ms | search index ms | item space ms | model load (tract) ms | index ∥ item space + model ms | RSS at first page MiB |");
    println!("|---|---|---|---|---|---|---|");
    for backend in backends.split(',') {
        let (url, drop_sql) = fresh_database(backend).await?;
        let dir = std::env::temp_dir().join(format!("bespoke-coldstart-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir)?;
        let (url2, dir2) = (url.clone(), dir.clone());
        tokio::task::spawn_blocking(move || seed(&url2, &dir2, products).map_err(|e| e.to_string())).await??;
        // one run to warm the page cache (a deployed function's image is on local disk too)
        // the first start after seeding has no snapshot: it rebuilds, then saves one
        let (url2, dir2) = (url.clone(), dir.clone());
        let rebuild = tokio::task::spawn_blocking(move || once(&server_exe(), &url2, &dir2, Duration::from_secs(10), false).map_err(|e| e.to_string())).await??;
        println!(
            "| {backend}, no snapshot (first start after seeding) | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0} |",
            rebuild.first_200, rebuild.index, rebuild.item_space, rebuild.model, rebuild.ready, rebuild.rss_mib
        );
        let mut all = Vec::new();
        let mut base = Vec::new();
        for k in 0..runs {
            // the baseline starts before this build on even runs and after it on odd ones, so
            // neither always follows the other's exit
            if let (Some(exe), 0) = (&baseline, k % 2) {
                base.push(first_200(exe, &url, &dir).await?);
            }
            let (url2, dir2) = (url.clone(), dir.clone());
            let show = timeline && k + 1 == runs;
            if show {
                println!("  timeline of the last start ({backend}; the first answer's line is the last):");
            }
            let r = tokio::task::spawn_blocking(move || once(&server_exe(), &url2, &dir2, Duration::ZERO, show).map_err(|e| e.to_string())).await??;
            if show {
                println!("    +{:>6.1} ms  first 200 on / read by the client", r.first_200);
            }
            all.push(r);
            if let (Some(exe), 1) = (&baseline, k % 2) {
                base.push(first_200(exe, &url, &dir).await?);
            }
        }
        let first: Vec<f64> = all.iter().map(|r| r.first_200).collect();
        let (lo, hi) = range(&first);
        println!(
            "| {backend}, from snapshots | {:.0} ({lo:.0}–{hi:.0}) | {:.0} | {:.0} | {:.1} | {:.0} | {:.0} |",
            median(first.clone()),
            median(all.iter().map(|r| r.index).collect()),
            median(all.iter().map(|r| r.item_space).collect()),
            median(all.iter().map(|r| r.model).collect()),
            median(all.iter().map(|r| r.ready).collect()),
            median(all.iter().map(|r| r.rss_mib).collect()),
        );
        if !base.is_empty() {
            let (lo, hi) = range(&base);
            let (b, n) = (median(base.clone()), median(first.clone()));
            println!("| {backend}, from snapshots, baseline build | {b:.0} ({lo:.0}–{hi:.0}) | | | | | |");
            println!("  {backend}: this build's median is {:.2} × the baseline's ({n:.0} against {b:.0} ms, {runs} starts each, alternating)", n / b);
        }
        cleanup(drop_sql).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("\n{products} listings, a model trained on 120 demo shoppers; {runs} runs per backend from the snapshots, after the first start that saved them; release build.");
    Ok(())
}
