//! The audit log: who did what to what, when, from where, in which request. Append-only and
//! hash-chained: each row's hash covers its own fields and the previous row's hash, and the head row
//! keeps the last sequence number and hash, so an edited, deleted or truncated row is found by
//! [`verify`] (`server audit verify`).
//!
//! Appends go through the head row (`UPDATE … RETURNING`), which orders concurrent appends on
//! PostgreSQL (row lock until commit) as SQLite's single writer does.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Db, Timestamp, Tx};

/// The request an action came from; set by the HTTP layer around each request.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub ip: String,
}

tokio::task_local! {
    pub static CONTEXT: RequestContext;
}

/// The current request's context (empty outside a request: CLI, background jobs).
pub fn context() -> RequestContext {
    CONTEXT.try_with(Clone::clone).unwrap_or_default()
}

/// One action to record. `detail` is a short JSON object or text with what else matters.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: String,
}

impl<'a> Entry<'a> {
    pub fn new(actor: &'a str, action: &'a str, target: &'a str) -> Self {
        Self { actor, action, target, detail: String::new() }
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Record {
    pub seq: i64,
    pub at: String,
    pub actor_id: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub request_id: String,
    pub detail: String,
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[allow(clippy::too_many_arguments)]
fn chain_hash(prev: &str, seq: i64, at: i64, actor: &str, action: &str, target: &str, ip: &str, request_id: &str, detail: &str) -> String {
    // a JSON array: unambiguous field boundaries whatever the fields contain
    let canonical = serde_json::json!([seq, at, actor, action, target, ip, request_id, detail, prev]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Appends inside the caller's transaction (so the record exists if and only if the action does).
pub async fn append(tx: &mut Tx, e: &Entry<'_>) -> Result<i64, sqlx::Error> {
    let ctx = context();
    let row = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash").fetch_one(&mut **tx).await?;
    let seq: i64 = row.try_get(0)?;
    let prev: String = row.try_get(1)?;
    let at = Timestamp::now().0;
    let hash = chain_hash(&prev, seq, at, e.actor, e.action, e.target, &ctx.ip, &ctx.request_id, &e.detail);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, action, target, ip, request_id, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(seq)
    .bind(at)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target)
    .bind(&ctx.ip)
    .bind(&ctx.request_id)
    .bind(&e.detail)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut **tx).await?;
    Ok(seq)
}

/// Appends in a transaction of its own.
pub async fn record(db: &Db, e: &Entry<'_>) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let seq = append(&mut tx, e).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Filters for [`list`]; empty strings match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: String,
    pub action: String,
    pub target: String,
    /// Only rows before this sequence number (paging backwards); 0 = from the newest.
    pub before: i64,
}

/// Newest first, at most `limit`.
pub async fn list(db: &Db, f: &Filter, limit: i64) -> Result<Vec<Record>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_id, action, target, ip, request_id, detail FROM audit_log \
         WHERE ($1 = '' OR actor_id = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR target = $3) AND ($4 = 0 OR seq < $4) \
         ORDER BY seq DESC LIMIT $5",
    )
    .bind(&f.actor)
    .bind(&f.action)
    .bind(&f.target)
    .bind(f.before)
    .bind(limit.clamp(1, 500))
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Record {
                seq: r.try_get(0)?,
                at: Timestamp(r.try_get(1)?).to_rfc3339(),
                actor_id: r.try_get(2)?,
                action: r.try_get(3)?,
                target: r.try_get(4)?,
                ip: r.try_get(5)?,
                request_id: r.try_get(6)?,
                detail: r.try_get(7)?,
            })
        })
        .collect()
}

/// What [`verify`] found: the rows checked and every break in the chain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub rows: i64,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walks the whole chain in order and recomputes every hash.
pub async fn verify(db: &Db) -> Result<Verification, sqlx::Error> {
    let mut out = Verification::default();
    let (head_seq, head_hash): (i64, String) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(db.reader()).await?;
    let mut prev = GENESIS.to_owned();
    let mut expected = 1i64;
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, action, target, ip, request_id, detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
        )
        .bind(after)
        .fetch_all(db.reader())
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq: i64 = r.try_get(0)?;
            let stored_prev: String = r.try_get(8)?;
            let stored: String = r.try_get(9)?;
            if seq != expected {
                out.problems.push(format!("rows {expected}..{} are missing (deleted)", seq - 1));
            }
            if stored_prev != prev {
                out.problems.push(format!("row {seq} does not follow the row before it (a row before it was deleted or edited)"));
            }
            let h = chain_hash(
                &stored_prev,
                seq,
                r.try_get(1)?,
                &r.try_get::<String, _>(2)?,
                &r.try_get::<String, _>(3)?,
                &r.try_get::<String, _>(4)?,
                &r.try_get::<String, _>(5)?,
                &r.try_get::<String, _>(6)?,
                &r.try_get::<String, _>(7)?,
            );
            if h != stored {
                out.problems.push(format!("row {seq} was edited (its hash does not match its contents)"));
            }
            prev = stored;
            expected = seq + 1;
            after = seq;
            out.rows += 1;
        }
    }
    if expected - 1 != head_seq {
        out.problems.push(format!("the log ends at row {} but {head_seq} rows were written (the newest were deleted)", expected - 1));
    } else if prev != head_hash {
        out.problems.push("the newest row does not match the head hash (it was edited or replaced)".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_every_field_and_the_link() {
        let base = chain_hash(GENESIS, 1, 10, "a", "b", "c", "d", "e", "f");
        assert_eq!(base.len(), 64);
        let variants = [
            chain_hash("1", 1, 10, "a", "b", "c", "d", "e", "f"),
            chain_hash(GENESIS, 2, 10, "a", "b", "c", "d", "e", "f"),
            chain_hash(GENESIS, 1, 11, "a", "b", "c", "d", "e", "f"),
            chain_hash(GENESIS, 1, 10, "ab", "", "c", "d", "e", "f"),
            chain_hash(GENESIS, 1, 10, "a", "b", "c", "d", "e", "g"),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }
}
