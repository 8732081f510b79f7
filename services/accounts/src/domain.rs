//! Parsed, validated values: once you hold one, it is valid.

use kernel::Timestamp;
use serde::{Deserialize, Serialize};

use crate::AccountsError;

kernel::typed_id!(UserId);
kernel::typed_id!(SessionId);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AccountsError> {
        let s = raw.trim();
        let err = |m: &str| AccountsError::invalid("email", m);
        if s.is_empty() {
            return Err(err("email is required"));
        }
        if s.chars().count() > 254 {
            return Err(err("email is too long (at most 254 characters)"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(err("email must look like name@example.com"));
        };
        let ok_local = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let ok_domain = domain.contains('.')
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !ok_local || !ok_domain {
            return Err(err("email must look like name@example.com"));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy: 8 to 128 characters (Unicode scalar values), not all spaces.
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, AccountsError> {
        Self::parse_field("password", raw)
    }

    pub fn parse_field(field: &'static str, raw: &str) -> Result<Self, AccountsError> {
        let n = raw.chars().count();
        if n < Self::MIN {
            return Err(AccountsError::invalid(field, format!("password must be at least {} characters", Self::MIN)));
        }
        if n > Self::MAX {
            return Err(AccountsError::invalid(field, format!("password must be at most {} characters", Self::MAX)));
        }
        if raw.trim().is_empty() {
            return Err(AccountsError::invalid(field, "password cannot be only spaces"));
        }
        if raw.chars().any(|c| c.is_control()) {
            return Err(AccountsError::invalid(field, "password cannot contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, AccountsError> {
        let s = raw.trim();
        let err = |m: &str| AccountsError::invalid("display_name", m);
        if s.is_empty() {
            return Err(err("name is required"));
        }
        if s.chars().count() > 80 {
            return Err(err("name is too long (at most 80 characters)"));
        }
        if s.chars().any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')) {
            return Err(err("name contains invisible control characters"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Dealer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Dealer => "dealer",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Result<Self, AccountsError> {
        match s.trim() {
            "customer" => Ok(Role::Customer),
            "dealer" => Ok(Role::Dealer),
            "admin" => Ok(Role::Admin),
            _ => Err(AccountsError::invalid("role", "role must be customer, dealer or admin")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealerStatus {
    Pending,
    Approved,
    Rejected,
}

impl DealerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DealerStatus::Pending => "pending",
            DealerStatus::Approved => "approved",
            DealerStatus::Rejected => "rejected",
        }
    }
    pub(crate) fn from_db(s: Option<&str>) -> Option<Self> {
        match s {
            Some("pending") => Some(DealerStatus::Pending),
            Some("approved") => Some(DealerStatus::Approved),
            Some("rejected") => Some(DealerStatus::Rejected),
            _ => None,
        }
    }
}

/// What any part of the product may know about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub dealer_status: Option<DealerStatus>,
    pub suspended: bool,
    pub mfa_enabled: bool,
    pub created_at: Timestamp,
}

impl User {
    /// A dealer who may act as one (approved by an admin).
    pub fn is_active_dealer(&self) -> bool {
        self.role == Role::Dealer && self.dealer_status == Some(DealerStatus::Approved)
    }
}

/// The authenticated caller of an operation.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub session_id: SessionId,
}

impl Principal {
    pub fn require_admin(&self) -> Result<(), AccountsError> {
        if self.user.role == Role::Admin {
            Ok(())
        } else {
            Err(AccountsError::Forbidden)
        }
    }

    /// An approved dealer; a pending or rejected one is refused.
    pub fn require_dealer(&self) -> Result<(), AccountsError> {
        if self.user.is_active_dealer() {
            Ok(())
        } else {
            Err(AccountsError::Forbidden)
        }
    }
}

/// Who is asking, for throttling and the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub struct SignUp {
    pub email: String,
    pub password: String,
    pub display_name: String,
    pub as_dealer: bool,
}

/// A new session: the token is shown to the client once and stored only as a hash.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub user: User,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub enum SignInOutcome {
    SignedIn(NewSession),
    /// The password was right and the account has MFA: finish with the code and this token.
    MfaRequired { challenge: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: SessionId,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MfaSetup {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        assert!(Password::parse("").is_err());
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("        ").is_err());
        assert!(Password::parse("pass\u{0}word").is_err());
        // counted in characters, not bytes: 8 multi-byte characters are enough
        assert!(Password::parse("ĉĉĉĉĉĉĉĉ").is_ok());
        assert!(Password::parse(&"ĉ".repeat(128)).is_ok());
        let msg = Password::parse("short").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(msg, "password: password must be at least 8 characters");
    }

    #[test]
    fn email_parsing() {
        assert_eq!(Email::parse(" Ana@Example.COM ").map(|e| e.as_str().to_owned()).ok().as_deref(), Some("ana@example.com"));
        for bad in ["", "ana", "ana@", "@x.com", "ana@x", "a b@x.com", "ana@x..com", "<script>@x.com", "ana@-x.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(300))).is_err());
    }

    #[test]
    fn display_names() {
        assert!(DisplayName::parse("  ").is_err());
        assert!(DisplayName::parse("Zoë 🦀 Ōno").is_ok());
        assert!(DisplayName::parse("evil\u{202e}txt").is_err());
        assert!(DisplayName::parse(&"a".repeat(81)).is_err());
    }
}
