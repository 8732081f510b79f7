//! The sandbox provider: a stand-in for a card processor that works fully offline. It keeps its own
//! books (`sandbox_*` tables, as an outside provider would), takes only test cards, and tells us what
//! happened the way Stripe does: signed webhooks POSTed to our own endpoint, retried until
//! acknowledged.
//!
//! Test cards: `4242 4242 4242 4242` succeeds, `4000 0000 0000 0002` is declined,
//! `4000 0000 0000 9995` is declined for insufficient funds, `4000 0025 0000 3155` requires an
//! authentication step (approve or fail it on the sandbox's challenge).

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use kernel::{events::BoxFuture, Db, Timestamp};
use serde_json::json;
use sqlx::Row;

use super::{ClientConfig, Intent, IntentRequest, IntentStatus, PaymentProvider, ProviderError, RefundRequest, RefundResult};
use crate::OrdersError;

pub const CARD_SUCCESS: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";
pub const CARD_REQUIRES_ACTION: &str = "4000002500003155";

#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    secret: String,
    endpoint: OnceLock<String>,
    http: reqwest::Client,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SandboxIntent {
    pub id: String,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub checkout_id: String,
    pub last4: Option<String>,
    pub failure: Option<String>,
}


impl Sandbox {
    pub fn new(db: Db, webhook_secret: String) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self { inner: Arc::new(Inner { db, secret: webhook_secret, endpoint: OnceLock::new(), http }) }
    }

    /// Where webhooks go (our own `/api/v1/payments/webhooks/sandbox`), known once the server listens.
    pub fn set_webhook_endpoint(&self, url: String) {
        let _ = self.inner.endpoint.set(url);
    }

    pub async fn intent(&self, intent_id: &str) -> Result<SandboxIntent, OrdersError> {
        let r = sqlx::query("SELECT intent_id, status, amount_minor, currency, checkout_id, last4, failure FROM sandbox_intent WHERE intent_id = $1")
            .bind(intent_id)
            .fetch_optional(self.inner.db.reader())
            .await?
            .ok_or(OrdersError::NotFound)?;
        Ok(SandboxIntent {
            id: r.try_get(0)?,
            status: r.try_get(1)?,
            amount_minor: r.try_get(2)?,
            currency: r.try_get(3)?,
            checkout_id: r.try_get(4)?,
            last4: r.try_get(5)?,
            failure: r.try_get(6)?,
        })
    }

    async fn check_secret(&self, intent_id: &str, client_secret: &str) -> Result<String, OrdersError> {
        let row = sqlx::query("SELECT client_secret, status FROM sandbox_intent WHERE intent_id = $1")
            .bind(intent_id)
            .fetch_optional(self.inner.db.reader())
            .await?
            .ok_or(OrdersError::NotFound)?;
        let secret: String = row.try_get(0)?;
        if !kernel::constant_time_eq(secret.as_bytes(), client_secret.as_bytes()) {
            return Err(OrdersError::invalid("client_secret", "the client secret does not belong to this payment"));
        }
        Ok(row.try_get(1)?)
    }

    /// The page's "Pay" with a card number (the sandbox's version of Stripe.js' confirmPayment).
    pub async fn confirm(&self, intent_id: &str, client_secret: &str, card_number: &str) -> Result<SandboxIntent, OrdersError> {
        let status = self.check_secret(intent_id, client_secret).await?;
        let card: String = card_number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if !card.chars().all(|c| c.is_ascii_digit()) || !(12..=19).contains(&card.len()) {
            return Err(OrdersError::invalid("card_number", "enter the card number with digits only"));
        }
        let (next, failure) = match card.as_str() {
            CARD_SUCCESS => ("succeeded", None),
            CARD_DECLINED => ("requires_payment_method", Some("Your card was declined.")),
            CARD_INSUFFICIENT_FUNDS => ("requires_payment_method", Some("Your card has insufficient funds.")),
            CARD_REQUIRES_ACTION => ("requires_action", None),
            _ => {
                return Err(OrdersError::invalid(
                    "card_number",
                    "the sandbox takes only test cards: 4242 4242 4242 4242 (success), 4000 0000 0000 0002 (declined), 4000 0025 0000 3155 (authentication)",
                ))
            }
        };
        match status.as_str() {
            "succeeded" => return Err(OrdersError::Conflict("this payment has already succeeded".into())),
            "canceled" => return Err(OrdersError::Conflict("this payment was cancelled".into())),
            "requires_action" => return Err(OrdersError::Conflict("this payment is waiting for authentication".into())),
            _ => {}
        }
        let last4: String = card.chars().skip(card.len() - 4).collect();
        let event_type = match (next, failure) {
            ("succeeded", _) => "payment_intent.succeeded",
            ("requires_action", _) => "payment_intent.requires_action",
            _ => "payment_intent.payment_failed",
        };
        self.transition(intent_id, &["requires_payment_method"], next, Some(&last4), failure, event_type).await
    }

    /// The challenge page's answer for a "requires action" card.
    pub async fn authenticate(&self, intent_id: &str, client_secret: &str, approve: bool) -> Result<SandboxIntent, OrdersError> {
        let status = self.check_secret(intent_id, client_secret).await?;
        if status != "requires_action" {
            return Err(OrdersError::Conflict("this payment is not waiting for authentication".into()));
        }
        if approve {
            self.transition(intent_id, &["requires_action"], "succeeded", None, None, "payment_intent.succeeded").await
        } else {
            let why = Some("The customer failed authentication.");
            self.transition(intent_id, &["requires_action"], "requires_payment_method", None, why, "payment_intent.payment_failed").await
        }
    }

    async fn transition(
        &self,
        intent_id: &str,
        from: &[&str],
        to: &str,
        last4: Option<&str>,
        failure: Option<&str>,
        event_type: &str,
    ) -> Result<SandboxIntent, OrdersError> {
        let mut tx = self.inner.db.begin().await?;
        let list: Vec<String> = from.iter().map(|s| format!("'{s}'")).collect();
        let n = sqlx::query(&format!(
            "UPDATE sandbox_intent SET status = $1, last4 = COALESCE($2, last4), failure = $3, updated_at = $4 WHERE intent_id = $5 AND status IN ({})",
            list.join(", ")
        ))
        .bind(to)
        .bind(last4)
        .bind(failure)
        .bind(Timestamp::now().0)
        .bind(intent_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(OrdersError::Conflict("this payment changed meanwhile; reload the page".into()));
        }
        let r = sqlx::query("SELECT amount_minor, currency, checkout_id FROM sandbox_intent WHERE intent_id = $1").bind(intent_id).fetch_one(&mut *tx).await?;
        let (amount, currency, checkout_id): (i64, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let mut object = json!({
            "id": intent_id, "object": "payment_intent", "status": to, "amount": amount,
            "currency": currency.to_ascii_lowercase(), "metadata": { "checkout_id": checkout_id },
        });
        if let Some(f) = failure {
            object["last_payment_error"] = json!({ "message": f, "code": "card_declined" });
        }
        enqueue_webhook(&mut tx, event_type, object).await?;
        tx.commit().await?;
        self.kick();
        self.intent(intent_id).await
    }

    /// Delivers due webhooks now, in the background.
    fn kick(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            this.deliver_pending().await;
        });
    }

    /// POSTs every due webhook to our endpoint, signed; failures are retried with backoff. Returns
    /// how many were acknowledged.
    pub async fn deliver_pending(&self) -> usize {
        let Some(endpoint) = self.inner.endpoint.get().cloned() else { return 0 };
        let now = Timestamp::now();
        let due = match sqlx::query(
            "SELECT event_id, payload, attempts FROM sandbox_webhook WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY created_at LIMIT 50",
        )
        .bind(now.0)
        .fetch_all(self.inner.db.reader())
        .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "sandbox: reading webhooks failed");
                return 0;
            }
        };
        let mut ok = 0;
        for r in due {
            let (Ok(id), Ok(payload), Ok(attempts)) = (r.try_get::<String, _>(0), r.try_get::<String, _>(1), r.try_get::<i64, _>(2)) else { continue };
            let t = Timestamp::now().unix_seconds();
            let sig = format!("t={t},v1={}", super::sign(&self.inner.secret, t, payload.as_bytes()));
            let res = self
                .inner
                .http
                .post(&endpoint)
                .header("content-type", "application/json")
                .header("stripe-signature", sig)
                .body(payload)
                .send()
                .await;
            let delivered = matches!(&res, Ok(r) if r.status().is_success());
            if !delivered {
                tracing::warn!(event_id = %id, result = ?res.as_ref().map(|r| r.status()), "sandbox: webhook not acknowledged; will retry");
            }
            let q = if delivered {
                sqlx::query("UPDATE sandbox_webhook SET delivered_at = $1, attempts = attempts + 1 WHERE event_id = $2 AND delivered_at IS NULL")
                    .bind(Timestamp::now().0)
                    .bind(&id)
            } else {
                let backoff = Duration::from_secs(1u64 << attempts.clamp(0, 6));
                sqlx::query("UPDATE sandbox_webhook SET next_attempt_at = $1, attempts = attempts + 1 WHERE event_id = $2")
                    .bind(Timestamp::now().plus(backoff).0)
                    .bind(&id)
            };
            if let Err(e) = q.execute(self.inner.db.writer()).await {
                tracing::warn!(error = %e, "sandbox: recording a delivery failed");
            }
            ok += usize::from(delivered);
        }
        ok
    }

    /// Retries webhook deliveries until `stop`.
    pub async fn run(self, stop: Arc<tokio::sync::Notify>) {
        loop {
            self.deliver_pending().await;
            tokio::select! {
                _ = stop.notified() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

async fn enqueue_webhook(tx: &mut kernel::Tx, event_type: &str, object: serde_json::Value) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    let id = format!("evt_sbx_{}", kernel::ids::random_hex(12));
    let body = json!({ "id": id, "object": "event", "type": event_type, "created": now.unix_seconds(), "data": { "object": object } });
    sqlx::query("INSERT INTO sandbox_webhook (event_id, payload, attempts, next_attempt_at, created_at) VALUES ($1, $2, 0, $3, $3)")
        .bind(&id)
        .bind(body.to_string())
        .bind(now.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn unavailable(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable(e.to_string())
}

impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn client_config(&self) -> ClientConfig {
        ClientConfig { provider: "sandbox", publishable_key: None }
    }

    fn create_intent<'a>(&'a self, req: &'a IntentRequest) -> BoxFuture<'a, Result<Intent, ProviderError>> {
        Box::pin(async move {
            let now = Timestamp::now().0;
            let id = format!("pi_sbx_{}", kernel::ids::random_hex(12));
            let secret = format!("{id}_secret_{}", kernel::ids::random_hex(16));
            sqlx::query(
                "INSERT INTO sandbox_intent (intent_id, idempotency_key, client_secret, amount_minor, currency, checkout_id, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'requires_payment_method', $7, $7) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&id)
            .bind(&req.idempotency_key)
            .bind(&secret)
            .bind(req.amount.minor)
            .bind(req.amount.currency.code())
            .bind(&req.checkout_id)
            .bind(now)
            .execute(self.inner.db.writer())
            .await
            .map_err(unavailable)?;
            // like Stripe: the same key returns the first intent, and refuses different parameters
            let r = sqlx::query("SELECT intent_id, client_secret, status, amount_minor, currency, failure FROM sandbox_intent WHERE idempotency_key = $1")
                .bind(&req.idempotency_key)
                .fetch_one(self.inner.db.writer())
                .await
                .map_err(unavailable)?;
            let (amount, currency): (i64, String) = (r.try_get(3).map_err(unavailable)?, r.try_get(4).map_err(unavailable)?);
            if amount != req.amount.minor || currency != req.amount.currency.code() {
                return Err(ProviderError::Refused("idempotency key reused with different parameters".into()));
            }
            let status: String = r.try_get(2).map_err(unavailable)?;
            Ok(Intent {
                provider_ref: r.try_get(0).map_err(unavailable)?,
                client_secret: r.try_get(1).map_err(unavailable)?,
                status: IntentStatus::from_stripe(&status, r.try_get(5).map_err(unavailable)?),
            })
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, Result<RefundResult, ProviderError>> {
        Box::pin(async move {
            let mut tx = self.inner.db.begin().await.map_err(unavailable)?;
            let intent = sqlx::query("SELECT status, amount_minor, currency FROM sandbox_intent WHERE intent_id = $1")
                .bind(&req.provider_ref)
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| ProviderError::Refused(format!("no such payment {}", req.provider_ref)))?;
            let status: String = intent.try_get(0).map_err(unavailable)?;
            if status != "succeeded" {
                return Err(ProviderError::Refused("only a succeeded payment can be refunded".into()));
            }
            let existing: Option<String> = sqlx::query_scalar("SELECT refund_id FROM sandbox_refund WHERE idempotency_key = $1")
                .bind(&req.idempotency_key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?;
            if let Some(refund_ref) = existing {
                return Ok(RefundResult { refund_ref, succeeded: true });
            }
            let refunded: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(amount_minor) AS BIGINT) FROM sandbox_refund WHERE intent_id = $1")
                .bind(&req.provider_ref)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
            let amount: i64 = intent.try_get(1).map_err(unavailable)?;
            if refunded.unwrap_or(0) + req.amount.minor > amount {
                return Err(ProviderError::Refused("the refund exceeds what is left of the payment".into()));
            }
            let refund_ref = format!("re_sbx_{}", kernel::ids::random_hex(12));
            sqlx::query("INSERT INTO sandbox_refund (refund_id, idempotency_key, intent_id, amount_minor, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&refund_ref)
                .bind(&req.idempotency_key)
                .bind(&req.provider_ref)
                .bind(req.amount.minor)
                .bind(Timestamp::now().0)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            let object = json!({ "id": refund_ref, "object": "refund", "status": "succeeded", "amount": req.amount.minor, "payment_intent": req.provider_ref, "metadata": { "order_id": req.order_id } });
            enqueue_webhook(&mut tx, "refund.created", object).await.map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
            self.kick();
            Ok(RefundResult { refund_ref, succeeded: true })
        })
    }

    fn webhook_secrets(&self) -> Vec<String> {
        vec![self.inner.secret.clone()]
    }
}
