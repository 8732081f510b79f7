//! The customization service's events (docs/EVENTS.md).

use kernel::outbox::Event;
use serde::{Deserialize, Serialize};

macro_rules! thread_event {
    ($name:ident, $type:literal, { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Serialize, Deserialize)]
        pub struct $name {
            pub thread_id: String,
            $(pub $field: $ty,)*
        }

        impl Event for $name {
            const TYPE: &'static str = $type;
            fn aggregate_id(&self) -> String {
                self.thread_id.clone()
            }
        }
    };
}

thread_event!(CustomizationRequested, "customization.CustomizationRequested", { customer_id: String, dealer_id: String, product_id: String });
thread_event!(MessagePosted, "customization.MessagePosted", { seq: i64, author_id: String, recipient_id: String, kind: String });
thread_event!(QuoteOffered, "customization.QuoteOffered", { quote_id: String, customer_id: String, price: String, expires_at: String });
thread_event!(QuoteAccepted, "customization.QuoteAccepted", { quote_id: String, customer_id: String });
thread_event!(QuoteDeclined, "customization.QuoteDeclined", { quote_id: String });
thread_event!(QuoteCountered, "customization.QuoteCountered", { quote_id: String, dealer_id: String, price: String });
thread_event!(QuoteExpired, "customization.QuoteExpired", { quote_id: String });
thread_event!(RequestDeclined, "customization.RequestDeclined", { customer_id: String, reason: String });
