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

/// A rollback: the previous build starts on a database a newer release migrated (docs/OPERATIONS.md
/// "Roll back"). Simulated with a migration this build does not know, recorded as applied; `server
/// migrate` and a start both accept it, and a migration this build knows whose text changed is still
/// refused.
async fn an_older_build_runs_on_a_newer_schema(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, $2, $3, $4, $5)")
        .bind(99_990_101_i64)
        .bind("from a newer release")
        .bind(true)
        .bind(vec![0u8; 48])
        .bind(1_i64)
        .execute(db.writer())
        .await
        .expect("record a newer migration");
    let migrate = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["migrate"])
            .env("DATABASE_URL", &app.database_url)
            .env("BESPOKE_KEYS", TEST_KEYS)
            .env("BESPOKE_DATA_DIR", app.data_dir())
            .env_remove("BESPOKE_CONFIG")
            .output()
    };
    let out = migrate().await.expect("run server migrate");
    assert!(out.status.success(), "an older build refused a newer schema: {}", String::from_utf8_lossy(&out.stderr));
    // and a start (which migrates the same way) serves
    let dir = tempfile::tempdir().expect("dir");
    let settings = server::config::Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(server::config::SecretString::new(app.database_url.clone())),
        site_root: Some(dir.path().join("site")),
        keys: Some(server::config::SecretString::new(TEST_KEYS)),
        ..Default::default()
    };
    let older = server::Application::build(settings).await.expect("an older build starts on a newer schema");
    let again = TestApp::attach(&format!("http://127.0.0.1:{}", older.port()), &app.database_url);
    tokio::spawn(older.run_until_stopped());
    assert_eq!(again.get("/readyz", None).await.status(), StatusCode::OK);
    assert_eq!(again.get("/", None).await.status(), StatusCode::OK);

    // a migration this build knows, changed since it was applied: refused, and the message says so
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 1").bind(vec![1u8; 48]).execute(db.writer()).await.expect("tamper");
    let out = migrate().await.expect("run server migrate");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1") && err.to_lowercase().contains("modified"), "{err}");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_build_runs_on_a_newer_schema_sqlite() {
    an_older_build_runs_on_a_newer_schema(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_build_runs_on_a_newer_schema_postgres() {
    an_older_build_runs_on_a_newer_schema(Backend::Postgres).await;
}
