//! Recommendations for the pages: personal picks, "customers also bought", and the session's
//! recent views (a cookie the product page keeps).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::catalog::CardView;
use crate::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendedView {
    pub cards: Vec<CardView>,
    /// Whether the picks are personal (from the person's signals or this session's views), rather
    /// than what is popular.
    pub personal: bool,
}

/// The words shown under a recommended listing.
#[cfg(feature = "ssr")]
pub fn reason_text(r: &recommend::Reason) -> Option<String> {
    use recommend::Reason;
    match r {
        Reason::BecauseYouViewed { title, .. } => Some(format!("Because you viewed \u{201c}{title}\u{201d}")),
        Reason::PickedForYou => Some("Picked for you".into()),
        Reason::Popular => Some("Popular right now".into()),
        Reason::Similar => None,
        Reason::BoughtTogether { customers } => Some(if *customers == 1 { "Bought together by 1 customer".into() } else { format!("Bought together by {customers} customers") }),
    }
}

#[cfg(feature = "ssr")]
async fn cards_for(cx: &crate::ssr::Ctx, list: Vec<recommend::Suggestion>) -> Result<Vec<CardView>, AppError> {
    let c = &cx.services.catalog;
    let ids: Vec<String> = list.iter().map(|s| s.product_id.clone()).collect();
    let rows = c.summaries_of(&ids).await.map_err(|e| cx.internal(e))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let s = list.iter().find(|s| s.product_id == r.product_id)?;
            let mut card = super::catalog::card(c, r);
            card.reason = reason_text(&s.reason);
            Some(card)
        })
        .collect())
}

/// "Recommended for you" on the home page.
#[server]
pub async fn recommended_for_you() -> Result<RecommendedView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let viewer = cx.maybe_principal().await?;
    let me = viewer.as_ref().map(|v| v.user.id.to_string());
    let recent = cx.recent_views();
    let list = cx.services.recommend.for_person(me.as_deref(), &recent, 8).await.map_err(|e| cx.internal(e))?;
    let personal = list.iter().any(|s| matches!(s.reason, recommend::Reason::BecauseYouViewed { .. } | recommend::Reason::PickedForYou));
    Ok(RecommendedView { cards: cards_for(&cx, list).await?, personal })
}

/// "Customers also bought" on a product page.
#[server]
pub async fn also_bought(product_id: String) -> Result<Vec<CardView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let list = cx.services.recommend.also_bought(&product_id, 6).await.map_err(|e| cx.internal(e))?;
    cards_for(&cx, list).await
}

/// Remembers that this browser viewed a listing (the product page calls it once hydrated).
#[server]
pub async fn note_view(product_id: String) -> Result<(), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    if product_id.len() != 36 || !product_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(AppError { field: Some("product_id".into()), ..AppError::new("invalid_input", "not a listing id") });
    }
    cx.note_recent_view(&product_id);
    Ok(())
}
