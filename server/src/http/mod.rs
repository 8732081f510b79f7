//! The HTTP surface beside the pages: JSON API under `/api/v1`, its OpenAPI document, health,
//! readiness and metrics.

pub mod admin_api;
pub mod api;
pub mod cache;
pub mod catalog_api;
pub mod custom_api;
pub mod error;
pub mod extract;
pub mod guard;
pub mod middleware;
pub mod oidc;
pub mod openapi;
pub mod orders_api;

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};

use crate::AppState;

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi::document))
        .route("/internal/events/drain", axum::routing::post(events_drain))
        .nest("/api/v1", api::routes().merge(admin_api::routes()).merge(catalog_api::routes()).merge(orders_api::routes()).merge(custom_api::routes()))
        .route(
            "/dealer/products/{id}/images",
            axum::routing::post(catalog_api::upload_image_form)
                .layer(axum::extract::DefaultBodyLimit::max(catalog::images::MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route(
            "/dealer/store/logo",
            axum::routing::post(catalog_api::upload_logo_form)
                .layer(axum::extract::DefaultBodyLimit::max(catalog::images::MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route(
            "/requests/{id}/attachments",
            axum::routing::post(custom_api::attach_form)
                .layer(axum::extract::DefaultBodyLimit::max(catalog::images::MAX_IMAGE_BYTES + 64 * 1024)),
        )
        .route("/art/{name}", get(catalog_api::art))
        .route("/auth/oidc/start", get(oidc::start))
        .route("/auth/oidc/callback", get(oidc::callback))
        .nest_service(
            "/pkg",
            // the build writes Brotli and gzip copies beside each bundle file
            tower_http::services::ServeDir::new(std::path::Path::new(state.leptos_options.site_root.as_ref()).join(state.leptos_options.site_pkg_dir.as_ref()))
                .precompressed_br()
                .precompressed_gzip(),
        )
        .nest_service(
            "/media",
            tower::ServiceBuilder::new()
                .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    axum::http::HeaderValue::from_static("public, max-age=31536000, immutable"),
                ))
                .service(tower_http::services::ServeDir::new(state.settings.data_dir.join("media"))),
        )
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (axum::http::StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    text.push_str(&state.bus.render_metrics().await);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// For a scheduler in serverless mode: handles every due event and saga step, then answers with
/// how many. Guarded by `BESPOKE_EVENTS__DRAIN_SECRET` (404 while it is unset).
async fn events_drain(State(state): State<AppState>, headers: axum::http::HeaderMap) -> impl IntoResponse {
    use axum::http::StatusCode;
    let Some(secret) = &state.settings.drain_secret else {
        return error::ApiError::not_found("endpoint").into_response();
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|g| kernel::constant_time_eq(g.as_bytes(), secret.expose().as_bytes())) {
        return error::ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "a valid drain secret is required").into_response();
    }
    match drain(&state, std::time::Duration::from_secs(25)).await {
        Ok((events, sagas)) => axum::Json(serde_json::json!({ "events": events, "sagas": sagas })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "drain failed");
            error::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side").into_response()
        }
    }
}

/// Handles due events and saga steps until none are left or `budget` is spent.
pub async fn drain(state: &AppState, budget: std::time::Duration) -> Result<(usize, usize), sqlx::Error> {
    let events = state.bus.drain(budget).await?;
    let mut sagas = 0;
    loop {
        let n = state.sagas.run_once().await?;
        if n == 0 {
            break;
        }
        sagas += n;
    }
    // saga steps may have produced events of their own
    let more = state.bus.drain(budget).await?;
    Ok((events + more, sagas))
}
