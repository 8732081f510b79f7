//! The admin console's server functions. Every one checks the caller is an admin in the service it
//! calls (a customer or dealer gets `forbidden` or `not_found`, never data); every change is audited
//! by that service.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{orders::OrderSummary, UserView};
use crate::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub dealer_status: Option<String>,
    pub suspended: bool,
    pub mfa_enabled: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingRow {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub status: String,
    pub dealer_id: String,
    pub store_name: String,
    pub moderation_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRow {
    pub event_id: String,
    pub consumer: String,
    pub event_type: String,
    pub aggregate_id: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsView {
    pub lag_seconds: f64,
    pub dead_letters: Vec<DeadLetterRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor_id: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub request_id: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRow {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub orders: i64,
    pub gmv_minor: i64,
    pub checkouts_started: i64,
    pub checkouts_paid: i64,
    pub new_listings: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    pub days: i64,
    pub series: Vec<DayRow>,
    pub orders: i64,
    pub gmv: String,
    /// Paid checkouts / checkouts started, in percent (None without any checkout).
    pub conversion_pct: Option<f64>,
    pub new_listings: i64,
    pub users: i64,
    pub dealers: i64,
    pub suspended: i64,
    pub new_users: i64,
    pub active_users: i64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p95_ms: f64,
    pub error_rate_pct: f64,
}

#[cfg(feature = "ssr")]
fn admin_user(u: accounts::User) -> AdminUser {
    AdminUser {
        id: u.id.to_string(),
        email: u.email,
        display_name: u.display_name,
        role: u.role.as_str().to_owned(),
        dealer_status: u.dealer_status.map(|s| s.as_str().to_owned()),
        suspended: u.suspended,
        mfa_enabled: u.mfa_enabled,
        created_at: u.created_at.to_rfc3339(),
    }
}

#[cfg(feature = "ssr")]
fn parse_user(id: &str) -> Result<accounts::UserId, AppError> {
    accounts::UserId::parse(id).map_err(|_| AppError::new("not_found", "no such user"))
}

#[server]
pub async fn pending_dealers() -> Result<Vec<UserView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let list = cx.accounts().dealers_by_status(&p, accounts::DealerStatus::Pending).await.map_err(|e| cx.err(e))?;
    Ok(list.into_iter().map(Into::into).collect())
}

#[server]
pub async fn decide_dealer(dealer_id: String, approve: bool, reason: Option<String>) -> Result<UserView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let id = accounts::UserId::parse(&dealer_id).map_err(|_| AppError::new("not_found", "no such dealer"))?;
    let u = cx.accounts().decide_dealer(&p, id, approve, reason.as_deref()).await.map_err(|e| cx.err(e))?;
    Ok(u.into())
}

/// Users by email or name; `role` and `status` (`active`/`suspended`) narrow it; empty = all.
#[server]
pub async fn admin_users(#[server(default)] q: String, #[server(default)] role: String, #[server(default)] status: String) -> Result<Vec<AdminUser>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let role = match role.as_str() {
        "" | "all" => None,
        r => Some(accounts::Role::parse(r).map_err(|e| cx.err(e))?),
    };
    let suspended = match status.as_str() {
        "" | "all" => None,
        "suspended" => Some(true),
        "active" => Some(false),
        s => return Err(AppError { field: Some("status".into()), ..AppError::new("invalid_input", format!("{s:?} is not active or suspended")) }),
    };
    let list = cx.accounts().search_users(&p, &q, role, suspended).await.map_err(|e| cx.err(e))?;
    Ok(list.into_iter().map(admin_user).collect())
}

/// Suspends an account: its sessions end at once, and its live pages and sockets close.
#[server]
pub async fn suspend_user(user_id: String, reason: String) -> Result<AdminUser, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let u = cx.accounts().set_suspended(&p, parse_user(&user_id)?, true, Some(&reason)).await.map_err(|e| cx.err(e))?;
    crate::ssr::end_live_sessions(&cx.services.hub, &u.id.to_string()).await;
    Ok(admin_user(u))
}

#[server]
pub async fn reinstate_user(user_id: String) -> Result<AdminUser, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let u = cx.accounts().set_suspended(&p, parse_user(&user_id)?, false, None).await.map_err(|e| cx.err(e))?;
    Ok(admin_user(u))
}

#[server]
pub async fn change_role(user_id: String, role: String) -> Result<AdminUser, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let r = accounts::Role::parse(&role).map_err(|e| cx.err(e))?;
    let u = cx.accounts().change_role(&p, parse_user(&user_id)?, r).await.map_err(|e| cx.err(e))?;
    Ok(admin_user(u))
}

#[server]
pub async fn admin_listings(#[server(default)] q: String, #[server(default)] moderated: bool) -> Result<Vec<ListingRow>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.catalog.admin_listings(&p, &q, moderated).await.map_err(|e| super::catalog::catalog_err(&cx, e))?;
    cx.mirror(v)
}

/// Unlists a listing with a reason (the dealer is notified), or restores it (`reason` empty) to draft.
#[server]
pub async fn moderate_listing(id: String, #[server(default)] reason: String, #[server(default)] restore: bool) -> Result<ListingRow, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    if !restore && reason.trim().is_empty() {
        return Err(AppError { field: Some("reason".into()), ..AppError::new("invalid_input", "give a reason: the dealer is told") });
    }
    let v = cx.services.catalog.moderate(&p, &id, (!restore).then_some(reason.as_str())).await.map_err(|e| super::catalog::catalog_err(&cx, e))?;
    cx.mirror(v)
}

#[server]
pub async fn admin_orders(#[server(default)] status: String, #[server(default)] q: String) -> Result<Vec<OrderSummary>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.admin_orders(&p, Some(status.as_str()), &q).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

/// Refunds an order in full (any stage after payment), with a reason. Returns its new status label.
#[server]
pub async fn admin_refund(order_id: String, reason: String) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.admin_refund(&p, &order_id, &reason).await.map_err(|e| cx.orders_err(e))?;
    Ok(v.status_label)
}

#[server]
pub async fn admin_events() -> Result<EventsView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    p.require_admin().map_err(|e| cx.err(e))?;
    let lag = cx.services.bus.lag().await.map_err(|e| cx.internal(e))?;
    let dead = cx.services.bus.dead_letters(200).await.map_err(|e| cx.internal(e))?;
    Ok(EventsView {
        lag_seconds: lag.map(|d| d.as_secs_f64()).unwrap_or(0.0),
        dead_letters: dead
            .into_iter()
            .map(|d| DeadLetterRow { event_id: d.event_id, consumer: d.consumer, event_type: d.event_type, aggregate_id: d.aggregate_id, attempts: d.attempts, last_error: d.last_error, updated_at: d.updated_at })
            .collect(),
    })
}

/// Puts a dead letter back in its consumer's queue (audited).
#[server]
pub async fn redrive(event_id: String, consumer: String) -> Result<bool, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    p.require_admin().map_err(|e| cx.err(e))?;
    crate::ssr::redrive(&cx.services.bus, &cx.services.db, &p, &event_id, &consumer).await.map_err(|e| cx.internal(e))
}

#[server]
pub async fn audit_log(#[server(default)] actor: String, #[server(default)] action: String, #[server(default)] target: String, #[server(default)] before: i64) -> Result<Vec<AuditRow>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    p.require_admin().map_err(|e| cx.err(e))?;
    let f = kernel::audit::Filter { actor: actor.trim().to_owned(), action: action.trim().to_owned(), target: target.trim().to_owned(), before };
    let v = kernel::audit::list(&cx.services.db, &f, 100).await.map_err(|e| cx.internal(e))?;
    cx.mirror(v)
}

/// The dashboard's figures over the last `days` days (7, 30 or 90).
#[server]
pub async fn admin_kpis(days: i64) -> Result<Kpis, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    p.require_admin().map_err(|e| cx.err(e))?;
    if ![7, 30, 90].contains(&days) {
        return Err(AppError { field: Some("days".into()), ..AppError::new("invalid_input", "the period is 7, 30 or 90 days") });
    }
    crate::ssr::kpis(&cx, &p, days).await
}

/// Every customization thread, newest activity first (opening one is audited as an admin read).
#[server]
pub async fn admin_threads(#[server(default)] status: String) -> Result<Vec<super::custom::ThreadView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.custom.admin_threads(&p, Some(status.as_str())).await.map_err(|e| super::custom::custom_err(&cx, e))?;
    cx.mirror(v)
}

/// A stored model (the recommendation service's `ModelInfo`, mirrored) with its date for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model_id: String,
    pub created_at: i64,
    #[serde(default)]
    pub trained: String,
    pub status: String,
    pub users: i64,
    pub items: i64,
    pub interactions: i64,
    pub val_hr10: f64,
    pub popularity_val_hr10: f64,
    pub epochs: i64,
    pub seconds: f64,
}

/// This instance's training run (the service's `Training`, mirrored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingView {
    pub running: bool,
    pub phase: String,
    pub epoch: usize,
    pub epochs: usize,
    pub done: f64,
    pub loss: f64,
    pub val_hr10: Option<f64>,
    pub model_id: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendView {
    pub serving: Option<String>,
    pub new_signals: i64,
    pub retrain_after: i64,
    pub models: Vec<ModelRow>,
    pub training: TrainingView,
}

/// The recommendation models: the one served, the stored ones with their validation figures, the
/// signals since the last training, and this instance's training progress.
#[server]
pub async fn admin_recommendations() -> Result<RecommendView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    p.require_admin().map_err(|e| cx.err(e))?;
    let rec = &cx.services.recommend;
    let (new_signals, _) = rec.new_signals().await.map_err(|e| cx.internal(e))?;
    let mut models: Vec<ModelRow> = cx.mirror(rec.models(20).await.map_err(|e| cx.internal(e))?)?;
    for m in &mut models {
        m.trained = kernel::Timestamp(m.created_at).to_rfc3339();
    }
    Ok(RecommendView { serving: rec.model_id(), new_signals, retrain_after: rec.settings().retrain_after, models, training: cx.mirror(rec.training())? })
}

/// Starts training a model on the recorded signals in the background (audited); false when a
/// training run is already going on this instance.
#[server]
pub async fn admin_train_model() -> Result<bool, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    p.require_admin().map_err(|e| cx.err(e))?;
    let started = cx.services.recommend.train_in_background();
    if started {
        let actor = p.user.id.to_string();
        let entry = kernel::audit::Entry::new(&actor, "recommend.training_started", "recommendations");
        if let Err(e) = kernel::audit::record(&cx.services.db, &entry).await {
            tracing::warn!(error = %e, "audit append failed");
        }
    }
    Ok(started)
}
