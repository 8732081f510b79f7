/// One error type for the service; `code()` is stable and is what adapters map to statuses.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("{field}: {message}")]
    InvalidInput { field: &'static str, message: String },
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("the verification code is wrong or was already used")]
    InvalidMfaCode,
    #[error("the sign-in step expired, sign in again")]
    ChallengeExpired,
    #[error("too many failed attempts, try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("sign in first")]
    Unauthenticated,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("this account is suspended")]
    Suspended,
    #[error("not found")]
    NotFound,
    #[error("two-factor authentication is already on")]
    MfaAlreadyEnabled,
    #[error("start two-factor set-up first")]
    MfaNotStarted,
    /// The action clashes with the account's state (e.g. erasing it with orders in progress).
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[from] InternalError),
}

/// Wraps unexpected failures; the text is logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

impl From<sqlx::Error> for AccountsError {
    fn from(e: sqlx::Error) -> Self {
        AccountsError::Internal(InternalError::Db(e))
    }
}

impl AccountsError {
    pub fn code(&self) -> &'static str {
        match self {
            AccountsError::InvalidInput { .. } => "invalid_input",
            AccountsError::EmailTaken => "email_taken",
            AccountsError::InvalidCredentials => "invalid_credentials",
            AccountsError::InvalidMfaCode => "invalid_mfa_code",
            AccountsError::ChallengeExpired => "challenge_expired",
            AccountsError::Throttled { .. } => "too_many_attempts",
            AccountsError::Unauthenticated => "unauthenticated",
            AccountsError::Forbidden => "forbidden",
            AccountsError::Suspended => "account_suspended",
            AccountsError::NotFound => "not_found",
            AccountsError::MfaAlreadyEnabled => "mfa_already_enabled",
            AccountsError::MfaNotStarted => "mfa_not_started",
            AccountsError::Conflict(_) => "conflict",
            AccountsError::Internal(_) => "internal",
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            AccountsError::InvalidInput { field, .. } => Some(field),
            AccountsError::EmailTaken => Some("email"),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AccountsError::InvalidInput { field, message: message.into() }
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        AccountsError::Internal(InternalError::Other(msg.into()))
    }
}
