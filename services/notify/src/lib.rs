//! Notifications: what the product tells people, built from other services' events. Two consumers:
//! `notify.inbox` writes in-app notifications; `notify.mail` sends mail through a pluggable
//! [`Mailer`] (the default records the mail and writes it to the log). Neither is called by another
//! service: they only react to events.

mod db;

use std::sync::Arc;

use kernel::{
    events::{BoxFuture, Consumer, StoredEvent},
    hub::Hub,
    Db, Tx,
};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub read: bool,
    pub created_at: String,
}


/// What an event means for a person, if anything.
pub(crate) struct Message {
    pub(crate) account_id: String,
    pub(crate) kind: &'static str,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) link: Option<&'static str>,
}

fn str_field<'a>(e: &'a StoredEvent, key: &str) -> Option<&'a str> {
    e.payload.get(key).and_then(|v| v.as_str())
}

fn message_for(e: &StoredEvent) -> Option<Message> {
    match e.event_type.as_str() {
        "accounts.UserRegistered" => {
            let dealer = str_field(e, "role") == Some("dealer");
            Some(Message {
                account_id: str_field(e, "user_id")?.to_owned(),
                kind: "welcome",
                title: if dealer { "Your dealer application is in".into() } else { "Welcome to Bespoke".into() },
                body: if dealer {
                    "An admin reviews every new store. We'll tell you here as soon as yours is approved.".into()
                } else {
                    "Browse, buy, and commission custom work directly from independent dealers.".into()
                },
                link: Some(if dealer { "/dealer" } else { "/" }),
            })
        }
        "accounts.DealerApproved" => Some(Message {
            account_id: str_field(e, "dealer_id")?.to_owned(),
            kind: "dealer_approved",
            title: "Your store is approved".into(),
            body: "You can now publish listings and take orders.".into(),
            link: Some("/dealer"),
        }),
        "accounts.DealerRejected" => Some(Message {
            account_id: str_field(e, "dealer_id")?.to_owned(),
            kind: "dealer_rejected",
            title: "Your store was not approved".into(),
            body: format!("Reason: {}", str_field(e, "reason").unwrap_or("none given")),
            link: Some("/dealer"),
        }),
        "accounts.MfaEnabled" => Some(Message {
            account_id: str_field(e, "user_id")?.to_owned(),
            kind: "security",
            title: "Two-factor authentication is on".into(),
            body: "If this wasn't you, change your password and sign out everywhere.".into(),
            link: Some("/account"),
        }),
        "accounts.MfaDisabled" => Some(Message {
            account_id: str_field(e, "user_id")?.to_owned(),
            kind: "security",
            title: "Two-factor authentication was turned off".into(),
            body: "If this wasn't you, change your password and sign out everywhere.".into(),
            link: Some("/account"),
        }),
        "orders.OrderPaid" => Some(Message {
            account_id: str_field(e, "dealer_id")?.to_owned(),
            kind: "order",
            title: format!("New order {}", str_field(e, "number")?),
            body: format!(
                "{} item(s), {} — paid. Accept it or decline it from your order queue.",
                e.payload.get("item_count").and_then(|v| v.as_i64()).unwrap_or(0),
                str_field(e, "total").unwrap_or("")
            ),
            link: Some("/dealer/orders"),
        }),
        "orders.OrderStatusChanged" => {
            let status = str_field(e, "status")?;
            let number = str_field(e, "number")?;
            let (title, body) = match status {
                "accepted" => (format!("Order {number} was accepted"), "The maker is preparing it.".to_owned()),
                "in_production" => (format!("Order {number} is in production"), "Your piece is being made.".to_owned()),
                "shipped" => (format!("Order {number} has shipped"), format!("Tracking: {}", str_field(e, "note").unwrap_or(""))),
                "delivered" => (format!("Order {number} was delivered"), "Enjoy it — and tell others what you think with a review.".to_owned()),
                "declined" => (format!("Order {number} was declined"), "You will be refunded in full.".to_owned()),
                "refunded" => (format!("Order {number} was refunded"), "The money is on its way back to your card.".to_owned()),
                "cancelled" => (format!("Order {number} was cancelled"), str_field(e, "note").unwrap_or("").to_owned()),
                _ => return None,
            };
            Some(Message { account_id: str_field(e, "customer_id")?.to_owned(), kind: "order", title, body, link: Some("/orders") })
        }
        "customization.CustomizationRequested" => Some(Message {
            account_id: str_field(e, "dealer_id")?.to_owned(),
            kind: "custom_request",
            title: "New custom request".into(),
            body: "A customer asks for custom work on one of your listings. Answer or send a quote from your requests inbox.".into(),
            link: Some("/dealer/requests"),
        }),
        "customization.MessagePosted" => Some(Message {
            account_id: str_field(e, "recipient_id")?.to_owned(),
            kind: "custom_message",
            title: "New message about custom work".into(),
            body: "Open the conversation to read and answer it.".into(),
            link: Some("/requests"),
        }),
        "customization.QuoteOffered" => Some(Message {
            account_id: str_field(e, "customer_id")?.to_owned(),
            kind: "custom_quote",
            title: format!("You have a quote: {}", str_field(e, "price").unwrap_or("")),
            body: "Accept it to put the piece in your cart at the quoted price, or answer the maker.".into(),
            link: Some("/requests"),
        }),
        "customization.QuoteCountered" => Some(Message {
            account_id: str_field(e, "dealer_id")?.to_owned(),
            kind: "custom_quote",
            title: format!("A counter-offer: {}", str_field(e, "price").unwrap_or("")),
            body: "The customer proposes another price. Answer with a new quote or a message.".into(),
            link: Some("/dealer/requests"),
        }),
        "customization.RequestDeclined" => Some(Message {
            account_id: str_field(e, "customer_id")?.to_owned(),
            kind: "custom_request",
            title: "The maker declined your request".into(),
            body: str_field(e, "reason").filter(|r| !r.is_empty()).unwrap_or("No reason was given.").to_owned(),
            link: Some("/requests"),
        }),
        "catalog.ListingModerated" => Some(match str_field(e, "reason") {
            Some(reason) => Message {
                account_id: str_field(e, "dealer_id")?.to_owned(),
                kind: "listing_moderated",
                title: format!("\u{201c}{}\u{201d} was unlisted by moderation", str_field(e, "title").unwrap_or("A listing")),
                body: format!("Reason: {reason}. It stays hidden until support restores it."),
                link: Some("/dealer"),
            },
            None => Message {
                account_id: str_field(e, "dealer_id")?.to_owned(),
                kind: "listing_moderated",
                title: format!("\u{201c}{}\u{201d} was restored", str_field(e, "title").unwrap_or("A listing")),
                body: "It is back in your drafts: publish it when you are ready.".into(),
                link: Some("/dealer"),
            },
        }),
        _ => None,
    }
}

const SUBSCRIPTIONS: [&str; 13] = [
    "catalog.ListingModerated",
    "customization.QuoteCountered",
    "customization.RequestDeclined",
    "customization.CustomizationRequested",
    "customization.MessagePosted",
    "customization.QuoteOffered",
    "accounts.UserRegistered",
    "accounts.DealerApproved",
    "accounts.DealerRejected",
    "accounts.MfaEnabled",
    "accounts.MfaDisabled",
    "orders.OrderPaid",
    "orders.OrderStatusChanged",
];

/// Writes in-app notifications and pushes a "new notification" signal to the person's open pages.
pub struct InboxConsumer {
    pub hub: Hub,
}

pub use kernel::hub::user_topic;

impl Consumer for InboxConsumer {
    fn name(&self) -> &'static str {
        "notify.inbox"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        SUBSCRIPTIONS.to_vec()
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(m) = message_for(event) else { return Ok(()) };
            db::insert_notification(tx, &m, &event.event_id).await.map_err(|e| format!("database: {e}"))?;
            Ok(())
        })
    }

    fn after_commit<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(m) = message_for(event) else { return };
            let push = serde_json::json!({ "type": "notification", "title": m.title }).to_string();
            if let Err(e) = self.hub.publish(&user_topic(&m.account_id), &push).await {
                tracing::warn!(error = %e, "notification push failed");
            }
        })
    }
}

/// Sends mail. Implementations must tolerate a repeat: delivery is at least once for anything
/// outside our database (a crash between sending and committing sends again).
pub trait Mailer: Send + Sync + 'static {
    fn send<'a>(&'a self, to_account: &'a str, subject: &'a str, body: &'a str) -> BoxFuture<'a, Result<(), String>>;
}

/// The default mailer: writes the mail to the log.
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send<'a>(&'a self, to_account: &'a str, subject: &'a str, body: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tracing::info!(to_account, subject, body, "mail");
            Ok(())
        })
    }
}

/// Drops each mail as an `.eml` file into a spool directory, for a mail transfer agent's pickup
/// (or a person, in development) to take from there. A missing or unwritable directory fails the
/// delivery, which the event backbone retries and, in the end, dead-letters for an admin to re-drive.
pub struct SpoolMailer {
    pub dir: std::path::PathBuf,
}

impl Mailer for SpoolMailer {
    fn send<'a>(&'a self, to_account: &'a str, subject: &'a str, body: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
            let text = format!("X-Bespoke-Account: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n", clean(to_account), clean(subject));
            let name = format!("{}.eml", kernel::ids::new_id());
            // write aside, then rename: a pickup agent never sees half a mail
            let tmp = self.dir.join(format!(".{name}.tmp"));
            tokio::fs::write(&tmp, text).await.map_err(|e| format!("mail spool {}: {e}", self.dir.display()))?;
            tokio::fs::rename(&tmp, self.dir.join(&name)).await.map_err(|e| format!("mail spool {}: {e}", self.dir.display()))
        })
    }
}

/// Mails people about decisions that concern them (dealer approval or rejection).
pub struct MailConsumer {
    pub mailer: Arc<dyn Mailer>,
}

impl Consumer for MailConsumer {
    fn name(&self) -> &'static str {
        "notify.mail"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        SUBSCRIPTIONS.to_vec()
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(m) = message_for(event) else { return Ok(()) };
            db::insert_sent_mail(tx, &m, &event.event_id).await.map_err(|e| format!("database: {e}"))?;
            self.mailer.send(&m.account_id, &m.title, &m.body).await
        })
    }
}

/// `notify.erasure`: an erased account's notifications and mail records go.
pub struct ErasureConsumer;

impl Consumer for ErasureConsumer {
    fn name(&self) -> &'static str {
        "notify.erasure"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        vec!["accounts.UserDeleted"]
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(user) = event.payload["user_id"].as_str() else { return Err("accounts.UserDeleted without user_id".into()) };
            for sql in ["DELETE FROM notification WHERE account_id = $1", "DELETE FROM sent_mail WHERE recipient_account_id = $1"] {
                sqlx::query(sql).bind(user).execute(&mut **tx).await.map_err(|e| format!("database: {e}"))?;
            }
            Ok(())
        })
    }
}

pub fn consumers(hub: Hub, mailer: Arc<dyn Mailer>) -> Vec<Arc<dyn Consumer>> {
    vec![Arc::new(InboxConsumer { hub }), Arc::new(MailConsumer { mailer }), Arc::new(ErasureConsumer)]
}

#[derive(Clone)]
pub struct Notifications {
    db: Db,
}

impl Notifications {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The newest notifications of `account_id` (the caller has authenticated it).
    pub async fn list(&self, account_id: &str, limit: i64) -> Result<Vec<Notification>, sqlx::Error> {
        db::list(self.db.reader(), account_id, limit.clamp(1, 200)).await
    }

    pub async fn unread_count(&self, account_id: &str) -> Result<i64, sqlx::Error> {
        db::unread_count(self.db.reader(), account_id).await
    }

    pub async fn mark_all_read(&self, account_id: &str) -> Result<u64, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let n = db::mark_all_read(&mut tx, account_id).await?;
        tx.commit().await?;
        Ok(n)
    }
}
