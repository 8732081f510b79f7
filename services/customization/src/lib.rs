//! Customization: a customer asks a dealer for custom work on a listing; they talk in a thread
//! (live over WebSockets, stored for reference), the dealer answers with quotes, and an accepted
//! quote becomes a cart line at the quoted price that goes through the normal checkout.
//!
//! Messages are numbered per thread (1, 2, 3…): a client that reconnects with the last number it saw
//! gets exactly what it missed. Live delivery goes through the realtime hub (topic `thread:{id}`), so
//! on PostgreSQL the two participants may be connected to different instances.

mod erasure;
mod events;
mod frames;
pub use frames::ClientFrame;
pub use erasure::ErasureConsumer;

use std::sync::Arc;

use accounts::{Principal, Role};
use catalog::{Catalog, ImageStore, Selection};
use kernel::{crypto::Vault, hub::Hub, outbox, Currency, Db, Money, Timestamp};
use orders::Orders;
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub use events::*;

pub const MAX_MESSAGE_CHARS: usize = 2000;
pub const MAX_MESSAGES_PER_MINUTE: i64 = 30;
pub const PAGE: i64 = 50;
/// Reference images one person may add to one thread.
pub const MAX_ATTACHMENTS_PER_THREAD: i64 = 20;
pub use catalog::images::MAX_IMAGE_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum CustomError {
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("not found")]
    NotFound,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    #[error("too many messages: at most {MAX_MESSAGES_PER_MINUTE} a minute")]
    Throttled,
    #[error("internal error")]
    Internal(String),
}

impl From<sqlx::Error> for CustomError {
    fn from(e: sqlx::Error) -> Self {
        CustomError::Internal(format!("database: {e}"))
    }
}

impl From<orders::OrdersError> for CustomError {
    fn from(e: orders::OrdersError) -> Self {
        match e {
            orders::OrdersError::Internal(m) => CustomError::Internal(m),
            other => CustomError::Conflict(other.message()),
        }
    }
}

impl CustomError {
    pub fn code(&self) -> &'static str {
        match self {
            CustomError::InvalidInput { .. } => "invalid_input",
            CustomError::NotFound => "not_found",
            CustomError::Forbidden => "forbidden",
            CustomError::Conflict(_) => "conflict",
            CustomError::Throttled => "too_many_requests",
            CustomError::Internal(_) => "internal",
        }
    }
    pub fn field(&self) -> Option<&str> {
        match self {
            CustomError::InvalidInput { field, .. } => Some(field),
            _ => None,
        }
    }
    pub fn message(&self) -> String {
        match self {
            CustomError::InvalidInput { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        CustomError::InvalidInput { field: field.to_owned(), message: message.into() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// The listing's id or slug (or leave empty and name a `store`).
    #[serde(default)]
    pub product: String,
    /// A store's slug: a request for something new, not based on a listing.
    #[serde(default)]
    pub store: String,
    pub text: String,
    #[serde(default)]
    pub choices: Vec<Selection>,
    /// A decimal amount, e.g. `250` (optional).
    #[serde(default)]
    pub budget: Option<String>,
    /// `YYYY-MM-DD` (optional).
    #[serde(default)]
    pub deadline: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    /// A decimal amount, e.g. `180.00`.
    pub price: String,
    pub lead_time_days: i64,
    pub spec: String,
    #[serde(default = "seven")]
    pub valid_days: i64,
}

fn seven() -> i64 {
    7
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageView {
    pub thread_id: String,
    pub seq: i64,
    pub author_id: String,
    pub kind: String,
    pub body: String,
    pub quote: Option<QuoteView>,
    /// A reference image sent with the message.
    pub attachment: Option<AttachmentView>,
    /// A customer's counter-offer (the amount they propose), when the message is one.
    pub counter: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachmentView {
    pub id: String,
    /// Served only to the thread's participants (and admins): `/api/v1/threads/{id}/attachments/{id}`.
    pub url: String,
    pub thumb_url: String,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuoteView {
    pub id: String,
    pub price: String,
    pub price_minor: i64,
    pub currency: String,
    pub lead_time_days: i64,
    pub spec: String,
    pub expires_at: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThreadView {
    pub id: String,
    pub customer_id: String,
    pub dealer_id: String,
    pub product_id: String,
    pub product_title: String,
    pub request_text: String,
    pub budget: Option<String>,
    pub deadline: Option<String>,
    pub status: String,
    pub last_seq: i64,
    pub unread: i64,
    /// Whether the viewer is the dealer (else the customer, or an admin reading).
    pub viewer_is_dealer: bool,
    pub read_only: bool,
    pub updated_at: String,
    /// The listing's page, when it is public (a request from a store page has none); thread pages only.
    #[serde(default)]
    pub listing_url: Option<String>,
    /// The maker's store page; thread pages only.
    #[serde(default)]
    pub store_url: Option<String>,
    /// The listing's options the customer chose with the request ("Size: Large"); thread pages only.
    #[serde(default)]
    pub choices: Vec<String>,
}

#[derive(Clone)]
pub struct Customization {
    db: Db,
    hub: Hub,
    catalog: Catalog,
    orders: Orders,
    /// Private files (reference images): never under the public media folder.
    files: Arc<dyn ImageStore>,
}

pub fn thread_topic(thread_id: &str) -> String {
    format!("thread:{thread_id}")
}

fn iso(t: i64) -> String {
    Timestamp(t).to_rfc3339()
}

use kernel::ids::new_id;

fn clean_text(field: &str, v: &str, max: usize, what: &str) -> Result<String, CustomError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(CustomError::invalid(field, format!("write {what}")));
    }
    if t.chars().count() > max {
        return Err(CustomError::invalid(field, format!("{what} is limited to {max} characters")));
    }
    // text is stored as written and escaped wherever it is shown; control characters are refused
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(CustomError::invalid(field, format!("{what} contains control characters")));
    }
    Ok(t.to_owned())
}

/// A message with its attachment and its thread's currency.
/// A message with its attachment, its quote and its thread's currency (one query for a page of messages).
const MESSAGE_SELECT: &str = "SELECT m.thread_id, m.seq, m.message_id, m.author_id, m.kind, m.body, m.quote_id, m.created_at, m.counter_minor, m.attachment_id, \
     a.content_type, a.width, a.height, t.currency, \
     q.price_minor AS q_price_minor, q.lead_time_days AS q_lead_time_days, q.spec AS q_spec, q.expires_at AS q_expires_at, q.status AS q_status \
     FROM custom_message m JOIN custom_thread t ON t.thread_id = m.thread_id LEFT JOIN custom_attachment a ON a.attachment_id = m.attachment_id \
     LEFT JOIN custom_quote q ON q.quote_id = m.quote_id";

/// A thread with the viewer's read position (`$1` = the viewer's id).
const THREAD_SELECT: &str = "SELECT t.thread_id, t.customer_id, t.dealer_id, t.product_id, t.product_title, t.request_text, t.budget_minor, \
     t.currency, t.deadline, t.status, t.last_seq, t.updated_at, t.choices, COALESCE(r.last_read_seq, 0) AS last_read \
     FROM custom_thread t LEFT JOIN custom_read r ON r.thread_id = t.thread_id AND r.user_id = $1";

impl Customization {
    pub fn new(db: Db, hub: Hub, catalog: Catalog, orders: Orders, files: Arc<dyn ImageStore>) -> Self {
        Self { db, hub, catalog, orders, files }
    }

    fn vault(&self) -> Result<&Vault, CustomError> {
        self.db.vault().map_err(|e| CustomError::Internal(e.to_string()))
    }

    fn seal(&self, table: &str, column: &str, row: &str, text: &str) -> Result<String, CustomError> {
        self.vault()?.seal(table, column, row, text).map_err(|e| CustomError::Internal(format!("sealing {table}.{column}: {e}")))
    }

    /// Opens a sealed value (one written before encryption reads as it is until `server keys rotate`).
    fn open(&self, table: &str, column: &str, row: &str, stored: String) -> Result<String, CustomError> {
        if !Vault::is_sealed(&stored) {
            return Ok(stored);
        }
        self.vault()?.open(table, column, row, &stored).map_err(|e| CustomError::Internal(format!("opening {table}.{column} of {row}: {e}")))
    }

    /// Opens a request on a listing, or on a store (something new: it is sold through the store's
    /// unlisted commission listing): a thread between the customer and the dealer.
    pub async fn request(&self, p: &Principal, input: &RequestInput) -> Result<ThreadView, CustomError> {
        let from_store = input.product.trim().is_empty();
        let product = if from_store {
            if input.store.trim().is_empty() {
                return Err(CustomError::invalid("product", "name the listing (product) or the store (store) the request is for"));
            }
            if !input.choices.is_empty() {
                return Err(CustomError::invalid("choices", "option choices belong to a listing; describe what you want in the text"));
            }
            self.catalog.commission_listing(input.store.trim()).await.map_err(|e| match e {
                catalog::CatalogError::NotFound => CustomError::invalid("store", "no such store"),
                other => CustomError::Internal(other.to_string()),
            })?
        } else {
            self.catalog.product_for(Some(p), &input.product).await.map_err(|e| match e {
                catalog::CatalogError::NotFound => CustomError::invalid("product", "no such listing"),
                other => CustomError::Internal(other.to_string()),
            })?
        };
        let me = p.user.id.to_string();
        if product.store.dealer_id == me {
            return Err(CustomError::invalid(if from_store { "store" } else { "product" }, if from_store { "this is your own store" } else { "this is your own listing" }));
        }
        let text = clean_text("text", &input.text, MAX_MESSAGE_CHARS, "what you would like")?;
        for (i, c) in input.choices.iter().enumerate() {
            if !product.options.iter().any(|o| o.id == c.option_id) {
                return Err(CustomError::invalid(&format!("choices[{i}]"), "not an option of this listing"));
            }
        }
        let budget = match input.budget.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            None => None,
            Some(b) => Some(Money::parse(b, product.price.currency).map_err(|e| CustomError::invalid("budget", e.to_string()))?.minor),
        };
        let deadline = match input.deadline.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => {
                let ok = d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-' && d.chars().filter(|c| c.is_ascii_digit()).count() == 8;
                if !ok {
                    return Err(CustomError::invalid("deadline", "use a date like 2027-03-31"));
                }
                Some(d.to_owned())
            }
        };
        let id = new_id();
        let now = Timestamp::now().0;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO custom_thread (thread_id, customer_id, dealer_id, product_id, product_title, request_text, choices, budget_minor, currency, deadline, status, last_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'new', 0, $11, $11)",
        )
        .bind(&id)
        .bind(&me)
        .bind(&product.store.dealer_id)
        .bind(&product.id)
        .bind(&product.title)
        .bind(self.seal("custom_thread", "request_text", &id, &text)?)
        .bind(serde_json::to_string(&input.choices).unwrap_or_default())
        .bind(budget)
        .bind(product.price.currency.code())
        .bind(deadline)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let seq = append_message(self.vault()?, &mut tx, &id, &me, "request", &text, Extra::default()).await?;
        outbox::append(
            &mut tx,
            &outbox::Envelope::of(&CustomizationRequested { thread_id: id.clone(), customer_id: me.clone(), dealer_id: product.store.dealer_id.clone(), product_id: product.id.clone() }),
        )
        .await?;
        tx.commit().await?;
        self.record_read(&id, &me, seq).await?;
        self.thread(p, &id).await
    }

    /// Who may see the thread: its two participants, and admins (read-only, audited). Everyone else
    /// gets "not found", so a forged id reveals nothing. Returns (viewer is the dealer, read-only, the row).
    async fn authorize(&self, p: &Principal, id: &str) -> Result<(bool, bool, sqlx::any::AnyRow), CustomError> {
        let me = p.user.id.to_string();
        let r = sqlx::query(&format!("{THREAD_SELECT} WHERE t.thread_id = $2"))
            .bind(&me)
            .bind(id)
            .fetch_optional(self.db.reader())
            .await?
            .ok_or(CustomError::NotFound)?;
        let customer: String = r.try_get("customer_id")?;
        let dealer: String = r.try_get("dealer_id")?;
        if me == dealer {
            return Ok((true, false, r));
        }
        if me == customer {
            return Ok((false, false, r));
        }
        if p.user.role == Role::Admin {
            // a private conversation: the reading itself goes into the audit log
            kernel::audit::record(&self.db, &kernel::audit::Entry::new(&me, "thread.admin_read", id)).await?;
            return Ok((false, true, r));
        }
        Err(CustomError::NotFound)
    }

    /// (viewer is the dealer, read-only) — see [`Customization::authorize`].
    pub async fn access(&self, p: &Principal, id: &str) -> Result<(bool, bool), CustomError> {
        self.authorize(p, id).await.map(|(dealer, read_only, _)| (dealer, read_only))
    }

    pub async fn thread(&self, p: &Principal, id: &str) -> Result<ThreadView, CustomError> {
        let (is_dealer, read_only, r) = self.authorize(p, id).await?;
        let mut v = self.view(&r, is_dealer, read_only)?;
        if let Ok(product) = self.catalog.product(&v.product_id).await {
            v.listing_url = (product.status == catalog::ProductStatus::Published).then(|| product.url());
            v.store_url = Some(format!("/s/{}", product.store.slug));
            let chosen: Vec<Selection> = serde_json::from_str(&r.try_get::<String, _>("choices")?).unwrap_or_default();
            v.choices = chosen
                .iter()
                .filter_map(|c| {
                    let o = product.options.iter().find(|o| o.id == c.option_id)?;
                    let value = match o.kind {
                        catalog::OptionKind::Choice => o.values.iter().find(|x| x.id == c.value)?.label.clone(),
                        catalog::OptionKind::Text => c.value.clone(),
                    };
                    Some(format!("{}: {value}", o.name))
                })
                .collect();
        }
        Ok(v)
    }
}

impl Customization {
fn view(&self, r: &sqlx::any::AnyRow, is_dealer: bool, read_only: bool) -> Result<ThreadView, CustomError> {
    let id: String = r.try_get("thread_id")?;
    let last_seq: i64 = r.try_get("last_seq")?;
    let read: i64 = r.try_get("last_read")?;
    let currency: String = r.try_get("currency")?;
    let c = Currency::parse(&currency).unwrap_or(Currency::EUR);
    Ok(ThreadView {
        customer_id: r.try_get("customer_id")?,
        dealer_id: r.try_get("dealer_id")?,
        product_id: r.try_get("product_id")?,
        product_title: r.try_get("product_title")?,
        request_text: self.open("custom_thread", "request_text", &id, r.try_get("request_text")?)?,
        budget: r.try_get::<Option<i64>, _>("budget_minor")?.map(|b| Money::new(b, c).to_string()),
        deadline: r.try_get("deadline")?,
        status: r.try_get("status")?,
        unread: (last_seq - read).max(0),
        last_seq,
        viewer_is_dealer: is_dealer,
        read_only,
        updated_at: iso(r.try_get("updated_at")?),
        listing_url: None,
        store_url: None,
        choices: Vec::new(),
        id,
    })
}
}

impl Customization {
    /// The viewer's threads (as customer and as dealer), newest activity first; optionally one status.
    /// Every thread, newest activity first (admins; reading one is audited when it is opened).
    pub async fn admin_threads(&self, p: &Principal, status: Option<&str>) -> Result<Vec<ThreadView>, CustomError> {
        if p.user.role != Role::Admin {
            return Err(CustomError::Forbidden);
        }
        let status = status.filter(|s| !s.is_empty() && *s != "all");
        if let Some(s) = status {
            if !["new", "in_discussion", "quoted", "accepted", "declined", "expired"].contains(&s) {
                return Err(CustomError::invalid("status", format!("{s:?} is not a request status")));
            }
        }
        // $1 is the reader whose read position the select joins: nobody, for an admin
        let rows = sqlx::query(&format!("{THREAD_SELECT} WHERE ($2 = '' OR t.status = $2) ORDER BY t.updated_at DESC LIMIT 200"))
            .bind("")
            .bind(status.unwrap_or(""))
            .fetch_all(self.db.reader())
            .await?;
        rows.iter().map(|r| self.view(r, false, false)).collect()
    }

    pub async fn inbox(&self, p: &Principal, status: Option<&str>) -> Result<Vec<ThreadView>, CustomError> {
        let me = p.user.id.to_string();
        let status = status.filter(|s| !s.is_empty() && *s != "all");
        if let Some(s) = status {
            if !["new", "in_discussion", "quoted", "accepted", "declined", "expired"].contains(&s) {
                return Err(CustomError::invalid("status", format!("{s:?} is not a request status")));
            }
        }
        let rows = sqlx::query(&format!(
            "{THREAD_SELECT} WHERE (t.customer_id = $1 OR t.dealer_id = $1) AND ($2 = '' OR t.status = $2) ORDER BY t.updated_at DESC LIMIT 200"
        ))
        .bind(&me)
        .bind(status.unwrap_or(""))
        .fetch_all(self.db.reader())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let dealer: String = r.try_get("dealer_id")?;
            out.push(self.view(r, dealer == me, false)?);
        }
        Ok(out)
    }

    /// Messages after `after` (ascending; for a reconnect) or before `before` (a page of history,
    /// returned ascending too).
    pub async fn messages(&self, p: &Principal, id: &str, after: Option<i64>, before: Option<i64>) -> Result<Vec<MessageView>, CustomError> {
        self.access(p, id).await?;
        self.messages_unchecked(id, after, before).await
    }

    pub async fn messages_unchecked(&self, id: &str, after: Option<i64>, before: Option<i64>) -> Result<Vec<MessageView>, CustomError> {
        let rows = match (after, before) {
            (Some(a), _) => {
                sqlx::query(&format!("{MESSAGE_SELECT} WHERE m.thread_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT 500"))
                    .bind(id)
                    .bind(a)
                    .fetch_all(self.db.reader())
                    .await?
            }
            (None, b) => {
                let mut v = sqlx::query(&format!("{MESSAGE_SELECT} WHERE m.thread_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3"))
                    .bind(id)
                    .bind(b.unwrap_or(i64::MAX))
                    .bind(PAGE)
                    .fetch_all(self.db.reader())
                    .await?;
                v.reverse();
                v
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.message_view(r)?);
        }
        Ok(out)
    }

    fn message_view(&self, r: &sqlx::any::AnyRow) -> Result<MessageView, CustomError> {
        let currency = Currency::parse(&r.try_get::<String, _>("currency")?).unwrap_or(Currency::EUR);
        let quote = match r.try_get::<Option<String>, _>("quote_id")? {
            Some(id) => {
                let minor: i64 = r.try_get("q_price_minor")?;
                let expires: i64 = r.try_get("q_expires_at")?;
                let mut status: String = r.try_get("q_status")?;
                // an open quote past its expiry shows as expired before the sweep marks it
                if status == "offered" && expires <= Timestamp::now().0 {
                    status = "expired".into();
                }
                Some(QuoteView {
                    id,
                    price: Money::new(minor, currency).to_string(),
                    price_minor: minor,
                    currency: currency.code().to_owned(),
                    lead_time_days: r.try_get("q_lead_time_days")?,
                    spec: r.try_get("q_spec")?,
                    expires_at: iso(expires),
                    status,
                })
            }
            None => None,
        };
        let thread_id: String = r.try_get("thread_id")?;
        let attachment = match r.try_get::<Option<String>, _>("attachment_id")? {
            Some(aid) => {
                let url = format!("/api/v1/threads/{thread_id}/attachments/{aid}");
                Some(AttachmentView {
                    thumb_url: format!("{url}?size=thumb"),
                    url,
                    id: aid,
                    content_type: r.try_get::<Option<String>, _>("content_type")?.unwrap_or_default(),
                    width: r.try_get::<Option<i64>, _>("width")?.unwrap_or(0),
                    height: r.try_get::<Option<i64>, _>("height")?.unwrap_or(0),
                })
            }
            None => None,
        };
        Ok(MessageView {
            seq: r.try_get("seq")?,
            author_id: r.try_get("author_id")?,
            kind: r.try_get("kind")?,
            body: self.open("custom_message", "body", &r.try_get::<String, _>("message_id")?, r.try_get("body")?)?,
            quote,
            attachment,
            counter: r.try_get::<Option<i64>, _>("counter_minor")?.map(|m| Money::new(m, currency).to_string()),
            created_at: iso(r.try_get("created_at")?),
            thread_id,
        })
    }

    /// Posts a text message (participants only; admins read only), rate limited per person.
    pub async fn post(&self, p: &Principal, id: &str, body: &str) -> Result<MessageView, CustomError> {
        let (is_dealer, read_only, t) = self.authorize(p, id).await?;
        if read_only {
            return Err(CustomError::Forbidden);
        }
        let body = clean_text("body", body, MAX_MESSAGE_CHARS, "a message")?;
        let me = p.user.id.to_string();
        self.throttle(&me).await?;
        let recipient: String = if is_dealer { t.try_get("customer_id")? } else { t.try_get("dealer_id")? };
        let mut tx = self.db.begin().await?;
        let seq = append_message(self.vault()?, &mut tx, id, &me, "text", &body, Extra::default()).await?;
        // a dealer's first answer moves a new request into discussion
        if is_dealer {
            sqlx::query("UPDATE custom_thread SET status = 'in_discussion' WHERE thread_id = $1 AND status = 'new'").bind(id).execute(&mut *tx).await?;
        }
        outbox::append(&mut tx, &outbox::Envelope::of(&MessagePosted { thread_id: id.to_owned(), seq, author_id: me.clone(), recipient_id: recipient, kind: "text".into() })).await?;
        tx.commit().await?;
        self.record_read(id, &me, seq).await?;
        self.publish(id, seq).await
    }

    /// At most [`MAX_MESSAGES_PER_MINUTE`] messages (text or images) a minute per person.
    async fn throttle(&self, user: &str) -> Result<(), CustomError> {
        let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM custom_message WHERE author_id = $1 AND created_at > $2")
            .bind(user)
            .bind(Timestamp::now().0 - 60_000_000)
            .fetch_one(self.db.reader())
            .await?;
        if recent >= MAX_MESSAGES_PER_MINUTE {
            return Err(CustomError::Throttled);
        }
        Ok(())
    }

    /// A reference image in the thread (PNG, JPEG or WebP, at most 5 MB, checked from its bytes and
    /// decoded with size limits), with an optional caption. Stored privately: only the participants
    /// (and admins, audited) can fetch it.
    pub async fn attach(&self, p: &Principal, id: &str, bytes: Vec<u8>, caption: &str) -> Result<MessageView, CustomError> {
        let (is_dealer, read_only, t) = self.authorize(p, id).await?;
        if read_only {
            return Err(CustomError::Forbidden);
        }
        let caption = if caption.trim().is_empty() { "Reference image".to_owned() } else { clean_text("caption", caption, 500, "the caption")? };
        let me = p.user.id.to_string();
        self.throttle(&me).await?;
        let mine: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM custom_attachment WHERE thread_id = $1 AND uploader_id = $2")
            .bind(id)
            .bind(&me)
            .fetch_one(self.db.reader())
            .await?;
        if mine >= MAX_ATTACHMENTS_PER_THREAD {
            return Err(CustomError::invalid("image", format!("at most {MAX_ATTACHMENTS_PER_THREAD} images per person in one request")));
        }
        let attachment_id = uuid::Uuid::now_v7().simple().to_string();
        let (key, thumb) = (format!("threads/{id}/{attachment_id}"), format!("threads/{id}/{attachment_id}-thumb.jpg"));
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let files = self.files.clone();
        let (k, th) = (key.clone(), thumb.clone());
        let processed = tokio::task::spawn_blocking(move || -> Result<_, CustomError> {
            let processed = catalog::images::process(&bytes).map_err(|e| match e {
                catalog::CatalogError::InvalidInput { message, .. } => CustomError::invalid("image", message),
                other => CustomError::Internal(other.to_string()),
            })?;
            files.put(&format!("{k}.{}", processed.extension), &bytes).map_err(CustomError::Internal)?;
            files.put(&th, &processed.thumb_jpeg).map_err(CustomError::Internal)?;
            Ok(processed)
        })
        .await
        .map_err(|e| CustomError::Internal(e.to_string()))??;
        let key = format!("{key}.{}", processed.extension);
        let recipient: String = if is_dealer { t.try_get("customer_id")? } else { t.try_get("dealer_id")? };
        let stored = async {
            let mut tx = self.db.begin().await?;
            sqlx::query(
                "INSERT INTO custom_attachment (attachment_id, thread_id, uploader_id, storage_key, thumb_key, content_type, width, height, size_bytes, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&attachment_id)
            .bind(id)
            .bind(&me)
            .bind(&key)
            .bind(&thumb)
            .bind(processed.content_type)
            .bind(i64::from(processed.width))
            .bind(i64::from(processed.height))
            .bind(size)
            .bind(Timestamp::now().0)
            .execute(&mut *tx)
            .await?;
            let seq = append_message(self.vault()?, &mut tx, id, &me, "text", &caption, Extra { attachment_id: Some(&attachment_id), ..Extra::default() }).await?;
            outbox::append(&mut tx, &outbox::Envelope::of(&MessagePosted { thread_id: id.to_owned(), seq, author_id: me.clone(), recipient_id: recipient, kind: "image".into() })).await?;
            tx.commit().await?;
            Ok::<i64, CustomError>(seq)
        }
        .await;
        let seq = match stored {
            Ok(seq) => seq,
            Err(e) => {
                // nothing refers to the files: remove them
                for k in [&key, &thumb] {
                    let _ = self.files.delete(k);
                }
                return Err(e);
            }
        };
        self.record_read(id, &me, seq).await?;
        self.publish(id, seq).await
    }

    /// An attachment's bytes (or its thumbnail) and content type, for the thread's participants (and admins).
    pub async fn attachment(&self, p: &Principal, thread_id: &str, attachment_id: &str, thumb: bool) -> Result<(String, Vec<u8>), CustomError> {
        self.access(p, thread_id).await?;
        let r: Option<(String, String, String)> = sqlx::query_as("SELECT storage_key, thumb_key, content_type FROM custom_attachment WHERE attachment_id = $1 AND thread_id = $2")
            .bind(attachment_id)
            .bind(thread_id)
            .fetch_optional(self.db.reader())
            .await?;
        let (key, thumb_key, content_type) = r.ok_or(CustomError::NotFound)?;
        let (key, content_type) = if thumb { (thumb_key, "image/jpeg".to_owned()) } else { (key, content_type) };
        let files = self.files.clone();
        let bytes = tokio::task::spawn_blocking(move || files.get(&key))
            .await
            .map_err(|e| CustomError::Internal(e.to_string()))?
            .map_err(CustomError::Internal)?
            .ok_or(CustomError::NotFound)?;
        Ok((content_type, bytes))
    }

    /// The dealer's quote: price, lead time, specification, validity.
    pub async fn offer_quote(&self, p: &Principal, id: &str, q: &QuoteInput) -> Result<MessageView, CustomError> {
        let (is_dealer, _, r) = self.authorize(p, id).await?;
        if !is_dealer {
            return Err(CustomError::Forbidden);
        }
        p.require_dealer().map_err(|_| CustomError::Forbidden)?;
        let status: String = r.try_get("status")?;
        if status == "accepted" {
            return Err(CustomError::Conflict("a quote was already accepted in this thread".into()));
        }
        let currency = Currency::parse(&r.try_get::<String, _>("currency")?).unwrap_or(Currency::EUR);
        let price = Money::parse(&q.price, currency).map_err(|e| CustomError::invalid("price", e.to_string()))?;
        if price.minor <= 0 {
            return Err(CustomError::invalid("price", "the price must be above zero"));
        }
        if !(1..=365).contains(&q.lead_time_days) {
            return Err(CustomError::invalid("lead_time_days", "the lead time is 1 to 365 days"));
        }
        if !(1..=60).contains(&q.valid_days) {
            return Err(CustomError::invalid("valid_days", "a quote is valid for 1 to 60 days"));
        }
        let spec = clean_text("spec", &q.spec, 1000, "the specification")?;
        let now = Timestamp::now();
        let expires = now.plus(std::time::Duration::from_secs(u64::try_from(q.valid_days).unwrap_or(7) * 86_400));
        let quote_id = new_id();
        let me = p.user.id.to_string();
        let mut tx = self.db.begin().await?;
        // a new quote replaces an open one
        sqlx::query("UPDATE custom_quote SET status = 'superseded', updated_at = $1 WHERE thread_id = $2 AND status = 'offered'").bind(now.0).bind(id).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO custom_quote (quote_id, thread_id, price_minor, currency, lead_time_days, spec, expires_at, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'offered', $8, $8)",
        )
        .bind(&quote_id)
        .bind(id)
        .bind(price.minor)
        .bind(currency.code())
        .bind(q.lead_time_days)
        .bind(&spec)
        .bind(expires.0)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        let body = format!("Quote: {price}, ready in {} days. {spec}", q.lead_time_days);
        let seq = append_message(self.vault()?, &mut tx, id, &me, "quote", &body, Extra::quote(&quote_id)).await?;
        sqlx::query("UPDATE custom_thread SET status = 'quoted' WHERE thread_id = $1").bind(id).execute(&mut *tx).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&QuoteOffered { thread_id: id.to_owned(), quote_id, customer_id: r.try_get("customer_id")?, price: price.to_string(), expires_at: expires.to_rfc3339() })).await?;
        tx.commit().await?;
        self.record_read(id, &me, seq).await?;
        self.publish(id, seq).await
    }

    /// The customer's answer to a quote. Accepting puts the piece in the cart at the quoted price.
    /// A quote the caller may answer: an open, unexpired quote in a thread where the caller is the
    /// customer. Returns (the quote row: thread_id, price_minor, spec, currency; the thread row).
    async fn answerable_quote(&self, p: &Principal, quote_id: &str) -> Result<(sqlx::any::AnyRow, sqlx::any::AnyRow), CustomError> {
        let r = sqlx::query("SELECT thread_id, price_minor, spec, currency, expires_at, status FROM custom_quote WHERE quote_id = $1")
            .bind(quote_id)
            .fetch_optional(self.db.reader())
            .await?
            .ok_or(CustomError::NotFound)?;
        let (is_dealer, read_only, t) = self.authorize(p, &r.try_get::<String, _>(0)?).await?;
        if is_dealer || read_only {
            return Err(CustomError::Forbidden);
        }
        let status: String = r.try_get(5)?;
        if status != "offered" {
            return Err(CustomError::Conflict(format!("this quote is {status}")));
        }
        if r.try_get::<i64, _>(4)? <= Timestamp::now().0 {
            self.expire_due().await?;
            return Err(CustomError::Conflict("this quote has expired: ask the maker for a new one".into()));
        }
        Ok((r, t))
    }

    /// Moves an open quote to `status` in `tx`; a conflict when it changed since it was read.
    async fn close_quote(tx: &mut kernel::Tx, quote_id: &str, status: &str) -> Result<(), CustomError> {
        let n = sqlx::query("UPDATE custom_quote SET status = $1, updated_at = $2 WHERE quote_id = $3 AND status = 'offered'")
            .bind(status)
            .bind(Timestamp::now().0)
            .bind(quote_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(CustomError::Conflict("this quote changed meanwhile".into()));
        }
        Ok(())
    }

    pub async fn respond(&self, p: &Principal, quote_id: &str, accept: bool) -> Result<MessageView, CustomError> {
        let (r, t) = self.answerable_quote(p, quote_id).await?;
        let thread_id: String = r.try_get(0)?;
        let price: i64 = r.try_get(1)?;
        let spec: String = r.try_get(2)?;
        let product_id: String = t.try_get("product_id")?;
        let me = p.user.id.to_string();
        let mut tx = self.db.begin().await?;
        Self::close_quote(&mut tx, quote_id, if accept { "accepted" } else { "declined" }).await?;
        let (body, thread_status) = if accept {
            ("Quote accepted: the piece is in the customer's cart at the quoted price.", "accepted")
        } else {
            ("Quote declined.", "in_discussion")
        };
        let seq = append_message(self.vault()?, &mut tx, &thread_id, &me, "system", body, Extra::quote(quote_id)).await?;
        sqlx::query("UPDATE custom_thread SET status = $1 WHERE thread_id = $2").bind(thread_status).bind(&thread_id).execute(&mut *tx).await?;
        if accept {
            outbox::append(&mut tx, &outbox::Envelope::of(&QuoteAccepted { thread_id: thread_id.clone(), quote_id: quote_id.to_owned(), customer_id: me.clone() })).await?;
        } else {
            outbox::append(&mut tx, &outbox::Envelope::of(&QuoteDeclined { thread_id: thread_id.clone(), quote_id: quote_id.to_owned() })).await?;
        }
        tx.commit().await?;
        if accept {
            // the price is the quote's, read here on the server
            self.orders.add_quoted_line(&me, &product_id, quote_id, &thread_id, price, &spec).await?;
        }
        self.publish(&thread_id, seq).await
    }

    /// The customer's counter-offer to a quote: the quote is declined and the amount they propose (with
    /// a note) goes to the dealer, who may answer with a new quote.
    pub async fn counter(&self, p: &Principal, quote_id: &str, price: &str, note: &str) -> Result<MessageView, CustomError> {
        let (r, t) = self.answerable_quote(p, quote_id).await?;
        let thread_id: String = r.try_get(0)?;
        let currency = Currency::parse(&r.try_get::<String, _>(3)?).unwrap_or(Currency::EUR);
        let amount = Money::parse(price, currency).map_err(|e| CustomError::invalid("price", e.to_string()))?;
        if amount.minor <= 0 {
            return Err(CustomError::invalid("price", "the amount must be above zero"));
        }
        let note = note.trim();
        if note.chars().count() > 1000 {
            return Err(CustomError::invalid("note", "the note is limited to 1000 characters"));
        }
        if note.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(CustomError::invalid("note", "the note contains control characters"));
        }
        let me = p.user.id.to_string();
        self.throttle(&me).await?;
        let mut tx = self.db.begin().await?;
        Self::close_quote(&mut tx, quote_id, "declined").await?;
        let body = if note.is_empty() { format!("Counter-offer: {amount}.") } else { format!("Counter-offer: {amount}. {note}") };
        let seq = append_message(self.vault()?, &mut tx, &thread_id, &me, "text", &body, Extra { quote_id: Some(quote_id), counter_minor: Some(amount.minor), ..Extra::default() }).await?;
        sqlx::query("UPDATE custom_thread SET status = 'in_discussion' WHERE thread_id = $1").bind(&thread_id).execute(&mut *tx).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&QuoteCountered { thread_id: thread_id.clone(), quote_id: quote_id.to_owned(), dealer_id: t.try_get("dealer_id")?, price: amount.to_string() })).await?;
        tx.commit().await?;
        self.record_read(&thread_id, &me, seq).await?;
        self.publish(&thread_id, seq).await
    }

    /// The dealer turns the request down (with a reason); open quotes lapse. Not after acceptance.
    pub async fn decline_request(&self, p: &Principal, id: &str, reason: &str) -> Result<MessageView, CustomError> {
        let (is_dealer, _, r) = self.authorize(p, id).await?;
        if !is_dealer {
            return Err(CustomError::Forbidden);
        }
        let reason = reason.trim().chars().take(500).collect::<String>();
        if reason.chars().any(|c| c.is_control() && c != '\n') {
            return Err(CustomError::invalid("reason", "the reason contains control characters"));
        }
        let now = Timestamp::now().0;
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("UPDATE custom_thread SET status = 'declined' WHERE thread_id = $1 AND status NOT IN ('accepted', 'declined')")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(CustomError::Conflict(format!("this request is {} and cannot be declined", r.try_get::<String, _>("status")?.replace('_', " "))));
        }
        sqlx::query("UPDATE custom_quote SET status = 'superseded', updated_at = $1 WHERE thread_id = $2 AND status = 'offered'").bind(now).bind(id).execute(&mut *tx).await?;
        let body = if reason.is_empty() { "The maker declined this request.".to_owned() } else { format!("The maker declined this request: {reason}") };
        let seq = append_message(self.vault()?, &mut tx, id, &p.user.id.to_string(), "system", &body, Extra::default()).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&RequestDeclined { thread_id: id.to_owned(), customer_id: r.try_get("customer_id")?, reason })).await?;
        tx.commit().await?;
        self.publish(id, seq).await
    }

    /// Marks offered quotes past their expiry as expired (with a message and an event). Returns how many.
    pub async fn expire_due(&self) -> Result<usize, CustomError> {
        let now = Timestamp::now().0;
        let due: Vec<(String, String)> = sqlx::query_as("SELECT quote_id, thread_id FROM custom_quote WHERE status = 'offered' AND expires_at <= $1 LIMIT 200")
            .bind(now)
            .fetch_all(self.db.reader())
            .await?;
        let mut n = 0;
        for (quote_id, thread_id) in due {
            let mut tx = self.db.begin().await?;
            let moved = sqlx::query("UPDATE custom_quote SET status = 'expired', updated_at = $1 WHERE quote_id = $2 AND status = 'offered'")
                .bind(now)
                .bind(&quote_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 0 {
                continue;
            }
            let dealer: String = sqlx::query_scalar("SELECT dealer_id FROM custom_thread WHERE thread_id = $1").bind(&thread_id).fetch_one(&mut *tx).await?;
            let seq = append_message(self.vault()?, &mut tx, &thread_id, &dealer, "system", "The quote expired.", Extra::quote(&quote_id)).await?;
            sqlx::query("UPDATE custom_thread SET status = 'expired' WHERE thread_id = $1 AND status = 'quoted'").bind(&thread_id).execute(&mut *tx).await?;
            outbox::append(&mut tx, &outbox::Envelope::of(&QuoteExpired { thread_id: thread_id.clone(), quote_id })).await?;
            tx.commit().await?;
            let _ = self.publish(&thread_id, seq).await;
            n += 1;
        }
        Ok(n)
    }

    /// The viewer has read the thread up to `seq` (admins' reads are not recorded).
    pub async fn mark_read(&self, p: &Principal, id: &str, seq: i64) -> Result<(), CustomError> {
        let (_, read_only) = self.access(p, id).await?;
        if read_only {
            // an admin reads without leaving a trace in the thread
            return Err(CustomError::Forbidden);
        }
        self.record_read(id, &p.user.id.to_string(), seq).await
    }

    /// Records a participant's read position and tells the other side. The caller has authorised
    /// `me` as a participant of the thread (a live socket does so once, when it opens).
    pub async fn record_read(&self, id: &str, me: &str, seq: i64) -> Result<(), CustomError> {
        sqlx::query(
            "INSERT INTO custom_read (thread_id, user_id, last_read_seq) VALUES ($1, $2, $3) \
             ON CONFLICT (thread_id, user_id) DO UPDATE SET last_read_seq = CASE WHEN custom_read.last_read_seq > $3 THEN custom_read.last_read_seq ELSE $3 END",
        )
        .bind(id)
        .bind(me)
        .bind(seq)
        .execute(self.db.writer())
        .await?;
        let msg = serde_json::json!({ "type": "read", "user_id": me, "seq": seq }).to_string();
        let _ = self.hub.publish(&thread_topic(id), &msg).await;
        Ok(())
    }

    /// A "typing…" signal to the other participant (not stored).
    pub async fn typing(&self, p: &Principal, id: &str) {
        let msg = serde_json::json!({ "type": "typing", "user_id": p.user.id.to_string() }).to_string();
        let _ = self.hub.publish(&thread_topic(id), &msg).await;
    }

    /// The last-read position of the other participant (for read receipts).
    pub async fn read_positions(&self, id: &str) -> Result<Vec<(String, i64)>, CustomError> {
        Ok(sqlx::query_as("SELECT user_id, last_read_seq FROM custom_read WHERE thread_id = $1").bind(id).fetch_all(self.db.reader()).await?)
    }

    /// Tells every connected client of the thread about message `seq` (it is already stored).
    async fn publish(&self, id: &str, seq: i64) -> Result<MessageView, CustomError> {
        let r = sqlx::query(&format!("{MESSAGE_SELECT} WHERE m.thread_id = $1 AND m.seq = $2"))
            .bind(id)
            .bind(seq)
            .fetch_one(self.db.reader())
            .await?;
        let m = self.message_view(&r)?;
        let wire = serde_json::json!({ "type": "message", "message": m }).to_string();
        if let Err(e) = self.hub.publish(&thread_topic(id), &wire).await {
            tracing::warn!(error = %e, "thread push failed (clients catch up on reconnect)");
        }
        Ok(m)
    }
}

/// What a message may carry beside its text.
#[derive(Default, Clone, Copy)]
struct Extra<'a> {
    quote_id: Option<&'a str>,
    attachment_id: Option<&'a str>,
    counter_minor: Option<i64>,
}

impl<'a> Extra<'a> {
    fn quote(id: &'a str) -> Self {
        Self { quote_id: Some(id), ..Self::default() }
    }
}

/// Numbers and stores a message; the thread's counter row serialises concurrent posts.
async fn append_message(vault: &Vault, tx: &mut kernel::Tx, thread_id: &str, author: &str, kind: &str, body: &str, extra: Extra<'_>) -> Result<i64, CustomError> {
    let now = Timestamp::now().0;
    let seq: i64 = sqlx::query_scalar("UPDATE custom_thread SET last_seq = last_seq + 1, updated_at = $1 WHERE thread_id = $2 RETURNING last_seq")
        .bind(now)
        .bind(thread_id)
        .fetch_one(&mut **tx)
        .await?;
    let message_id = new_id();
    // messages may carry personal data: sealed, bound to their row
    let sealed = vault.seal("custom_message", "body", &message_id, body).map_err(|e| CustomError::Internal(format!("sealing a message: {e}")))?;
    sqlx::query(
        "INSERT INTO custom_message (thread_id, seq, message_id, author_id, kind, body, quote_id, attachment_id, counter_minor, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
        .bind(thread_id)
        .bind(seq)
        .bind(&message_id)
        .bind(author)
        .bind(kind)
        .bind(sealed)
        .bind(extra.quote_id)
        .bind(extra.attachment_id)
        .bind(extra.counter_minor)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}
