use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub read: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    pub unread: i64,
    pub items: Vec<NotificationView>,
}

#[server]
pub async fn my_notifications() -> Result<Inbox, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let id = p.user.id.to_string();
    let items = cx.services.notifications.list(&id, 50).await.map_err(|e| cx.internal(e))?;
    let unread = cx.services.notifications.unread_count(&id).await.map_err(|e| cx.internal(e))?;
    Ok(Inbox {
        unread,
        items: items
            .into_iter()
            .map(|n| NotificationView { id: n.id, title: n.title, body: n.body, link: n.link, read: n.read, created_at: n.created_at })
            .collect(),
    })
}

#[server]
pub async fn mark_notifications_read() -> Result<u64, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    cx.services.notifications.mark_all_read(&p.user.id.to_string()).await.map_err(|e| cx.internal(e))
}

/// The caller's unread count; 0 for visitors who are not signed in (the navigation asks on every page).
#[server]
pub async fn unread_notifications() -> Result<i64, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    match cx.maybe_principal().await? {
        Some(p) => cx.services.notifications.unread_count(&p.user.id.to_string()).await.map_err(|e| cx.internal(e)),
        None => Ok(0),
    }
}
