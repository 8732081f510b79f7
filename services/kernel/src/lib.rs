//! Shared foundations every service builds on: the database handle (SQLite or PostgreSQL behind one
//! type), typed ids, money, time, the event envelope and its outbox.
//! Nothing here knows about HTTP or Leptos.

pub mod db;
pub mod events;
pub mod hub;
pub mod ids;
pub mod money;
pub mod outbox;
pub mod saga;
pub mod time;

pub use db::{Backend, Db, DbError, Tx};
pub use money::{Currency, Money, MoneyError};
pub use time::Timestamp;
