use leptos::prelude::*;

use super::UserView;
use crate::AppError;

#[server]
pub async fn pending_dealers() -> Result<Vec<UserView>, AppError> {
    use crate::ssr::*;
    let p = principal().await?;
    let list = services().accounts.dealers_by_status(&p, accounts::DealerStatus::Pending).await.map_err(map_err)?;
    Ok(list.into_iter().map(Into::into).collect())
}

#[server]
pub async fn decide_dealer(dealer_id: String, approve: bool, reason: Option<String>) -> Result<UserView, AppError> {
    use crate::ssr::*;
    let p = principal().await?;
    let id = accounts::UserId::parse(&dealer_id).map_err(|_| AppError::new("not_found", "no such dealer"))?;
    let u = services().accounts.decide_dealer(&p, id, approve, reason.as_deref()).await.map_err(map_err)?;
    Ok(u.into())
}
