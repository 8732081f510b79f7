//! After payment: the dealer accepts or declines, produces (custom items), ships with tracking and
//! marks delivered; the customer may cancel before shipping and confirms receipt. A decline or a
//! cancellation after payment runs the `orders.refund` saga: refund the payment, give the stock
//! back, reverse the dealer's ledger entry — each step idempotent.

use std::sync::Arc;

use accounts::{Principal, Role};
use catalog::inventory;
use kernel::{
    events::BoxFuture,
    saga::{SagaDef, Step, StepOutcome},
    Money, Timestamp,
};
use serde_json::{json, Value};
use sqlx::Row;

use crate::{
    domain::{DealerAction, OrderLineView, OrderStatus, OrderSummary, OrderView, TimelineEntry, DEALER_MOVES, REFUNDABLE_BEFORE_SHIPPING},
    payments::RefundRequest,
    service::{iso, money, move_order, new_id, unprotect},
    Orders, OrdersError,
};

pub const REFUND_SAGA: &str = "orders.refund";

fn short(field: &str, v: &str, max: usize, what: &str) -> Result<String, OrdersError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(OrdersError::invalid(field, format!("enter {what}")));
    }
    if t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(OrdersError::invalid(field, format!("{what} is limited to {max} plain characters")));
    }
    Ok(t.to_owned())
}

struct OrderRow {
    status: OrderStatus,
    customer_id: String,
    dealer_id: String,
    has_custom: bool,
}

impl Orders {
    async fn order_row(&self, order_id: &str) -> Result<OrderRow, OrdersError> {
        let r = sqlx::query("SELECT status, customer_id, dealer_id, has_custom FROM customer_order WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(OrdersError::NotFound)?;
        Ok(OrderRow {
            status: OrderStatus::parse(&r.try_get::<String, _>(0)?).unwrap_or(OrderStatus::Placed),
            customer_id: r.try_get(1)?,
            dealer_id: r.try_get(2)?,
            has_custom: r.try_get::<i64, _>(3)? == 1,
        })
    }

    /// An order as its customer, its dealer or an admin sees it (404 for anyone else).
    pub async fn order(&self, viewer: &Principal, order_id: &str) -> Result<OrderView, OrdersError> {
        let r = sqlx::query(
            "SELECT o.order_id, o.number, o.checkout_id, o.status, o.store_name, o.dealer_id, o.customer_id, c.shipping_address, o.currency, \
             o.subtotal_minor, o.shipping_minor, o.tax_minor, o.total_minor, o.commission_minor, o.carrier, o.tracking_number, o.has_custom, o.created_at, p.status \
             FROM customer_order o JOIN checkout c ON c.checkout_id = o.checkout_id JOIN payment p ON p.checkout_id = o.checkout_id WHERE o.order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(OrdersError::NotFound)?;
        let me = viewer.user.id.to_string();
        let dealer_id: String = r.try_get(5)?;
        let customer_id: String = r.try_get(6)?;
        let is_dealer = me == dealer_id;
        if !is_dealer && me != customer_id && viewer.user.role != Role::Admin {
            return Err(OrdersError::NotFound);
        }
        let status = OrderStatus::parse(&r.try_get::<String, _>(3)?).unwrap_or(OrderStatus::Placed);
        let currency: String = r.try_get(8)?;
        let total: i64 = r.try_get(12)?;
        let commission: i64 = r.try_get(13)?;
        let has_custom = r.try_get::<i64, _>(16)? == 1;
        let reviews = self.reviews_of_order(order_id).await?;
        let lines = sqlx::query(
            "SELECT order_line_id, product_id, product_slug, title, options_label, quantity, unit_price_minor, line_total_minor, commission_minor, made_to_order, thread_id \
             FROM order_line WHERE order_id = $1 ORDER BY position",
        )
        .bind(order_id)
        .fetch_all(self.db().reader())
        .await?
        .iter()
        .map(|l| {
            let id: String = l.try_get(0)?;
            Ok(OrderLineView {
                review: reviews.iter().find(|(line, _)| *line == id).map(|(_, rv)| {
                    let mut rv = rv.clone();
                    rv.editable = rv.editable && me == customer_id;
                    rv
                }),
                id,
                product_id: l.try_get(1)?,
                product_slug: l.try_get(2)?,
                title: l.try_get(3)?,
                options_label: l.try_get(4)?,
                quantity: l.try_get(5)?,
                unit_price: money(l.try_get(6)?, &currency),
                line_total: money(l.try_get(7)?, &currency),
                commission: money(l.try_get(8)?, &currency),
                made_to_order: l.try_get::<i64, _>(9)? == 1,
                thread_id: l.try_get(10)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let timeline = sqlx::query("SELECT status, note, at FROM order_status_change WHERE order_id = $1 ORDER BY position")
            .bind(order_id)
            .fetch_all(self.db().reader())
            .await?
            .iter()
            .map(|t| {
                let s = OrderStatus::parse(&t.try_get::<String, _>(0)?).unwrap_or(OrderStatus::Placed);
                Ok(TimelineEntry { status: s, label: s.label().to_owned(), note: t.try_get(1)?, at: iso(t.try_get(2)?) })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let mut actions = Vec::new();
        if is_dealer {
            actions.extend(
                DEALER_MOVES.iter().filter(|(name, from, _)| from.contains(&status) && (*name != "start_production" || has_custom)).map(|m| m.0),
            );
        } else if me == customer_id {
            if status.refundable_before_shipping() {
                actions.push("cancel");
            }
            if matches!(status, OrderStatus::Shipped | OrderStatus::Delivered) {
                actions.push("confirm_receipt");
            }
            if status.reviewable() {
                actions.push("review");
            }
        }
        Ok(OrderView {
            id: r.try_get(0)?,
            number: r.try_get(1)?,
            checkout_id: r.try_get(2)?,
            status,
            status_label: status.label().to_owned(),
            store_name: r.try_get(4)?,
            dealer_id,
            customer_id,
            shipping_address: unprotect(self.db(), &r.try_get::<String, _>(2)?, &r.try_get::<String, _>(7)?)?,
            subtotal: money(r.try_get(9)?, &currency),
            shipping: money(r.try_get(10)?, &currency),
            tax: money(r.try_get(11)?, &currency),
            total: money(total, &currency),
            commission: money(commission, &currency),
            net: money(total - commission, &currency),
            carrier: r.try_get(14)?,
            tracking_number: r.try_get(15)?,
            has_custom,
            lines,
            timeline,
            viewer_is_dealer: is_dealer,
            actions: actions.into_iter().map(str::to_owned).collect(),
            payment_status: r.try_get(18)?,
            created_at: iso(r.try_get(17)?),
        })
    }

    /// The customer's orders, newest first (unpaid ones that were given up included, as cancelled).
    pub async fn my_orders(&self, p: &Principal) -> Result<Vec<OrderSummary>, OrdersError> {
        self.summaries("o.customer_id = $1", &[&p.user.id.to_string()], 200).await
    }

    /// The dealer's queue: paid and later (unpaid checkouts are not the dealer's business yet),
    /// optionally one status.
    pub async fn dealer_orders(&self, p: &Principal, status: Option<&str>) -> Result<Vec<OrderSummary>, OrdersError> {
        p.require_dealer()?;
        let me = p.user.id.to_string();
        match status.filter(|s| !s.is_empty() && *s != "all") {
            Some(s) => {
                let st = OrderStatus::parse(s).ok_or_else(|| OrdersError::invalid("status", format!("{s:?} is not an order status")))?;
                self.summaries("o.dealer_id = $1 AND o.status = $2", &[&me, st.as_str()], 500).await
            }
            None => self.summaries("o.dealer_id = $1 AND o.status <> 'placed' AND NOT (o.status = 'cancelled' AND NOT EXISTS (SELECT 1 FROM order_status_change s WHERE s.order_id = o.order_id AND s.status = 'paid'))", &[&me], 500).await,
        }
    }

    /// How many of the dealer's orders are in `status` (the dashboard's "new orders"; capped like the queue).
    pub async fn dealer_order_count(&self, p: &Principal, status: OrderStatus) -> Result<i64, OrdersError> {
        p.require_dealer()?;
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM customer_order WHERE dealer_id = $1 AND status = $2 LIMIT 500) x")
            .bind(p.user.id.to_string())
            .bind(status.as_str())
            .fetch_one(self.db().reader())
            .await?)
    }

    pub async fn dealer_action(&self, p: &Principal, order_id: &str, action: &DealerAction) -> Result<OrderView, OrdersError> {
        p.require_dealer()?;
        let o = self.order_row(order_id).await?;
        if o.dealer_id != p.user.id.to_string() {
            return Err(OrdersError::NotFound);
        }
        use OrderStatus as S;
        let (from, to) = action.transition();
        let mut shipment = None;
        let note = match action {
            DealerAction::Decline { reason } => {
                let reason = reason.trim().chars().take(500).collect::<String>();
                if reason.is_empty() { "declined by the dealer".into() } else { reason }
            }
            DealerAction::StartProduction if !o.has_custom => {
                return Err(OrdersError::Conflict("only orders with made-to-order items go into production; ship it instead".into()));
            }
            DealerAction::Ship { carrier, tracking_number } => {
                let carrier = short("carrier", carrier, 60, "the carrier")?;
                let tracking = short("tracking_number", tracking_number, 60, "the tracking number")?;
                let note = format!("{carrier} {tracking}");
                shipment = Some((carrier, tracking));
                note
            }
            _ => String::new(),
        };
        let mut tx = self.db().begin().await?;
        if move_order(&mut tx, order_id, from, to, &note).await?.is_none() {
            return Err(OrdersError::Conflict(format!("this order is {} and cannot move to {}", o.status.label().to_lowercase(), to.label().to_lowercase())));
        }
        if let Some((carrier, tracking)) = shipment {
            // the move above succeeded in this transaction: the order is being shipped
            sqlx::query("UPDATE customer_order SET carrier = $1, tracking_number = $2 WHERE order_id = $3")
                .bind(&carrier)
                .bind(&tracking)
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
        }
        if to == S::Delivered {
            self.mark_delivered(&mut tx, order_id).await?;
        }
        if to == S::Declined {
            self.start_refund(&mut tx, order_id, "declined").await?;
        }
        tx.commit().await?;
        self.push_order(order_id, to.as_str(), &o.customer_id, &o.dealer_id).await;
        self.order(p, order_id).await
    }

    async fn mark_delivered(&self, tx: &mut kernel::Tx, order_id: &str) -> Result<(), OrdersError> {
        let now = Timestamp::now();
        let available = now.plus(self.inner.cfg.payout_hold);
        sqlx::query("UPDATE customer_order SET delivered_at = $1 WHERE order_id = $2").bind(now.0).bind(order_id).execute(&mut **tx).await?;
        sqlx::query("UPDATE ledger_entry SET available_at = $1, updated_at = $2 WHERE order_id = $3 AND status = 'pending'")
            .bind(available.0)
            .bind(now.0)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn start_refund(&self, tx: &mut kernel::Tx, order_id: &str, why: &str) -> Result<(), OrdersError> {
        sqlx::query("UPDATE customer_order SET refund_requested = 1, cancel_reason = $1 WHERE order_id = $2").bind(why).bind(order_id).execute(&mut **tx).await?;
        self.sagas()?.start(tx, REFUND_SAGA, json!({ "order_id": order_id })).await?;
        Ok(())
    }

    /// The customer cancels a paid order before it ships: refunded and restocked by the refund saga.
    pub async fn cancel_order(&self, p: &Principal, order_id: &str) -> Result<OrderView, OrdersError> {
        let o = self.order_row(order_id).await?;
        if o.customer_id != p.user.id.to_string() {
            return Err(OrdersError::NotFound);
        }
        if o.status == OrderStatus::Placed {
            return Err(OrdersError::Conflict("this order is not paid yet: cancel the checkout instead".into()));
        }
        let mut tx = self.db().begin().await?;
        if move_order(&mut tx, order_id, &REFUNDABLE_BEFORE_SHIPPING, OrderStatus::Cancelled, "cancelled by the customer").await?.is_none() {
            return Err(OrdersError::Conflict(format!("this order is {} and can no longer be cancelled", o.status.label().to_lowercase())));
        }
        self.start_refund(&mut tx, order_id, "cancelled").await?;
        tx.commit().await?;
        self.push_order(order_id, "cancelled", &o.customer_id, &o.dealer_id).await;
        self.order(p, order_id).await
    }

    /// Orders still moving that involve the caller, as customer or dealer (an account with such
    /// orders cannot be erased yet): their numbers.
    pub async fn open_orders_of(&self, p: &Principal) -> Result<Vec<String>, OrdersError> {
        let me = p.user.id.to_string();
        Ok(sqlx::query_scalar(
            "SELECT number FROM customer_order WHERE (customer_id = $1 OR dealer_id = $1) AND status IN ('placed', 'paid', 'accepted', 'in_production', 'shipped') ORDER BY created_at LIMIT 20",
        )
        .bind(me)
        .fetch_all(self.db().reader())
        .await?)
    }

    /// Every order, for admins: filtered by status and/or an order number prefix (newest first, 200).
    pub async fn admin_orders(&self, p: &Principal, status: Option<&str>, number: &str) -> Result<Vec<OrderSummary>, OrdersError> {
        require_admin(p)?;
        let number = number.trim().to_uppercase();
        if number.chars().count() > 40 || number.chars().any(char::is_control) {
            return Err(OrdersError::invalid("q", "an order number is at most 40 characters"));
        }
        let like = format!("{}%", number.replace(['%', '_'], ""));
        match status.filter(|s| !s.is_empty() && *s != "all") {
            Some(s) => {
                let st = OrderStatus::parse(s).ok_or_else(|| OrdersError::invalid("status", format!("{s:?} is not an order status")))?;
                self.summaries("o.status = $1 AND UPPER(o.number) LIKE $2", &[st.as_str(), &like], 200).await
            }
            None => self.summaries("UPPER(o.number) LIKE $1", &[&like], 200).await,
        }
    }

    /// Support refunds a paid order in full, at any stage after payment (not twice): cancelled with
    /// the reason, then the refund saga (provider refund, stock back, ledger reversed). Audited.
    pub async fn admin_refund(&self, p: &Principal, order_id: &str, reason: &str) -> Result<OrderView, OrdersError> {
        require_admin(p)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
            return Err(OrdersError::invalid("reason", "give a reason for the refund (at most 500 plain characters)"));
        }
        let o = self.order_row(order_id).await?;
        let from = [OrderStatus::Paid, OrderStatus::Accepted, OrderStatus::InProduction, OrderStatus::Shipped, OrderStatus::Delivered, OrderStatus::Completed];
        let mut tx = self.db().begin().await?;
        if move_order(&mut tx, order_id, &from, OrderStatus::Cancelled, &format!("refunded by support: {reason}")).await?.is_none() {
            return Err(OrdersError::Conflict(format!("this order is {} and cannot be refunded", o.status.label().to_lowercase())));
        }
        self.start_refund(&mut tx, order_id, "refunded by support").await?;
        let detail = json!({ "reason": reason, "from": o.status.as_str() }).to_string();
        kernel::audit::append(&mut tx, &kernel::audit::Entry::new(&p.user.id.to_string(), "order.refunded", order_id).detail(detail)).await?;
        tx.commit().await?;
        self.push_order(order_id, "cancelled", &o.customer_id, &o.dealer_id).await;
        self.order(p, order_id).await
    }

    /// Daily figures for the admin dashboard since `since`, one row per day with activity:
    /// (day index, paid orders, gross merchandise value in minor units, checkouts started, checkouts paid).
    pub async fn daily_figures(&self, p: &Principal, since: Timestamp) -> Result<Vec<DailyFigures>, OrdersError> {
        require_admin(p)?;
        const DAY: i64 = 86_400_000_000;
        let paid: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT (o.created_at - $1) / $2, COUNT(*), CAST(COALESCE(SUM(o.total_minor), 0) AS BIGINT), COUNT(DISTINCT o.checkout_id) FROM customer_order o \
             WHERE o.created_at >= $1 AND EXISTS (SELECT 1 FROM order_status_change s WHERE s.order_id = o.order_id AND s.status = 'paid') \
             GROUP BY (o.created_at - $1) / $2",
        )
        .bind(since.0)
        .bind(DAY)
        .fetch_all(self.db().reader())
        .await?;
        let started: Vec<(i64, i64)> = sqlx::query_as("SELECT (created_at - $1) / $2, COUNT(*) FROM checkout WHERE created_at >= $1 GROUP BY (created_at - $1) / $2")
            .bind(since.0)
            .bind(DAY)
            .fetch_all(self.db().reader())
            .await?;
        let mut out: std::collections::BTreeMap<i64, DailyFigures> = Default::default();
        for (day, orders, gmv_minor, checkouts_paid) in paid {
            let e = out.entry(day).or_insert_with(|| DailyFigures { day, ..Default::default() });
            e.orders = orders;
            e.gmv_minor = gmv_minor;
            e.checkouts_paid = checkouts_paid;
        }
        for (day, n) in started {
            out.entry(day).or_insert_with(|| DailyFigures { day, ..Default::default() }).checkouts_started = n;
        }
        Ok(out.into_values().collect())
    }

    /// The customer confirms the parcel arrived: delivered (if the dealer had not said so) and completed.
    pub async fn confirm_receipt(&self, p: &Principal, order_id: &str) -> Result<OrderView, OrdersError> {
        let o = self.order_row(order_id).await?;
        if o.customer_id != p.user.id.to_string() {
            return Err(OrdersError::NotFound);
        }
        let mut tx = self.db().begin().await?;
        if move_order(&mut tx, order_id, &[OrderStatus::Shipped], OrderStatus::Delivered, "confirmed by the customer").await?.is_some() {
            self.mark_delivered(&mut tx, order_id).await?;
        }
        if move_order(&mut tx, order_id, &[OrderStatus::Delivered], OrderStatus::Completed, "").await?.is_none() {
            return Err(OrdersError::Conflict(format!("this order is {}: only a shipped or delivered order can be confirmed", o.status.label().to_lowercase())));
        }
        tx.commit().await?;
        self.push_order(order_id, "completed", &o.customer_id, &o.dealer_id).await;
        self.order(p, order_id).await
    }

    /// Completes delivered orders whose hold period ended. Returns how many.
    pub async fn sweep(&self) -> Result<usize, OrdersError> {
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT o.order_id FROM customer_order o JOIN ledger_entry l ON l.order_id = o.order_id \
             WHERE o.status = 'delivered' AND l.available_at IS NOT NULL AND l.available_at <= $1 LIMIT 200",
        )
        .bind(Timestamp::now().0)
        .fetch_all(self.db().reader())
        .await?;
        for id in &due {
            let mut tx = self.db().begin().await?;
            let moved = move_order(&mut tx, id, &[OrderStatus::Delivered], OrderStatus::Completed, "").await?;
            tx.commit().await?;
            if let Some(p) = moved {
                self.push_order(id, OrderStatus::Completed.as_str(), &p.customer_id, &p.dealer_id).await;
            }
        }
        Ok(due.len())
    }

    async fn refund_step(&self, order_id: &str) -> Result<(), String> {
        let r = sqlx::query(
            "SELECT p.payment_id, p.provider_ref, o.total_minor, o.currency FROM customer_order o JOIN payment p ON p.checkout_id = o.checkout_id WHERE o.order_id = $1",
        )
        .bind(order_id)
        .fetch_one(self.db().reader())
        .await
        .map_err(|e| e.to_string())?;
        let payment_id: String = r.try_get(0).map_err(|e| e.to_string())?;
        let intent: Option<String> = r.try_get(1).map_err(|e| e.to_string())?;
        let amount: i64 = r.try_get(2).map_err(|e| e.to_string())?;
        let currency = kernel::Currency::parse(&r.try_get::<String, _>(3).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let done: Option<String> = sqlx::query_scalar("SELECT status FROM refund WHERE order_id = $1 AND provider_ref IS NOT NULL")
            .bind(order_id)
            .fetch_optional(self.db().reader())
            .await
            .map_err(|e| e.to_string())?;
        if done.is_some() {
            return Ok(());
        }
        let intent = intent.ok_or("the payment has no provider reference")?;
        let req = RefundRequest { provider_ref: intent, amount: Money::new(amount, currency), idempotency_key: format!("bespoke-refund-{order_id}"), order_id: order_id.to_owned() };
        let res = self.inner.provider.refund(&req).await.map_err(|e| e.to_string())?;
        let now = Timestamp::now().0;
        let mut tx = self.db().begin().await.map_err(|e| e.to_string())?;
        let n = sqlx::query(
            "INSERT INTO refund (refund_id, payment_id, order_id, amount_minor, provider_ref, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(new_id())
        .bind(&payment_id)
        .bind(order_id)
        .bind(amount)
        .bind(&res.refund_ref)
        .bind(if res.succeeded { "succeeded" } else { "pending" })
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?
        .rows_affected();
        if n == 1 {
            sqlx::query("UPDATE payment SET refunded_minor = refunded_minor + $1, updated_at = $2 WHERE payment_id = $3")
                .bind(amount)
                .bind(now)
                .bind(&payment_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())
    }

    async fn restock_step(&self, order_id: &str) -> Result<(), String> {
        let mut tx = self.db().begin().await.map_err(|e| e.to_string())?;
        inventory::release(&mut tx, order_id).await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())
    }

    async fn finalize_refund_step(&self, order_id: &str) -> Result<(), String> {
        let mut tx = self.db().begin().await.map_err(|e| e.to_string())?;
        let now = Timestamp::now().0;
        sqlx::query("UPDATE ledger_entry SET status = 'reversed', updated_at = $1 WHERE order_id = $2 AND status = 'pending'")
            .bind(now)
            .bind(order_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        let moved = move_order(&mut tx, order_id, &[OrderStatus::Declined, OrderStatus::Cancelled], OrderStatus::Refunded, "the payment was refunded")
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        if let Some(p) = moved {
            self.push_order(order_id, OrderStatus::Refunded.as_str(), &p.customer_id, &p.dealer_id).await;
        }
        Ok(())
    }
}

pub(crate) fn refund_saga(orders: &Orders) -> SagaDef {
    let steps: Vec<Arc<dyn Step>> = vec![
        Arc::new(RefundStep { orders: orders.clone(), kind: RefundKind::Refund }),
        Arc::new(RefundStep { orders: orders.clone(), kind: RefundKind::Restock }),
        Arc::new(RefundStep { orders: orders.clone(), kind: RefundKind::Finalize }),
    ];
    SagaDef { saga_type: REFUND_SAGA, steps, timeout: None, max_attempts: 10_000, retry_delay: std::time::Duration::from_secs(5) }
}

#[derive(Clone, Copy)]
enum RefundKind {
    Refund,
    Restock,
    Finalize,
}

struct RefundStep {
    orders: Orders,
    kind: RefundKind,
}

impl Step for RefundStep {
    fn name(&self) -> &'static str {
        match self.kind {
            RefundKind::Refund => "refund_payment",
            RefundKind::Restock => "release_stock",
            RefundKind::Finalize => "finalize",
        }
    }
    fn run<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            let id = state["order_id"].as_str().unwrap_or_default().to_owned();
            let res = match self.kind {
                RefundKind::Refund => self.orders.refund_step(&id).await,
                RefundKind::Restock => self.orders.restock_step(&id).await,
                RefundKind::Finalize => self.orders.finalize_refund_step(&id).await,
            };
            match res {
                Ok(()) => StepOutcome::Done,
                // money owed back is never given up on: retried (and visible to admins) until it goes through
                Err(e) => StepOutcome::Retry(e),
            }
        })
    }
    fn compensate<'a>(&'a self, _state: &'a mut Value) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

fn require_admin(p: &Principal) -> Result<(), OrdersError> {
    if p.user.role == Role::Admin {
        Ok(())
    } else {
        Err(OrdersError::NotFound)
    }
}

/// One day of the admin dashboard's order figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DailyFigures {
    /// Days since the period's start.
    pub day: i64,
    pub orders: i64,
    pub gmv_minor: i64,
    pub checkouts_started: i64,
    pub checkouts_paid: i64,
}
