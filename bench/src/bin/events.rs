//! Event backbone figures: events per second delivered end to end on each database (outbox append →
//! dispatcher → consumer transaction with its idempotency record), and realtime hub publish → receive
//! latency within one instance and across instances (PostgreSQL NOTIFY / LISTEN).
//!
//! `cargo run --release -p bench --bin events [-- --events N]`

use std::{
    sync::{atomic::{AtomicUsize, Ordering}, Arc},
    time::{Duration, Instant},
};

use bench::{cleanup, fresh_database, ms, percentile};
use kernel::{
    events::{BoxFuture, BusConfig, Consumer, EventBus, StoredEvent},
    hub::Hub,
    outbox::{self, Envelope},
    Db, Tx,
};
use serde_json::json;

/// A consumer doing what a typical one does: one row written in its transaction.
struct Projection(AtomicUsize);

impl Consumer for Projection {
    fn name(&self) -> &'static str {
        "bench.projection"
    }
    fn subscribes_to(&self) -> Vec<&'static str> {
        vec!["bench.Happened"]
    }
    fn handle<'a>(&'a self, e: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO bench_projection (event_id, aggregate_id) VALUES ($1, $2)")
                .bind(&e.event_id)
                .bind(&e.aggregate_id)
                .execute(&mut **tx)
                .await
                .map_err(|e| e.to_string())?;
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    }
}

async fn throughput(backend: &str, n: usize) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let (url, drop_sql) = fresh_database(backend).await?;
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    sqlx::query("CREATE TABLE bench_projection (event_id TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL)").execute(db.writer()).await?;
    let consumer = Arc::new(Projection(AtomicUsize::new(0)));
    let bus = EventBus::new(db.clone(), BusConfig { batch_size: 256, ..BusConfig::default() }, vec![consumer.clone()]);
    bus.install().await?;

    // produce: 100 events per transaction, 1,000 aggregates
    let t0 = Instant::now();
    let mut i = 0;
    while i < n {
        let mut tx = db.begin().await?;
        for _ in 0..100.min(n - i) {
            outbox::append(&mut tx, &Envelope::new("bench.Happened", format!("agg-{}", i % 1000), json!({ "i": i }))).await?;
            i += 1;
        }
        tx.commit().await?;
    }
    let produce = n as f64 / t0.elapsed().as_secs_f64();

    // deliver: one dispatcher, as one instance runs it
    let t1 = Instant::now();
    let (mut batches, mut claimed) = (0usize, 0usize);
    while consumer.0.load(Ordering::Relaxed) < n {
        let k = bus.run_once().await?;
        batches += 1;
        claimed += k;
        if k == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    if std::env::var("BENCH_DEBUG").is_ok() {
        eprintln!("{backend}: {batches} batches, {claimed} claimed, {:?} per batch", t1.elapsed() / batches.max(1) as u32);
    }
    let deliver = n as f64 / t1.elapsed().as_secs_f64();
    db.close().await;
    cleanup(drop_sql).await;
    Ok((produce, deliver))
}

async fn hub_latency(publisher: Hub, subscriber: Hub, rounds: usize) -> Vec<Duration> {
    let mut rx = subscriber.subscribe("bench");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut out = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let start = Instant::now();
        let _ = publisher.publish("bench", &i.to_string()).await;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                Ok(Ok(m)) if m.as_ref() == i.to_string() => break,
                Ok(Ok(_)) => continue,
                _ => break,
            }
        }
        out.push(start.elapsed());
    }
    out.sort();
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().skip_while(|a| a != "--events").nth(1).and_then(|v| v.parse().ok()).unwrap_or(20_000);
    println!("## Event backbone ({n} events, 1,000 aggregates, one dispatcher)\n");
    println!("| database | appended / s (100 per tx) | delivered end to end / s |");
    println!("|---|---|---|");
    for backend in ["sqlite", "postgres"] {
        match throughput(backend, n).await {
            Ok((p, d)) => println!("| {backend} | {p:.0} | {d:.0} |"),
            Err(e) => println!("| {backend} | error: {e} | |"),
        }
    }

    println!("\n## Realtime hub, publish → receive (2,000 messages, one at a time)\n");
    println!("| path | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|");
    let local = Hub::local();
    let l = hub_latency(local.clone(), local, 2000).await;
    println!("| within one instance (in process) | {} | {} | {} |", ms(percentile(&l, 0.5)), ms(percentile(&l, 0.99)), ms(percentile(&l, 1.0)));

    let (url, drop_sql) = fresh_database("postgres").await?;
    let a = Db::connect(&url).await?;
    a.migrate().await?;
    let b = Db::connect(&url).await?;
    let (hub_a, hub_b) = (Hub::for_db(&a), Hub::for_db(&b));
    let stop = Arc::new(tokio::sync::Notify::new());
    let la = kernel::hub::spawn_pg_listener(&a, hub_a.clone(), stop.clone());
    let lb = kernel::hub::spawn_pg_listener(&b, hub_b.clone(), stop.clone());
    let same = hub_latency(hub_a.clone(), hub_a.clone(), 2000).await;
    println!("| PostgreSQL, same instance (NOTIFY round trip) | {} | {} | {} |", ms(percentile(&same, 0.5)), ms(percentile(&same, 0.99)), ms(percentile(&same, 1.0)));
    let across = hub_latency(hub_a, hub_b, 2000).await;
    println!("| PostgreSQL, instance A → instance B | {} | {} | {} |", ms(percentile(&across, 0.5)), ms(percentile(&across, 0.99)), ms(percentile(&across, 1.0)));
    stop.notify_waiters();
    for h in [la, lb].into_iter().flatten() {
        h.abort();
    }
    a.close().await;
    b.close().await;
    cleanup(drop_sql).await;
    Ok(())
}
