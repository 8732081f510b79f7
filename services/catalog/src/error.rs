/// One error type for the service; `code()` is stable and is what adapters map to statuses.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("only {available} of \"{title}\" left in stock")]
    OutOfStock { product_id: String, title: String, available: i64 },
    #[error("internal error")]
    Internal(String),
}

impl From<sqlx::Error> for CatalogError {
    fn from(e: sqlx::Error) -> Self {
        CatalogError::Internal(format!("database: {e}"))
    }
}

impl From<accounts::AccountsError> for CatalogError {
    fn from(e: accounts::AccountsError) -> Self {
        match e {
            accounts::AccountsError::Forbidden => CatalogError::Forbidden,
            other => CatalogError::Internal(other.to_string()),
        }
    }
}

impl CatalogError {
    pub fn code(&self) -> &'static str {
        match self {
            CatalogError::InvalidInput { .. } => "invalid_input",
            CatalogError::Forbidden => "forbidden",
            CatalogError::NotFound => "not_found",
            CatalogError::Conflict(_) => "conflict",
            CatalogError::OutOfStock { .. } => "out_of_stock",
            CatalogError::Internal(_) => "internal",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            CatalogError::InvalidInput { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CatalogError::InvalidInput { field: field.into(), message: message.into() }
    }
}
