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
    Ok(crate::ssr::maybe_principal().await?.map(|p| p.user.into()))
}

#[server]
pub async fn sign_up(
    email: String,
    password: String,
    display_name: String,
    account_type: String,
) -> Result<UserView, AppError> {
    use crate::ssr::*;
    let as_dealer = match account_type.as_str() {
        "dealer" => true,
        "customer" | "" => false,
        _ => return Err(AppError { field: Some("account_type".into()), ..AppError::new("invalid_input", "choose customer or dealer") }),
    };
    let input = accounts::SignUp { email, password, display_name, as_dealer };
    let s = services().accounts.sign_up(input, &client_info()).await.map_err(map_err)?;
    set_session_cookie(&s.token, s.expires_at);
    Ok(s.user.into())
}

#[server]
pub async fn sign_in(email: String, password: String) -> Result<SignInResult, AppError> {
    use crate::ssr::*;
    match services().accounts.sign_in(&email, &password, &client_info()).await.map_err(map_err)? {
        accounts::SignInOutcome::SignedIn(s) => {
            set_session_cookie(&s.token, s.expires_at);
            Ok(SignInResult::SignedIn(s.user.into()))
        }
        accounts::SignInOutcome::MfaRequired { challenge } => Ok(SignInResult::MfaRequired { challenge }),
    }
}

#[server]
pub async fn sign_in_mfa(challenge: String, code: String) -> Result<UserView, AppError> {
    use crate::ssr::*;
    let s = services().accounts.sign_in_mfa(&challenge, &code, &client_info()).await.map_err(map_err)?;
    set_session_cookie(&s.token, s.expires_at);
    Ok(s.user.into())
}

#[server]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::ssr::*;
    if let Some(token) = session_token() {
        services().accounts.sign_out(&token).await.map_err(map_err)?;
    }
    clear_session_cookie();
    Ok(())
}
