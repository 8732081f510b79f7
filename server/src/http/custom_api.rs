//! `/api/v1` for customization threads: requests, the inbox, history, posting, quotes, and the live
//! WebSocket (`/threads/{id}/ws?after=N`). Only the two participants may read or write a thread (an
//! admin may read); a stranger or a forged id gets 404 on HTTP and on the socket alike.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use accounts::Principal;
use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        DefaultBodyLimit, Multipart, Path, Query, State,
    },
    http::{header, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Json, Router,
};
use customization::{CustomError, QuoteInput, RequestInput};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::{
    error::ApiError,
    extract::{ApiJson, Caller},
};
use crate::AppState;

type ApiResult<T> = Result<T, ApiError>;

/// Open sockets per person (several tabs are fine; a flood is not).
pub const MAX_SOCKETS_PER_USER: usize = 8;
/// Largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 8 * 1024;

/// Sockets currently open per user id, shared by the routes of one instance.
#[derive(Clone, Default)]
pub struct SocketCounts(Arc<Mutex<HashMap<String, usize>>>);

impl SocketCounts {
    fn try_take(&self, user: &str) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(user.to_owned()).or_insert(0);
        if *n >= MAX_SOCKETS_PER_USER {
            return false;
        }
        *n += 1;
        true
    }
    fn give_back(&self, user: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(user);
            }
        }
    }
    pub fn total(&self) -> usize {
        self.0.lock().map(|m| m.values().sum()).unwrap_or(0)
    }
}

impl From<CustomError> for ApiError {
    fn from(e: CustomError) -> Self {
        let status = match &e {
            CustomError::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            CustomError::NotFound => StatusCode::NOT_FOUND,
            CustomError::Forbidden => StatusCode::FORBIDDEN,
            CustomError::Conflict(_) => StatusCode::CONFLICT,
            CustomError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            CustomError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side");
            }
        };
        let mut out = ApiError::new(status, e.code(), e.message());
        out.field_owned = e.field().map(str::to_owned);
        if status == StatusCode::TOO_MANY_REQUESTS {
            out.retry_after = Some(60);
        }
        out
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/threads", get(inbox).post(request))
        .route("/threads/{id}", get(thread))
        .route("/threads/{id}/messages", get(messages).post(post_message))
        .route("/threads/{id}/quotes", post(quote))
        .route("/threads/{id}/read", post(read))
        .route("/threads/{id}/decline", post(decline_request))
        .route("/threads/{id}/ws", get(socket))
        .route(
            "/threads/{id}/attachments",
            post(attach_api).layer(DefaultBodyLimit::max(customization::MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route("/threads/{id}/attachments/{attachment}", get(attachment))
        .route("/quotes/{id}/accept", post(accept))
        .route("/quotes/{id}/decline", post(decline))
        .route("/quotes/{id}/counter", post(counter))
}

/// A multipart upload: the image (`image`, or the first file) and an optional `caption`.
async fn read_upload(mut mp: Multipart) -> Result<(Vec<u8>, String), ApiError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| ApiError::bad_request(format!("the upload could not be read: {e}"));
    let (mut image, mut caption) = (None, String::new());
    while let Some(field) = mp.next_field().await.map_err(unreadable)? {
        if field.name() == Some("caption") {
            caption = field.text().await.map_err(unreadable)?;
        } else if image.is_none() && (field.file_name().is_some() || field.name() == Some("image")) {
            image = Some(field.bytes().await.map_err(unreadable)?.to_vec());
        }
    }
    match image {
        Some(b) => Ok((b, caption)),
        None => {
            let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "choose an image file to send");
            e.field = Some("image");
            Err(e)
        }
    }
}

async fn attach_api(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, mp: Multipart) -> ApiResult<Response> {
    let (bytes, caption) = read_upload(mp).await?;
    Ok((StatusCode::CREATED, Json(st.custom.attach(&p, &id, bytes, &caption).await?)).into_response())
}

/// The thread page's plain HTML image form: redirects back to the thread (works without JavaScript).
pub async fn attach_form(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, mp: Multipart) -> Response {
    let back = |q: &str| Redirect::to(&format!("/requests/{id}{q}")).into_response();
    let outcome = match read_upload(mp).await {
        Ok((bytes, caption)) => st.custom.attach(&p, &id, bytes, &caption).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => back(""),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => back(&format!("?attach_error={}", super::catalog_api::urlencode(&e.message))),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct AttachmentParams {
    #[serde(default)]
    size: String,
}

/// A private image: only for the thread's participants (and admins, audited); never cached by shared caches.
async fn attachment(State(st): State<AppState>, Caller(p): Caller, Path((id, attachment)): Path<(String, String)>, Query(q): Query<AttachmentParams>) -> ApiResult<Response> {
    let (content_type, bytes) = st.custom.attachment(&p, &id, &attachment, q.size == "thumb").await?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CONTENT_DISPOSITION, "inline".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterBody {
    /// The amount the customer proposes, e.g. `150.00`.
    price: String,
    #[serde(default)]
    note: String,
}

async fn counter(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<CounterBody>) -> ApiResult<Json<customization::MessageView>> {
    Ok(Json(st.custom.counter(&p, &id, &b.price, &b.note).await?))
}

#[derive(Deserialize)]
struct InboxParams {
    status: Option<String>,
}

async fn inbox(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<InboxParams>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(json!({ "threads": st.custom.inbox(&p, q.status.as_deref()).await? })))
}

async fn request(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<RequestInput>) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(st.custom.request(&p, &b).await?)).into_response())
}

async fn thread(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<customization::ThreadView>> {
    Ok(Json(st.custom.thread(&p, &id).await?))
}

#[derive(Deserialize)]
struct Page {
    after: Option<i64>,
    before: Option<i64>,
}

async fn messages(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, Query(q): Query<Page>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(json!({ "messages": st.custom.messages(&p, &id, q.after, q.before).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostBody {
    body: String,
}

async fn post_message(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<PostBody>) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(st.custom.post(&p, &id, &b.body).await?)).into_response())
}

async fn quote(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<QuoteInput>) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(st.custom.offer_quote(&p, &id, &b).await?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    seq: i64,
}

async fn read(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<ReadBody>) -> ApiResult<StatusCode> {
    st.custom.mark_read(&p, &id, b.seq).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepting ignores anything the client sends: the price is the quote's.
async fn accept(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<customization::MessageView>> {
    Ok(Json(st.custom.respond(&p, &id, true).await?))
}

async fn decline(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<customization::MessageView>> {
    Ok(Json(st.custom.respond(&p, &id, false).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclineBody {
    #[serde(default)]
    reason: String,
}

async fn decline_request(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<DeclineBody>) -> ApiResult<Json<customization::MessageView>> {
    Ok(Json(st.custom.decline_request(&p, &id, &b.reason).await?))
}

#[derive(Deserialize)]
struct SocketParams {
    #[serde(default)]
    after: i64,
}

/// The live thread. Authorised before the upgrade (404 for anyone but the participants and admins).
async fn socket(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, Query(q): Query<SocketParams>, ws: WebSocketUpgrade) -> ApiResult<Response> {
    let (_, read_only) = st.custom.access(&p, &id).await?;
    let user = p.user.id.to_string();
    if !st.sockets.try_take(&user) {
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_connections", format!("at most {MAX_SOCKETS_PER_USER} live connections per person")));
    }
    let counts = st.sockets.clone();
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // small buffers: an idle socket should cost little (tungstenite's default read buffer is 128 KiB)
        .read_buffer_size(MAX_FRAME_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .on_upgrade(move |socket| async move {
            session(socket, st, p, id, q.after, read_only).await;
            counts.give_back(&user);
        }))
}

/// Sends a frame, giving up on a client that does not read (its socket buffer is bounded).
async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(tokio::time::timeout(Duration::from_secs(10), socket.send(Message::Text(text.into()))).await, Ok(Ok(())))
}

/// `read_only`: an admin reading (authorised once, at the upgrade); their reads are not recorded.
async fn session(mut socket: WebSocket, st: AppState, p: Principal, id: String, after: i64, read_only: bool) {
    // subscribe first, then send the backlog: nothing published in between is lost, and the sequence
    // numbers drop what the backlog already carried
    let mut rx = st.hub.subscribe(&customization::thread_topic(&id));
    // the person's own topic: a suspension closes this socket at once
    let mut own = st.hub.subscribe(&kernel::hub::user_topic(&p.user.id.to_string()));
    let mut last_sent = after.max(0);
    if !catch_up(&mut socket, &st, &id, &mut last_sent).await {
        return;
    }
    if let Ok(reads) = st.custom.read_positions(&id).await {
        for (user_id, seq) in reads {
            if !send(&mut socket, json!({ "type": "read", "user_id": user_id, "seq": seq }).to_string()).await {
                return;
            }
        }
    }
    loop {
        tokio::select! {
            pushed = rx.recv() => match pushed {
                Ok(text) => {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    if v["type"] == "message" {
                        let seq = v["message"]["seq"].as_i64().unwrap_or(0);
                        if seq <= last_sent {
                            continue;
                        }
                        if seq > last_sent + 1 {
                            // a gap (e.g. a hub message was dropped): fill it from the database
                            if !catch_up(&mut socket, &st, &id, &mut last_sent).await {
                                return;
                            }
                            continue;
                        }
                        last_sent = seq;
                    }
                    if !send(&mut socket, text.to_string()).await {
                        return;
                    }
                }
                // this client fell behind the bounded channel: resync from the database
                Err(RecvError::Lagged(_)) => {
                    if !catch_up(&mut socket, &st, &id, &mut last_sent).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            mine = own.recv() => match mine {
                Ok(text) if &*text == kernel::hub::SIGNED_OUT => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                Err(RecvError::Closed) => return,
                _ => {}
            },
            incoming = socket.recv() => {
                let Some(Ok(frame)) = incoming else { return };
                let text = match frame {
                    Message::Text(t) => t.to_string(),
                    Message::Close(_) => return,
                    _ => continue,
                };
                let reply = match customization::ClientFrame::parse(&text) {
                    Err(e) => Some(json!({ "type": "error", "code": "bad_frame", "message": format!("not a frame this socket takes: {e}") })),
                    Ok(customization::ClientFrame::Typing {}) => {
                        st.custom.typing(&p, &id).await;
                        None
                    }
                    Ok(customization::ClientFrame::Read { .. }) if read_only => None,
                    Ok(customization::ClientFrame::Read { seq }) => st.custom.record_read(&id, &p.user.id.to_string(), seq).await.err().map(|e| json!({ "type": "error", "code": e.code(), "message": e.message() })),
                    Ok(customization::ClientFrame::Message { body }) => st.custom.post(&p, &id, &body).await.err().map(|e| json!({ "type": "error", "code": e.code(), "message": e.message(), "field": e.field() })),
                };
                if let Some(r) = reply {
                    if !send(&mut socket, r.to_string()).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Sends every stored message after `last_sent` and advances it.
async fn catch_up(socket: &mut WebSocket, st: &AppState, id: &str, last_sent: &mut i64) -> bool {
    loop {
        let Ok(batch) = st.custom.messages_unchecked(id, Some(*last_sent), None).await else { return false };
        if batch.is_empty() {
            return true;
        }
        for m in batch {
            let seq = m.seq;
            if !send(socket, json!({ "type": "message", "message": m }).to_string()).await {
                return false;
            }
            *last_sent = seq;
        }
    }
}
