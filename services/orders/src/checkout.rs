//! Checkout: the whole cart becomes one order per dealer and one payment, with the stock held, in one
//! transaction; then the `checkout` saga waits for the payment and confirms (or, when the payment
//! fails or does not arrive in time, releases the stock and cancels). Webhooks move payments.

use std::{collections::BTreeMap, sync::Arc};

use accounts::Principal;
use catalog::inventory::{self, StockItem};
use kernel::{
    events::BoxFuture,
    outbox,
    saga::{SagaDef, Step, StepOutcome},
    Money, Timestamp,
};
use serde_json::{json, Value};
use sqlx::Row;

use crate::{
    cart::{options_label, selections_key, CartOwner},
    domain::{CheckoutInput, CheckoutView, OrderStatus, OrderSummary, PaymentView},
    events::{CheckoutStarted, OrderPaid},
    payments::{self, IntentRequest, IntentStatus, RefundRequest, WebhookError, WebhookKind},
    service::{add_timeline, iso, money, move_order, new_id, protect},
    Orders, OrdersError,
};

pub const CHECKOUT_SAGA: &str = "orders.checkout";

fn order_number() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let s: String = (0..8).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("B-{s}")
}

/// Commission of one line, rounded half up, in minor units.
pub fn commission(line_total_minor: i64, bps: i64) -> i64 {
    (line_total_minor * bps + 5_000) / 10_000
}

struct NewLine {
    product_id: String,
    slug: String,
    title: String,
    selections: String,
    label: String,
    unit: i64,
    quantity: i64,
    total: i64,
    commission: i64,
    made_to_order: bool,
    quote: Option<(String, String)>,
}

struct NewOrder {
    id: String,
    number: String,
    dealer_id: String,
    store_id: String,
    store_name: String,
    lines: Vec<NewLine>,
}

/// What webhook handling did, for the HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Applied,
    Duplicate,
    Ignored,
}

impl Orders {
    /// A checkout request as sent (its JSON body) under an optional Idempotency-Key: parsed and run once
    /// per caller and key, the first answer replayed — the rule the API and the page both follow.
    pub async fn checkout_request(&self, p: &Principal, key: Option<&str>, body: &[u8]) -> Result<CheckoutView, OrdersError> {
        let hash = crate::idempotency::request_hash("checkout", body);
        let scope = format!("checkout:{}", p.user.id);
        self.idempotent(&scope, key, &hash, async {
            let input: CheckoutInput = serde_json::from_slice(body).map_err(|e| OrdersError::invalid("body", format!("the body is not a checkout: {e}")))?;
            self.checkout(p, &input).await
        })
        .await
    }

    pub async fn checkout(&self, p: &Principal, input: &CheckoutInput) -> Result<CheckoutView, OrdersError> {
        let address = input.shipping_address.validate()?;
        let customer_id = p.user.id.to_string();
        let lines = self.priced_lines(&CartOwner::User(customer_id.clone())).await?;
        if lines.is_empty() {
            return Err(OrdersError::invalid("cart", "your cart is empty"));
        }
        let currency = lines[0].product.price.currency;
        let bps = self.inner.cfg.commission_bps;
        let mut by_dealer: BTreeMap<String, NewOrder> = BTreeMap::new();
        for l in &lines {
            if l.product.price.currency != currency {
                return Err(OrdersError::invalid("cart", "your cart mixes currencies: check out one currency at a time"));
            }
            if let Some(problem) = &l.problem {
                if let Some(available) = l.product.stock.filter(|s| *s < l.quantity) {
                    return Err(OrdersError::OutOfStock { product_id: l.product.id.clone(), title: l.product.title.clone(), available });
                }
                return Err(OrdersError::invalid("cart", format!("\"{}\": {problem}", l.product.title)));
            }
            if l.product.store.dealer_id == customer_id {
                return Err(OrdersError::invalid("cart", "you cannot buy from your own store"));
            }
            let unit = l.unit.ok_or_else(|| OrdersError::invalid("cart", "an item's options changed"))?.minor;
            let total = unit * l.quantity;
            let order = by_dealer.entry(l.product.store.dealer_id.clone()).or_insert_with(|| NewOrder {
                id: new_id(),
                number: order_number(),
                dealer_id: l.product.store.dealer_id.clone(),
                store_id: l.product.store.id.clone(),
                store_name: l.product.store.name.clone(),
                lines: Vec::new(),
            });
            order.lines.push(NewLine {
                product_id: l.product.id.clone(),
                slug: l.product.slug.clone(),
                title: l.product.title.clone(),
                selections: serde_json::to_string(&l.selections).unwrap_or_default(),
                label: match &l.quote {
                    Some((_, _, spec)) => format!("Custom: {spec}"),
                    None => options_label(&l.product, &l.selections),
                },
                quote: l.quote.as_ref().map(|(q, t, _)| (q.clone(), t.clone())),
                unit,
                quantity: l.quantity,
                total,
                commission: commission(total, bps),
                made_to_order: l.product.stock.is_none() || l.quote.is_some(),
            });
        }
        let orders: Vec<NewOrder> = by_dealer.into_values().collect();
        let grand_total: i64 = orders.iter().flat_map(|o| o.lines.iter()).map(|l| l.total).sum();
        let checkout_id = new_id();
        let now = Timestamp::now();
        let expires = now.plus(self.inner.cfg.reservation_ttl);

        let mut tx = self.db().begin().await?;
        sqlx::query(
            "INSERT INTO checkout (checkout_id, customer_id, status, currency, total_minor, shipping_address, expires_at, created_at, updated_at) \
             VALUES ($1, $2, 'pending_payment', $3, $4, $5, $6, $7, $7)",
        )
        .bind(&checkout_id)
        .bind(&customer_id)
        .bind(currency.code())
        .bind(grand_total)
        .bind(protect(self.db(), &checkout_id, &address)?)
        .bind(expires.0)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        for o in &orders {
            // quoted pieces are made to order: they hold no stock
            let items: Vec<StockItem> =
                o.lines.iter().filter(|l| l.quote.is_none()).map(|l| StockItem { product_id: l.product_id.clone(), quantity: l.quantity }).collect();
            inventory::reserve(&mut tx, &o.id, &items).await?;
            let subtotal: i64 = o.lines.iter().map(|l| l.total).sum();
            let commission: i64 = o.lines.iter().map(|l| l.commission).sum();
            sqlx::query(
                "INSERT INTO customer_order (order_id, number, checkout_id, customer_id, dealer_id, store_id, store_name, status, currency, \
                 subtotal_minor, shipping_minor, tax_minor, total_minor, commission_minor, has_custom, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'placed', $8, $9, 0, 0, $9, $10, $11, $12, $12)",
            )
            .bind(&o.id)
            .bind(&o.number)
            .bind(&checkout_id)
            .bind(&customer_id)
            .bind(&o.dealer_id)
            .bind(&o.store_id)
            .bind(&o.store_name)
            .bind(currency.code())
            .bind(subtotal)
            .bind(commission)
            .bind(i64::from(o.lines.iter().any(|l| l.made_to_order)))
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            for (i, l) in o.lines.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO order_line (order_line_id, order_id, product_id, product_slug, title, selections, options_label, unit_price_minor, \
                     quantity, line_total_minor, commission_bps, commission_minor, made_to_order, position, created_at, quote_id, thread_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                )
                .bind(new_id())
                .bind(&o.id)
                .bind(&l.product_id)
                .bind(&l.slug)
                .bind(&l.title)
                .bind(&l.selections)
                .bind(&l.label)
                .bind(l.unit)
                .bind(l.quantity)
                .bind(l.total)
                .bind(bps)
                .bind(l.commission)
                .bind(i64::from(l.made_to_order))
                .bind(i as i64)
                .bind(now.0)
                .bind(l.quote.as_ref().map(|q| q.0.clone()))
                .bind(l.quote.as_ref().map(|q| q.1.clone()))
                .execute(&mut *tx)
                .await?;
            }
            add_timeline(&mut tx, &o.id, OrderStatus::Placed, "", now.0).await?;
        }
        sqlx::query(
            "INSERT INTO payment (payment_id, checkout_id, provider, status, amount_minor, currency, created_at, updated_at) \
             VALUES ($1, $2, $3, 'requires_payment', $4, $5, $6, $6)",
        )
        .bind(new_id())
        .bind(&checkout_id)
        .bind(self.inner.provider.name())
        .bind(grand_total)
        .bind(currency.code())
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        let saga_id = self.sagas()?.start(&mut tx, CHECKOUT_SAGA, json!({ "checkout_id": checkout_id })).await?;
        sqlx::query("UPDATE checkout SET saga_id = $1 WHERE checkout_id = $2").bind(&saga_id).bind(&checkout_id).execute(&mut *tx).await?;
        let ev = CheckoutStarted {
            checkout_id: checkout_id.clone(),
            customer_id: customer_id.clone(),
            order_ids: orders.iter().map(|o| o.id.clone()).collect(),
            total_minor: grand_total,
            currency: currency.code().to_owned(),
        };
        outbox::append(&mut tx, &outbox::Envelope::of(&ev)).await?;
        tx.commit().await?;
        // the saga creates the intent too if this fails (the provider may be briefly unreachable)
        if let Err(e) = self.ensure_intent(&checkout_id).await {
            tracing::warn!(error = %e, checkout_id, "creating the payment intent failed; the saga retries");
        }
        self.checkout_view(p, &checkout_id).await
    }

    /// Creates the provider's payment intent for a checkout, once (the provider's Idempotency-Key
    /// makes a repeated create return the same intent).
    pub(crate) async fn ensure_intent(&self, checkout_id: &str) -> Result<(), OrdersError> {
        let r = sqlx::query("SELECT payment_id, provider_ref, amount_minor, currency FROM payment WHERE checkout_id = $1")
            .bind(checkout_id)
            .fetch_optional(self.db().reader())
            .await?
            .ok_or(OrdersError::NotFound)?;
        let provider_ref: Option<String> = r.try_get(1)?;
        if provider_ref.is_some() {
            return Ok(());
        }
        let payment_id: String = r.try_get(0)?;
        let currency = kernel::Currency::parse(&r.try_get::<String, _>(3)?).map_err(|e| OrdersError::Internal(e.to_string()))?;
        let req = IntentRequest {
            checkout_id: checkout_id.to_owned(),
            amount: Money::new(r.try_get(2)?, currency),
            idempotency_key: format!("bespoke-checkout-{checkout_id}"),
        };
        let intent = self.inner.provider.create_intent(&req).await.map_err(|e| OrdersError::Provider(e.to_string()))?;
        sqlx::query(
            "UPDATE payment SET provider_ref = $1, client_secret = $2, updated_at = $3 WHERE payment_id = $4 AND provider_ref IS NULL",
        )
        .bind(&intent.provider_ref)
        .bind(&intent.client_secret)
        .bind(Timestamp::now().0)
        .bind(&payment_id)
        .execute(self.db().writer())
        .await?;
        Ok(())
    }

    /// The checkout and its payment row, for its customer (or an admin); anyone else: not found.
    /// A checkout's head row, for its customer (and, to read only, for admins).
    async fn checkout_head(&self, viewer: &Principal, checkout_id: &str, to_act: bool) -> Result<sqlx::any::AnyRow, OrdersError> {
        let r = sqlx::query(
            "SELECT c.customer_id, c.status, c.total_minor, c.currency, c.expires_at, p.provider, p.status, p.client_secret, p.provider_ref, p.failure_reason \
             FROM checkout c JOIN payment p ON p.checkout_id = c.checkout_id WHERE c.checkout_id = $1",
        )
        .bind(checkout_id)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(OrdersError::NotFound)?;
        let customer_id: String = r.try_get(0)?;
        let support = viewer.user.role == accounts::Role::Admin && !to_act;
        if customer_id != viewer.user.id.to_string() && !support {
            return Err(OrdersError::NotFound);
        }
        Ok(r)
    }

    /// The provider's intent id and client secret while the checkout can still be paid (else `None`).
    pub async fn payable_intent(&self, viewer: &Principal, checkout_id: &str) -> Result<Option<(String, String)>, OrdersError> {
        let r = self.checkout_head(viewer, checkout_id, true).await?;
        if r.try_get::<String, _>(1)? != "pending_payment" {
            return Ok(None);
        }
        Ok(r.try_get::<Option<String>, _>(8)?.zip(r.try_get::<Option<String>, _>(7)?))
    }

    pub async fn checkout_view(&self, viewer: &Principal, checkout_id: &str) -> Result<CheckoutView, OrdersError> {
        let r = self.checkout_head(viewer, checkout_id, false).await?;
        let currency: String = r.try_get(3)?;
        let total = money(r.try_get(2)?, &currency);
        let orders = self.summaries("o.checkout_id = $1", &[checkout_id], 50).await?;
        let status: String = r.try_get(1)?;
        let pay_status: String = r.try_get(6)?;
        Ok(CheckoutView {
            id: checkout_id.to_owned(),
            payment: PaymentView {
                provider: r.try_get(5)?,
                amount: total.clone(),
                // the secret is only useful while the payment can still be made
                client_secret: if status == "pending_payment" { r.try_get(7)? } else { None },
                intent_id: r.try_get(8)?,
                failure_reason: r.try_get(9)?,
                status: pay_status,
            },
            status,
            total,
            orders,
            expires_at: iso(r.try_get(4)?),
        })
    }

    /// Order summaries matching a `WHERE` over `customer_order o` (parameters bound in order).
    pub(crate) async fn summaries(&self, filter: &str, args: &[&str], limit: i64) -> Result<Vec<OrderSummary>, OrdersError> {
        let sql = format!(
            "SELECT o.order_id, o.number, o.status, o.store_name, o.total_minor, o.currency, o.created_at, o.shipping_address_name, \
             (SELECT CAST(SUM(l.quantity) AS BIGINT) FROM order_line l WHERE l.order_id = o.order_id), \
             (SELECT l.title FROM order_line l WHERE l.order_id = o.order_id ORDER BY l.position LIMIT 1), o.checkout_id \
             FROM (SELECT co.*, c.shipping_address AS shipping_address_name FROM customer_order co JOIN checkout c ON c.checkout_id = co.checkout_id) o \
             WHERE {filter} ORDER BY o.created_at DESC, o.order_id LIMIT {limit}"
        );
        let mut q = sqlx::query(&sql);
        for a in args {
            q = q.bind(*a);
        }
        let rows = q.fetch_all(self.db().reader()).await?;
        // the orders of one checkout share its address: open each envelope once
        let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        rows.iter()
            .map(|r| {
                let status = OrderStatus::parse(&r.try_get::<String, _>(2)?).unwrap_or(OrderStatus::Placed);
                let currency: String = r.try_get(5)?;
                let checkout_id: String = r.try_get(10)?;
                let customer_name = match names.get(&checkout_id) {
                    Some(n) => n.clone(),
                    None => {
                        let n = crate::service::unprotect(self.db(), &checkout_id, &r.try_get::<String, _>(7)?)?.name;
                        names.insert(checkout_id, n.clone());
                        n
                    }
                };
                Ok(OrderSummary {
                    id: r.try_get(0)?,
                    number: r.try_get(1)?,
                    status,
                    status_label: status.label().to_owned(),
                    store_name: r.try_get(3)?,
                    customer_name,
                    total: money(r.try_get(4)?, &currency),
                    created_at: iso(r.try_get(6)?),
                    item_count: r.try_get::<Option<i64>, _>(8)?.unwrap_or(0),
                    first_title: r.try_get::<Option<String>, _>(9)?.unwrap_or_default(),
                })
            })
            .collect::<Result<_, OrdersError>>()
    }

    /// The customer gives up on an unpaid checkout: the payment is cancelled and the stock released.
    pub async fn cancel_checkout(&self, p: &Principal, checkout_id: &str) -> Result<CheckoutView, OrdersError> {
        let status: String = self.checkout_head(p, checkout_id, true).await?.try_get(1)?;
        if status != "pending_payment" {
            return Err(OrdersError::Conflict(format!("this checkout is {} and can no longer be cancelled", status.replace('_', " "))));
        }
        let n = sqlx::query(
            "UPDATE payment SET status = 'cancelled', failure_reason = 'cancelled by the customer', updated_at = $1 \
             WHERE checkout_id = $2 AND status IN ('requires_payment', 'requires_action', 'failed')",
        )
        .bind(Timestamp::now().0)
        .bind(checkout_id)
        .execute(self.db().writer())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(OrdersError::Conflict("the payment is already being processed".into()));
        }
        self.release_checkout(checkout_id, "cancelled", "cancelled by the customer").await?;
        self.nudge_checkout(checkout_id).await;
        self.checkout_view(p, checkout_id).await
    }

    async fn nudge_checkout(&self, checkout_id: &str) {
        let saga: Option<Option<String>> =
            sqlx::query_scalar("SELECT saga_id FROM checkout WHERE checkout_id = $1").bind(checkout_id).fetch_optional(self.db().reader()).await.ok().flatten();
        if let (Some(Some(saga_id)), Ok(engine)) = (saga, self.sagas()) {
            if let Err(e) = engine.nudge(&saga_id).await {
                tracing::warn!(error = %e, "nudging the checkout saga failed");
            }
        }
    }

    /// Gives the held stock back and cancels the unpaid orders of a checkout. Idempotent.
    pub(crate) async fn release_checkout(&self, checkout_id: &str, checkout_status: &str, reason: &str) -> Result<(), OrdersError> {
        let mut tx = self.db().begin().await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT order_id FROM customer_order WHERE checkout_id = $1").bind(checkout_id).fetch_all(&mut *tx).await?;
        let mut moved = Vec::new();
        for id in &ids {
            inventory::release(&mut tx, id).await?;
            if let Some(p) = move_order(&mut tx, id, &[OrderStatus::Placed], OrderStatus::Cancelled, reason).await? {
                moved.push((id.clone(), p));
            }
        }
        sqlx::query("UPDATE checkout SET status = $1, updated_at = $2 WHERE checkout_id = $3 AND status = 'pending_payment'")
            .bind(checkout_status)
            .bind(Timestamp::now().0)
            .bind(checkout_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE payment SET status = 'cancelled', updated_at = $1 WHERE checkout_id = $2 AND status IN ('requires_payment', 'requires_action', 'processing')",
        )
        .bind(Timestamp::now().0)
        .bind(checkout_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        for (id, p) in moved {
            self.push_order(&id, OrderStatus::Cancelled.as_str(), &p.customer_id, &p.dealer_id).await;
        }
        Ok(())
    }

    /// Refunds a checkout's whole payment if it succeeded but its orders were cancelled unpaid.
    pub(crate) async fn refund_if_paid(&self, checkout_id: &str) -> Result<(), OrdersError> {
        let row: Option<(String, Option<String>, i64, String, i64)> = sqlx::query_as(
            "SELECT payment_id, provider_ref, amount_minor, currency, refunded_minor FROM payment WHERE checkout_id = $1 AND status = 'succeeded'",
        )
        .bind(checkout_id)
        .fetch_optional(self.db().reader())
        .await?;
        let Some((payment_id, Some(intent), amount, currency, refunded)) = row else { return Ok(()) };
        if refunded >= amount {
            return Ok(());
        }
        let currency = kernel::Currency::parse(&currency).map_err(|e| OrdersError::Internal(e.to_string()))?;
        let req = RefundRequest { provider_ref: intent, amount: Money::new(amount, currency), idempotency_key: format!("bespoke-late-{payment_id}"), order_id: String::new() };
        self.inner.provider.refund(&req).await.map_err(|e| OrdersError::Provider(e.to_string()))?;
        sqlx::query("UPDATE payment SET refunded_minor = amount_minor, updated_at = $1 WHERE payment_id = $2").bind(Timestamp::now().0).bind(&payment_id).execute(self.db().writer()).await?;
        Ok(())
    }

    /// The payment succeeded: orders become paid, the stock sold, the dealers' balances credited (as
    /// pending), the cart emptied of what was bought. Idempotent: a repeat finds the checkout paid.
    pub(crate) async fn confirm_checkout(&self, checkout_id: &str) -> Result<(), OrdersError> {
        self.maybe_crash("confirm");
        let mut tx = self.db().begin().await?;
        let now = Timestamp::now().0;
        let n = sqlx::query("UPDATE checkout SET status = 'paid', updated_at = $1 WHERE checkout_id = $2 AND status = 'pending_payment'")
            .bind(now)
            .bind(checkout_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM checkout WHERE checkout_id = $1").bind(checkout_id).fetch_optional(&mut *tx).await?;
            return match status.as_deref() {
                Some("paid") => Ok(()),
                other => Err(OrdersError::Conflict(format!("checkout is {other:?}, not awaiting payment"))),
            };
        }
        let orders = sqlx::query("SELECT order_id, number, dealer_id, customer_id, total_minor, commission_minor, currency FROM customer_order WHERE checkout_id = $1")
            .bind(checkout_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut pushes = Vec::new();
        for o in &orders {
            let order_id: String = o.try_get(0)?;
            let number: String = o.try_get(1)?;
            let dealer_id: String = o.try_get(2)?;
            let customer_id: String = o.try_get(3)?;
            let total: i64 = o.try_get(4)?;
            let commission: i64 = o.try_get(5)?;
            let currency: String = o.try_get(6)?;
            // placed → paid without a second event: OrderPaid below is the event of this move
            sqlx::query("UPDATE customer_order SET status = 'paid', updated_at = $1 WHERE order_id = $2 AND status = 'placed'")
                .bind(now)
                .bind(&order_id)
                .execute(&mut *tx)
                .await?;
            add_timeline(&mut tx, &order_id, OrderStatus::Paid, "payment received", now).await?;
            inventory::commit(&mut tx, &order_id).await?;
            sqlx::query(
                "INSERT INTO ledger_entry (ledger_entry_id, dealer_id, order_id, order_number, gross_minor, commission_minor, net_minor, currency, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)",
            )
            .bind(new_id())
            .bind(&dealer_id)
            .bind(&order_id)
            .bind(&number)
            .bind(total)
            .bind(commission)
            .bind(total - commission)
            .bind(&currency)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let lines = sqlx::query("SELECT product_id, selections, quantity, quote_id FROM order_line WHERE order_id = $1").bind(&order_id).fetch_all(&mut *tx).await?;
            let mut product_ids = Vec::new();
            let mut count = 0;
            for l in &lines {
                let product_id: String = l.try_get(0)?;
                let sel: Vec<catalog::Selection> = serde_json::from_str(&l.try_get::<String, _>(1)?).unwrap_or_default();
                count += l.try_get::<i64, _>(2)?;
                let key = match l.try_get::<Option<String>, _>(3)? {
                    Some(q) => format!("quote:{q}"),
                    None => selections_key(&sel),
                };
                sqlx::query("DELETE FROM cart_item WHERE owner = $1 AND product_id = $2 AND selections_key = $3")
                    .bind(CartOwner::User(customer_id.clone()).key())
                    .bind(&product_id)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                product_ids.push(product_id);
            }
            let ev = OrderPaid {
                order_id: order_id.clone(),
                number,
                dealer_id: dealer_id.clone(),
                customer_id: customer_id.clone(),
                total: money(total, &currency).display,
                item_count: count,
                product_ids,
            };
            outbox::append(&mut tx, &outbox::Envelope::of(&ev)).await?;
            pushes.push((order_id, customer_id, dealer_id));
        }
        tx.commit().await?;
        for (id, c, d) in pushes {
            self.push_order(&id, "paid", &c, &d).await;
        }
        Ok(())
    }

    /// Applies a provider webhook: verified from the raw body, applied once per event id.
    pub async fn apply_webhook(&self, provider: &str, signature: Option<&str>, body: &[u8]) -> Result<WebhookOutcome, WebhookError> {
        if provider != self.inner.provider.name() {
            return Err(WebhookError::BadPayload(format!("this deployment takes {} webhooks, not {provider}", self.inner.provider.name())));
        }
        payments::verify_signature(signature, body, &self.inner.provider.webhook_secrets(), Timestamp::now().unix_seconds())?;
        let event = payments::parse_event(body)?;
        let internal = |e: sqlx::Error| WebhookError::BadPayload(format!("could not be stored now ({e}); retry"));
        let mut tx = self.db().begin().await.map_err(internal)?;
        let fresh = sqlx::query("INSERT INTO webhook_event (provider, event_id, event_type, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING")
            .bind(provider)
            .bind(&event.id)
            .bind(&event.event_type)
            .bind(Timestamp::now().0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected()
            == 1;
        if !fresh {
            return Ok(WebhookOutcome::Duplicate);
        }
        let mut late = false;
        let mut checkout = None;
        let outcome = match &event.kind {
            WebhookKind::Intent { intent_id, status } => {
                let row = sqlx::query("SELECT p.payment_id, p.checkout_id, c.status FROM payment p JOIN checkout c ON c.checkout_id = p.checkout_id WHERE p.provider_ref = $1")
                    .bind(intent_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(internal)?;
                match row {
                    None => WebhookOutcome::Ignored,
                    Some(r) => {
                        let payment_id: String = r.try_get(0).map_err(internal)?;
                        let checkout_id: String = r.try_get(1).map_err(internal)?;
                        let checkout_status: String = r.try_get(2).map_err(internal)?;
                        let failure = match status {
                            IntentStatus::Failed(f) => Some(f.clone()),
                            _ => None,
                        };
                        // forward only: a settled payment never moves back; a cancelled one may still succeed late
                        let from = if *status == IntentStatus::Succeeded {
                            "'requires_payment', 'requires_action', 'processing', 'failed', 'cancelled'"
                        } else {
                            "'requires_payment', 'requires_action', 'processing'"
                        };
                        let n = sqlx::query(&format!(
                            "UPDATE payment SET status = $1, failure_reason = COALESCE($2, failure_reason), updated_at = $3 WHERE payment_id = $4 AND status IN ({from})"
                        ))
                        .bind(status.column())
                        .bind(failure)
                        .bind(Timestamp::now().0)
                        .bind(&payment_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(internal)?
                        .rows_affected();
                        late = n == 1 && *status == IntentStatus::Succeeded && checkout_status != "pending_payment" && checkout_status != "paid";
                        checkout = Some(checkout_id);
                        WebhookOutcome::Applied
                    }
                }
            }
            WebhookKind::Refunded { refund_id, .. } => {
                if let Some(rid) = refund_id {
                    sqlx::query("UPDATE refund SET status = 'succeeded', updated_at = $1 WHERE provider_ref = $2")
                        .bind(Timestamp::now().0)
                        .bind(rid)
                        .execute(&mut *tx)
                        .await
                        .map_err(internal)?;
                }
                WebhookOutcome::Applied
            }
            WebhookKind::Ignored => WebhookOutcome::Ignored,
        };
        tx.commit().await.map_err(internal)?;
        if let Some(c) = checkout {
            self.nudge_checkout(&c).await;
            if late {
                // the money arrived after the checkout was given up: give it back (the saga's path)
                tracing::warn!(checkout_id = %c, "payment succeeded after its checkout ended; refunding");
                if let Err(e) = self.refund_if_paid(&c).await {
                    tracing::error!(error = %e, "refunding a late payment failed; refund it by hand");
                }
            }
        }
        Ok(outcome)
    }
}

/// The checkout saga: hold stock (done with the checkout) → await the payment → confirm.
pub(crate) fn checkout_saga(orders: &Orders) -> SagaDef {
    let steps: Vec<Arc<dyn Step>> = vec![
        Arc::new(HoldStock(orders.clone())),
        Arc::new(AwaitPayment(orders.clone())),
        Arc::new(Confirm(orders.clone())),
    ];
    SagaDef {
        saga_type: CHECKOUT_SAGA,
        steps,
        timeout: Some(orders.inner.cfg.reservation_ttl),
        max_attempts: 1000,
        retry_delay: orders.inner.cfg.payment_poll,
    }
}

fn checkout_id(state: &Value) -> String {
    state["checkout_id"].as_str().unwrap_or_default().to_owned()
}

struct HoldStock(Orders);
struct AwaitPayment(Orders);
struct Confirm(Orders);

impl Step for HoldStock {
    fn name(&self) -> &'static str {
        "hold_stock"
    }
    fn run<'a>(&'a self, _state: &'a mut Value) -> BoxFuture<'a, StepOutcome> {
        // the stock was held in the checkout's own transaction
        Box::pin(async { StepOutcome::Done })
    }
    fn compensate<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let (status, reason) = match state["failure"].as_str() {
                Some(f) => ("failed", format!("payment failed: {f}")),
                None => ("expired", "the payment was not completed in time".to_owned()),
            };
            let id = checkout_id(state);
            self.0.release_checkout(&id, status, &reason).await.map_err(|e| e.to_string())?;
            // a payment that succeeded after all (e.g. the deadline passed while confirming) goes back
            self.0.refund_if_paid(&id).await.map_err(|e| e.to_string())
        })
    }
}

impl Step for AwaitPayment {
    fn name(&self) -> &'static str {
        "await_payment"
    }
    fn run<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            let id = checkout_id(state);
            if let Err(e) = self.0.ensure_intent(&id).await {
                return StepOutcome::Retry(e.to_string());
            }
            let row: Result<Option<(String, Option<String>)>, _> =
                sqlx::query_as("SELECT status, failure_reason FROM payment WHERE checkout_id = $1").bind(&id).fetch_optional(self.0.db().reader()).await;
            match row {
                Ok(Some((s, _))) if s == "succeeded" => StepOutcome::Done,
                Ok(Some((s, why))) if s == "failed" || s == "cancelled" => {
                    let why = why.unwrap_or_else(|| "the payment did not go through".into());
                    state["failure"] = Value::String(why.clone());
                    StepOutcome::Fail(why)
                }
                Ok(Some(_)) => StepOutcome::Retry("waiting for the payment".into()),
                Ok(None) => StepOutcome::Fail("no payment for this checkout".into()),
                Err(e) => StepOutcome::Retry(e.to_string()),
            }
        })
    }
    fn compensate<'a>(&'a self, _state: &'a mut Value) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

impl Step for Confirm {
    fn name(&self) -> &'static str {
        "confirm"
    }
    fn run<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            match self.0.confirm_checkout(&checkout_id(state)).await {
                Ok(()) => StepOutcome::Done,
                Err(e) => StepOutcome::Retry(e.to_string()),
            }
        })
    }
    fn compensate<'a>(&'a self, _state: &'a mut Value) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::commission;

    #[test]
    fn commission_rounds_half_up_in_minor_units() {
        assert_eq!(commission(10_000, 1000), 1000);
        assert_eq!(commission(1_995, 1000), 200); // 199.5 → 200
        assert_eq!(commission(1_994, 1000), 199);
        assert_eq!(commission(0, 1000), 0);
        assert_eq!(commission(12_345, 0), 0);
    }
}
