//! Payments behind one trait, chosen by configuration: [`sandbox::Sandbox`] (the default, fully
//! offline: test cards, "requires action", refunds and webhooks delivered to our own endpoint) and
//! [`stripe::StripeProvider`] (PaymentIntents and refunds through async-stripe, Stripe's Payment
//! Element in the page). Both sign webhooks the same way (Stripe's scheme), and one verifier checks
//! them from the raw body.

pub mod sandbox;
pub mod stripe;

use hmac::{Hmac, Mac};
use kernel::{events::BoxFuture, Money};
use serde_json::Value;
use sha2::Sha256;

#[derive(Debug, Clone)]
pub struct IntentRequest {
    pub checkout_id: String,
    pub amount: Money,
    /// Sent as the provider's Idempotency-Key: a retried create returns the same intent.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentStatus {
    RequiresPayment,
    RequiresAction,
    Processing,
    Succeeded,
    Failed(String),
    Cancelled,
}

impl IntentStatus {
    /// Our `payment.status` column.
    pub fn column(&self) -> &'static str {
        match self {
            IntentStatus::RequiresPayment => "requires_payment",
            IntentStatus::RequiresAction => "requires_action",
            IntentStatus::Processing => "processing",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Failed(_) => "failed",
            IntentStatus::Cancelled => "cancelled",
        }
    }

    /// From a Stripe PaymentIntent status string.
    pub fn from_stripe(status: &str, failure: Option<String>) -> Self {
        match status {
            "succeeded" => IntentStatus::Succeeded,
            "requires_action" | "requires_confirmation" => IntentStatus::RequiresAction,
            "processing" | "requires_capture" => IntentStatus::Processing,
            "canceled" => IntentStatus::Cancelled,
            _ => match failure {
                Some(f) => IntentStatus::Failed(f),
                None => IntentStatus::RequiresPayment,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct Intent {
    pub provider_ref: String,
    pub client_secret: String,
    pub status: IntentStatus,
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub provider_ref: String,
    pub amount: Money,
    pub idempotency_key: String,
    pub order_id: String,
}

#[derive(Debug, Clone)]
pub struct RefundResult {
    pub refund_ref: String,
    pub succeeded: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying later (network, 5xx, rate limit).
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself.
    #[error("payment provider refused the request: {0}")]
    Refused(String),
}

/// What the page needs to show the payment form.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientConfig {
    pub provider: &'static str,
    pub publishable_key: Option<String>,
}

pub trait PaymentProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn client_config(&self) -> ClientConfig;
    fn create_intent<'a>(&'a self, req: &'a IntentRequest) -> BoxFuture<'a, Result<Intent, ProviderError>>;
    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, Result<RefundResult, ProviderError>>;
    /// The signing secrets webhooks of this provider may carry (during a rotation, more than one).
    fn webhook_secrets(&self) -> Vec<String>;
}

pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the Stripe-Signature header is missing")]
    MissingSignature,
    #[error("the Stripe-Signature header is malformed (expected t=<unix time>,v1=<hex hmac>)")]
    MalformedSignature,
    #[error("the webhook's timestamp is outside the 300 s tolerance")]
    StaleTimestamp,
    #[error("no v1 signature matches the body")]
    BadSignature,
    #[error("the webhook body is not an event: {0}")]
    BadPayload(String),
}

/// `t=…,v1=…[,v1=…]` → the timestamp and every v1 signature (other schemes are ignored, as Stripe
/// says to).
fn parse_signature_header(header: &str) -> Result<(i64, Vec<Vec<u8>>), WebhookError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else { return Err(WebhookError::MalformedSignature) };
        match k {
            "t" => t = Some(v.parse::<i64>().map_err(|_| WebhookError::MalformedSignature)?),
            "v1" => v1.push(hex::decode(v).map_err(|_| WebhookError::MalformedSignature)?),
            _ => {}
        }
    }
    match t {
        Some(t) if !v1.is_empty() => Ok((t, v1)),
        _ => Err(WebhookError::MalformedSignature),
    }
}

pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `Stripe-Signature` against the raw body: HMAC-SHA256 of `"{t}.{body}"` with any of
/// `secrets`, any of the header's v1 values, `t` within 300 s of `now`. Constant-time comparison.
pub fn verify_signature(header: Option<&str>, body: &[u8], secrets: &[String], now_unix: i64) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::MissingSignature)?;
    let (t, sigs) = parse_signature_header(header)?;
    if (now_unix - t).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(WebhookError::StaleTimestamp);
    }
    for secret in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { continue };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        for sig in &sigs {
            if mac.clone().verify_slice(sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(WebhookError::BadSignature)
}

/// A verified provider event, reduced to what we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookKind {
    Intent { intent_id: String, status: IntentStatus },
    Refunded { intent_id: String, refund_id: Option<String> },
    Ignored,
}

#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub id: String,
    pub event_type: String,
    pub kind: WebhookKind,
}

/// Parses a Stripe-format event (`{"id", "type", "data": {"object": …}}`).
pub fn parse_event(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    let id = v["id"].as_str().ok_or_else(|| WebhookError::BadPayload("no id".into()))?.to_owned();
    let event_type = v["type"].as_str().ok_or_else(|| WebhookError::BadPayload("no type".into()))?.to_owned();
    let obj = &v["data"]["object"];
    let kind = match event_type.as_str() {
        "payment_intent.succeeded"
        | "payment_intent.payment_failed"
        | "payment_intent.requires_action"
        | "payment_intent.processing"
        | "payment_intent.canceled" => {
            let intent_id = obj["id"].as_str().ok_or_else(|| WebhookError::BadPayload("no data.object.id".into()))?.to_owned();
            let failure = obj["last_payment_error"]["message"].as_str().map(str::to_owned).or_else(|| {
                (event_type == "payment_intent.payment_failed").then(|| "the payment failed".to_owned())
            });
            let status = match event_type.as_str() {
                "payment_intent.payment_failed" => IntentStatus::Failed(failure.unwrap_or_default()),
                _ => IntentStatus::from_stripe(obj["status"].as_str().unwrap_or(""), failure),
            };
            WebhookKind::Intent { intent_id, status }
        }
        "charge.refunded" => WebhookKind::Refunded {
            intent_id: obj["payment_intent"].as_str().ok_or_else(|| WebhookError::BadPayload("no payment_intent".into()))?.to_owned(),
            refund_id: None,
        },
        "refund.created" | "refund.updated" if obj["status"].as_str() == Some("succeeded") => WebhookKind::Refunded {
            intent_id: obj["payment_intent"].as_str().ok_or_else(|| WebhookError::BadPayload("no payment_intent".into()))?.to_owned(),
            refund_id: obj["id"].as_str().map(str::to_owned),
        },
        _ => WebhookKind::Ignored,
    };
    Ok(WebhookEvent { id, event_type, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","status":"succeeded"}}}"#;
        let secrets = vec!["whsec_a".to_owned()];
        let now = 1_700_000_000;
        let good = format!("t={now},v1={}", sign("whsec_a", now, body));
        assert_eq!(verify_signature(Some(&good), body, &secrets, now + 10), Ok(()));
        // either of two v1 values
        let two = format!("t={now},v1={},v1={}", sign("other", now, body), sign("whsec_a", now, body));
        assert_eq!(verify_signature(Some(&two), body, &secrets, now), Ok(()));
        // tampered body, wrong secret, stale, missing, malformed
        assert_eq!(verify_signature(Some(&good), b"{}", &secrets, now), Err(WebhookError::BadSignature));
        assert_eq!(verify_signature(Some(&good), body, &["whsec_b".to_owned()], now), Err(WebhookError::BadSignature));
        assert_eq!(verify_signature(Some(&good), body, &secrets, now + 301), Err(WebhookError::StaleTimestamp));
        assert_eq!(verify_signature(None, body, &secrets, now), Err(WebhookError::MissingSignature));
        assert_eq!(verify_signature(Some("v1=zz"), body, &secrets, now), Err(WebhookError::MalformedSignature));
        let e = parse_event(body).map(|e| e.kind);
        assert!(matches!(e, Ok(WebhookKind::Intent { status: IntentStatus::Succeeded, .. })));
    }
}
