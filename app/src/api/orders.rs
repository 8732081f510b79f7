//! Server functions for the cart, checkout, payment, orders, the dealer's queue and balance, and
//! reviews. The types mirror the orders service's views field for field (the wasm side cannot
//! depend on the service crate); they are converted through serde.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MoneyView {
    pub minor: i64,
    pub currency: String,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub option_id: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    pub id: String,
    pub product_slug: String,
    pub title: String,
    pub thumb_url: Option<String>,
    pub options_label: String,
    pub quantity: i64,
    pub unit_price: MoneyView,
    pub line_total: MoneyView,
    pub stock: Option<i64>,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartGroup {
    pub store_name: String,
    pub store_slug: String,
    pub lines: Vec<CartLine>,
    pub subtotal: MoneyView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartView {
    pub groups: Vec<CartGroup>,
    pub item_count: i64,
    pub total: Option<MoneyView>,
    pub can_check_out: bool,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentView {
    pub provider: String,
    pub status: String,
    pub amount: MoneyView,
    pub client_secret: Option<String>,
    pub intent_id: Option<String>,
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: String,
    pub number: String,
    pub status: String,
    pub status_label: String,
    pub store_name: String,
    pub customer_name: String,
    pub total: MoneyView,
    pub item_count: i64,
    pub first_title: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutView {
    pub id: String,
    pub status: String,
    pub total: MoneyView,
    pub orders: Vec<OrderSummary>,
    pub payment: PaymentView,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewView {
    pub id: String,
    pub product_rating: i64,
    pub dealer_rating: i64,
    pub body: String,
    pub author: String,
    pub editable: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub id: String,
    pub product_slug: String,
    pub title: String,
    pub options_label: String,
    pub quantity: i64,
    pub unit_price: MoneyView,
    pub line_total: MoneyView,
    pub commission: MoneyView,
    pub made_to_order: bool,
    pub thread_id: Option<String>,
    pub review: Option<ReviewView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub status: String,
    pub label: String,
    pub note: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: String,
    pub number: String,
    pub checkout_id: String,
    pub status: String,
    pub status_label: String,
    pub store_name: String,
    pub shipping_address: Address,
    pub subtotal: MoneyView,
    pub shipping: MoneyView,
    pub tax: MoneyView,
    pub total: MoneyView,
    pub commission: MoneyView,
    pub net: MoneyView,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub has_custom: bool,
    pub lines: Vec<OrderLineView>,
    pub timeline: Vec<TimelineEntry>,
    pub viewer_is_dealer: bool,
    pub actions: Vec<String>,
    pub payment_status: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub order_id: String,
    pub order_number: String,
    pub gross: MoneyView,
    pub commission: MoneyView,
    pub net: MoneyView,
    pub state: String,
    pub available_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    pub pending: MoneyView,
    pub available: MoneyView,
    pub entries: Vec<LedgerLine>,
}

#[cfg(feature = "ssr")]
mod glue {
    use crate::{ssr::Ctx, AppError};

    /// The sandbox and the payment intent of the caller's own checkout (its client secret included).
    pub async fn sandbox_intent(cx: &Ctx, checkout: &str) -> Result<(orders::payments::sandbox::Sandbox, String, String), AppError> {
        let p = cx.principal().await?;
        let payable = cx.services.orders.payable_intent(&p, checkout).await.map_err(|e| cx.orders_err(e))?;
        let sb = cx.services.sandbox.clone().ok_or_else(|| AppError::new("not_found", "the sandbox is not the payment provider here"))?;
        let (intent, secret) = payable.ok_or_else(|| AppError::new("conflict", "this checkout can no longer be paid"))?;
        Ok((sb, intent, secret))
    }

    /// The cart of this visitor: the person's, else the guest cookie's (made when `create`).
    pub async fn owner(cx: &Ctx, create: bool) -> Result<orders::CartOwner, AppError> {
        if let Some(p) = cx.maybe_principal().await? {
            return Ok(orders::CartOwner::User(p.user.id.to_string()));
        }
        match cx.guest_cart_token() {
            Some(t) => Ok(orders::CartOwner::Guest(t)),
            None if create => {
                let t = orders::cart::new_guest_token();
                cx.set_guest_cart_cookie(&t);
                Ok(orders::CartOwner::Guest(t))
            }
            None => Ok(orders::CartOwner::Guest(String::new())),
        }
    }
}

#[server]
pub async fn get_cart() -> Result<CartView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let o = glue::owner(&cx, false).await?;
    let v = cx.services.orders.cart(&o).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn cart_count() -> Result<i64, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let o = glue::owner(&cx, false).await?;
    cx.services.orders.cart_count(&o).await.map_err(|e| cx.orders_err(e))
}

#[server]
pub async fn add_to_cart(product: String, #[server(default)] options: Vec<Choice>, quantity: i64) -> Result<CartView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let o = glue::owner(&cx, true).await?;
    let input = orders::CartAdd {
        product,
        options: options.into_iter().map(|c| catalog::Selection { option_id: c.option_id, value: c.value }).collect(),
        quantity,
    };
    let v = cx.services.orders.add_to_cart(&o, &input).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn set_cart_quantity(item: String, quantity: i64) -> Result<CartView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let o = glue::owner(&cx, false).await?;
    let v = cx.services.orders.set_cart_quantity(&o, &item, quantity).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn remove_cart_item(item: String) -> Result<CartView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let o = glue::owner(&cx, false).await?;
    let v = cx.services.orders.remove_from_cart(&o, &item).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

/// Places the order (the whole cart) and answers with the checkout id; the form's idempotency key
/// makes a double submit harmless.
#[server]
pub async fn place_order(
    name: String,
    line1: String,
    line2: String,
    city: String,
    postal_code: String,
    country: String,
    idempotency_key: String,
) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let address = orders::Address { name, line1, line2, city, postal_code, country };
    let body = serde_json::to_vec(&serde_json::json!({ "shipping_address": address })).map_err(|e| cx.internal(e))?;
    let key = (!idempotency_key.is_empty()).then_some(idempotency_key);
    let v = cx.services.orders.checkout_request(&p, key.as_deref(), &body).await.map_err(|e| cx.orders_err(e))?;
    Ok(v.id)
}

#[server]
pub async fn checkout_status(id: String) -> Result<CheckoutView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.checkout_view(&p, &id).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn cancel_checkout(id: String) -> Result<CheckoutView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.cancel_checkout(&p, &id).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

/// The sandbox's card form: the card goes to the sandbox provider, never into our records.
#[server]
pub async fn sandbox_pay(checkout: String, card_number: String) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let (sb, intent, secret) = glue::sandbox_intent(&cx, &checkout).await?;
    let r = sb.confirm(&intent, &secret, &card_number).await.map_err(|e| cx.orders_err(e))?;
    Ok(r.status)
}

#[server]
pub async fn sandbox_authenticate(checkout: String, approve: bool) -> Result<String, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let (sb, intent, secret) = glue::sandbox_intent(&cx, &checkout).await?;
    let r = sb.authenticate(&intent, &secret, approve).await.map_err(|e| cx.orders_err(e))?;
    Ok(r.status)
}

/// The payment provider and, for Stripe, the publishable key for its Payment Element.
#[server]
pub async fn payment_config() -> Result<(String, Option<String>), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let c = cx.services.orders.provider().client_config();
    Ok((c.provider.to_owned(), c.publishable_key))
}

#[server]
pub async fn my_orders() -> Result<Vec<OrderSummary>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.my_orders(&p).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn order_detail(id: String) -> Result<OrderView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.order(&p, &id).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

/// One move of an order: the dealer's (accept, decline, start_production, ship, deliver) or the
/// customer's (cancel, confirm_receipt).
#[server]
pub async fn order_action(id: String, action: String, carrier: String, tracking_number: String, reason: String) -> Result<OrderView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let o = &cx.services.orders;
    let res = match action.as_str() {
        "cancel" => o.cancel_order(&p, &id).await,
        "confirm_receipt" => o.confirm_receipt(&p, &id).await,
        "accept" => o.dealer_action(&p, &id, &orders::DealerAction::Accept).await,
        "decline" => o.dealer_action(&p, &id, &orders::DealerAction::Decline { reason }).await,
        "start_production" => o.dealer_action(&p, &id, &orders::DealerAction::StartProduction).await,
        "ship" => o.dealer_action(&p, &id, &orders::DealerAction::Ship { carrier, tracking_number }).await,
        "deliver" => o.dealer_action(&p, &id, &orders::DealerAction::Deliver).await,
        _ => return Err(AppError::new("invalid_input", "unknown action")),
    };
    let v = res.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn save_review(order: String, line: String, product_rating: i64, dealer_rating: i64, body: String) -> Result<ReviewView, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let input = orders::ReviewInput { product_rating, dealer_rating, body };
    let v = cx.services.orders.save_review(&p, &order, &line, &input).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn product_reviews(product_id: String) -> Result<Vec<ReviewView>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let v = cx.services.orders.product_reviews(&product_id, 20).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

#[server]
pub async fn dealer_queue(status: String) -> Result<Vec<OrderSummary>, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.dealer_orders(&p, Some(status.as_str())).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

/// How many paid orders wait for the dealer to accept them.
#[server]
pub async fn dealer_new_order_count() -> Result<i64, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    cx.services.orders.dealer_order_count(&p, orders::OrderStatus::Paid).await.map_err(|e| cx.orders_err(e))
}

#[server]
pub async fn dealer_balance() -> Result<Balance, AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.balance(&p).await.map_err(|e| cx.orders_err(e))?;
    cx.mirror(v)
}

/// The checkout page's data: the cart as it is now, and a fresh Idempotency-Key for its form.
#[server]
pub async fn checkout_form() -> Result<(CartView, String), AppError> {
    let cx = crate::ssr::Ctx::get()?;
    let p = cx.principal().await?;
    let v = cx.services.orders.cart(&orders::CartOwner::User(p.user.id.to_string())).await.map_err(|e| cx.orders_err(e))?;
    Ok((cx.mirror(v)?, orders::idempotency::new_key()))
}
