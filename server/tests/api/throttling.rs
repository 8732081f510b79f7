use crate::helpers::*;
use reqwest::{header, StatusCode};

both!(failed_sign_ins_lock_the_account_for_a_while, |app: TestApp| async move {
    let email = unique_email("lock");
    app.sign_up(&email, "the real one", "customer").await;
    for i in 0..5 {
        let res = app.sign_in(&email, &format!("guess number {i}")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // now even the right password is refused, with a Retry-After
    let res = app.sign_in(&email, "the real one").await;
    let retry = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let (status, body) = error_of(res).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "too_many_attempts");
    assert!(retry.is_some_and(|s| s > 0 && s <= 15 * 60), "{retry:?}");
    // other accounts are not affected
    let other = unique_email("free");
    app.sign_up(&other, "free as a bird", "customer").await;
    assert_eq!(app.sign_in(&other, "free as a bird").await.status(), StatusCode::OK);
});

#[tokio::test]
async fn failed_sign_ins_are_limited_per_ip() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres && pg_admin_url().is_none() {
            continue;
        }
        let app = spawn_app_with(backend, |s| s.max_failures_per_ip = 3).await;
        let target = unique_email("victim");
        app.sign_up(&target, "victim password", "customer").await;
        // three different accounts, one address: password spraying
        for i in 0..3 {
            let res = app.sign_in(&unique_email(&format!("spray{i}")), "password1").await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let (status, _) = error_of(app.sign_in(&target, "victim password").await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{backend:?}");
    }
}
