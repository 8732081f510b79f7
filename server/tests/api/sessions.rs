use crate::helpers::*;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

both!(every_sign_in_gets_a_new_token, |app: TestApp| async move {
    let email = unique_email("rot");
    let first = app.sign_up(&email, "rotate me please", "customer").await;
    let second: Value = app.sign_in(&email, "rotate me please").await.json().await.expect("json");
    let third: Value = app.sign_in(&email, "rotate me please").await.json().await.expect("json");
    let tokens = [first.token.clone(), second["token"].as_str().unwrap_or_default().to_owned(), third["token"].as_str().unwrap_or_default().to_owned()];
    assert!(tokens[0] != tokens[1] && tokens[1] != tokens[2] && tokens[0] != tokens[2]);
    // 32 random bytes, base64url: at least 128 bits
    assert!(tokens.iter().all(|t| t.len() >= 43));

    let list: Value = app.get("/api/v1/me/sessions", Some(&tokens[2])).await.json().await.expect("json");
    let sessions = list["sessions"].as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    // revoke one other session by id
    let other = sessions.iter().find(|s| s["current"] == false).and_then(|s| s["id"].as_str()).unwrap_or_default().to_owned();
    let res = app.client.delete(app.url(&format!("/api/v1/me/sessions/{other}"))).bearer_auth(&tokens[2]).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let alive = [app.get("/api/v1/me", Some(&tokens[0])).await.status(), app.get("/api/v1/me", Some(&tokens[1])).await.status()];
    assert_eq!(alive.iter().filter(|s| **s == StatusCode::OK).count(), 1);

    // someone else's session id is not found, not revoked
    let stranger = app.sign_up(&unique_email("str"), "stranger danger", "customer").await;
    let res = app.client.delete(app.url(&format!("/api/v1/me/sessions/{}", sessions[0]["id"].as_str().unwrap_or_default()))).bearer_auth(&stranger.token).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // sign out everywhere ends them all
    let res = app.post_json("/api/v1/me/sessions/revoke-all", &json!({}), Some(&tokens[2])).await;
    assert_eq!(res.status(), StatusCode::OK);
    for t in &tokens {
        assert_eq!(app.get("/api/v1/me", Some(t)).await.status(), StatusCode::UNAUTHORIZED);
    }
});

both!(browser_session_cookie, |app: TestApp| async move {
    use leptos::server_fn::ServerFn;
    let email = unique_email("cookie");
    app.sign_up(&email, "cookie monster", "customer").await;
    let path = <app::api::auth::SignIn as ServerFn>::PATH;
    let sign_in = || {
        app.client
            .post(app.url(path))
            .header(header::ACCEPT, "application/json")
            .form(&[("email", email.as_str()), ("password", "cookie monster")])
            .send()
    };
    let res = sign_in().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cookie.starts_with("bespoke_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "not Secure over plain http");
    let token = cookie.trim_start_matches("bespoke_session=").split(';').next().unwrap_or_default().to_owned();

    // the cookie authenticates pages' API calls too
    let me = app.client.get(app.url("/api/v1/me")).header(header::COOKIE, format!("bespoke_session={token}")).send().await.expect("req");
    assert_eq!(me.status(), StatusCode::OK);

    // a second sign-in sets a different cookie (no session fixation)
    let again = sign_in().await.expect("req");
    let cookie2 = again.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_ne!(cookie, cookie2);

    // the sign-out server function clears the cookie and ends the session
    let out = app
        .client
        .post(app.url(<app::api::auth::SignOut as ServerFn>::PATH))
        .header(header::ACCEPT, "application/json")
        .header(header::COOKIE, format!("bespoke_session={token}"))
        .send()
        .await
        .expect("req");
    assert_eq!(out.status(), StatusCode::OK);
    let cleared = out.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let me = app.client.get(app.url("/api/v1/me")).header(header::COOKIE, format!("bespoke_session={token}")).send().await.expect("req");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
});

#[tokio::test]
async fn secure_cookie_when_configured() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.secure_cookies = true).await;
    let email = unique_email("sec");
    app.sign_up(&email, "secure cookie", "customer").await;
    let res = app
        .client
        .post(app.url(<app::api::auth::SignIn as leptos::server_fn::ServerFn>::PATH))
        .header(header::ACCEPT, "application/json")
        .form(&[("email", email.as_str()), ("password", "secure cookie")])
        .send()
        .await
        .expect("req");
    let cookie = res.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
}
