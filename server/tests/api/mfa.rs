use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

both!(enrol_then_sign_in_with_totp_and_recovery_codes, |app: TestApp| async move {
    let email = unique_email("mfa");
    let s = app.sign_up(&email, "two factors", "customer").await;

    // confirming before starting is refused
    let (status, _) = error_of(app.post_json("/api/v1/me/mfa/confirm", &json!({ "code": "123456" }), Some(&s.token)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let setup: Value = app.post_json("/api/v1/me/mfa/setup", &json!({}), Some(&s.token)).await.json().await.expect("json");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    assert!(setup["otpauth_uri"].as_str().unwrap_or_default().starts_with("otpauth://totp/Bespoke:"));
    assert!(setup["qr_svg"].as_str().unwrap_or_default().contains("<svg"));

    // a wrong code does not enable MFA
    let wrong = if totp_code(&secret, 0) == "000000" { "111111" } else { "000000" };
    let (status, body) = error_of(app.post_json("/api/v1/me/mfa/confirm", &json!({ "code": wrong }), Some(&s.token)).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_mfa_code")));

    let enrol_code = totp_code(&secret, 0);
    let res: Value = app.post_json("/api/v1/me/mfa/confirm", &json!({ "code": enrol_code }), Some(&s.token)).await.json().await.expect("json");
    let codes: Vec<String> = res["recovery_codes"].as_array().expect("codes").iter().filter_map(|c| c.as_str().map(str::to_owned)).collect();
    assert_eq!(codes.len(), 10);
    let me: Value = app.get("/api/v1/me", Some(&s.token)).await.json().await.expect("json");
    assert_eq!(me["mfa_enabled"], true);

    // the password alone no longer signs in
    let first: Value = app.sign_in(&email, "two factors").await.json().await.expect("json");
    assert_eq!(first["mfa_required"], true);
    assert!(first.get("token").is_none());
    let challenge = first["challenge"].as_str().expect("challenge").to_owned();

    // the code used for enrolment cannot be replayed
    let (status, body) = error_of(app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": challenge, "code": enrol_code }), None).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_mfa_code")));

    // the next step's code (inside the drift window) works once
    let next = totp_code(&secret, 1);
    let ok: Value = app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": challenge, "code": next }), None).await.json().await.expect("json");
    assert!(ok["token"].as_str().is_some(), "{ok}");
    // the challenge is spent
    let (status, _) = error_of(app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": challenge, "code": next }), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let again: Value = app.sign_in(&email, "two factors").await.json().await.expect("json");
    let ch2 = again["challenge"].as_str().expect("challenge").to_owned();
    let (status, _) = error_of(app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": ch2, "code": next }), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a used TOTP code is refused the second time");

    // a recovery code works once, in any case and with or without its dash
    let rc = codes[0].to_uppercase().replace('-', "");
    let ok: Value = app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": ch2, "code": rc }), None).await.json().await.expect("json");
    assert!(ok["token"].as_str().is_some(), "{ok}");
    let again: Value = app.sign_in(&email, "two factors").await.json().await.expect("json");
    let ch3 = again["challenge"].as_str().expect("challenge").to_owned();
    let (status, _) = error_of(app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": ch3, "code": codes[0] }), None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a used recovery code is refused");

    // a forged challenge is refused
    let (status, body) = error_of(app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": "forged", "code": codes[1] }), None).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("challenge_expired")));

    // turning MFA off needs a valid code
    let (status, _) = error_of(app.post_json("/api/v1/me/mfa/disable", &json!({ "code": "999999x" }), Some(&s.token)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = app.post_json("/api/v1/me/mfa/disable", &json!({ "code": codes[2] }), Some(&s.token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let plain: Value = app.sign_in(&email, "two factors").await.json().await.expect("json");
    assert!(plain["token"].as_str().is_some());
});

both!(challenge_attempts_are_limited, |app: TestApp| async move {
    let email = unique_email("brute");
    let s = app.sign_up(&email, "two factors", "customer").await;
    let setup: Value = app.post_json("/api/v1/me/mfa/setup", &json!({}), Some(&s.token)).await.json().await.expect("json");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    app.post_json("/api/v1/me/mfa/confirm", &json!({ "code": totp_code(&secret, 0) }), Some(&s.token)).await;
    let first: Value = app.sign_in(&email, "two factors").await.json().await.expect("json");
    let challenge = first["challenge"].as_str().expect("challenge").to_owned();
    let good = totp_code(&secret, 1);
    let bad = if good == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let res = app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": challenge, "code": bad }), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // after five wrong codes the challenge is dead, even for the right code
    let (status, body) = error_of(app.post_json("/api/v1/auth/sign-in/mfa", &json!({ "challenge": challenge, "code": good }), None).await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("challenge_expired")));
});
