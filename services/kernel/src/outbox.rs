//! The event envelope and the transactional outbox: an event is written in the same transaction as
//! the state change it describes, so it exists if and only if the change was committed.
//! Delivery to consumers is the event backbone's job (see docs/ARCHITECTURE.md).

use serde::Serialize;

use crate::{db::Backend, ids::EventId, Timestamp, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub event_id: EventId,
    pub event_type: &'static str,
    pub schema_version: i32,
    pub aggregate_id: String,
    pub occurred_at: Timestamp,
    pub correlation_id: Option<String>,
    pub payload: serde_json::Value,
}

/// A typed event: its name and schema version are part of the type, so a producer cannot misspell
/// them. Each producing service keeps its catalogue in an `events` module (see docs/EVENTS.md).
pub trait Event: Serialize {
    const TYPE: &'static str;
    const VERSION: i32 = 1;
    fn aggregate_id(&self) -> String;
}

impl Envelope {
    /// The envelope of a typed event.
    pub fn of<E: Event>(event: &E) -> Self {
        let mut env = Self::new(E::TYPE, event.aggregate_id(), serde_json::to_value(event).unwrap_or(serde_json::Value::Null));
        env.schema_version = E::VERSION;
        env
    }

    pub fn new(event_type: &'static str, aggregate_id: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            event_id: EventId::new(),
            event_type,
            schema_version: 1,
            aggregate_id: aggregate_id.into(),
            occurred_at: Timestamp::now(),
            correlation_id: None,
            payload,
        }
    }
}

pub(crate) const EVENTS_CHANNEL: &str = "bespoke_events";

/// Appends `event` to the outbox inside `tx`, with one pending delivery per subscribed consumer.
/// On PostgreSQL a `NOTIFY` (delivered only if the transaction commits) wakes every instance.
#[tracing::instrument(skip(tx, event), fields(event_type = event.event_type))]
pub async fn append(tx: &mut Tx, event: &Envelope) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    let returning = match tx.backend() {
        Backend::Postgres => "seq",
        Backend::Sqlite => "rowid",
    };
    let seq: i64 = sqlx::query_scalar(&format!(
        "INSERT INTO outbox_event (outbox_event_id, event_type, schema_version, aggregate_id, occurred_at, correlation_id, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {returning}"
    ))
    .bind(event.event_id.to_string())
    .bind(event.event_type)
    .bind(event.schema_version)
    .bind(&event.aggregate_id)
    .bind(event.occurred_at.0)
    .bind(event.correlation_id.clone())
    .bind(event.payload.to_string())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO event_delivery (outbox_event_id, consumer, aggregate_id, seq, status, attempts, next_attempt_at, created_at, updated_at) \
         SELECT $1, consumer, $2, $3, 'pending', 0, $4, $4, $4 FROM event_subscription WHERE event_type = $5",
    )
    .bind(event.event_id.to_string())
    .bind(&event.aggregate_id)
    .bind(seq)
    .bind(now)
    .bind(event.event_type)
    .execute(&mut **tx)
    .await?;
    if tx.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')").bind(EVENTS_CHANNEL).execute(&mut **tx).await?;
    }
    tx.mark_events_written();
    Ok(())
}

/// An event as a follower reads it back from the outbox.
#[derive(Debug, Clone)]
pub struct Tailed {
    pub event_id: String,
    pub seq: i64,
    pub event_type: String,
    pub aggregate_id: String,
    pub payload: String,
}

fn seq_column(db: &crate::Db) -> &'static str {
    match db.backend() {
        Backend::Postgres => "seq",
        Backend::Sqlite => "rowid",
    }
}

/// The newest sequence number in the outbox (0 when empty): where a follower starts.
pub async fn last_seq(db: &crate::Db) -> Result<i64, sqlx::Error> {
    let v: Option<i64> = sqlx::query_scalar(&format!("SELECT MAX({}) FROM outbox_event", seq_column(db))).fetch_one(db.reader()).await?;
    Ok(v.unwrap_or(0))
}

/// The lowest sequence number among events created after `t` (none when there are none): where a
/// follower restored from a snapshot taken at `t` must start again to see what committed around it.
pub async fn first_seq_since(db: &crate::Db, t: Timestamp) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT MIN({}) FROM outbox_event WHERE created_at > $1", seq_column(db))).bind(t.0).fetch_one(db.reader()).await
}

/// For per-instance followers (e.g. an in-memory index): events of `types` after `after_seq`, and
/// also those created after `recent_since` whatever their sequence — on PostgreSQL commit order can
/// differ from sequence order, so a follower re-reads a recent window and skips what it applied.
pub async fn tail(db: &crate::Db, after_seq: i64, recent_since: Timestamp, types: &[&str], limit: i64) -> Result<Vec<Tailed>, sqlx::Error> {
    let seq = seq_column(db);
    let placeholders: Vec<String> = (0..types.len()).map(|i| format!("${}", i + 4)).collect();
    // two arms, each on its own index (the sequence; created_at), not one OR that SQLite answers
    // by scanning the whole outbox in sequence order — every second, on every follower
    let types_in = placeholders.join(", ");
    let sql = format!(
        "SELECT * FROM (\
         SELECT outbox_event_id, {seq} AS seq, event_type, aggregate_id, payload FROM outbox_event WHERE {seq} > $1 AND event_type IN ({types_in}) \
         UNION SELECT outbox_event_id, {seq} AS seq, event_type, aggregate_id, payload FROM outbox_event WHERE created_at > $2 AND event_type IN ({types_in})\
         ) t ORDER BY seq LIMIT $3"
    );
    let mut q = sqlx::query_as::<_, (String, i64, String, String, String)>(&sql).bind(after_seq).bind(recent_since.0).bind(limit);
    for t in types {
        q = q.bind(*t);
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .into_iter()
        .map(|(event_id, seq, event_type, aggregate_id, payload)| Tailed { event_id, seq, event_type, aggregate_id, payload })
        .collect())
}
