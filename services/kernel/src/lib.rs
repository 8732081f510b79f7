//! Shared foundations every service builds on: the database handle (SQLite or PostgreSQL behind one
//! type), typed ids, money, time, the event envelope and its outbox.
//! Nothing here knows about HTTP or Leptos.

pub mod audit;
pub mod crypto;
pub mod db;
pub mod events;
pub mod hub;
pub mod ids;
pub mod money;
pub mod outbox;
pub mod saga;
pub mod snapshot;
pub mod time;

pub use db::{Backend, Db, DbError, Tx};
pub use money::{Currency, Money, MoneyError};
pub use time::Timestamp;

/// Compares two secrets without returning early, so the time taken says nothing about where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
