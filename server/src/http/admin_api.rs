//! The admin JSON API beside the console's server functions: users (search, suspension, roles),
//! listing moderation, orders and refunds, the audit log and the dashboard's figures. Each service
//! call checks the caller is an admin and audits what it changes.

use accounts::{Role, UserId};
use axum::{
    extract::{Path, Query, State},
    routing::{get, post, put},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    error::ApiError,
    extract::{ApiJson, Caller},
};
use crate::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users))
        .route("/admin/users/{id}/suspend", post(suspend))
        .route("/admin/users/{id}/reinstate", post(reinstate))
        .route("/admin/users/{id}/role", put(role))
        .route("/admin/products", get(listings))
        .route("/admin/products/{id}/unlist", post(unlist))
        .route("/admin/products/{id}/restore", post(restore))
        .route("/admin/orders", get(orders))
        .route("/admin/orders/{id}/refund", post(refund))
        .route("/admin/audit", get(audit))
        .route("/admin/kpis", get(kpis))
        .route("/admin/recommendations", get(rec_status))
        .route("/admin/recommendations/train", post(rec_train))
}

/// The served model, the stored ones and the signals waiting for the next training.
async fn rec_status(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Value>> {
    p.require_admin()?;
    let models = st.recommend.models(20).await?;
    let (new_signals, _) = st.recommend.new_signals().await?;
    Ok(Json(json!({ "serving": st.recommend.model_id(), "models": models, "new_signals": new_signals, "settings": st.recommend.settings(), "training": st.recommend.training() })))
}

/// Trains a model on the recorded signals now; it is served at once if it beats popularity.
async fn rec_train(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Value>> {
    p.require_admin()?;
    let m = st.recommend.train(Box::new(recommend::model::Quiet)).await?;
    let actor = p.user.id.to_string();
    let entry = kernel::audit::Entry::new(&actor, "recommend.trained", &m.model_id).detail(format!("{}; validation HR@10 {:.4}", m.status, m.val_hr10));
    if let Err(e) = kernel::audit::record(&st.db, &entry).await {
        tracing::warn!(error = %e, "audit append failed");
    }
    Ok(Json(json!({ "model": m, "serving": st.recommend.model_id() })))
}

fn user_id(id: &str) -> ApiResult<UserId> {
    UserId::parse(id).map_err(|_| ApiError::not_found("user"))
}

fn user_json(u: accounts::User) -> Value {
    json!({
        "id": u.id.to_string(), "email": u.email, "display_name": u.display_name, "role": u.role.as_str(),
        "dealer_status": u.dealer_status.map(|s| s.as_str().to_owned()), "suspended": u.suspended,
        "mfa_enabled": u.mfa_enabled, "created_at": u.created_at.to_rfc3339(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserQuery {
    #[serde(default)]
    q: String,
    role: Option<String>,
    status: Option<String>,
}

async fn users(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<UserQuery>) -> ApiResult<Json<Value>> {
    let role = match q.role.as_deref() {
        None | Some("") | Some("all") => None,
        Some(r) => Some(Role::parse(r)?),
    };
    let suspended = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some("suspended") => Some(true),
        Some("active") => Some(false),
        Some(s) => {
            let mut e = ApiError::bad_request(format!("status {s:?} is not active or suspended"));
            e.field = Some("status");
            return Err(e);
        }
    };
    let list = st.accounts.search_users(&p, &q.q, role, suspended).await?;
    Ok(Json(json!({ "users": list.into_iter().map(user_json).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

async fn suspend(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<ReasonBody>) -> ApiResult<Json<Value>> {
    let u = st.accounts.set_suspended(&p, user_id(&id)?, true, Some(&b.reason)).await?;
    app::ssr::end_live_sessions(&st.hub, &u.id.to_string()).await;
    Ok(Json(user_json(u)))
}

async fn reinstate(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(user_json(st.accounts.set_suspended(&p, user_id(&id)?, false, None).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

async fn role(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<RoleBody>) -> ApiResult<Json<Value>> {
    p.require_admin()?;
    let r = Role::parse(&b.role)?;
    Ok(Json(user_json(st.accounts.change_role(&p, user_id(&id)?, r).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListingQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    moderated: bool,
}

async fn listings(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<ListingQuery>) -> ApiResult<Json<Value>> {
    let list = st.catalog.admin_listings(&p, &q.q, q.moderated).await?;
    Ok(Json(json!({ "products": list })))
}

async fn unlist(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<ReasonBody>) -> ApiResult<Json<Value>> {
    if b.reason.trim().is_empty() {
        let mut e = ApiError::bad_request("give a reason: the dealer is told");
        e.field = Some("reason");
        return Err(e);
    }
    Ok(Json(json!(st.catalog.moderate(&p, &id, Some(&b.reason)).await?)))
}

async fn restore(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(st.catalog.moderate(&p, &id, None).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderQuery {
    status: Option<String>,
    #[serde(default)]
    q: String,
}

async fn orders(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<OrderQuery>) -> ApiResult<Json<Value>> {
    let list = st.orders.admin_orders(&p, q.status.as_deref(), &q.q).await?;
    Ok(Json(json!({ "orders": list })))
}

async fn refund(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<ReasonBody>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(st.orders.admin_refund(&p, &id, &b.reason).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    before: i64,
}

async fn audit(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<AuditQuery>) -> ApiResult<Json<Value>> {
    p.require_admin()?;
    let f = kernel::audit::Filter { actor: q.actor, action: q.action, target: q.target, before: q.before };
    let rows = kernel::audit::list(&st.db, &f, 100).await.map_err(|e| {
        tracing::error!(error = %e, "audit list failed");
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
    })?;
    Ok(Json(json!({ "entries": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KpiQuery {
    days: Option<i64>,
}

/// The dashboard's figures over the last 7, 30 or 90 days (JSON of the console's overview).
async fn kpis(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<KpiQuery>) -> ApiResult<Json<Value>> {
    p.require_admin()?;
    let days = q.days.unwrap_or(30);
    if ![7, 30, 90].contains(&days) {
        let mut e = ApiError::bad_request("the period is 7, 30 or 90 days");
        e.field = Some("days");
        return Err(e);
    }
    let k = app::ssr::kpis_for(&st.services(), &p, days).await.map_err(|e| {
        tracing::error!(error = %e, "kpis failed");
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
    })?;
    Ok(Json(json!(k)))
}
