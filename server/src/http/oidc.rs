//! `GET /auth/oidc/start` and `GET /auth/oidc/callback`: the browser's side of sign-in with an
//! OpenID Connect provider (`accounts::oidc`). Failures go back to the sign-in page with the reason;
//! an account with MFA continues there with its second factor.

use axum::{
    extract::{Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::extract::Client;
use crate::AppState;

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn back_to_sign_in(why: &str) -> Response {
    see_other(&format!("/sign-in?error={}", app::api::catalog::urlencode(why)))
}

#[derive(Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
}

pub async fn start(State(st): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let Some(oidc) = &st.oidc else { return super::error::ApiError::not_found("sign-in provider").into_response() };
    match oidc.start(&st.accounts, q.return_to.as_deref().unwrap_or("/")).await {
        Ok(url) => see_other(&url),
        Err(e) => {
            tracing::warn!(error = %e, "could not start an OIDC sign-in");
            back_to_sign_in(&format!("{} is not reachable just now: try again, or sign in with your password", oidc.name()))
        }
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(State(st): State<AppState>, Client(client): Client, Query(q): Query<CallbackQuery>) -> Response {
    let Some(oidc) = &st.oidc else { return super::error::ApiError::not_found("sign-in provider").into_response() };
    if let Some(e) = q.error {
        return back_to_sign_in(&format!("{} said: {}", oidc.name(), q.error_description.unwrap_or(e)));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else { return back_to_sign_in("the sign-in answer was incomplete: start again") };
    if code.len() > 2048 || state.len() > 256 {
        return back_to_sign_in("the sign-in answer was malformed: start again");
    }
    match oidc.finish(&st.accounts, &code, &state, &client).await {
        Ok((accounts::SignInOutcome::SignedIn(s), to)) => {
            let max_age = (s.expires_at.0 - kernel::Timestamp::now().0) / 1_000_000;
            let mut res = see_other(&to);
            if let Ok(v) = HeaderValue::from_str(&app::ssr::session_cookie(&s.token, max_age, st.settings.secure_cookies)) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Ok((accounts::SignInOutcome::MfaRequired { challenge }, _)) => see_other(&format!("/sign-in?challenge={challenge}")),
        Err(accounts::oidc::OidcFailure::Accounts(e)) => {
            if let accounts::AccountsError::Internal(inner) = &e {
                tracing::error!(error = %inner, "OIDC sign-in failed");
                return back_to_sign_in("something went wrong on our side");
            }
            back_to_sign_in(&match e {
                accounts::AccountsError::InvalidInput { message, .. } => message,
                other => other.to_string(),
            })
        }
        Err(accounts::oidc::OidcFailure::Oidc(e)) => {
            tracing::warn!(error = %e, "OIDC sign-in refused");
            back_to_sign_in(&e.to_string())
        }
    }
}
