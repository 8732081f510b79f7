//! Fleet mode on PostgreSQL: three instances of the real server binary on one database.

use std::{process::Stdio, time::Duration};

use futures::StreamExt;
use kernel::{outbox, Db};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::helpers::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

async fn start_instance(url: &str, port: u16, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", url)
        .env("BESPOKE_ADDR", format!("127.0.0.1:{port}"))
        .env("BESPOKE_EVENTS__LEASE_SECONDS", "2")
        .env("BESPOKE_KEYS", TEST_KEYS)
        .env("BESPOKE_LIMITS__SIGN_UP_PER_HOUR", "0")
        .env("BESPOKE_LIMITS__CHECKOUT_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .env_remove("BESPOKE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance on port {port} did not become ready");
}

/// Waits for a `push` event containing `needle` on a server-sent event stream.
async fn push_containing(res: reqwest::Response, needle: &'static str) -> Option<String> {
    let mut stream = res.bytes_stream();
    let mut buf = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        for line in buf.lines() {
            if let Some(data) = line.strip_prefix("data: ") {
                if data.contains(needle) {
                    return Some(data.to_owned());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_share_the_work_and_the_hub() {
    if pg_admin_url().is_none() {
        eprintln!("SKIPPED on PostgreSQL: BESPOKE_SKIP_PG=1");
        return;
    }
    let (url, name) = create_pg_database().await;
    let dir = tempfile::tempdir().expect("dir");
    let ports = [free_port(), free_port(), free_port()];
    let mut instances = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        instances.push(start_instance(&url, *p, &dir.path().join(format!("server{i}.log"))).await);
    }
    let base = |i: usize| format!("http://127.0.0.1:{}", ports[i]);
    let client = reqwest::Client::new();

    // --- the hub: a person listens on all three instances; whichever instance handles the event and
    // publishes the push, the subscribers on the other two (and its own) receive it
    let email = unique_email("fleet");
    let res = client
        .post(format!("{}/api/v1/auth/sign-up", base(0)))
        .json(&json!({ "email": email, "password": "fleet password", "display_name": "Fleet" }))
        .send()
        .await
        .expect("sign up");
    let token = res.json::<Value>().await.expect("json")["token"].as_str().expect("token").to_owned();
    let mut listeners = Vec::new();
    for i in [0, 1, 2] {
        let res = client.get(format!("{}/api/v1/me/stream", base(i))).bearer_auth(&token).send().await.expect("stream");
        assert_eq!(res.status(), StatusCode::OK);
        listeners.push(tokio::spawn(tokio::time::timeout(Duration::from_secs(20), push_containing(res, "Two-factor"))));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let setup: Value = client
        .post(format!("{}/api/v1/me/mfa/setup", base(0)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("setup")
        .json()
        .await
        .expect("json");
    let code = totp_code(setup["secret"].as_str().expect("secret"), 0);
    let res = client.post(format!("{}/api/v1/me/mfa/confirm", base(0))).bearer_auth(&token).json(&json!({ "code": code })).send().await.expect("confirm");
    assert_eq!(res.status(), StatusCode::OK);
    for l in listeners {
        let push = l.await.expect("join").expect("a push within 20 s").expect("stream ended");
        assert!(push.contains("Two-factor authentication is on"), "{push}");
    }

    // --- 10,000 events, each handled once per consumer, with one instance killed mid-dispatch
    let db = Db::connect(&url).await.expect("db");
    let total = 10_000;
    let mut killed = false;
    for batch in 0..20 {
        let mut tx = db.begin().await.expect("tx");
        for _ in 0..(total / 20) {
            let user = uuid::Uuid::now_v7().to_string();
            let e = outbox::Envelope::new("accounts.UserRegistered", user.clone(), json!({ "user_id": user, "role": "customer" }));
            outbox::append(&mut tx, &e).await.expect("append");
        }
        tx.commit().await.expect("commit");
        if batch == 4 && !killed {
            tokio::time::sleep(Duration::from_millis(300)).await;
            instances[2].kill().await.expect("SIGKILL");
            killed = true;
        }
    }
    let mut pending = i64::MAX;
    for _ in 0..600 {
        pending = sqlx::query_scalar("SELECT COUNT(*) FROM event_delivery WHERE status <> 'done'").fetch_one(db.reader()).await.expect("count");
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pending, 0, "every delivery finished (the killed instance's claims were taken over)");
    for (table, consumer) in [("notification", "notify.inbox"), ("sent_mail", "notify.mail")] {
        let (rows, distinct): (i64, i64) = sqlx::query_as(&format!(
            "SELECT COUNT(*), COUNT(DISTINCT source_event_id) FROM {table} WHERE source_event_id IN \
             (SELECT outbox_event_id FROM outbox_event WHERE event_type = 'accounts.UserRegistered')"
        ))
        .fetch_one(db.reader())
        .await
        .expect("count");
        // the 10,000 generated events plus the one real sign-up
        assert_eq!((rows, distinct), (total as i64 + 1, total as i64 + 1), "{consumer}: exactly once per event");
    }
    let handled_by: Vec<(String, i64)> = sqlx::query_as(
        "SELECT COALESCE(locked_by, '-'), COUNT(*) FROM event_delivery GROUP BY locked_by",
    )
    .fetch_all(db.reader())
    .await
    .expect("spread");
    assert!(handled_by.len() >= 2, "the work was shared: {handled_by:?}");
    db.close().await;
    for mut i in instances {
        let _ = i.kill().await;
    }
    drop_pg_database(&name).await;
}
