//! `/api/v1` for the catalogue and search, plus the media and generated-art routes.

use accounts::Principal;
use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Multipart, Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{delete, get, post, put},
    Json, Router,
};
use catalog::{CatalogError, ProductInput, Selection, StatusAction, StoreInput};
use search::{SearchError, SearchQuery};
use serde::Deserialize;
use serde_json::json;

use super::{
    error::ApiError,
    extract::{ApiJson, Caller},
};
use crate::AppState;

type ApiResult<T> = Result<T, ApiError>;

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let status = match &e {
            CatalogError::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            CatalogError::Forbidden => StatusCode::FORBIDDEN,
            CatalogError::NotFound => StatusCode::NOT_FOUND,
            CatalogError::Conflict(_) | CatalogError::OutOfStock { .. } => StatusCode::CONFLICT,
            CatalogError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side");
            }
        };
        let message = match &e {
            CatalogError::InvalidInput { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let mut out = ApiError::new(status, e.code(), message);
        out.field_owned = e.field().map(str::to_owned);
        out
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::InvalidInput { field, message } => {
                let mut out = ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message);
                out.field = Some(field);
                out
            }
            other => {
                tracing::error!(error = %other, "search failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side")
            }
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/categories", get(categories))
        .route("/search", get(search))
        .route("/search/suggest", get(suggest))
        .route("/recommendations", get(recommendations))
        .route("/products/{slug}", get(product))
        .route("/products/{slug}/price", post(price))
        .route("/stores/{slug}", get(store))
        .route("/dealer/store", get(my_store).put(save_store))
        .route(
            "/dealer/store/logo",
            post(upload_logo_api).layer(DefaultBodyLimit::max(catalog::images::MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route("/dealer/products", get(my_products).post(create_product))
        .route("/dealer/products/{id}", put(update_product))
        .route("/dealer/products/{id}/status", post(set_status))
        .route("/dealer/products/{id}/stock", put(set_stock))
        .route(
            "/dealer/products/{id}/images",
            post(upload_image_api).layer(DefaultBodyLimit::max(catalog::images::MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route("/dealer/products/{id}/images/{image_id}", delete(remove_image))
        .route("/dealer/import", post(import).layer(DefaultBodyLimit::max(2 * 1024 * 1024)))
}

async fn categories(State(st): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(json!({ "categories": st.catalog.categories().await? })))
}

/// The search parameters as they appear in URLs (`/search?…` and `/api/v1/search?…`).
#[derive(Deserialize, Default, Debug)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    pub category: Option<String>,
    pub min_price: Option<String>,
    pub max_price: Option<String>,
    pub store: Option<String>,
    pub in_stock: Option<String>,
    pub customizable: Option<String>,
    pub min_rating: Option<String>,
    pub sort: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
    /// `off`: the engine's ranking even for a signed-in person the recommendation model knows.
    pub personal: Option<String>,
}

fn flag(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true" | "on" | "yes"))
}

impl SearchParams {
    pub fn to_query(&self) -> Result<SearchQuery, ApiError> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Ok(SearchQuery::from_text(&search::TextParams {
            q: self.q.clone(),
            category: text(&self.category),
            min_price: text(&self.min_price),
            max_price: text(&self.max_price),
            store: text(&self.store),
            in_stock: flag(&self.in_stock),
            customizable: flag(&self.customizable),
            min_rating: text(&self.min_rating),
            sort: text(&self.sort),
            page: text(&self.page),
            per_page: text(&self.per_page),
        })?)
    }
}

/// `GET /api/v1/search`: for a signed-in caller the recommendation model knows, results of similar
/// relevance come in the caller's predicted order (`personalized: true`) unless `personal=off`.
async fn search(State(st): State<AppState>, headers: HeaderMap, Query(p): Query<SearchParams>) -> ApiResult<Json<serde_json::Value>> {
    let personal = match p.personal.as_deref().map(str::trim) {
        None | Some("" | "on") => true,
        Some("off") => false,
        Some(other) => return Err(invalid_param("personal", format!("{other:?} is not on or off"))),
    };
    let q = p.to_query()?;
    if st.settings.events_mode == crate::config::EventsMode::Inline {
        st.search.catch_up().await?;
    }
    let wants = personal && st.recommend.settings().personalize_search && q.sort == search::Sort::Relevance && !q.q.trim().is_empty();
    let index = st.search.clone();
    let mut res = tokio::task::spawn_blocking(move || index.search(&q))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    let mut personalized = false;
    if wants {
        if let Some(v) = viewer(&st, &headers).await {
            personalized = app::ssr::personalize_hits(&st.recommend, &v.user.id.to_string(), &mut res.hits);
        }
    }
    let mut body = serde_json::to_value(res).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    body["personalized"] = json!(personalized);
    Ok(Json(body))
}

#[derive(Deserialize)]
struct SuggestParams {
    #[serde(default)]
    q: String,
}

async fn suggest(State(st): State<AppState>, Query(p): Query<SuggestParams>) -> ApiResult<Json<serde_json::Value>> {
    let list = st.search.suggest(&p.q, 8)?;
    Ok(Json(json!({ "suggestions": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecParams {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    /// listings viewed in this session, newest first (comma-separated ids), for clients that keep them
    #[serde(default)]
    recent: Option<String>,
}

fn invalid_param(field: &'static str, message: impl Into<String>) -> ApiError {
    let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message);
    e.field = Some(field);
    e
}

/// `GET /api/v1/recommendations?kind=for_you|similar|also_bought&product=…&limit=…`: listings with
/// the reason each is suggested.
async fn recommendations(State(st): State<AppState>, headers: HeaderMap, Query(p): Query<RecParams>) -> ApiResult<Json<serde_json::Value>> {
    let limit = match p.limit.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => 8,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=50).contains(&n) => n,
            _ => return Err(invalid_param("limit", format!("{l:?} is not a whole number from 1 to 50"))),
        },
    };
    let v = viewer(&st, &headers).await;
    let me = v.as_ref().map(|v| v.user.id.to_string());
    let kind = p.kind.as_deref().unwrap_or("for_you");
    let product = || -> ApiResult<&str> { p.product.as_deref().filter(|s| !s.trim().is_empty()).ok_or_else(|| invalid_param("product", "name the listing (its id or slug)")) };
    let rec = &st.recommend;
    let suggestions = match kind {
        "for_you" => {
            let recent: Vec<String> = match &p.recent {
                Some(r) => r.split(',').map(str::trim).filter(|s| !s.is_empty()).take(12).map(str::to_owned).collect(),
                None => app::ssr::recent_views(&headers),
            };
            rec.for_person(me.as_deref(), &recent, limit).await?
        }
        "similar" | "also_bought" => {
            let listing = st.catalog.product_for(v.as_ref(), product()?).await?;
            if kind == "similar" {
                rec.similar(&listing.id, limit, me.as_deref())
            } else {
                rec.also_bought(&listing.id, limit).await?
            }
        }
        other => return Err(invalid_param("kind", format!("{other:?} is not for_you, similar or also_bought"))),
    };
    let ids: Vec<String> = suggestions.iter().map(|s| s.product_id.clone()).collect();
    let rows = st.catalog.summaries_of(&ids).await?;
    let by_id: std::collections::HashMap<&str, &catalog::SummaryRow> = rows.iter().map(|r| (r.product_id.as_str(), r)).collect();
    let items: Vec<serde_json::Value> = suggestions
        .iter()
        .filter_map(|s| {
            let r = by_id.get(s.product_id.as_str())?;
            Some(json!({
                "product_id": r.product_id, "slug": r.slug, "title": r.title, "price_minor": r.price_minor, "currency": r.currency,
                "store_name": r.store_name, "store_slug": r.store_slug, "stock": r.stock,
                "image": r.thumb_key.as_deref().map(|k| st.catalog.image_url(k)).unwrap_or_else(|| format!("/art/{}.svg", r.product_id)),
                "score": s.score, "reason": s.reason, "reason_text": app::api::recommend::reason_text(&s.reason),
            }))
        })
        .collect();
    Ok(Json(json!({ "kind": kind, "model_id": rec.model_id(), "items": items })))
}

async fn viewer(st: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| app::ssr::cookie_value(headers, app::ssr::SESSION_COOKIE))?;
    st.accounts.authenticate(&token).await.ok()
}

async fn product(State(st): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> ApiResult<Json<catalog::Product>> {
    let v = viewer(&st, &headers).await;
    let p = st.catalog.product_for(v.as_ref(), &slug).await?;
    st.views.record(&p.id, &v.map(|v| v.user.id.to_string()).unwrap_or_else(|| "anonymous".into()));
    Ok(Json(p))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    #[serde(default)]
    selections: Vec<Selection>,
}

async fn price(State(st): State<AppState>, headers: HeaderMap, Path(slug): Path<String>, ApiJson(b): ApiJson<PriceBody>) -> ApiResult<Json<serde_json::Value>> {
    let v = viewer(&st, &headers).await;
    let p = st.catalog.product_for(v.as_ref(), &slug).await?;
    let m = p.price_for(&b.selections)?;
    Ok(Json(json!({ "price_minor": m.minor, "currency": m.currency.code(), "display": m.to_string() })))
}

async fn store(State(st): State<AppState>, Path(slug): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let s = st.catalog.store_by_slug(&slug).await?;
    let products = st.catalog.store_products(&s.id, 60).await?;
    Ok(Json(json!({ "store": s, "products": products.iter().map(summary_json).collect::<Vec<_>>() })))
}

fn summary_json(r: &catalog::SummaryRow) -> serde_json::Value {
    json!({ "id": r.product_id, "slug": r.slug, "title": r.title, "price_minor": r.price_minor, "currency": r.currency,
            "stock": r.stock, "status": r.status, "store_name": r.store_name, "store_slug": r.store_slug })
}

async fn my_store(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    p.require_dealer()?;
    Ok(Json(json!({ "store": st.catalog.store_of_dealer(&p.user.id.to_string()).await? })))
}

async fn save_store(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<StoreInput>) -> ApiResult<Json<catalog::Store>> {
    Ok(Json(st.catalog.save_store(&p, &b).await?))
}

async fn my_products(State(st): State<AppState>, Caller(p): Caller) -> ApiResult<Json<serde_json::Value>> {
    let list = st.catalog.dealer_products(&p).await?;
    Ok(Json(json!({ "products": list.iter().map(summary_json).collect::<Vec<_>>() })))
}

async fn create_product(State(st): State<AppState>, Caller(p): Caller, ApiJson(b): ApiJson<ProductInput>) -> ApiResult<(StatusCode, Json<catalog::Product>)> {
    Ok((StatusCode::CREATED, Json(st.catalog.create_product(&p, &b).await?)))
}

async fn update_product(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<ProductInput>) -> ApiResult<Json<catalog::Product>> {
    Ok(Json(st.catalog.update_product(&p, &id, &b).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    action: StatusAction,
}

async fn set_status(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<StatusBody>) -> ApiResult<Json<catalog::Product>> {
    Ok(Json(st.catalog.set_status(&p, &id, b.action).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockBody {
    stock: Option<i64>,
}

async fn set_stock(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, ApiJson(b): ApiJson<StockBody>) -> ApiResult<Json<catalog::Product>> {
    Ok(Json(st.catalog.set_stock(&p, &id, b.stock).await?))
}

/// The first file part of a multipart body (at most the image limit).
async fn first_file(mut mp: Multipart) -> Result<Vec<u8>, ApiError> {
    while let Some(field) = mp.next_field().await.map_err(|e| ApiError::bad_request(format!("the upload could not be read: {e}")))? {
        if field.file_name().is_some() || field.name() == Some("image") {
            let bytes = field.bytes().await.map_err(|e| ApiError::bad_request(format!("the upload could not be read: {e}")))?;
            return Ok(bytes.to_vec());
        }
    }
    let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "choose an image file to upload");
    e.field = Some("image");
    Err(e)
}

async fn upload_image_api(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, mp: Multipart) -> ApiResult<(StatusCode, Json<catalog::ImageRef>)> {
    let bytes = first_file(mp).await?;
    Ok((StatusCode::CREATED, Json(st.catalog.add_image(&p, &id, bytes).await?)))
}

/// The listing editor's plain HTML upload form: answers with a redirect back to the editor (so it
/// works without JavaScript), carrying the outcome in the query string.
pub async fn upload_image_form(State(st): State<AppState>, Caller(p): Caller, Path(id): Path<String>, mp: Multipart) -> Response {
    let back = |q: String| Redirect::to(&format!("/dealer/products/{id}?{q}")).into_response();
    let bytes = match first_file(mp).await {
        Ok(b) => b,
        Err(e) => return back(format!("image_error={}", urlencode(&e.message))),
    };
    match st.catalog.add_image(&p, &id, bytes).await {
        Ok(_) => back("image=added".into()),
        Err(CatalogError::InvalidInput { message, .. }) => back(format!("image_error={}", urlencode(&message))),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The dealer page's logo form: redirects back to the dealer page with the outcome.
pub async fn upload_logo_form(State(st): State<AppState>, Caller(p): Caller, mp: Multipart) -> Response {
    let back = |q: String| Redirect::to(&format!("/dealer?{q}")).into_response();
    let bytes = match first_file(mp).await {
        Ok(b) => b,
        Err(e) => return back(format!("logo_error={}", urlencode(&e.message))),
    };
    match st.catalog.set_store_logo(&p, bytes).await {
        Ok(_) => back("logo=updated".into()),
        Err(CatalogError::InvalidInput { message, .. }) => back(format!("logo_error={}", urlencode(&message))),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn upload_logo_api(State(st): State<AppState>, Caller(p): Caller, mp: Multipart) -> ApiResult<Json<catalog::Store>> {
    let bytes = first_file(mp).await?;
    Ok(Json(st.catalog.set_store_logo(&p, bytes).await?))
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn remove_image(State(st): State<AppState>, Caller(p): Caller, Path((id, image_id)): Path<(String, String)>) -> ApiResult<StatusCode> {
    st.catalog.remove_image(&p, &id, &image_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn import(State(st): State<AppState>, Caller(p): Caller, body: Bytes) -> ApiResult<Json<catalog::ImportReport>> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the CSV file must be UTF-8 text"))?;
    Ok(Json(st.catalog.import_csv(&p, text).await?))
}

/// A generated picture for listings without photos: deterministic shapes and colours from the id.
pub async fn art(Path(name): Path<String>) -> Response {
    let id = name.trim_end_matches(".svg");
    let mut h: u64 = 1469598103934665603;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    let hue = h % 360;
    let hue2 = (hue + 40 + (h >> 9) % 80) % 360;
    let (cx, cy, r) = (80 + (h >> 17) % 240, 80 + (h >> 25) % 140, 40 + (h >> 33) % 70);
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300"><rect width="400" height="300" fill="hsl({hue},45%,88%)"/><circle cx="{cx}" cy="{cy}" r="{r}" fill="hsl({hue2},50%,62%)"/><rect x="{x}" y="{y}" width="{w}" height="{w}" rx="14" fill="hsl({hue},40%,45%)" opacity="0.75"/></svg>"##,
        x = 40 + (h >> 41) % 250,
        y = 60 + (h >> 47) % 150,
        w = 50 + (h >> 53) % 60,
    );
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], svg).into_response()
}
