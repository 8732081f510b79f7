use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::UserView;
use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInResult {
    SignedIn(UserView),
    MfaRequired { challenge: String },
}

#[server]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    Ok(cx.maybe_principal().await?.map(|p| p.user.into()))
}

#[server]
pub async fn sign_up(
    email: String,
    password: String,
    display_name: String,
    account_type: String,
) -> Result<UserView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let as_dealer = match account_type.as_str() {
        "dealer" => true,
        "customer" | "" => false,
        _ => {
            return Err(AppError { field: Some("account_type".into()), ..AppError::new("invalid_input", "choose customer or dealer") })
        }
    };
    let input = accounts::SignUp { email, password, display_name, as_dealer };
    let s = cx.accounts().sign_up(input, &cx.client_info()).await.map_err(|e| cx.err(e))?;
    cx.set_session_cookie(&s.token, s.expires_at);
    cx.merge_guest_cart(&s.user.id.to_string()).await;
    Ok(s.user.into())
}

#[server]
pub async fn sign_in(email: String, password: String) -> Result<SignInResult, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    match cx.accounts().sign_in(&email, &password, &cx.client_info()).await.map_err(|e| cx.err(e))? {
        accounts::SignInOutcome::SignedIn(s) => {
            cx.set_session_cookie(&s.token, s.expires_at);
            cx.merge_guest_cart(&s.user.id.to_string()).await;
            Ok(SignInResult::SignedIn(s.user.into()))
        }
        accounts::SignInOutcome::MfaRequired { challenge } => Ok(SignInResult::MfaRequired { challenge }),
    }
}

#[server]
pub async fn sign_in_mfa(challenge: String, code: String) -> Result<UserView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let s = cx.accounts().sign_in_mfa(&challenge, &code, &cx.client_info()).await.map_err(|e| cx.err(e))?;
    cx.set_session_cookie(&s.token, s.expires_at);
    cx.merge_guest_cart(&s.user.id.to_string()).await;
    Ok(s.user.into())
}

#[server]
pub async fn sign_out() -> Result<(), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    if let Some(token) = cx.session_token() {
        cx.accounts().sign_out(&token).await.map_err(|e| cx.err(e))?;
    }
    cx.clear_session_cookie();
    Ok(())
}

/// The configured OpenID Connect provider's name, if sign-in with one is on.
#[server]
pub async fn oidc_provider() -> Result<Option<String>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    Ok(cx.services.oidc.as_ref().map(|o| o.name().to_owned()))
}
