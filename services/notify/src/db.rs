//! The notify service's SQL. Only this module touches `notification` and `sent_mail`.

use kernel::{Timestamp, Tx};
use sqlx::{AnyPool, FromRow};

use crate::{Message, Notification};

pub(crate) async fn insert_notification(tx: &mut Tx, m: &Message, source_event_id: &str) -> Result<(), sqlx::Error> {
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
    .bind(source_event_id)
    .bind(Timestamp::now().0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn insert_sent_mail(tx: &mut Tx, m: &Message, source_event_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sent_mail (sent_mail_id, recipient_account_id, subject, body, source_event_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&m.account_id)
    .bind(&m.title)
    .bind(&m.body)
    .bind(source_event_id)
    .bind(Timestamp::now().0)
    .execute(&mut **tx)
    .await?;
    Ok(())
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

pub(crate) async fn list(pool: &AnyPool, account_id: &str, limit: i64) -> Result<Vec<Notification>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT notification_id, kind, title, body, link, read_at, created_at FROM notification \
         WHERE account_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(pool)
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

pub(crate) async fn unread_count(pool: &AnyPool, account_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM notification WHERE account_id = $1 AND read_at IS NULL").bind(account_id).fetch_one(pool).await
}

pub(crate) async fn mark_all_read(tx: &mut Tx, account_id: &str) -> Result<u64, sqlx::Error> {
    let now = Timestamp::now().0;
    Ok(sqlx::query("UPDATE notification SET read_at = $1, updated_at = $1 WHERE account_id = $2 AND read_at IS NULL")
        .bind(now)
        .bind(account_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}
