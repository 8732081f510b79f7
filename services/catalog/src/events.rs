//! The catalogue's events (the contract search and recommendations follow; docs/EVENTS.md).

use kernel::outbox::Event;
use serde::{Deserialize, Serialize};

/// Which change happened to a listing; all carry the same payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductChange {
    Created,
    Updated,
    Published,
    Unpublished,
    Archived,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductEvent {
    pub product_id: String,
    pub dealer_id: String,
}

impl ProductChange {
    /// The envelope for this change of `product_id` (the type names differ, the payload does not).
    pub fn envelope(self, product_id: &str, dealer_id: &str) -> kernel::outbox::Envelope {
        let payload = ProductEvent { product_id: product_id.to_owned(), dealer_id: dealer_id.to_owned() };
        match self {
            ProductChange::Created => kernel::outbox::Envelope::of(&ProductCreated(payload)),
            ProductChange::Updated => kernel::outbox::Envelope::of(&ProductUpdated(payload)),
            ProductChange::Published => kernel::outbox::Envelope::of(&ProductPublished(payload)),
            ProductChange::Unpublished => kernel::outbox::Envelope::of(&ProductUnpublished(payload)),
            ProductChange::Archived => kernel::outbox::Envelope::of(&ProductArchived(payload)),
        }
    }
}

macro_rules! product_event {
    ($name:ident, $type:literal) => {
        #[derive(Debug, Clone, Serialize, Deserialize)]
        pub struct $name(pub ProductEvent);

        impl Event for $name {
            const TYPE: &'static str = $type;
            fn aggregate_id(&self) -> String {
                self.0.product_id.clone()
            }
        }
    };
}

product_event!(ProductCreated, "catalog.ProductCreated");
product_event!(ProductUpdated, "catalog.ProductUpdated");
product_event!(ProductPublished, "catalog.ProductPublished");
product_event!(ProductUnpublished, "catalog.ProductUnpublished");
product_event!(ProductArchived, "catalog.ProductArchived");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StockChanged {
    pub product_id: String,
    /// `None`: made to order.
    pub stock: Option<i64>,
}

impl Event for StockChanged {
    const TYPE: &'static str = "catalog.StockChanged";
    fn aggregate_id(&self) -> String {
        self.product_id.clone()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreUpdated {
    pub store_id: String,
    pub dealer_id: String,
}

impl Event for StoreUpdated {
    const TYPE: &'static str = "catalog.StoreUpdated";
    fn aggregate_id(&self) -> String {
        self.store_id.clone()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct View {
    pub product_id: String,
    /// The user id, or `anonymous`.
    pub viewer: String,
    pub count: i64,
}

/// A batch of product views (each instance writes one every few seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductsViewed {
    pub views: Vec<View>,
}

impl Event for ProductsViewed {
    const TYPE: &'static str = "catalog.ProductsViewed";
    fn aggregate_id(&self) -> String {
        "views".into()
    }
}

/// A product's or its dealer's rating changed (a review was written or edited).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductRated {
    pub product_id: String,
    pub rating_avg: Option<f64>,
    pub rating_count: i64,
}

impl Event for ProductRated {
    const TYPE: &'static str = "catalog.ProductRated";
    fn aggregate_id(&self) -> String {
        self.product_id.clone()
    }
}

/// An admin unlisted a listing (the dealer is told why) or restored it to draft.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListingModerated {
    pub product_id: String,
    pub dealer_id: String,
    pub title: String,
    /// `None`: restored.
    pub reason: Option<String>,
}

impl Event for ListingModerated {
    const TYPE: &'static str = "catalog.ListingModerated";
    fn aggregate_id(&self) -> String {
        self.product_id.clone()
    }
}
