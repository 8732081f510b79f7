//! Stripe through async-stripe: PaymentIntents created with our Idempotency-Key (a retried create
//! returns the same intent), refunds with theirs, webhooks signed with the endpoint's secret(s).
//! Card data never reaches us: the page mounts Stripe's Payment Element with the intent's client
//! secret and the publishable key.

use std::collections::HashMap;

use kernel::{events::BoxFuture, Currency};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::{
    payment_intent::{CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods},
    refund::CreateRefund,
};

use super::{ClientConfig, Intent, IntentRequest, IntentStatus, PaymentProvider, ProviderError, RefundRequest, RefundResult};

#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    pub publishable_key: String,
    /// Every secret a webhook may be signed with (two during a rotation).
    pub webhook_secrets: Vec<String>,
    /// Stripe's API (`https://api.stripe.com/`), or a stand-in in tests.
    pub api_base: Option<String>,
}

pub struct StripeProvider {
    client: Client,
    settings: StripeSettings,
}

impl StripeProvider {
    pub fn new(settings: StripeSettings) -> Result<Self, String> {
        let mut b = ClientBuilder::new(&settings.secret_key);
        if let Some(base) = &settings.api_base {
            b = b.url(base.trim_end_matches('/'));
        }
        let client = b.build().map_err(|e| format!("Stripe client: {e}"))?;
        Ok(Self { client, settings })
    }
}

fn currency(c: Currency) -> stripe_types::Currency {
    match c {
        Currency::EUR => stripe_types::Currency::EUR,
        Currency::USD => stripe_types::Currency::USD,
        Currency::GBP => stripe_types::Currency::GBP,
    }
}

fn provider_error(e: StripeError) -> ProviderError {
    match e {
        StripeError::Stripe(err, status) if (400..500).contains(&status) && status != 429 => ProviderError::Refused(format!("{status}: {err:?}")),
        other => ProviderError::Unavailable(other.to_string()),
    }
}

fn key(k: &str) -> Result<RequestStrategy, ProviderError> {
    IdempotencyKey::new(k).map(RequestStrategy::Idempotent).map_err(|e| ProviderError::Refused(format!("idempotency key: {e}")))
}

impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn client_config(&self) -> ClientConfig {
        ClientConfig { provider: "stripe", publishable_key: Some(self.settings.publishable_key.clone()) }
    }

    fn create_intent<'a>(&'a self, req: &'a IntentRequest) -> BoxFuture<'a, Result<Intent, ProviderError>> {
        Box::pin(async move {
            let metadata = HashMap::from([("checkout_id".to_owned(), req.checkout_id.clone())]);
            let pi = CreatePaymentIntent::new(req.amount.minor, currency(req.amount.currency))
                .metadata(metadata)
                .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
                .customize()
                .request_strategy(key(&req.idempotency_key)?)
                .send(&self.client)
                .await
                .map_err(provider_error)?;
            Ok(Intent {
                provider_ref: pi.id.as_str().to_owned(),
                client_secret: pi.client_secret.unwrap_or_default(),
                status: IntentStatus::from_stripe(pi.status.as_str(), None),
            })
        })
    }

    fn refund<'a>(&'a self, req: &'a RefundRequest) -> BoxFuture<'a, Result<RefundResult, ProviderError>> {
        Box::pin(async move {
            let r = CreateRefund::new()
                .payment_intent(req.provider_ref.as_str())
                .amount(req.amount.minor)
                .customize()
                .request_strategy(key(&req.idempotency_key)?)
                .send(&self.client)
                .await
                .map_err(provider_error)?;
            let succeeded = r.status.as_deref() == Some("succeeded");
            Ok(RefundResult { refund_ref: r.id.as_str().to_owned(), succeeded })
        })
    }

    fn webhook_secrets(&self) -> Vec<String> {
        self.settings.webhook_secrets.clone()
    }
}
