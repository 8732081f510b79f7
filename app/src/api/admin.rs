use leptos::prelude::*;

use super::UserView;
use crate::AppError;

#[server]
pub async fn pending_dealers() -> Result<Vec<UserView>, AppError> {
    let cx = crate::ssr::Ctx::get();
    let p = cx.principal().await?;
    let list = cx.accounts().dealers_by_status(&p, accounts::DealerStatus::Pending).await.map_err(|e| cx.err(e))?;
    Ok(list.into_iter().map(Into::into).collect())
}

#[server]
pub async fn decide_dealer(dealer_id: String, approve: bool, reason: Option<String>) -> Result<UserView, AppError> {
    let cx = crate::ssr::Ctx::get();
    let p = cx.principal().await?;
    let id = accounts::UserId::parse(&dealer_id).map_err(|_| AppError::new("not_found", "no such dealer"))?;
    let u = cx.accounts().decide_dealer(&p, id, approve, reason.as_deref()).await.map_err(|e| cx.err(e))?;
    Ok(u.into())
}
