//! Server functions: thin adapters from the pages to the services. Each gets the caller and the
//! service from context, calls one service method and maps the result.

pub mod account;
pub mod admin;
pub mod auth;
pub mod catalog;
pub mod custom;
pub mod notify;
pub mod orders;
pub mod recommend;

use serde::{Deserialize, Serialize};

/// What the pages know of a user (the wasm side cannot depend on the service crates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub dealer_status: Option<String>,
    pub mfa_enabled: bool,
    pub created_at: String,
}

impl UserView {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
    pub fn is_dealer(&self) -> bool {
        self.role == "dealer"
    }
    pub fn is_approved_dealer(&self) -> bool {
        self.is_dealer() && self.dealer_status.as_deref() == Some("approved")
    }
}

#[cfg(feature = "ssr")]
impl From<accounts::User> for UserView {
    fn from(u: accounts::User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            display_name: u.display_name,
            role: u.role.as_str().to_owned(),
            dealer_status: u.dealer_status.map(|s| s.as_str().to_owned()),
            mfa_enabled: u.mfa_enabled,
            created_at: u.created_at.to_rfc3339(),
        }
    }
}
