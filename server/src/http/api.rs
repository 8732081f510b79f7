//! `/api/v1`: the JSON API for non-browser clients, on the same services and sessions as the pages.
//! Each handler adapts one service call.

use accounts::{DealerStatus, SessionId, SignInOutcome, SignUp, UserId};
use app::api::UserView;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get, post},
    Json, Router,
};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::{
    error::ApiError,
    extract::{ApiJson, Caller, Client, Token},
};
use crate::AppState;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/sign-up", post(sign_up))
        .route("/auth/sign-in", post(sign_in))
        .route("/auth/sign-in/mfa", post(sign_in_mfa))
        .route("/auth/sign-out", post(sign_out))
        .route("/me", get(me).patch(update_me))
        .route("/me/password", post(change_password))
        .route("/me/sessions", get(sessions))
        .route("/me/sessions/revoke-all", post(revoke_all))
        .route("/me/sessions/{id}", delete(revoke_session))
        .route("/me/mfa/setup", post(mfa_setup))
        .route("/me/mfa/confirm", post(mfa_confirm))
        .route("/me/mfa/disable", post(mfa_disable))
        .route("/me/mfa/recovery-codes", post(mfa_recovery_codes))
        .route("/me/export", get(export))
        .route("/me/delete", post(delete_me))
        .route("/me/notifications", get(notifications))
        .route("/me/notifications/read-all", post(notifications_read_all))
        .route("/me/stream", get(stream))
        .route("/dealer/me", get(dealer_me))
        .route("/admin/events", get(admin_events))
        .route("/admin/events/dead-letters/{event_id}/{consumer}/redrive", post(admin_redrive))
        .route("/admin/dealers", get(admin_dealers))
        .route("/admin/dealers/{id}/decision", post(admin_decide_dealer))
}

fn session_json(s: &accounts::NewSession) -> serde_json::Value {
    json!({
        "token": s.token,
        "token_type": "Bearer",
        "expires_at": s.expires_at.to_rfc3339(),
        "user": UserView::from(s.user.clone()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpBody {
    email: String,
    password: String,
    display_name: String,
    #[serde(default)]
    account_type: AccountType,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum AccountType {
    #[default]
    Customer,
    Dealer,
}

async fn sign_up(State(st): State<AppState>, Client(c): Client, ApiJson(b): ApiJson<SignUpBody>) -> ApiResult<impl IntoResponse> {
    let input = SignUp { email: b.email, password: b.password, display_name: b.display_name, as_dealer: b.account_type == AccountType::Dealer };
    let s = st.accounts.sign_up(input, &c).await?;
    Ok((StatusCode::CREATED, Json(session_json(&s))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInBody {
    email: String,
    password: String,
}

async fn sign_in(State(st): State<AppState>, Client(c): Client, ApiJson(b): ApiJson<SignInBody>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(match st.accounts.sign_in(&b.email, &b.password, &c).await? {
        SignInOutcome::SignedIn(s) => session_json(&s),
        SignInOutcome::MfaRequired { challenge } => json!({ "mfa_required": true, "challenge": challenge }),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaBody {
    challenge: String,
    code: String,
}

async fn sign_in_mfa(State(st): State<AppState>, Client(c): Client, ApiJson(b): ApiJson<MfaBody>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(session_json(&st.accounts.sign_in_mfa(&b.challenge, &b.code, &c).await?)))
}

async fn sign_out(State(st): State<AppState>, Token(t): Token) -> ApiResult<StatusCode> {
    if let Some(t) = t {
        st.accounts.sign_out(&t).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(Caller(p): Caller) -> Json<UserView> {
    Json(p.user.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    display_name: String,
}

async fn update_me(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<ProfileBody>) -> ApiResult<Json<UserView>> {
    Ok(Json(st.accounts.update_profile(&p, &b.display_name).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<PasswordBody>) -> ApiResult<StatusCode> {
    st.accounts.change_password(&p, &b.current_password, &b.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sessions(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    let list = st.accounts.sessions(&p).await?;
    Ok(Json(json!({ "sessions": list.iter().map(|s| json!({
        "id": s.id, "ip": s.ip, "user_agent": s.user_agent,
        "created_at": s.created_at.to_rfc3339(), "last_seen_at": s.last_seen_at.to_rfc3339(), "current": s.current,
    })).collect::<Vec<_>>() })))
}

async fn revoke_all(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    let n = st.accounts.sign_out_everywhere(&p).await?;
    Ok(Json(json!({ "revoked": n })))
}

async fn revoke_session(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = SessionId::parse(&id).map_err(|_| ApiError::not_found("session"))?;
    st.accounts.revoke_session(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn mfa_setup(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    let s = st.accounts.mfa_begin(&p).await?;
    Ok(Json(json!({ "secret": s.secret_base32, "otpauth_uri": s.otpauth_uri, "qr_svg": s.qr_svg })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

async fn mfa_confirm(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<CodeBody>) -> ApiResult<Json<serde_json::Value>> {
    let codes = st.accounts.mfa_confirm(&p, &b.code).await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}

async fn mfa_disable(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<CodeBody>) -> ApiResult<StatusCode> {
    st.accounts.mfa_disable(&p, &b.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn mfa_recovery_codes(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<CodeBody>) -> ApiResult<Json<serde_json::Value>> {
    let codes = st.accounts.regenerate_recovery_codes(&p, &b.code).await?;
    Ok(Json(json!({ "recovery_codes": codes })))
}

async fn dealer_me(Caller(p): Caller) -> ApiResult<Json<UserView>> {
    p.require_dealer()?;
    Ok(Json(p.user.into()))
}

#[derive(Deserialize)]
struct DealerQuery {
    status: Option<String>,
}

async fn admin_dealers(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<DealerQuery>) -> ApiResult<Json<serde_json::Value>> {
    let status = match q.status.as_deref().unwrap_or("pending") {
        "pending" => DealerStatus::Pending,
        "approved" => DealerStatus::Approved,
        "rejected" => DealerStatus::Rejected,
        other => {
            return Err(ApiError::bad_request(format!("status {other:?} is not one of pending, approved, rejected")))
        }
    };
    let list = st.accounts.dealers_by_status(&p, status).await?;
    Ok(Json(json!({ "dealers": list.into_iter().map(UserView::from).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    approve: bool,
    reason: Option<String>,
}

async fn admin_decide_dealer(
    State(st): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> ApiResult<Json<UserView>> {
    p.require_admin()?;
    let id = UserId::parse(&id).map_err(|_| ApiError::not_found("dealer"))?;
    Ok(Json(st.accounts.decide_dealer(&p, id, b.approve, b.reason.as_deref()).await?.into()))
}

fn internal(e: sqlx::Error) -> ApiError {
    tracing::error!(error = %e, "database error");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
}

async fn notifications(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    let id = p.user.id.to_string();
    let list = st.notifications.list(&id, 50).await.map_err(internal)?;
    let unread = st.notifications.unread_count(&id).await.map_err(internal)?;
    Ok(Json(json!({ "unread": unread, "notifications": list })))
}

async fn notifications_read_all(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    let n = st.notifications.mark_all_read(&p.user.id.to_string()).await.map_err(internal)?;
    Ok(Json(json!({ "marked": n })))
}

/// Event health for admins: outbox lag and the dead letters.
async fn admin_events(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    p.require_admin()?;
    let lag = st.bus.lag().await.map_err(internal)?;
    let dead = st.bus.dead_letters(200).await.map_err(internal)?;
    Ok(Json(json!({ "lag_seconds": lag.map(|d| d.as_secs_f64()).unwrap_or(0.0), "dead_letters": dead })))
}

async fn admin_redrive(
    State(st): State<AppState>,
    Caller(p): Caller,
    Path((event_id, consumer)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    p.require_admin()?;
    let redriven = app::ssr::redrive(&st.bus, &st.db, &p, &event_id, &consumer).await.map_err(|e| {
        tracing::error!(error = %e, "re-drive failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
    })?;
    if redriven {
        tracing::info!(admin = %p.user.id, event_id, consumer, "dead letter re-driven");
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found("dead letter"))
    }
}

/// Server-sent events: the caller's realtime pushes (new notifications; later order tracking),
/// from whichever instance produced them. A subscriber that falls behind gets a `lagged` event and
/// should refetch; the server never buffers without bound.
async fn stream(State(st): State<AppState>, Caller(p): Caller) -> impl IntoResponse {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let rx = st.hub.subscribe(&notify::user_topic(&p.user.id.to_string()));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let ev = match rx.recv().await {
            // the session ended (suspension): the stream ends with it
            Ok(msg) if &*msg == kernel::hub::SIGNED_OUT => return None,
            Ok(msg) => Event::default().event("push").data(msg.to_string()),
            Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(ev), rx))
    });
    Sse::new(futures::stream::once(async { Ok(Event::default().event("ready").data("{}")) }).chain(stream))
        .keep_alive(KeepAlive::default())
}

/// Everything Bespoke holds about the caller, as one JSON download.
async fn export(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<axum::response::Response> {
    let data = app::ssr::export_data(&st.services(), &p).await.map_err(|e| {
        tracing::error!(error = %e, "data export failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
    })?;
    kernel::audit::record(&st.db, &kernel::audit::Entry::new(&p.user.id.to_string(), "user.exported", &p.user.id.to_string()))
        .await
        .map_err(internal)?;
    let mut res = Json(data).into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"bespoke-my-data.json\""),
    );
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
    Ok(res)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    password: String,
}

/// Erases the caller's account (password required); 409 while orders are in progress.
async fn delete_me(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<DeleteBody>) -> ApiResult<StatusCode> {
    app::ssr::delete_account(&st.services(), &p, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
