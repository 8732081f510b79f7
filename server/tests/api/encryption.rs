//! Personal data at rest (both databases): shipping addresses, TOTP secrets and customization text are
//! envelope-encrypted — no text column anywhere holds them in clear — and stay readable through the
//! product; a key rotation re-wraps every value and an instance holding only the new keyring reads them.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{helpers::*, orders::*};

/// Every value of every text column, as text.
pub async fn all_text(db: &kernel::Db) -> Vec<(String, String, String)> {
    let columns: Vec<(String, String)> = match db.backend() {
        kernel::Backend::Sqlite => sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND UPPER(p.type) = 'TEXT'",
        )
        .fetch_all(db.reader())
        .await
        .expect("columns"),
        kernel::Backend::Postgres => sqlx::query_as(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')",
        )
        .fetch_all(db.reader())
        .await
        .expect("columns"),
    };
    assert!(columns.len() > 50, "the scan sees the schema: {}", columns.len());
    let mut out = Vec::new();
    for (t, c) in columns {
        let values: Vec<Option<String>> = sqlx::query_scalar(&format!("SELECT CAST({c} AS TEXT) FROM {t}")).fetch_all(db.reader()).await.expect("values");
        out.extend(values.into_iter().flatten().map(|v| (t.clone(), c.clone(), v)));
    }
    out
}

both!(personal_data_is_sealed_at_rest_and_survives_rotation, |app: TestApp| async move {
    let (dealer, _p, slug) = dealer_with_product(&app, "sealed", "45.00", None).await;
    let customer = app.sign_up(&unique_email("sealed"), "sealed password", "customer").await;
    // MFA on: its secret is personal data
    let setup: Value = app.post_json("/api/v1/me/mfa/setup", &json!({}), Some(&customer.token)).await.json().await.expect("json");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    let res = app.post_json("/api/v1/me/mfa/confirm", &json!({ "code": totp_code(&secret, 0) }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // an order with a shipping address
    assert_eq!(add(&app, &customer.token, &slug, size_choice(&app, &slug, "Small").await, 1).await.status(), StatusCode::CREATED);
    let co: Value = app.client.post(app.url("/api/v1/checkout")).bearer_auth(&customer.token).json(&address()).send().await.expect("req").json().await.expect("json");
    let order_id = co["orders"][0]["id"].as_str().expect("order").to_owned();
    // a custom request and a message with personal details
    let t: Value = app.post_json("/api/v1/threads", &json!({ "product": slug, "text": "Call me on +353 87 555 0199 about the engraving" }), Some(&customer.token)).await.json().await.expect("json");
    let thread = t["id"].as_str().expect("thread").to_owned();
    let res = app.post_json(&format!("/api/v1/threads/{thread}/messages"), &json!({ "body": "Ship it to my office at Calle Mayor 1" }), Some(&customer.token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let secrets = [secret.as_str(), "Calle Mayor", "+353 87 555 0199", "Carmen D", "my office"];
    let leaks: Vec<_> = all_text(&db).await.into_iter().filter(|(_, _, v)| secrets.iter().any(|s| v.contains(s))).collect();
    assert!(leaks.is_empty(), "plaintext personal data at rest: {leaks:?}");
    let sealed: String = sqlx::query_scalar("SELECT shipping_address FROM checkout WHERE checkout_id = $1").bind(co["id"].as_str().expect("id")).fetch_one(db.reader()).await.expect("row");
    assert!(sealed.starts_with("bk1:ktest:"), "{sealed}");

    // ...and the product still reads them: the dealer sees the name, the thread its text, MFA works
    let order: Value = app.get(&format!("/api/v1/orders/{order_id}"), Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(order["shipping_address"]["line1"], "Calle Mayor 1", "{order}");
    let view: Value = app.get(&format!("/api/v1/threads/{thread}"), Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(view["request_text"], "Call me on +353 87 555 0199 about the engraving");
    let msgs: Value = app.get(&format!("/api/v1/threads/{thread}/messages"), Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(msgs["messages"][1]["body"], "Ship it to my office at Calle Mayor 1");

    // a ciphertext moved to another row does not open: the API answers 500 without leaking, never the other row's data
    let other = kernel::crypto::Vault::new(std::sync::Arc::new(kernel::crypto::LocalKeyring::parse(TEST_KEYS).expect("ring")), None);
    assert!(other.open("checkout", "shipping_address", "another-checkout", &sealed).is_err());

    // rotation: a new key-encryption key; every value re-wrapped; an instance with the new ring reads them
    let mut ring = kernel::crypto::LocalKeyring::parse(TEST_KEYS).expect("ring");
    let new_id = ring.add_key();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["keys", "rewrap"])
        .env("DATABASE_URL", &app.database_url)
        .env("BESPOKE_KEYS", ring.to_json())
        .env_remove("BESPOKE_CONFIG")
        .output()
        .await
        .expect("run server keys rewrap");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (table, column, _) in kernel::crypto::SEALED_COLUMNS {
        let stale: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE $1"))
            .bind(format!("bk1:{new_id}:%"))
            .fetch_one(db.reader())
            .await
            .expect("count");
        assert_eq!(stale, 0, "{table}.{column} still has values under the old key");
    }
    let rotated = kernel::audit::list(&db, &kernel::audit::Filter { action: "keys.rewrap".into(), ..Default::default() }, 5).await.expect("audit");
    assert_eq!(rotated.len(), 1, "the rotation is audited");
    db.close().await;
    let url = app.database_url.clone();
    let json = ring.to_json();
    let fresh = spawn_app_with(app.backend(), move |s| {
        s.database_url = Some(server::config::SecretString::new(url));
        s.keys = Some(server::config::SecretString::new(json));
    })
    .await;
    let order: Value = fresh.get(&format!("/api/v1/orders/{order_id}"), Some(&dealer.token)).await.json().await.expect("json");
    assert_eq!(order["shipping_address"]["line1"], "Calle Mayor 1", "{order}");
    let msgs: Value = fresh.get(&format!("/api/v1/threads/{thread}/messages"), Some(&customer.token)).await.json().await.expect("json");
    assert_eq!(msgs["messages"][0]["body"], "Call me on +353 87 555 0199 about the engraving");
    // MFA sign-in still works with the re-wrapped secret
    let email = customer.user["email"].as_str().expect("email");
    let first: Value = fresh.sign_in(email, "sealed password").await.json().await.expect("json");
    let ok = fresh.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": first["challenge"], "code": totp_code(&secret, 1) }), None).await;
    assert_eq!(ok.status(), StatusCode::OK);
});
