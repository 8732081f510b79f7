use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::UserView;
use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSetupView {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaState {
    pub enabled: bool,
    pub recovery_codes_left: i64,
}

#[server]
pub async fn update_profile(display_name: String) -> Result<UserView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    Ok(cx.accounts().update_profile(&p, &display_name).await.map_err(|e| cx.err(e))?.into())
}

#[server]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    cx.accounts().change_password(&p, &current_password, &new_password).await.map_err(|e| cx.err(e))
}

#[server]
pub async fn list_sessions() -> Result<Vec<SessionView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let list = cx.accounts().sessions(&p).await.map_err(|e| cx.err(e))?;
    Ok(list
        .into_iter()
        .map(|s| SessionView {
            id: s.id.to_string(),
            ip: s.ip,
            user_agent: s.user_agent,
            created_at: s.created_at.to_rfc3339(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            current: s.current,
        })
        .collect())
}

#[server]
pub async fn revoke_session(id: String) -> Result<(), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let id = accounts::SessionId::parse(&id).map_err(|_| AppError::new("not_found", "no such session"))?;
    cx.accounts().revoke_session(&p, id).await.map_err(|e| cx.err(e))
}

#[server]
pub async fn sign_out_everywhere() -> Result<u64, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let n = cx.accounts().sign_out_everywhere(&p).await.map_err(|e| cx.err(e))?;
    cx.clear_session_cookie();
    Ok(n)
}

#[server]
pub async fn mfa_status() -> Result<MfaState, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let left = cx.accounts().recovery_codes_left(&p).await.map_err(|e| cx.err(e))?;
    Ok(MfaState { enabled: p.user.mfa_enabled, recovery_codes_left: left })
}

#[server]
pub async fn mfa_begin() -> Result<MfaSetupView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let s = cx.accounts().mfa_begin(&p).await.map_err(|e| cx.err(e))?;
    Ok(MfaSetupView { secret: s.secret_base32, otpauth_uri: s.otpauth_uri, qr_svg: s.qr_svg })
}

#[server]
pub async fn mfa_confirm(code: String) -> Result<Vec<String>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    cx.accounts().mfa_confirm(&p, &code).await.map_err(|e| cx.err(e))
}

#[server]
pub async fn mfa_disable(code: String) -> Result<(), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    cx.accounts().mfa_disable(&p, &code).await.map_err(|e| cx.err(e))
}

#[server]
pub async fn regenerate_recovery_codes(code: String) -> Result<Vec<String>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    cx.accounts().regenerate_recovery_codes(&p, &code).await.map_err(|e| cx.err(e))
}

/// Erases the caller's account (the password confirms it) and signs them out.
#[server]
pub async fn delete_my_account(password: String) -> Result<(), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    crate::ssr::delete_account(&cx.services, &p, &password).await.map_err(|e| cx.err(e))?;
    cx.clear_session_cookie();
    Ok(())
}
