/// One error type for the service; `code()` is stable and is what adapters map to statuses.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("sign in first")]
    Unauthenticated,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("only {available} of \"{title}\" left in stock")]
    OutOfStock { product_id: String, title: String, available: i64 },
    #[error("the payment provider could not be reached: {0}")]
    Provider(String),
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyMismatch,
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    IdempotencyInFlight,
    /// The replayed error answer of an earlier request with the same Idempotency-Key.
    #[error("{message}")]
    Replayed { code: String, message: String, field: Option<String> },
    #[error("internal error")]
    Internal(String),
}

impl From<sqlx::Error> for OrdersError {
    fn from(e: sqlx::Error) -> Self {
        OrdersError::Internal(format!("database: {e}"))
    }
}

impl From<accounts::AccountsError> for OrdersError {
    fn from(e: accounts::AccountsError) -> Self {
        match e {
            accounts::AccountsError::Forbidden => OrdersError::Forbidden,
            accounts::AccountsError::Unauthenticated => OrdersError::Unauthenticated,
            other => OrdersError::Internal(other.to_string()),
        }
    }
}

impl From<catalog::CatalogError> for OrdersError {
    fn from(e: catalog::CatalogError) -> Self {
        use catalog::CatalogError as C;
        match e {
            C::InvalidInput { field, message } => OrdersError::InvalidInput { field, message },
            C::Forbidden => OrdersError::Forbidden,
            C::NotFound => OrdersError::NotFound,
            C::Conflict(m) => OrdersError::Conflict(m),
            C::OutOfStock { product_id, title, available } => OrdersError::OutOfStock { product_id, title, available },
            C::Internal(m) => OrdersError::Internal(m),
        }
    }
}

impl OrdersError {
    pub fn code(&self) -> &str {
        match self {
            OrdersError::InvalidInput { .. } => "invalid_input",
            OrdersError::Unauthenticated => "unauthenticated",
            OrdersError::Forbidden => "forbidden",
            OrdersError::NotFound => "not_found",
            OrdersError::Conflict(_) => "conflict",
            OrdersError::OutOfStock { .. } => "out_of_stock",
            OrdersError::Provider(_) => "provider_unavailable",
            OrdersError::IdempotencyMismatch => "idempotency_key_reused",
            OrdersError::IdempotencyInFlight => "idempotency_key_in_use",
            OrdersError::Replayed { code, .. } => code,
            OrdersError::Internal(_) => "internal",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            OrdersError::InvalidInput { field, .. } => Some(field),
            OrdersError::Replayed { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// What the person should read (the field is reported separately).
    pub fn message(&self) -> String {
        match self {
            OrdersError::InvalidInput { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        OrdersError::InvalidInput { field: field.into(), message: message.into() }
    }
}
