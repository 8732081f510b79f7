//! The orders service's events (docs/EVENTS.md).

use kernel::outbox::Event;
use serde::{Deserialize, Serialize};

/// A checkout was placed: stock is held and a payment is awaited.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutStarted {
    pub checkout_id: String,
    pub customer_id: String,
    pub order_ids: Vec<String>,
    pub total_minor: i64,
    pub currency: String,
}

impl Event for CheckoutStarted {
    const TYPE: &'static str = "orders.CheckoutStarted";
    fn aggregate_id(&self) -> String {
        self.checkout_id.clone()
    }
}

/// An order was paid: the dealer is told (the seed's "order placed → notify dealer").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPaid {
    pub order_id: String,
    pub number: String,
    pub dealer_id: String,
    pub customer_id: String,
    pub total: String,
    pub item_count: i64,
    pub product_ids: Vec<String>,
}

impl Event for OrderPaid {
    const TYPE: &'static str = "orders.OrderPaid";
    fn aggregate_id(&self) -> String {
        self.order_id.clone()
    }
}

/// Any later move of an order (accepted, shipped, delivered, cancelled, refunded…).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderStatusChanged {
    pub order_id: String,
    pub number: String,
    pub dealer_id: String,
    pub customer_id: String,
    pub status: String,
    pub note: String,
}

impl Event for OrderStatusChanged {
    const TYPE: &'static str = "orders.OrderStatusChanged";
    fn aggregate_id(&self) -> String {
        self.order_id.clone()
    }
}

/// A review was written or edited; deltas so that an edit moves averages without counting twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewSaved {
    pub review_id: String,
    pub product_id: String,
    pub dealer_id: String,
    pub count_delta: i64,
    pub product_rating_delta: i64,
    pub dealer_rating_delta: i64,
}

impl Event for ReviewSaved {
    const TYPE: &'static str = "orders.ReviewSaved";
    fn aggregate_id(&self) -> String {
        self.product_id.clone()
    }
}
