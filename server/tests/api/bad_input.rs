use crate::helpers::*;
use reqwest::{header, StatusCode};
use serde_json::json;

both!(bad_input_gets_a_clear_4xx, |app: TestApp| async move {
    let url = app.url("/api/v1/auth/sign-up");
    let send_raw = |body: String, ct: &'static str| app.client.post(url.clone()).header(header::CONTENT_TYPE, ct).body(body).send();

    let cases: Vec<(&str, reqwest::Response, StatusCode, &str)> = vec![
        ("empty body", send_raw(String::new(), "application/json").await.expect("req"), StatusCode::BAD_REQUEST, "JSON"),
        ("malformed json", send_raw("{\"email\": ".into(), "application/json").await.expect("req"), StatusCode::BAD_REQUEST, "JSON"),
        ("not json", send_raw("email=a".into(), "application/x-www-form-urlencoded").await.expect("req"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"),
        ("wrong types", send_raw(json!({ "email": 5, "password": [], "display_name": null }).to_string(), "application/json").await.expect("req"), StatusCode::UNPROCESSABLE_ENTITY, "display_name"),
        ("missing field", send_raw(json!({ "email": "a@b.co" }).to_string(), "application/json").await.expect("req"), StatusCode::UNPROCESSABLE_ENTITY, "password"),
        ("huge body", send_raw(format!("{{\"email\":\"{}\"}}", "a".repeat(200_000)), "application/json").await.expect("req"), StatusCode::PAYLOAD_TOO_LARGE, "too large"),
    ];
    for (what, res, want, mention) in cases {
        let (status, body) = error_of(res).await;
        assert_eq!(status, want, "{what}: {body}");
        let msg = body["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(msg.to_lowercase().contains(&mention.to_lowercase()), "{what}: {msg:?} should mention {mention:?}");
    }

    // a body refused before it is read is drained first, so the client always gets the 413 (closing
    // on unread data resets the connection, and the answer was lost now and then)
    for round in 0..12 {
        let res = send_raw(format!("{{\"email\":\"{}\"}}", "b".repeat(1024 * 1024)), "application/json").await.unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "round {round}");
    }

    // field validation names the field
    let fields = [
        (json!({ "email": "", "password": "long enough", "display_name": "A" }), "email"),
        (json!({ "email": "no-at-sign", "password": "long enough", "display_name": "A" }), "email"),
        (json!({ "email": format!("{}@x.com", "a".repeat(10_000)), "password": "long enough", "display_name": "A" }), "email"),
        (json!({ "email": "a@b.co", "password": "short", "display_name": "A" }), "password"),
        (json!({ "email": "a@b.co", "password": "x".repeat(129), "display_name": "A" }), "password"),
        (json!({ "email": "a@b.co", "password": "null\u{0}byte!", "display_name": "A" }), "password"),
        (json!({ "email": "a@b.co", "password": "long enough", "display_name": "" }), "display_name"),
        (json!({ "email": "a@b.co", "password": "long enough", "display_name": "evil\u{202e}gnp.exe" }), "display_name"),
        (json!({ "email": "a@b.co", "password": "long enough", "display_name": "x".repeat(10_000) }), "display_name"),
        (json!({ "email": "アリス@例え.jp", "password": "long enough", "display_name": "A" }), "email"),
    ];
    for (body, field) in fields {
        let (status, resp) = error_of(app.post_json("/api/v1/auth/sign-up", &body, None).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {resp}");
        assert_eq!(resp["error"]["field"], field, "{body}: {resp}");
        assert_eq!(resp["error"]["code"], "invalid_input");
    }

    // unusual but valid unicode is accepted and comes back intact
    let s = app.sign_up(&unique_email("uni"), "пароль-密码-🔑", "customer").await;
    let res = app.client.patch(app.url("/api/v1/me")).bearer_auth(&s.token).json(&json!({ "display_name": "Ærøskøbing ﷽ 👩‍👩‍👧" })).send().await.expect("req");
    assert_eq!(res.status(), StatusCode::OK);

    // sign-in with junk: never a 500
    for body in [json!({ "email": "", "password": "" }), json!({ "email": "x@y.zz", "password": "p".repeat(5000) }), json!({ "email": "' OR 1=1 --", "password": "x" })] {
        let (status, resp) = error_of(app.post_json("/api/v1/auth/sign-in", &body, None).await).await;
        assert!(status.is_client_error(), "{body}: {status} {resp}");
    }
    // path parameters
    let (status, _) = error_of(app.client.delete(app.url("/api/v1/me/sessions/%00%ff")).bearer_auth(&s.token).send().await.expect("req")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not UTF-8");
    let (status, _) = error_of(app.client.delete(app.url("/api/v1/me/sessions/x'%20OR%201=1")).bearer_auth(&s.token).send().await.expect("req")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // an absurd bearer token
    let (status, _) = error_of(app.get("/api/v1/me", Some(&"x".repeat(5000))).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // server functions with missing arguments
    use leptos::server_fn::ServerFn;
    let res = app
        .client
        .post(app.url(<app::api::auth::SignIn as ServerFn>::PATH))
        .header(header::ACCEPT, "application/json")
        .form(&[("email", "x@y.zz")])
        .send()
        .await
        .expect("req");
    assert!(res.status().is_client_error(), "{}", res.status());
});
