//! `/api/v1` for carts, checkout, payments (webhooks and the sandbox's card form), orders, the
//! dealers' queue and balance, and reviews. Checkout and payment requests honour `Idempotency-Key`.

use accounts::Principal;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use orders::{
    idempotency::request_hash, CartAdd, CartOwner, DealerAction, OrdersError, ReviewInput, WebhookOutcome,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    error::ApiError,
    extract::{token_from, ApiJson, Caller},
};
use crate::AppState;

type ApiResult<T> = Result<T, ApiError>;

impl From<OrdersError> for ApiError {
    fn from(e: OrdersError) -> Self {
        let status = match &e {
            OrdersError::InvalidInput { .. } | OrdersError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            OrdersError::Unauthenticated => StatusCode::UNAUTHORIZED,
            OrdersError::Forbidden => StatusCode::FORBIDDEN,
            OrdersError::NotFound => StatusCode::NOT_FOUND,
            OrdersError::Conflict(_) | OrdersError::OutOfStock { .. } | OrdersError::IdempotencyInFlight => StatusCode::CONFLICT,
            OrdersError::Provider(m) => {
                tracing::warn!(error = %m, "payment provider unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
            OrdersError::Replayed { code, .. } => match code.as_str() {
                "invalid_input" | "idempotency_key_reused" => StatusCode::UNPROCESSABLE_ENTITY,
                "not_found" => StatusCode::NOT_FOUND,
                "forbidden" => StatusCode::FORBIDDEN,
                _ => StatusCode::CONFLICT,
            },
            OrdersError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side");
            }
        };
        let code: &'static str = match e.code() {
            "invalid_input" => "invalid_input",
            "unauthenticated" => "unauthenticated",
            "forbidden" => "forbidden",
            "not_found" => "not_found",
            "out_of_stock" => "out_of_stock",
            "provider_unavailable" => "provider_unavailable",
            "idempotency_key_reused" => "idempotency_key_reused",
            "idempotency_key_in_use" => "idempotency_key_in_use",
            _ => "conflict",
        };
        let mut out = ApiError::new(status, code, e.message());
        out.field_owned = e.field().map(str::to_owned);
        out
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cart", get(cart))
        .route("/cart/items", post(cart_add))
        .route("/cart/items/{id}", put(cart_set).delete(cart_remove))
        .route("/checkout", post(checkout))
        .route("/checkouts/{id}", get(checkout_get))
        .route("/checkouts/{id}/cancel", post(checkout_cancel))
        .route("/payments/config", get(payments_config))
        .route("/payments/webhooks/{provider}", post(webhook))
        .route("/sandbox/payment_intents/{id}/confirm", post(sandbox_confirm))
        .route("/sandbox/payment_intents/{id}/authenticate", post(sandbox_authenticate))
        .route("/orders", get(my_orders))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/orders/{id}/received", post(received))
        .route("/orders/{id}/lines/{line}/review", put(review))
        .route("/dealer/orders", get(dealer_orders))
        .route("/dealer/orders/{id}/{action}", post(dealer_action))
        .route("/dealer/balance", get(balance))
        .route("/products/{slug}/reviews", get(product_reviews))
}

const CART_COOKIE: &str = app::ssr::CART_COOKIE;

/// The cart of the caller: the signed-in person's, else the guest cart of the cookie (made when
/// `create` and absent; the new token is returned to be set).
async fn owner(st: &AppState, headers: &HeaderMap, create: bool) -> ApiResult<(CartOwner, Option<String>)> {
    if let Some(token) = token_from(headers) {
        let p = st.accounts.authenticate(&token).await?;
        if let Some(guest) = app::ssr::cookie_value(headers, CART_COOKIE) {
            st.orders.merge_guest_cart(&guest, &p.user.id.to_string()).await?;
        }
        return Ok((CartOwner::User(p.user.id.to_string()), None));
    }
    match app::ssr::cookie_value(headers, CART_COOKIE).filter(|t| orders::cart::valid_guest_token(t)) {
        Some(t) => Ok((CartOwner::Guest(t), None)),
        None if create => {
            let t = orders::cart::new_guest_token();
            Ok((CartOwner::Guest(t.clone()), Some(t)))
        }
        None => Ok((CartOwner::Guest(String::new()), None)),
    }
}

fn with_cart_cookie(body: impl IntoResponse, new_token: Option<String>, secure: bool) -> Response {
    let mut res = body.into_response();
    if let Some(t) = new_token {
        if let Ok(v) = HeaderValue::from_str(&app::ssr::cart_cookie(&t, secure)) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

async fn cart(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Json<orders::CartView>> {
    let (o, _) = owner(&st, &headers, false).await?;
    Ok(Json(st.orders.cart(&o).await?))
}

async fn cart_add(State(st): State<AppState>, headers: HeaderMap, ApiJson(b): ApiJson<CartAdd>) -> ApiResult<Response> {
    let (o, new) = owner(&st, &headers, true).await?;
    let view = st.orders.add_to_cart(&o, &b).await?;
    Ok(with_cart_cookie((StatusCode::CREATED, Json(view)), new, st.settings.secure_cookies))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityBody {
    quantity: i64,
}

async fn cart_set(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>, ApiJson(b): ApiJson<QuantityBody>) -> ApiResult<Json<orders::CartView>> {
    let (o, _) = owner(&st, &headers, false).await?;
    Ok(Json(st.orders.set_cart_quantity(&o, &id, b.quantity).await?))
}

async fn cart_remove(State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<orders::CartView>> {
    let (o, _) = owner(&st, &headers, false).await?;
    Ok(Json(st.orders.remove_from_cart(&o, &id).await?))
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key must be printable ASCII"))?;
            orders::idempotency::check_key(s)?;
            Ok(Some(s.to_owned()))
        }
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", format!("the body is not what this endpoint takes: {e}"));
        if e.is_syntax() || e.is_eof() {
            err = ApiError::bad_request(format!("the body is not valid JSON: {e}"));
        }
        err
    })
}

/// `POST /checkout` — the whole cart, one payment; `Idempotency-Key` makes a retry safe.
async fn checkout(State(st): State<AppState>, Caller(p): Caller, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let view = st.orders.checkout_request(&p, key.as_deref(), &body).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn checkout_get(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<orders::CheckoutView>> {
    Ok(Json(st.orders.checkout_view(&p, &id).await?))
}

async fn checkout_cancel(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<orders::CheckoutView>> {
    Ok(Json(st.orders.cancel_checkout(&p, &id).await?))
}

async fn payments_config(State(st): State<AppState>) -> Json<orders::payments::ClientConfig> {
    Json(st.orders.provider().client_config())
}

/// Provider webhooks: verified from the raw body before anything is read from it.
async fn webhook(State(st): State<AppState>, Path(provider): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let sig = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    match st.orders.apply_webhook(&provider, sig, &body).await {
        Ok(outcome) => {
            let what = match outcome {
                WebhookOutcome::Applied => "applied",
                WebhookOutcome::Duplicate => "duplicate",
                WebhookOutcome::Ignored => "ignored",
            };
            Json(json!({ "received": true, "outcome": what })).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, provider, "webhook refused");
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_webhook", e.to_string()).into_response()
        }
    }
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    client_secret: String,
    card_number: String,
}

fn sandbox(st: &AppState) -> ApiResult<&orders::payments::sandbox::Sandbox> {
    st.sandbox.as_ref().ok_or_else(|| ApiError::not_found("the sandbox (payments use another provider here)"))
}

/// The sandbox's card form posts here (it stands in for Stripe.js: test cards only).
async fn sandbox_confirm(State(st): State<AppState>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<orders::payments::sandbox::SandboxIntent>> {
    let sb = sandbox(&st)?.clone();
    let key = idempotency_key(&headers)?;
    let hash = request_hash(&format!("sandbox-confirm:{id}"), &body);
    let b: ConfirmBody = parse_body(&body)?;
    let out = st
        .orders
        .idempotent(&format!("sandbox:{id}"), key.as_deref(), &hash, async { sb.confirm(&id, &b.client_secret, &b.card_number).await })
        .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticateBody {
    client_secret: String,
    /// `approve` or `fail`.
    outcome: String,
}

async fn sandbox_authenticate(State(st): State<AppState>, Path(id): Path<String>, ApiJson(b): ApiJson<AuthenticateBody>) -> ApiResult<Json<orders::payments::sandbox::SandboxIntent>> {
    let approve = match b.outcome.as_str() {
        "approve" => true,
        "fail" => false,
        _ => return Err(OrdersError::invalid("outcome", "approve or fail").into()),
    };
    Ok(Json(sandbox(&st)?.authenticate(&id, &b.client_secret, approve).await?))
}

async fn my_orders(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(json!({ "orders": st.orders.my_orders(&p).await? })))
}

async fn order(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<orders::OrderView>> {
    Ok(Json(st.orders.order(&p, &id).await?))
}

async fn cancel_order(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<orders::OrderView>> {
    Ok(Json(st.orders.cancel_order(&p, &id).await?))
}

async fn received(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult<Json<orders::OrderView>> {
    Ok(Json(st.orders.confirm_receipt(&p, &id).await?))
}

async fn review(State(st): State<AppState>, Caller(p): Caller, Path((id, line)): Path<(String, String)>, ApiJson(b): ApiJson<ReviewInput>) -> ApiResult<Json<orders::ReviewView>> {
    Ok(Json(st.orders.save_review(&p, &id, &line, &b).await?))
}

#[derive(Deserialize)]
struct QueueParams {
    status: Option<String>,
}

async fn dealer_orders(State(st): State<AppState>, Caller(p): Caller, Query(q): Query<QueueParams>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(json!({ "orders": st.orders.dealer_orders(&p, q.status.as_deref()).await? })))
}

/// `POST /dealer/orders/{id}/{accept|decline|start_production|ship|deliver}`; `ship` takes
/// `{"carrier", "tracking_number"}`, `decline` an optional `{"reason"}`.
async fn dealer_action(State(st): State<AppState>, Caller(p): Caller, Path((id, action)): Path<(String, String)>, body: Bytes) -> ApiResult<Json<orders::OrderView>> {
    let Some(action) = DealerAction::parse(&action) else {
        return Err(ApiError::not_found("action (accept, decline, start_production, ship or deliver)"));
    };
    let mut v: serde_json::Value = if body.is_empty() { json!({}) } else { parse_body(&body)? };
    if !v.is_object() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "the body must be a JSON object"));
    }
    v["action"] = json!(action);
    let a: DealerAction = serde_json::from_value(v).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", e.to_string()))?;
    Ok(Json(st.orders.dealer_action(&p, &id, &a).await?))
}

async fn balance(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<orders::Balance>> {
    Ok(Json(st.orders.balance(&p).await?))
}

async fn product_reviews(State(st): State<AppState>, Path(slug): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let p = st.catalog.product_for(None::<&Principal>, &slug).await?;
    let reviews = st.orders.product_reviews(&p.id, 50).await?;
    Ok(Json(json!({ "rating_avg": p.rating_avg, "rating_count": p.rating_count, "reviews": reviews })))
}
