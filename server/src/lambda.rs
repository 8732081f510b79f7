//! AWS Lambda: the same binary, the same router. When `AWS_LAMBDA_RUNTIME_API` is set, `server`
//! (no arguments) takes its requests from the Lambda Runtime API instead of a socket:
//!
//! - **HTTP events** from API Gateway (HTTP API v2, REST API v1) or an Application Load Balancer
//!   go through `lambda_http`'s conversion to the router that serves pages, server functions and
//!   the JSON API; the answer goes back in the shape of the event that came (v2 puts `Set-Cookie`
//!   in `cookies`, v1 uses `multiValueHeaders`, compressed or binary bodies are base64).
//! - **Scheduled tasks** (EventBridge invoking the function with `{"bespoke_task": "…"}`):
//!   `events-drain` (every due event delivery and saga step) and `recommend-retrain` (train when
//!   enough new signals arrived). Only principals allowed to invoke the function can send these;
//!   they never come through the HTTP API.
//!
//! Events run in inline mode (dispatched after each request that changed something, plus the
//! scheduled drain): nothing runs between invocations. WebSockets (live chat) need a long-lived
//! connection and are served by an always-on instance (docs/OPERATIONS.md, "Serverless").

use std::{sync::Arc, time::Duration};

use lambda_http::{
    lambda_runtime::{self, LambdaEvent},
    request::{LambdaRequest, RequestContext},
    Adapter, Service,
};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::{
    config::{EventsMode, Settings},
    startup, AppState,
};

/// Whether this process runs as an AWS Lambda function.
pub fn detected() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty())
}

/// The client address API Gateway saw (behind CloudFront, set `BESPOKE_TRUST_PROXY` and the
/// first `X-Forwarded-For` entry wins instead).
pub fn source_ip(extensions: &axum::http::Extensions) -> Option<String> {
    let ip = match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(c) => c.identity.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }?;
    ip.parse::<std::net::IpAddr>().is_ok().then_some(ip)
}

/// Serves invocations until the runtime stops the process.
pub async fn run(mut settings: Settings) -> Result<(), lambda_runtime::Error> {
    settings.events_mode = EventsMode::Inline;
    settings.recommend.train_while_following = false;
    let db = startup::connect_db(&settings).await?;
    let (state, router) = startup::assemble_and_route(settings, db, None).await?;
    let stop = Arc::new(Notify::new());
    let first = startup::FirstAnswer::default();
    let _background = startup::spawn_background(&state, &stop, first.clone());
    let router = first.around(router);
    tracing::info!(backend = ?state.db.backend(), "serving AWS Lambda invocations");
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<Value>| {
        let (state, router) = (state.clone(), router.clone());
        async move { handle(&state, router, event).await }
    }))
    .await
}

async fn handle(state: &AppState, router: axum::Router, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let LambdaEvent { payload, context } = event;
    if let Some(task) = payload.get("bespoke_task") {
        let task = task.as_str().ok_or("bespoke_task must be a string: events-drain or recommend-retrain")?;
        return run_task(state, task).await;
    }
    let request: LambdaRequest = serde_json::from_value(payload)
        .map_err(|e| format!("the event is neither an API Gateway / ALB HTTP event nor a bespoke_task: {e}"))?;
    let mut adapter = Adapter::from(router);
    let response = adapter.call(LambdaEvent::new(request, context)).await?;
    Ok(serde_json::to_value(response)?)
}

async fn run_task(state: &AppState, task: &str) -> Result<Value, lambda_runtime::Error> {
    match task {
        "events-drain" => {
            let (events, sagas) = crate::http::drain(state, Duration::from_secs(240)).await?;
            tracing::info!(events, sagas, "scheduled drain");
            Ok(json!({ "task": task, "events": events, "sagas": sagas }))
        }
        "recommend-retrain" => match state.recommend.retrain_if_due().await? {
            Some(m) => Ok(json!({ "task": task, "trained": true, "model_id": m.model_id, "status": m.status, "val_hr10": m.val_hr10 })),
            None => Ok(json!({ "task": task, "trained": false })),
        },
        other => Err(format!("unknown bespoke_task {other:?}: expected events-drain or recommend-retrain").into()),
    }
}
