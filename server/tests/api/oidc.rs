//! Sign-in with OpenID Connect against a real provider: the npm package `oidc-provider`, started by
//! the test (server/tests/oidc, installed by `./bespoke test`). The whole browser flow is driven over
//! HTTP — our start, the provider's login and consent forms, our callback — with PKCE, state and
//! nonce; then a linked second sign-in, MFA on a linked account, an unverified email, a replayed
//! answer and a tampered nonce. Signature, issuer, audience, expiry and algorithm checks on forged
//! ID tokens are unit tests in `accounts::oidc`.

use std::{process::Stdio, time::Duration};

use reqwest::{header, redirect::Policy, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::*;

struct Provider {
    _child: tokio::process::Child,
    issuer: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

async fn provider(port: u16, redirect_uri: &str) -> Provider {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    assert!(dir.join("node_modules/oidc-provider").exists(), "run `./bespoke test` (or `npm ci` in {}) to install the test OpenID provider", dir.display());
    let mut child = tokio::process::Command::new("node")
        .arg("provider.mjs")
        .arg(port.to_string())
        .arg(redirect_uri)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("ready") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the OpenID provider started");
    // keep reading: a closed pipe would end the provider at its next notice
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Provider { _child: child, issuer: format!("http://127.0.0.1:{port}") }
}

async fn app_with_provider(backend: Backend) -> (TestApp, Provider) {
    let port = free_port();
    let app = spawn_app_with(backend, |s| {
        s.oidc = Some(accounts::oidc::OidcConfig {
            name: "TestID".into(),
            issuer: format!("http://127.0.0.1:{port}"),
            client_id: "bespoke".into(),
            client_secret: "bespoke-test-secret".into(),
            redirect_uri: String::new(),
        });
    })
    .await;
    let p = provider(port, &format!("{}/auth/oidc/callback", app.base)).await;
    (app, p)
}

/// A browser without JavaScript: follows redirects by hand and fills the provider's forms.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).timeout(Duration::from_secs(20)).build().expect("client")
}

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn absolute(base: &str, to: &str) -> String {
    if to.starts_with("http") { to.to_owned() } else { format!("{base}{to}") }
}

/// Runs the flow as `login` until the provider sends the browser back to us; returns our callback
/// URL (not yet followed).
async fn through_provider(b: &reqwest::Client, app: &TestApp, p: &Provider, login: &str) -> String {
    let res = b.get(app.url("/auth/oidc/start")).send().await.expect("start");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mut next = location(&res).expect("to the provider");
    assert!(next.starts_with(&p.issuer), "{next}");
    for v in ["code_challenge_method=S256", "code_challenge=", "state=", "nonce=", "scope=openid%20email%20profile"] {
        assert!(next.contains(v), "{v} in {next}");
    }
    for _ in 0..12 {
        if next.starts_with(&app.base) {
            return next;
        }
        let res = b.get(absolute(&p.issuer, &next)).send().await.expect("provider");
        if let Some(to) = location(&res) {
            next = to;
            continue;
        }
        // a form of the provider's: the login form or the consent form
        let html = res.text().await.expect("html");
        let action = html.split("action=\"").nth(1).and_then(|r| r.split('"').next()).expect("a form").replace("&amp;", "&");
        // its hidden inputs (which step this is), plus the login on the login form
        let mut fields: Vec<(String, String)> = html
            .split("<input")
            .skip(1)
            .filter(|i| i.contains("type=\"hidden\""))
            .filter_map(|i| {
                let attr = |a: &str| i.split(&format!("{a}=\"")).nth(1).and_then(|r| r.split('"').next()).map(str::to_owned);
                Some((attr("name")?, attr("value").unwrap_or_default()))
            })
            .collect();
        if html.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any".into()));
        }
        let res = b.post(absolute(&p.issuer, &action)).form(&fields).send().await.expect("form");
        next = location(&res).unwrap_or_else(|| panic!("the provider's form led nowhere ({})", res.status()));
    }
    panic!("the provider never sent the browser back");
}

async fn me(b: &reqwest::Client, app: &TestApp) -> (StatusCode, Value) {
    let res = b.get(app.url("/api/v1/me")).send().await.expect("me");
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_sign_in_links_creates_and_refuses() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres && pg_admin_url().is_none() {
            eprintln!("SKIPPED on PostgreSQL: BESPOKE_SKIP_PG=1");
            continue;
        }
        let (app, p) = app_with_provider(backend).await;

        // the sign-in page offers it
        let page = app.get("/sign-in", None).await.text().await.expect("html");
        assert!(page.contains("Sign in with TestID"), "the button");

        // a new person: an account is made from the provider's verified claims
        let b = browser();
        let back = through_provider(&b, &app, &p, "alice").await;
        assert!(back.contains("code=") && back.contains("state="), "{back}");
        let res = b.get(&back).send().await.expect("callback");
        assert_eq!((res.status(), location(&res).as_deref()), (StatusCode::SEE_OTHER, Some("/")));
        let cookie = res.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(cookie.starts_with("bespoke_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        let (status, alice) = me(&b, &app).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((alice["email"].as_str(), alice["display_name"].as_str(), alice["role"].as_str()), (Some("alice@idp.test"), Some("Alice from the IdP"), Some("customer")));

        // the same answer again (a replayed state and code) is refused
        let res = b.get(&back).send().await.expect("replay");
        let to = location(&res).unwrap_or_default();
        assert!(to.starts_with("/sign-in?error=") && to.contains("already%20used"), "{to}");

        // a second sign-in lands on the same account
        let b2 = browser();
        let back = through_provider(&b2, &app, &p, "alice").await;
        b2.get(&back).send().await.expect("callback");
        let (_, again) = me(&b2, &app).await;
        assert_eq!(again["id"], alice["id"]);

        // an existing account with the same verified email is linked, and its MFA still applies
        let carol = app.sign_up("carol@idp.test", "carol password", "customer").await;
        let setup: Value = app.post_json("/api/v1/me/mfa/setup", &json!({}), Some(&carol.token)).await.json().await.expect("json");
        let secret = setup["secret"].as_str().expect("secret").to_owned();
        assert_eq!(app.post_json("/api/v1/me/mfa/confirm", &json!({ "code": totp_code(&secret, 0) }), Some(&carol.token)).await.status(), StatusCode::OK);
        let b3 = browser();
        let back = through_provider(&b3, &app, &p, "carol").await;
        let res = b3.get(&back).send().await.expect("callback");
        let to = location(&res).unwrap_or_default();
        assert!(to.starts_with("/sign-in?challenge="), "MFA asked for: {to}");
        assert!(res.headers().get(header::SET_COOKIE).is_none(), "no session before the second factor");
        let challenge = to.trim_start_matches("/sign-in?challenge=");
        let res = app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": challenge, "code": totp_code(&secret, 1) }), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["user"]["id"], carol.user["id"], "linked to the existing account");

        // an unverified email is not enough to make or link an account
        let b4 = browser();
        let back = through_provider(&b4, &app, &p, "bob").await;
        let to = location(&b4.get(&back).send().await.expect("callback")).unwrap_or_default();
        assert!(to.starts_with("/sign-in?error=") && to.contains("verified"), "{to}");
        assert_eq!(me(&b4, &app).await.0, StatusCode::UNAUTHORIZED);

        // an answer whose nonce is not the one we sent is refused
        let b5 = browser();
        let back = through_provider(&b5, &app, &p, "dave").await;
        let db = kernel::Db::connect(&app.database_url).await.expect("db");
        sqlx::query("UPDATE oidc_flow SET nonce = 'not-the-nonce-we-sent'").execute(db.writer()).await.expect("tamper");
        let to = location(&b5.get(&back).send().await.expect("callback")).unwrap_or_default();
        assert!(to.starts_with("/sign-in?error=") && to.contains("nonce"), "{to}");
        assert_eq!(me(&b5, &app).await.0, StatusCode::UNAUTHORIZED);

        // the provider saying no comes back as a clear message; our own open redirects do not exist
        let to = location(&b5.get(app.url("/auth/oidc/callback?error=access_denied&error_description=The%20user%20cancelled")).send().await.expect("cb")).unwrap_or_default();
        assert!(to.starts_with("/sign-in?error=") && to.contains("cancelled"), "{to}");
        let res = b5.get(app.url("/auth/oidc/start?return_to=https://evil.example/")).send().await.expect("start");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let audit: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE action IN ('auth.identity_linked', 'auth.sign_in') ORDER BY seq").fetch_all(db.reader()).await.expect("audit");
        assert!(audit.iter().filter(|a| *a == "auth.identity_linked").count() == 2, "{audit:?}");
        db.close().await;
        if let Some(name) = &app.pg_name {
            drop_pg_database(name).await;
        }
    }
}
