//! The service handle and what its parts share: configuration, personal-data protection, status
//! moves with their timeline and events, realtime pushes.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use catalog::Catalog;
use kernel::{hub::Hub, outbox, saga::SagaEngine, Db, Timestamp, Tx};
use sqlx::Row;

use crate::{
    domain::{Address, OrderStatus},
    events::OrderStatusChanged,
    payments::PaymentProvider,
    OrdersError,
};

#[derive(Debug, Clone)]
pub struct OrdersConfig {
    /// The platform's commission in basis points (1000 = 10 %), snapshotted per line at sale time.
    pub commission_bps: i64,
    /// How long after delivery a dealer's net amount stays pending before it is available.
    pub payout_hold: Duration,
    /// How long stock stays held while a payment does not complete.
    pub reservation_ttl: Duration,
    /// How long a review can be edited.
    pub review_edit_window: Duration,
    /// How often a saga waiting for a payment looks again (webhooks nudge it sooner).
    pub payment_poll: Duration,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            commission_bps: 1000,
            payout_hold: Duration::from_secs(7 * 86_400),
            reservation_ttl: Duration::from_secs(15 * 60),
            review_edit_window: Duration::from_secs(30 * 86_400),
            payment_poll: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct Orders {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) catalog: Catalog,
    pub(crate) hub: Hub,
    pub(crate) provider: Arc<dyn PaymentProvider>,
    pub(crate) cfg: OrdersConfig,
    pub(crate) sagas: OnceLock<SagaEngine>,
    /// Fault injection for the crash-recovery test: abort the process inside this saga step.
    pub(crate) crash_at: Option<String>,
}

/// A checkout's shipping address goes to the database through this one function, envelope-encrypted
/// and bound to its checkout row (and comes back through [`unprotect`]).
pub fn protect(db: &Db, checkout_id: &str, address: &Address) -> Result<String, OrdersError> {
    let json = serde_json::to_string(address).unwrap_or_default();
    db.vault()
        .and_then(|v| v.seal("checkout", "shipping_address", checkout_id, &json))
        .map_err(|e| OrdersError::Internal(format!("sealing the shipping address: {e}")))
}

/// Opens a stored address (a value written before encryption was enabled reads as it is until
/// `server keys rotate` seals it).
pub fn unprotect(db: &Db, checkout_id: &str, stored: &str) -> Result<Address, OrdersError> {
    let json = if kernel::crypto::Vault::is_sealed(stored) {
        db.vault()
            .and_then(|v| v.open("checkout", "shipping_address", checkout_id, stored))
            .map_err(|e| OrdersError::Internal(format!("opening the shipping address of checkout {checkout_id}: {e}")))?
    } else {
        stored.to_owned()
    };
    Ok(serde_json::from_str(&json).unwrap_or_default())
}


impl Orders {
    pub fn new(db: Db, catalog: Catalog, hub: Hub, provider: Arc<dyn PaymentProvider>, cfg: OrdersConfig) -> Self {
        let crash_at = std::env::var("BESPOKE_FAULT_CRASH_AT").ok().filter(|s| !s.is_empty());
        Self { inner: Arc::new(Inner { db, catalog, hub, provider, cfg, sagas: OnceLock::new(), crash_at }) }
    }

    /// The sagas this service runs; the engine built from them is handed back with [`Orders::attach`].
    pub fn saga_defs(&self) -> Vec<kernel::saga::SagaDef> {
        vec![crate::checkout::checkout_saga(self), crate::lifecycle::refund_saga(self)]
    }

    pub fn attach(&self, engine: SagaEngine) {
        let _ = self.inner.sagas.set(engine);
    }

    pub fn provider(&self) -> &Arc<dyn PaymentProvider> {
        &self.inner.provider
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn sagas(&self) -> Result<&SagaEngine, OrdersError> {
        self.inner.sagas.get().ok_or_else(|| OrdersError::Internal("the saga engine is not attached".into()))
    }

    pub(crate) fn maybe_crash(&self, point: &str) {
        if self.inner.crash_at.as_deref() == Some(point) {
            tracing::error!(point, "fault injection: aborting the process");
            std::process::abort();
        }
    }

    /// Tells the order's customer and dealer pages that it changed.
    pub(crate) async fn push_order(&self, order_id: &str, status: &str, customer_id: &str, dealer_id: &str) {
        let msg = serde_json::json!({ "type": "order", "order_id": order_id, "status": status }).to_string();
        for who in [customer_id, dealer_id] {
            if let Err(e) = self.inner.hub.publish(&kernel::hub::user_topic(who), &msg).await {
                tracing::warn!(error = %e, "order push failed");
            }
        }
    }
}

/// The parties of an order, for events and pushes.
pub(crate) struct Parties {
    pub number: String,
    pub customer_id: String,
    pub dealer_id: String,
}

pub(crate) async fn parties(tx: &mut Tx, order_id: &str) -> Result<Parties, sqlx::Error> {
    let r = sqlx::query("SELECT number, customer_id, dealer_id FROM customer_order WHERE order_id = $1").bind(order_id).fetch_one(&mut **tx).await?;
    Ok(Parties { number: r.try_get(0)?, customer_id: r.try_get(1)?, dealer_id: r.try_get(2)? })
}

/// Moves an order from one of `from` to `to`, adds the timeline entry and the event; returns the
/// order's parties (for the push after commit). `None` when the order was not in one of `from`
/// (someone else moved it first, or this is a repeat).
pub(crate) async fn move_order(tx: &mut Tx, order_id: &str, from: &[OrderStatus], to: OrderStatus, note: &str) -> Result<Option<Parties>, sqlx::Error> {
    let now = Timestamp::now().0;
    let list: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let n = sqlx::query(&format!(
        "UPDATE customer_order SET status = $1, updated_at = $2 WHERE order_id = $3 AND status IN ({})",
        list.join(", ")
    ))
    .bind(to.as_str())
    .bind(now)
    .bind(order_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    add_timeline(tx, order_id, to, note, now).await?;
    let p = parties(tx, order_id).await?;
    let ev = OrderStatusChanged {
        order_id: order_id.to_owned(),
        number: p.number.clone(),
        dealer_id: p.dealer_id.clone(),
        customer_id: p.customer_id.clone(),
        status: to.as_str().to_owned(),
        note: note.to_owned(),
    };
    outbox::append(tx, &outbox::Envelope::of(&ev)).await?;
    Ok(Some(p))
}

pub(crate) async fn add_timeline(tx: &mut Tx, order_id: &str, status: OrderStatus, note: &str, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_status_change (order_id, position, status, note, at) \
         SELECT $1, COALESCE(MAX(position), 0) + 1, $2, $3, $4 FROM order_status_change WHERE order_id = $1",
    )
    .bind(order_id)
    .bind(status.as_str())
    .bind(note)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) use kernel::ids::new_id;

pub(crate) fn money(minor: i64, currency: &str) -> crate::MoneyView {
    let c = kernel::Currency::parse(currency).unwrap_or(kernel::Currency::EUR);
    kernel::Money::new(minor, c).into()
}

pub(crate) fn iso(micros: i64) -> String {
    Timestamp(micros).to_rfc3339()
}
