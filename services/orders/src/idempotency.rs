//! `Idempotency-Key` for checkout and payment requests: the first answer to a key is stored and
//! replayed to every repeat with the same body; the same key with a different body is refused.
//! Concurrent repeats wait for the first to finish (one row per key is the lock).

use std::time::Duration;

use kernel::Timestamp;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Orders, OrdersError};

pub const MAX_KEY_LEN: usize = 255;

#[derive(Serialize, Deserialize)]
struct StoredError {
    code: String,
    message: String,
    field: Option<String>,
}

/// A hash of what identifies a request: route and body.
pub fn request_hash(route: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

/// A fresh key for a form that may be submitted twice (the page's checkout form).
pub fn new_key() -> String {
    kernel::ids::random_hex(16)
}

pub fn check_key(key: &str) -> Result<(), OrdersError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(OrdersError::invalid("Idempotency-Key", format!("use 1 to {MAX_KEY_LEN} printable ASCII characters, e.g. a UUID")));
    }
    Ok(())
}

impl Orders {
    /// Runs `f` once per (`scope`, `key`); repeats get the stored result. Without a key, just runs `f`.
    pub async fn idempotent<T, F>(&self, scope: &str, key: Option<&str>, hash: &str, f: F) -> Result<T, OrdersError>
    where
        T: Serialize + DeserializeOwned,
        F: std::future::Future<Output = Result<T, OrdersError>>,
    {
        let Some(key) = key else { return f.await };
        check_key(key)?;
        let now = Timestamp::now().0;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_record (scope, idem_key, request_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (scope, idem_key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(hash)
        .bind(now)
        .execute(self.db().writer())
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            return self.replay(scope, key, hash).await;
        }
        let result = f.await;
        let (status, body) = match &result {
            Ok(v) => (200_i64, serde_json::to_string(v).map_err(|e| OrdersError::Internal(e.to_string()))?),
            // an internal failure may succeed when retried: forget the key
            Err(OrdersError::Internal(_)) | Err(OrdersError::Provider(_)) => {
                sqlx::query("DELETE FROM idempotency_record WHERE scope = $1 AND idem_key = $2").bind(scope).bind(key).execute(self.db().writer()).await?;
                return result;
            }
            Err(e) => (
                400,
                serde_json::to_string(&StoredError { code: e.code().to_owned(), message: e.message(), field: e.field().map(str::to_owned) })
                    .map_err(|e| OrdersError::Internal(e.to_string()))?,
            ),
        };
        sqlx::query("UPDATE idempotency_record SET status_code = $1, response_body = $2, updated_at = $3 WHERE scope = $4 AND idem_key = $5")
            .bind(status)
            .bind(body)
            .bind(Timestamp::now().0)
            .bind(scope)
            .bind(key)
            .execute(self.db().writer())
            .await?;
        result
    }

    async fn replay<T: DeserializeOwned>(&self, scope: &str, key: &str, hash: &str) -> Result<T, OrdersError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let row: Option<(String, Option<i64>, Option<String>)> =
                sqlx::query_as("SELECT request_hash, status_code, response_body FROM idempotency_record WHERE scope = $1 AND idem_key = $2")
                    .bind(scope)
                    .bind(key)
                    .fetch_optional(self.db().reader())
                    .await?;
            match row {
                // the first request failed internally and gave the key back: try as new
                None => return Err(OrdersError::IdempotencyInFlight),
                Some((h, _, _)) if h != hash => return Err(OrdersError::IdempotencyMismatch),
                Some((_, Some(200), Some(body))) => return serde_json::from_str(&body).map_err(|e| OrdersError::Internal(e.to_string())),
                Some((_, Some(_), Some(body))) => {
                    let e: StoredError = serde_json::from_str(&body).map_err(|e| OrdersError::Internal(e.to_string()))?;
                    return Err(OrdersError::Replayed { code: e.code, message: e.message, field: e.field });
                }
                _ if std::time::Instant::now() > deadline => return Err(OrdersError::IdempotencyInFlight),
                _ => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }
}
