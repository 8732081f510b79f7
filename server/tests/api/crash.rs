//! The process dies between the payment's success and the order's confirmation: after a restart the
//! checkout saga completes, exactly once (real server binaries, a real SIGABRT, both databases).

use std::{process::Stdio, time::Duration};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::{helpers::*, orders::*};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn server(url: &str, dir: &std::path::Path, port: u16, crash: bool, log: &str) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env("DATABASE_URL", url)
        .env("BESPOKE_DATA_DIR", dir)
        .env("BESPOKE_ADDR", format!("127.0.0.1:{port}"))
        .env("BESPOKE_EVENTS__LEASE_SECONDS", "1")
        .env("RUST_LOG", "warn")
        .env_remove("BESPOKE_CONFIG")
        .env_remove("BESPOKE_FAULT_CRASH_AT")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.join(log)).expect("log")))
        .kill_on_drop(true);
    if crash {
        cmd.env("BESPOKE_FAULT_CRASH_AT", "confirm");
    }
    cmd.spawn().expect("spawn server")
}

async fn ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server at {base} did not become ready");
}

async fn killed_between_payment_and_confirmation(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let (url, pg) = match backend {
        Backend::Sqlite => (format!("sqlite://{}", dir.path().join("crash.db").display()), None),
        Backend::Postgres => {
            let (url, name) = create_pg_database().await;
            (url, Some(name))
        }
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = server(&url, dir.path(), port, true, "first.log");
    ready(&base).await;
    let app = TestApp::attach(&base, &url);
    let (_d, p, slug) = dealer_with_product(&app, "crash", "20.00", Some(3)).await;
    let cu = app.sign_up(&unique_email("crash"), "crash password", "customer").await;
    add(&app, &cu.token, &p, size_choice(&app, &slug, "Small").await, 1).await;
    let res = app.client.post(app.url("/api/v1/checkout")).bearer_auth(&cu.token).json(&address()).send().await.expect("checkout");
    assert_eq!(res.status(), StatusCode::CREATED);
    let co: Value = res.json().await.expect("json");
    assert_eq!(pay(&app, &co, "4242424242424242").await.status(), StatusCode::OK);
    // the webhook lands, the saga reaches "confirm", and the process aborts there
    let status = tokio::time::timeout(Duration::from_secs(20), first.wait()).await.expect("the fault fired").expect("exit status");
    assert!(!status.success(), "the first process died: {status:?}");
    let order_id = co["orders"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM payment WHERE status = 'succeeded' AND checkout_id = $1", co["id"].as_str().expect("id")).await, 1, "the payment succeeded");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM customer_order WHERE status = 'placed' AND order_id = $1", &order_id).await, 1, "but was not confirmed");

    let _second = server(&url, dir.path(), port, false, "second.log");
    ready(&base).await;
    order_reaches(&app, &cu.token, &order_id, "paid").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox_event WHERE event_type = 'orders.OrderPaid' AND aggregate_id = $1", &order_id).await, 1, "confirmed once");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM ledger_entry WHERE order_id = $1", &order_id).await, 1);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM order_status_change WHERE status = 'paid' AND order_id = $1", &order_id).await, 1);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM stock_reservation WHERE status = 'committed' AND reservation_id = $1", &order_id).await, 1);
    let v: Value = app.get(&format!("/api/v1/products/{slug}"), None).await.json().await.expect("json");
    assert_eq!(v["stock"], json!(2), "one item sold, once");
    if let Some(name) = pg {
        drop_pg_database(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_payment_and_confirmation_sqlite() {
    killed_between_payment_and_confirmation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_payment_and_confirmation_postgres() {
    if pg_admin_url().is_none() {
        eprintln!("SKIPPED on PostgreSQL: BESPOKE_SKIP_PG=1");
        return;
    }
    killed_between_payment_and_confirmation(Backend::Postgres).await;
}
