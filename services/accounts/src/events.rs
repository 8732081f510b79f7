//! The accounts service's events (the contract other services consume; docs/EVENTS.md).

use kernel::outbox::Event;
use serde::{Deserialize, Serialize};

use crate::{DealerStatus, Role, UserId};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: UserId,
    pub role: Role,
    pub dealer_status: Option<DealerStatus>,
}

impl Event for UserRegistered {
    const TYPE: &'static str = "accounts.UserRegistered";
    fn aggregate_id(&self) -> String {
        self.user_id.to_string()
    }
}

/// An admin's decision on a dealer application (`approved`: DealerApproved, else DealerRejected).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DealerDecided {
    pub dealer_id: UserId,
    pub by: UserId,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DealerApproved(pub DealerDecided);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DealerRejected(pub DealerDecided);

impl Event for DealerApproved {
    const TYPE: &'static str = "accounts.DealerApproved";
    fn aggregate_id(&self) -> String {
        self.0.dealer_id.to_string()
    }
}

impl Event for DealerRejected {
    const TYPE: &'static str = "accounts.DealerRejected";
    fn aggregate_id(&self) -> String {
        self.0.dealer_id.to_string()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaEnabled {
    pub user_id: UserId,
}

impl Event for MfaEnabled {
    const TYPE: &'static str = "accounts.MfaEnabled";
    fn aggregate_id(&self) -> String {
        self.user_id.to_string()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaDisabled {
    pub user_id: UserId,
}

impl Event for MfaDisabled {
    const TYPE: &'static str = "accounts.MfaDisabled";
    fn aggregate_id(&self) -> String {
        self.user_id.to_string()
    }
}

/// An admin suspended an account; its sessions ended in the same transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSuspended {
    pub user_id: UserId,
    pub by: UserId,
    pub reason: Option<String>,
}

impl Event for UserSuspended {
    const TYPE: &'static str = "accounts.UserSuspended";
    fn aggregate_id(&self) -> String {
        self.user_id.to_string()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserReinstated {
    pub user_id: UserId,
    pub by: UserId,
}

impl Event for UserReinstated {
    const TYPE: &'static str = "accounts.UserReinstated";
    fn aggregate_id(&self) -> String {
        self.user_id.to_string()
    }
}

/// An account was erased at its owner's request; every service erases the personal data it holds
/// about `user_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDeleted {
    pub user_id: UserId,
    pub role: String,
}

impl Event for UserDeleted {
    const TYPE: &'static str = "accounts.UserDeleted";
    fn aggregate_id(&self) -> String {
        self.user_id.to_string()
    }
}
