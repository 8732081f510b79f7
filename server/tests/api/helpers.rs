use std::time::Duration;

use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use server::{config::Settings, Application};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body on both backends: `both!(name, |app| async move { … })`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                $crate::helpers::bounded(|| $crate::helpers::run($crate::helpers::Backend::Sqlite, $body))
            }
            #[test]
            fn postgres() {
                $crate::helpers::bounded(|| $crate::helpers::run($crate::helpers::Backend::Postgres, $body))
            }
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub database_url: String,
    _dir: tempfile::TempDir,
    pub pg_name: Option<String>,
}

impl TestApp {
    pub fn backend(&self) -> Backend {
        if self.database_url.starts_with("sqlite") { Backend::Sqlite } else { Backend::Postgres }
    }

    /// A handle on a server started elsewhere (e.g. a spawned binary) on `database_url`.
    pub fn attach(base: &str, database_url: &str) -> Self {
        let client = Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        TestApp { base: base.to_owned(), client, database_url: database_url.to_owned(), _dir: tempfile::tempdir().expect("dir"), pg_name: None }
    }
}

/// The keyring every test instance uses (instances sharing a database must share their keys).
pub const TEST_KEYS: &str = r#"{"current":"ktest","keys":{"ktest":"uWx9h6iJ4MwqqTHiFPRebSflYVjPgITIqgyTFgW-VxE"}}"#;

/// The PostgreSQL server the tests use; `BESPOKE_TEST_PG_URL` (a url to an existing database that
/// may create databases) overrides the local default.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var("BESPOKE_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("BESPOKE_SKIP_PG").is_ok_and(|v| v == "1") => None,
        _ => Some("postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    }
}

pub async fn create_pg_database() -> (String, String) {
    let admin = pg_admin_url().expect("PostgreSQL tests are required here (BESPOKE_SKIP_PG is set only when it is unreachable)");
    sqlx::any::install_default_drivers();
    let name = format!("bespoke_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {admin}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin.clone());
    (format!("{base}/{name}"), name)
}

pub async fn drop_pg_database(name: &str) {
    let Some(admin) = pg_admin_url() else { return };
    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
    }
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_full(backend, 0, tweak).await
}

/// A test app whose database holds the demo catalogue (`products` listings from 50 dealers) before
/// the server starts, as after `server seed`.
pub async fn spawn_seeded(backend: Backend, products: usize) -> TestApp {
    spawn_app_full(backend, products, |_| {}).await
}

async fn spawn_app_full(backend: Backend, products: usize, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("RUST_LOG").is_ok() {
        server::telemetry::init_tracing(server::config::LogFormat::Pretty);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, pg_name) = match backend {
        Backend::Sqlite => (format!("sqlite://{}", dir.path().join("test.db").display()), None),
        Backend::Postgres => {
            let (url, name) = create_pg_database().await;
            (url, Some(name))
        }
    };
    if products > 0 {
        let db = kernel::Db::connect(&database_url).await.expect("db");
        db.migrate().await.expect("migrate");
        let accounts = accounts::Accounts::new(db.clone(), accounts::AccountsConfig::default());
        let catalog = catalog::Catalog::new(db.clone(), catalog::LocalDiskStore::new(dir.path().join("media")));
        server::seed::catalogue::seed(&accounts, &catalog, products, 7).await.expect("seed");
        db.close().await;
    }
    let mut settings = Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(server::config::SecretString::new(database_url.clone())),
        site_root: Some(dir.path().join("site")),
        keys: Some(server::config::SecretString::new(TEST_KEYS)),
        // the suites sign up and search a lot from one address; `hardening.rs` tests the limits
        limits: server::http::guard::RateLimits::OFF,
        ..Settings::default()
    };
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("application starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    // generous: the whole suite runs in parallel on two cores (a page once took over 30 s there)
    let client = Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
    TestApp { base, client, database_url, _dir: dir, pg_name }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`run`] with a seeded catalogue.
pub async fn run_seeded<F, Fut>(backend: Backend, products: usize, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run_spawned(backend, spawn_seeded(backend, products), body).await
}

/// Runs `body` on the app `spawn` starts (skipped on PostgreSQL when it is unreachable), then drops
/// its PostgreSQL database.
pub async fn run_spawned<S, F, Fut>(backend: Backend, spawn: S, body: F)
where
    S: std::future::Future<Output = TestApp>,
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if backend == Backend::Postgres && pg_admin_url().is_none() {
        eprintln!("SKIPPED on PostgreSQL: BESPOKE_SKIP_PG=1 (PostgreSQL unreachable)");
        return;
    }
    let started = std::time::Instant::now();
    let app = spawn.await;
    eprintln!("[{:.1} s] {backend:?} app started at {}", started.elapsed().as_secs_f64(), app.base);
    let pg = app.pg_name.clone();
    body(app).await;
    eprintln!("[{:.1} s] test body finished", started.elapsed().as_secs_f64());
    if let Some(name) = pg {
        drop_pg_database(&name).await;
    }
}

/// Runs an async test on a runtime of its own (two workers, as `#[tokio::test]` had) under a
/// watchdog: a test that hangs fails after `BESPOKE_TEST_LIMIT_SECS` (default 600) with what it
/// printed so far, instead of holding the suite (and CI) until its deadline. Blocking tasks still
/// running when the body ends get 10 s, not for ever.
pub fn bounded<F, Fut>(make: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let limit = Duration::from_secs(std::env::var("BESPOKE_TEST_LIMIT_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(600));
    let (tx, rx) = std::sync::mpsc::channel();
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(make())));
            rt.shutdown_timeout(Duration::from_secs(10));
            let _ = tx.send(outcome);
        })
        .expect("test thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the test did not finish within {} s (see above for how far it got)", limit.as_secs()),
    }
}

#[macro_export]
macro_rules! both_seeded {
    ($name:ident, $n:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                $crate::helpers::bounded(|| $crate::helpers::run_seeded($crate::helpers::Backend::Sqlite, $n, $body))
            }
            #[test]
            fn postgres() {
                $crate::helpers::bounded(|| $crate::helpers::run_seeded($crate::helpers::Backend::Postgres, $n, $body))
            }
        }
    };
}

pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run_seeded(backend, 0, body).await
}

pub struct Signed {
    pub token: String,
    pub user: Value,
}

impl TestApp {
    /// The test's data dir (uploads land in its `media` folder).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Signs in a seeded demo dealer (`dealer01@bespoke.test` …).
    pub async fn demo_dealer(&self, n: usize) -> Signed {
        let res = self.sign_in(&format!("dealer{n:02}@bespoke.test"), server::seed::DEMO_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.expect("json");
        Signed { token: v["token"].as_str().expect("token").to_owned(), user: v["user"].clone() }
    }

    /// Signs up a dealer and has an admin approve it.
    pub async fn approved_dealer(&self, tag: &str) -> Signed {
        let d = self.sign_up(&unique_email(tag), "dealer password", "dealer").await;
        let admin = self.admin().await;
        let id = d.user["id"].as_str().expect("id");
        let res = self.post_json(&format!("/api/v1/admin/dealers/{id}/decision"), &json!({ "approve": true }), Some(&admin.token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        d
    }

    pub async fn put_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.put(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn sign_up(&self, email: &str, password: &str, account_type: &str) -> Signed {
        let res = self
            .post_json(
                "/api/v1/auth/sign-up",
                &json!({ "email": email, "password": password, "display_name": "Test Person", "account_type": account_type }),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "sign-up of {email}");
        let v: Value = res.json().await.expect("json");
        Signed { token: v["token"].as_str().expect("token").to_owned(), user: v["user"].clone() }
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/v1/auth/sign-in", &json!({ "email": email, "password": password }), None).await
    }

    /// Creates an admin through the same service the CLI uses, then signs in.
    pub async fn admin(&self) -> Signed {
        let db = kernel::Db::connect(&self.database_url).await.expect("db");
        let accounts = accounts::Accounts::new(db.clone(), accounts::AccountsConfig::default());
        let email = format!("admin-{}@example.com", uuid::Uuid::now_v7().simple());
        accounts.create_with_role(&email, "Admin", "admin-password", accounts::Role::Admin).await.expect("admin");
        db.close().await;
        let res = self.sign_in(&email, "admin-password").await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.expect("json");
        Signed { token: v["token"].as_str().expect("token").to_owned(), user: v["user"].clone() }
    }
}

pub async fn error_of(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let rid = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert!(rid.is_some(), "every response carries a request id");
    let ct = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = res.text().await.expect("body");
    let v = if ct.starts_with("application/json") { serde_json::from_str(&text).unwrap_or(Value::Null) } else { Value::String(text) };
    if let Some(id) = v["error"]["request_id"].as_str() {
        assert_eq!(Some(id), rid.as_deref(), "the body's request id is the header's");
    }
    (status, v)
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}

/// The current TOTP code for a base32 secret, `offset` steps from now.
pub fn totp_code(secret: &str, offset: i64) -> String {
    let key = accounts::totp::decode_secret(secret).expect("base32 secret");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let step = (accounts::totp::step_at(now) as i64 + offset) as u64;
    accounts::totp::hotp(accounts::totp::Algorithm::Sha1, &key, step, 6)
}
