//! Orders: carts, checkout (one payment, one order per dealer), stock reservations through the
//! catalogue, payments behind a provider trait (sandbox | Stripe), the order lifecycle, dealers'
//! balance ledger and reviews. Money moves exactly once: checkout and refunds are sagas whose steps
//! are idempotent, webhooks are verified and applied once, and requests carry an Idempotency-Key.
//!
//! The catalogue's tables are never touched here: prices come from `Catalog::product` and stock
//! moves through `catalog::inventory`, inside our transaction.

pub mod cart;
mod checkout;
pub mod domain;
mod erasure;
mod error;
pub mod events;
pub mod idempotency;
mod ledger;
mod lifecycle;
pub mod payments;
mod reviews;
mod service;

pub use domain::*;
pub use error::OrdersError;
pub use cart::CartOwner;
pub use checkout::WebhookOutcome;
pub use service::{protect, unprotect, Orders, OrdersConfig};
pub use lifecycle::DailyFigures;
pub use erasure::{erased_address, ErasureConsumer};
