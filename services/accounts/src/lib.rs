//! Accounts: people, their credentials and sessions, TOTP MFA, roles and dealer approval.
//! Every operation that needs a role checks it here, in the service, whatever the caller shows.

mod db;
pub mod domain;
mod error;
pub mod events;
mod password;
mod service;
pub mod totp;

pub use domain::*;
pub use error::AccountsError;
pub use password::{hash_password, verify_password, Argon2Params};
pub mod oidc;
pub use service::{token_hash, Accounts, AccountsConfig};
