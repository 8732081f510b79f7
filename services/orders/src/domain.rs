//! The orders service's vocabulary: statuses and their allowed moves, inputs and the views it returns.

use catalog::Selection;
use serde::{Deserialize, Serialize};

use crate::OrdersError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Paid,
    Accepted,
    InProduction,
    Shipped,
    Delivered,
    Completed,
    Declined,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Paid => "paid",
            OrderStatus::Accepted => "accepted",
            OrderStatus::InProduction => "in_production",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Declined => "declined",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "placed" => OrderStatus::Placed,
            "paid" => OrderStatus::Paid,
            "accepted" => OrderStatus::Accepted,
            "in_production" => OrderStatus::InProduction,
            "shipped" => OrderStatus::Shipped,
            "delivered" => OrderStatus::Delivered,
            "completed" => OrderStatus::Completed,
            "declined" => OrderStatus::Declined,
            "cancelled" => OrderStatus::Cancelled,
            "refunded" => OrderStatus::Refunded,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::Placed => "Placed",
            OrderStatus::Paid => "Paid",
            OrderStatus::Accepted => "Accepted",
            OrderStatus::InProduction => "In production",
            OrderStatus::Shipped => "Shipped",
            OrderStatus::Delivered => "Delivered",
            OrderStatus::Completed => "Completed",
            OrderStatus::Declined => "Declined",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Refunded => "Refunded",
        }
    }

    /// Paid and not yet shipped: a decline or a cancellation refunds and releases the stock.
    pub fn refundable_before_shipping(self) -> bool {
        REFUNDABLE_BEFORE_SHIPPING.contains(&self)
    }

    pub fn reviewable(self) -> bool {
        matches!(self, OrderStatus::Delivered | OrderStatus::Completed)
    }
}

/// Paid and not yet shipped (see [`OrderStatus::refundable_before_shipping`]).
pub const REFUNDABLE_BEFORE_SHIPPING: [OrderStatus; 3] = [OrderStatus::Paid, OrderStatus::Accepted, OrderStatus::InProduction];

/// The dealer's moves — (action, from, to) — in the order the order page offers them. The one table
/// both the offered actions and the moves themselves come from.
pub const DEALER_MOVES: [(&str, &[OrderStatus], OrderStatus); 5] = [
    ("accept", &[OrderStatus::Paid], OrderStatus::Accepted),
    ("start_production", &[OrderStatus::Accepted], OrderStatus::InProduction),
    ("ship", &[OrderStatus::Accepted, OrderStatus::InProduction], OrderStatus::Shipped),
    ("deliver", &[OrderStatus::Shipped], OrderStatus::Delivered),
    ("decline", &REFUNDABLE_BEFORE_SHIPPING, OrderStatus::Declined),
];

/// What a dealer does to an order.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum DealerAction {
    Accept,
    Decline {
        #[serde(default)]
        reason: String,
    },
    StartProduction,
    Ship {
        carrier: String,
        tracking_number: String,
    },
    Deliver,
}

impl DealerAction {
    pub fn parse(name: &str) -> Option<&'static str> {
        DEALER_MOVES.iter().map(|m| m.0).find(|a| *a == name)
    }

    pub fn name(&self) -> &'static str {
        match self {
            DealerAction::Accept => "accept",
            DealerAction::Decline { .. } => "decline",
            DealerAction::StartProduction => "start_production",
            DealerAction::Ship { .. } => "ship",
            DealerAction::Deliver => "deliver",
        }
    }

    /// (from, to) of this move, from [`DEALER_MOVES`].
    pub fn transition(&self) -> (&'static [OrderStatus], OrderStatus) {
        let name = self.name();
        DEALER_MOVES.iter().find(|m| m.0 == name).map(|m| (m.1, m.2)).unwrap_or((&[], OrderStatus::Placed))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166 two-letter code, e.g. `DE`.
    pub country: String,
}

fn text(field: &str, v: &str, min: usize, max: usize, what: &str) -> Result<String, OrdersError> {
    let t = v.trim();
    let n = t.chars().count();
    if n < min {
        return Err(OrdersError::invalid(field, format!("enter {what}")));
    }
    if n > max {
        return Err(OrdersError::invalid(field, format!("{what} is limited to {max} characters")));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(OrdersError::invalid(field, format!("{what} contains control characters")));
    }
    Ok(t.to_owned())
}

impl Address {
    pub fn validate(&self) -> Result<Address, OrdersError> {
        let country = self.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(OrdersError::invalid("shipping_address.country", "use the two-letter country code, like DE or FR"));
        }
        Ok(Address {
            name: text("shipping_address.name", &self.name, 1, 100, "the recipient's name")?,
            line1: text("shipping_address.line1", &self.line1, 1, 200, "the street address")?,
            line2: text("shipping_address.line2", &self.line2, 0, 200, "the second address line")?,
            city: text("shipping_address.city", &self.city, 1, 100, "the city")?,
            postal_code: text("shipping_address.postal_code", &self.postal_code, 1, 20, "the postal code")?,
            country,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartAdd {
    /// The product's id or slug.
    pub product: String,
    #[serde(default)]
    pub options: Vec<Selection>,
    #[serde(default = "one")]
    pub quantity: i64,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    pub shipping_address: Address,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub product_rating: i64,
    pub dealer_rating: i64,
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoneyView {
    pub minor: i64,
    pub currency: String,
    /// Formatted, e.g. `€12.50`.
    pub display: String,
}

impl From<kernel::Money> for MoneyView {
    fn from(m: kernel::Money) -> Self {
        MoneyView { minor: m.minor, currency: m.currency.code().to_owned(), display: m.to_string() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartLine {
    pub id: String,
    pub product_id: String,
    pub product_slug: String,
    pub title: String,
    pub thumb_url: Option<String>,
    pub options_label: String,
    pub options: Vec<Selection>,
    pub quantity: i64,
    pub unit_price: MoneyView,
    pub line_total: MoneyView,
    /// `None`: made to order.
    pub stock: Option<i64>,
    /// Why this line cannot be bought now (unpublished, out of stock, options changed), if so.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartGroup {
    pub dealer_id: String,
    pub store_name: String,
    pub store_slug: String,
    pub lines: Vec<CartLine>,
    pub subtotal: MoneyView,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartView {
    pub groups: Vec<CartGroup>,
    pub item_count: i64,
    pub total: Option<MoneyView>,
    /// False when a line has a problem or currencies are mixed.
    pub can_check_out: bool,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentView {
    pub provider: String,
    pub status: String,
    pub amount: MoneyView,
    /// For the payment form (Stripe's Payment Element or the sandbox's card form).
    pub client_secret: Option<String>,
    pub intent_id: Option<String>,
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutView {
    pub id: String,
    pub status: String,
    pub total: MoneyView,
    pub orders: Vec<OrderSummary>,
    pub payment: PaymentView,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: String,
    pub number: String,
    pub status: OrderStatus,
    pub status_label: String,
    pub store_name: String,
    pub customer_name: String,
    pub total: MoneyView,
    pub item_count: i64,
    pub first_title: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewView {
    pub id: String,
    pub product_rating: i64,
    pub dealer_rating: i64,
    pub body: String,
    pub author: String,
    pub editable: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderLineView {
    pub id: String,
    pub product_id: String,
    pub product_slug: String,
    pub title: String,
    pub options_label: String,
    pub quantity: i64,
    pub unit_price: MoneyView,
    pub line_total: MoneyView,
    pub commission: MoneyView,
    pub made_to_order: bool,
    /// The customization thread this line was agreed in, if any.
    pub thread_id: Option<String>,
    pub review: Option<ReviewView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub status: OrderStatus,
    pub label: String,
    pub note: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderView {
    pub id: String,
    pub number: String,
    pub checkout_id: String,
    pub status: OrderStatus,
    pub status_label: String,
    pub store_name: String,
    pub dealer_id: String,
    pub customer_id: String,
    pub shipping_address: Address,
    pub subtotal: MoneyView,
    pub shipping: MoneyView,
    pub tax: MoneyView,
    pub total: MoneyView,
    /// The platform's commission (shown to the dealer) and what the dealer receives.
    pub commission: MoneyView,
    pub net: MoneyView,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub has_custom: bool,
    pub lines: Vec<OrderLineView>,
    pub timeline: Vec<TimelineEntry>,
    /// What the viewer may do now.
    pub viewer_is_dealer: bool,
    pub actions: Vec<String>,
    pub payment_status: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerLine {
    pub order_id: String,
    pub order_number: String,
    pub gross: MoneyView,
    pub commission: MoneyView,
    pub net: MoneyView,
    /// `pending`, `available` or `reversed`.
    pub state: String,
    pub available_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Balance {
    pub currency: String,
    pub pending: MoneyView,
    pub available: MoneyView,
    pub entries: Vec<LedgerLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_field_by_field() {
        let ok = Address { name: " Ada ".into(), line1: "1 Main St".into(), line2: String::new(), city: "Ghent".into(), postal_code: "9000".into(), country: "be".into() };
        let v = ok.validate().map_err(|e| e.to_string());
        assert_eq!(v.as_ref().map(|a| (a.name.as_str(), a.country.as_str())), Ok(("Ada", "BE")));
        for (mut bad, field) in [
            (Address { country: "Belgium".into(), ..ok.clone() }, "shipping_address.country"),
            (Address { name: "".into(), ..ok.clone() }, "shipping_address.name"),
            (Address { city: "x".repeat(101), ..ok.clone() }, "shipping_address.city"),
            (Address { line1: "a\u{0}b".into(), ..ok.clone() }, "shipping_address.line1"),
        ] {
            let e = bad.validate().err();
            assert_eq!(e.as_ref().and_then(|e| e.field()), Some(field), "{bad:?}");
            bad.name.clear();
        }
        assert!(OrderStatus::Paid.refundable_before_shipping() && !OrderStatus::Shipped.refundable_before_shipping());
        for s in ["placed", "paid", "accepted", "in_production", "shipped", "delivered", "completed", "declined", "cancelled", "refunded"] {
            assert_eq!(OrderStatus::parse(s).map(|x| x.as_str()), Some(s));
        }
    }
}
