//! Shared helpers for the benchmark binaries: percentiles and throwaway databases.

use std::time::Duration;

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// A fresh database of each kind: SQLite in a temp file, PostgreSQL as a new database on
/// `BESPOKE_BENCH_PG_URL` (default: the local server). Returns the url and a cleanup statement.
pub async fn fresh_database(backend: &str) -> Result<(String, Option<String>), Box<dyn std::error::Error>> {
    match backend {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("bespoke-bench-{}", uuid::Uuid::now_v7().simple()));
            std::fs::create_dir_all(&dir)?;
            Ok((format!("sqlite://{}", dir.join("bench.db").display()), None))
        }
        _ => {
            sqlx::any::install_default_drivers();
            let admin = std::env::var("BESPOKE_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!("bespoke_bench_{}", uuid::Uuid::now_v7().simple());
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin.clone());
            Ok((format!("{base}/{name}"), Some(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))))
        }
    }
}

pub async fn cleanup(drop_sql: Option<String>) {
    let Some(sql) = drop_sql else { return };
    let admin = std::env::var("BESPOKE_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
        let _ = sqlx::query(&sql).execute(&mut conn).await;
    }
}

/// The value after `name` on the command line (`--clients 100`).
pub fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

/// A process's resident memory in KiB (Linux).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(3999)
}

/// The demo catalogue of `products` listings in a SQLite database under the temp dir (seeded with the
/// release `server seed` beside this binary; reused, since seeding is idempotent). Returns the data
/// dir and the database url.
pub fn seeded_sqlite(products: usize, dir: Option<std::path::PathBuf>) -> Result<(std::path::PathBuf, String), Box<dyn std::error::Error>> {
    // the server beside this binary; a release bench may seed with the debug server (seeding is not timed)
    let here = std::env::current_exe()?;
    let exe = [here.with_file_name("server"), here.with_file_name("../debug/server")].into_iter().find(|p| p.exists()).unwrap_or_else(|| here.with_file_name("server"));
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("bespoke-search-bench-{products}")));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bespoke.db").display());
    let t = std::time::Instant::now();
    let status = std::process::Command::new(&exe)
        .args(["seed", "--products", &products.to_string(), "--shoppers", "0"])
        .env("DATABASE_URL", &url)
        .env("BESPOKE_DATA_DIR", &dir)
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        return Err("seeding failed (build the server first: cargo build --release -p server)".into());
    }
    eprintln!("seeded {products} products in {:.1} s", t.elapsed().as_secs_f64());
    Ok((dir, url))
}
