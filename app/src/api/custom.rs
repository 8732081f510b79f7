//! Server functions for customization threads (the live part goes over the WebSocket at
//! `/api/v1/threads/{id}/ws`; these load pages and act when the socket is not needed).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteView {
    pub id: String,
    pub price: String,
    pub lead_time_days: i64,
    pub spec: String,
    pub expires_at: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    pub thread_id: String,
    pub seq: i64,
    pub author_id: String,
    pub kind: String,
    pub body: String,
    pub quote: Option<QuoteView>,
    pub attachment: Option<AttachmentView>,
    pub counter: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentView {
    pub id: String,
    pub url: String,
    pub thumb_url: String,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadView {
    pub id: String,
    pub customer_id: String,
    pub dealer_id: String,
    pub product_id: String,
    pub product_title: String,
    pub request_text: String,
    pub budget: Option<String>,
    pub deadline: Option<String>,
    pub status: String,
    pub last_seq: i64,
    pub unread: i64,
    pub viewer_is_dealer: bool,
    pub read_only: bool,
    pub updated_at: String,
    pub listing_url: Option<String>,
    pub store_url: Option<String>,
    pub choices: Vec<String>,
}

#[cfg(feature = "ssr")]
pub(crate) fn custom_err(cx: &crate::ssr::Ctx, e: customization::CustomError) -> AppError {
    err(cx, e)
}

#[cfg(feature = "ssr")]
fn err(cx: &crate::ssr::Ctx, e: customization::CustomError) -> AppError {
    if let customization::CustomError::Internal(m) = &e {
        return cx.internal(m);
    }
    let mut out = AppError::new(e.code(), e.message());
    out.field = e.field().map(str::to_owned);
    out.request_id = cx.request_id();
    out
}

/// Opens a request on a listing (`product`) or, with `product` empty, on a store (`store`: its slug).
/// `choices` is the listing's options chosen on the product page, as JSON (`[{option_id, value}]`).
#[server]
pub async fn request_customization(product: String, store: String, text: String, budget: String, deadline: String, #[server(default)] choices: String) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let choices = if choices.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&choices).map_err(|_| {
            let mut e = AppError::new("invalid_input", "the chosen options could not be read");
            e.field = Some("choices".into());
            e
        })?
    };
    let input = customization::RequestInput { product, store, text, choices, budget: Some(budget), deadline: Some(deadline) };
    let t = cx.services.custom.request(&p, &input).await.map_err(|e| err(&cx, e))?;
    Ok(t.id)
}

#[server]
pub async fn my_threads(status: String) -> Result<(String, Vec<ThreadView>), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.custom.inbox(&p, Some(status.as_str())).await.map_err(|e| err(&cx, e))?;
    Ok((p.user.id.to_string(), cx.mirror(v)?))
}

/// The thread, the latest page of messages, and who is looking.
#[server]
pub async fn thread_detail(id: String) -> Result<(ThreadView, Vec<MessageView>, String), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let c = &cx.services.custom;
    let t = c.thread(&p, &id).await.map_err(|e| err(&cx, e))?;
    let m = c.messages(&p, &id, None, None).await.map_err(|e| err(&cx, e))?;
    Ok((cx.mirror(t)?, cx.mirror(m)?, p.user.id.to_string()))
}

#[server]
pub async fn older_messages(id: String, before: i64) -> Result<Vec<MessageView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let m = cx.services.custom.messages(&p, &id, None, Some(before)).await.map_err(|e| err(&cx, e))?;
    cx.mirror(m)
}

#[server]
pub async fn post_thread_message(id: String, body: String) -> Result<MessageView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let m = cx.services.custom.post(&p, &id, &body).await.map_err(|e| err(&cx, e))?;
    cx.mirror(m)
}

#[server]
pub async fn offer_quote(id: String, price: String, lead_time_days: i64, spec: String, valid_days: i64) -> Result<MessageView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let q = customization::QuoteInput { price, lead_time_days, spec, valid_days };
    let m = cx.services.custom.offer_quote(&p, &id, &q).await.map_err(|e| err(&cx, e))?;
    cx.mirror(m)
}

#[server]
pub async fn respond_quote(quote: String, accept: bool) -> Result<MessageView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let m = cx.services.custom.respond(&p, &quote, accept).await.map_err(|e| err(&cx, e))?;
    cx.mirror(m)
}

/// The customer's counter-offer to a quote.
#[server]
pub async fn counter_quote(quote: String, price: String, note: String) -> Result<MessageView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let m = cx.services.custom.counter(&p, &quote, &price, &note).await.map_err(|e| err(&cx, e))?;
    cx.mirror(m)
}

#[server]
pub async fn decline_request(id: String, reason: String) -> Result<MessageView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let m = cx.services.custom.decline_request(&p, &id, &reason).await.map_err(|e| err(&cx, e))?;
    cx.mirror(m)
}
