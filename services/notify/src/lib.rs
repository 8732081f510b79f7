//! Notifications: what the product tells people, built from other services' events. Two consumers:
//! `notify.inbox` writes in-app notifications; `notify.mail` sends mail through a pluggable
//! [`Mailer`] (the default records the mail and writes it to the log). Neither is called by another
//! service: they only react to events.

use std::sync::Arc;

use kernel::{
    events::{BoxFuture, Consumer, StoredEvent},
    hub::Hub,
    Db, Timestamp, Tx,
};
use serde::Serialize;
use sqlx::FromRow;

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

#[derive(FromRow)]
struct Row {
    notification_id: String,
    kind: String,
    title: String,
    body: String,
    link: Option<String>,
    read_at: Option<i64>,
    created_at: i64,
}

/// What an event means for a person, if anything.
struct Message {
    account_id: String,
    kind: &'static str,
    title: String,
    body: String,
    link: Option<&'static str>,
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
        _ => None,
    }
}

const SUBSCRIPTIONS: [&str; 5] =
    ["accounts.UserRegistered", "accounts.DealerApproved", "accounts.DealerRejected", "accounts.MfaEnabled", "accounts.MfaDisabled"];

/// Writes in-app notifications and pushes a "new notification" signal to the person's open pages.
pub struct InboxConsumer {
    pub hub: Hub,
}

/// The realtime topic of one person's pushes.
pub fn user_topic(account_id: &str) -> String {
    format!("user:{account_id}")
}

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
            let now = Timestamp::now().0;
            sqlx::query(
                "INSERT INTO notification (notification_id, account_id, kind, title, body, link, source_event_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&m.account_id)
            .bind(m.kind)
            .bind(&m.title)
            .bind(&m.body)
            .bind(m.link)
            .bind(&event.event_id)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| format!("database: {e}"))?;
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
            let now = Timestamp::now().0;
            sqlx::query(
                "INSERT INTO sent_mail (sent_mail_id, recipient_account_id, subject, body, source_event_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&m.account_id)
            .bind(&m.title)
            .bind(&m.body)
            .bind(&event.event_id)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| format!("database: {e}"))?;
            self.mailer.send(&m.account_id, &m.title, &m.body).await
        })
    }
}

pub fn consumers(hub: Hub, mailer: Arc<dyn Mailer>) -> Vec<Arc<dyn Consumer>> {
    vec![Arc::new(InboxConsumer { hub }), Arc::new(MailConsumer { mailer })]
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
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT notification_id, kind, title, body, link, read_at, created_at FROM notification \
             WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(limit.clamp(1, 200))
        .fetch_all(self.db.reader())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Notification {
                id: r.notification_id,
                kind: r.kind,
                title: r.title,
                body: r.body,
                link: r.link,
                read: r.read_at.is_some(),
                created_at: Timestamp(r.created_at).to_rfc3339(),
            })
            .collect())
    }

    pub async fn unread_count(&self, account_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM notification WHERE account_id = $1 AND read_at IS NULL")
            .bind(account_id)
            .fetch_one(self.db.reader())
            .await
    }

    pub async fn mark_all_read(&self, account_id: &str) -> Result<u64, sqlx::Error> {
        let now = Timestamp::now().0;
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("UPDATE notification SET read_at = $1, updated_at = $1 WHERE account_id = $2 AND read_at IS NULL")
            .bind(now)
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
