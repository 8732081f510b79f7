//! Snapshots of an instance's in-memory state (the search index, the recommendations' item space),
//! kept in the database so every instance — a laptop, one of a fleet, a Lambda sandbox with an empty
//! disk — can start from one. Each is stamped with the outbox position it reflects and when it was
//! taken; a starting instance loads it and catches up from the outbox with the follow loop it runs
//! anyway, instead of rebuilding from every listing.
//!
//! A snapshot is only a cache: its `format` names the layout (and the schema it was built with), and
//! a reader that does not recognise it, or finds it older than it trusts, rebuilds from the database.

use sqlx::Row;

use crate::{time::Timestamp, Db};

/// A stored snapshot.
pub struct Snapshot {
    pub format: String,
    pub position: i64,
    pub taken_at: Timestamp,
    pub body: Vec<u8>,
}

/// The snapshot stored under `name`, if any.
pub async fn load(db: &Db, name: &str) -> Result<Option<Snapshot>, sqlx::Error> {
    let row = sqlx::query("SELECT format, position, taken_at, body FROM state_snapshot WHERE name = $1").bind(name).fetch_optional(db.reader()).await?;
    row.map(|r| Ok(Snapshot { format: r.try_get(0)?, position: r.try_get(1)?, taken_at: Timestamp(r.try_get(2)?), body: r.try_get(3)? })).transpose()
}

/// A snapshot a starting instance may load, and the outbox position to follow from after it.
pub struct Usable {
    pub body: Vec<u8>,
    pub taken_at: Timestamp,
    /// The snapshot's position, moved back to before the first event created in the
    /// [`MARGIN`] before it was taken: those may have committed (or been applied by a concurrent
    /// catch-up) after the snapshot read its position, so they are applied again (idempotently).
    pub cursor: i64,
}

/// How long before a snapshot was taken events are applied again after loading it.
pub const MARGIN: std::time::Duration = std::time::Duration::from_secs(60);
/// How old a snapshot a starting instance trusts (popularity drifts day by day, and the outbox is
/// pruned after 30 days).
pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// The snapshot under `name` if it is of `format`, under [`MAX_AGE`] old, not from the future and
/// not ahead of the outbox (then it comes from another history of this database); else none, and
/// the caller rebuilds.
pub async fn load_usable(db: &Db, name: &str, format: &str) -> Result<Option<Usable>, sqlx::Error> {
    let Some(snap) = load(db, name).await? else { return Ok(None) };
    let now = Timestamp::now();
    if snap.format != format || snap.taken_at < now.minus(MAX_AGE) || snap.taken_at > now.plus(MARGIN) {
        return Ok(None);
    }
    if snap.position > crate::outbox::last_seq(db).await? {
        return Ok(None);
    }
    let cursor = match crate::outbox::first_seq_since(db, snap.taken_at.minus(MARGIN)).await? {
        Some(first) => snap.position.min(first - 1),
        None => snap.position,
    };
    Ok(Some(Usable { body: snap.body, taken_at: snap.taken_at, cursor }))
}

/// When the snapshot under `name` was taken, without reading its body.
pub async fn taken_at(db: &Db, name: &str) -> Result<Option<Timestamp>, sqlx::Error> {
    let v: Option<i64> = sqlx::query_scalar("SELECT taken_at FROM state_snapshot WHERE name = $1").bind(name).fetch_optional(db.reader()).await?;
    Ok(v.map(Timestamp))
}

/// Stores a snapshot under `name`, replacing the one there (instances of a fleet may race: each
/// snapshot is whole and consistent in itself, so the last writer winning is fine).
pub async fn save(db: &Db, name: &str, format: &str, position: i64, taken_at: Timestamp, body: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO state_snapshot (name, format, position, taken_at, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET format = $2, position = $3, taken_at = $4, body = $5",
    )
    .bind(name)
    .bind(format)
    .bind(position)
    .bind(taken_at.0)
    .bind(body)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Drops every snapshot: for writes that bypass the outbox (the demo seed's bulk insert), after
/// which only a rebuild from the database is right.
pub async fn clear(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM state_snapshot").execute(db.writer()).await?;
    Ok(())
}

/// A little-endian binary writer for snapshot bodies.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

/// Reads what [`Writer`] wrote; every read checks the length left, so a truncated or foreign body
/// is an error, never a panic.
pub struct Reader<'a> {
    buf: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
#[error("the snapshot is damaged: {0}")]
pub struct Damaged(pub &'static str);

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Damaged> {
        if self.buf.len() < n {
            return Err(Damaged("it ends early"));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, Damaged> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, Damaged> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| Damaged("u32"))?))
    }
    pub fn u64(&mut self) -> Result<u64, Damaged> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| Damaged("u64"))?))
    }
    pub fn f32(&mut self) -> Result<f32, Damaged> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().map_err(|_| Damaged("f32"))?))
    }
    /// A length read from the body, checked against what is left (at least `unit` bytes each).
    pub fn len(&mut self, unit: usize) -> Result<usize, Damaged> {
        let n = self.u64()? as usize;
        if n.saturating_mul(unit.max(1)) > self.buf.len() {
            return Err(Damaged("a length runs past the end"));
        }
        Ok(n)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], Damaged> {
        let n = self.len(1)?;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<&'a str, Damaged> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Damaged("text is not UTF-8"))
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_back_and_a_cut_one_is_an_error() {
        let mut w = Writer::default();
        w.u8(7);
        w.u32(42);
        w.f32(1.5);
        w.str("oak bowl");
        w.bytes(&[1, 2, 3]);
        let mut r = Reader::new(&w.0);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u32().unwrap(), 42);
        assert_eq!(r.f32().unwrap(), 1.5);
        assert_eq!(r.str().unwrap(), "oak bowl");
        assert_eq!(r.bytes().unwrap(), &[1, 2, 3]);
        assert!(r.is_empty());
        let cut = &w.0[..w.0.len() - 2];
        let mut r = Reader::new(cut);
        r.u8().unwrap();
        r.u32().unwrap();
        r.f32().unwrap();
        r.str().unwrap();
        assert!(r.bytes().is_err());
        // a length that claims more than is there
        let mut w = Writer::default();
        w.u64(u64::MAX);
        assert!(Reader::new(&w.0).len(8).is_err());
    }
}
