use crate::helpers::*;
use reqwest::StatusCode;

/// `server admin create` bootstraps an admin on either database, through the real binary.
async fn admin_create(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = unique_email("boot");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["admin", "create", "--email", &email, "--role", "admin", "--name", "Boot Admin"])
        .env("DATABASE_URL", &app.database_url)
        .env("BESPOKE_ADMIN_PASSWORD", "bootstrap-pass")
        .env("BESPOKE_CONFIG", "/nonexistent-so-no-file-is-read")
        .env_remove("BESPOKE_ADDR")
        .output()
        .await
        .expect("run server admin create");
    // BESPOKE_CONFIG naming a missing file must fail loudly, naming it
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonexistent-so-no-file-is-read"));

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["admin", "create", "--email", &email, "--role", "admin", "--name", "Boot Admin"])
        .env("DATABASE_URL", &app.database_url)
        .env("BESPOKE_ADMIN_PASSWORD", "bootstrap-pass")
        .env_remove("BESPOKE_CONFIG")
        .output()
        .await
        .expect("run server admin create");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let res = app.sign_in(&email, "bootstrap-pass").await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: serde_json::Value = res.json().await.expect("json");
    assert_eq!(v["user"]["role"], "admin");
    let token = v["token"].as_str().expect("token");
    assert_eq!(app.get("/api/v1/admin/dealers", Some(token)).await.status(), StatusCode::OK);

    // bad input to the CLI is an error that names the problem, not a panic
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["admin", "create", "--email", "not-an-email", "--role", "emperor", "--password", "whatever1"])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("role"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["migrate"])
        .env("DATABASE_URL", "mysql://nope")
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_sqlite() {
    admin_create(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_postgres() {
    if pg_admin_url().is_none() {
        eprintln!("SKIPPED on PostgreSQL: BESPOKE_SKIP_PG=1");
        return;
    }
    admin_create(Backend::Postgres).await;
}
