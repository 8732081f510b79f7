//! The accounts service's SQL. Only this module touches the accounts tables.

use kernel::{Timestamp, Tx};
use sqlx::{AnyPool, FromRow};

use crate::domain::{DealerStatus, Role, SessionId, SessionInfo, User, UserId};

#[derive(FromRow)]
pub(crate) struct AccountRow {
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub dealer_status: Option<String>,
    pub status: String,
    pub mfa_secret: Option<String>,
    pub mfa_pending_secret: Option<String>,
    /// 0 or 1: booleans are integers on both backends (sqlx's Any driver has no SQLite bool).
    pub mfa_enabled: i64,
    pub created_at: i64,
}

impl AccountRow {
    pub fn to_user(&self) -> User {
        User {
            id: UserId::parse(&self.account_id).unwrap_or_default(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: Role::parse(&self.role).unwrap_or(Role::Customer),
            dealer_status: DealerStatus::from_db(self.dealer_status.as_deref()),
            suspended: self.status == "suspended",
            mfa_enabled: self.mfa_enabled == 1,
            created_at: Timestamp(self.created_at),
        }
    }
}

const ACCOUNT_COLUMNS: &str = "account_id, email, display_name, password_hash, role, dealer_status, status, \
     mfa_secret, mfa_pending_secret, mfa_enabled, created_at";

pub(crate) struct NewAccount<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub dealer_status: Option<DealerStatus>,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn insert_account(tx: &mut Tx, a: &NewAccount<'_>) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO account (account_id, email, display_name, password_hash, role, dealer_status, status, mfa_enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', 0, $7, $7)",
    )
    .bind(a.id.to_string())
    .bind(a.email)
    .bind(a.display_name)
    .bind(a.password_hash)
    .bind(a.role.as_str())
    .bind(a.dealer_status.map(|s| s.as_str()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[tracing::instrument(skip(pool))]
pub(crate) async fn account_by_email(pool: &AnyPool, email: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE email = $1"))
        .bind(email)
        .fetch_optional(pool)
        .await
}

#[tracing::instrument(skip(tx))]
pub(crate) async fn account_by_id_tx(tx: &mut Tx, id: UserId) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE account_id = $1"))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
}

#[tracing::instrument(skip(pool))]
pub(crate) async fn account_by_id(pool: &AnyPool, id: UserId) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE account_id = $1"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
}

/// The session's account, if the token hash names a live session.
#[tracing::instrument(skip_all)]
pub(crate) async fn account_by_session(
    pool: &AnyPool,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(AccountRow, String, i64)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        account: AccountRow,
        account_session_id: String,
        last_seen_at: i64,
    }
    let sql = format!(
        "SELECT {cols}, s.account_session_id, s.last_seen_at FROM account_session s \
         JOIN account a ON a.account_id = s.account_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        cols = ACCOUNT_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ")
    );
    let row: Option<Row> = sqlx::query_as(&sql).bind(token_hash).bind(now.0).fetch_optional(pool).await?;
    Ok(row.map(|r| (r.account, r.account_session_id, r.last_seen_at)))
}

pub(crate) struct NewSessionRow<'a> {
    pub id: SessionId,
    pub account_id: UserId,
    pub token_hash: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: Timestamp,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn insert_session(tx: &mut Tx, s: &NewSessionRow<'_>) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO account_session (account_session_id, account_id, token_hash, ip, user_agent, created_at, last_seen_at, expires_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $6)",
    )
    .bind(s.id.to_string())
    .bind(s.account_id.to_string())
    .bind(s.token_hash)
    .bind(s.ip)
    .bind(s.user_agent)
    .bind(now)
    .bind(s.expires_at.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn touch_session(pool: &AnyPool, session_id: &str, now: Timestamp) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account_session SET last_seen_at = $1, updated_at = $1 WHERE account_session_id = $2")
        .bind(now.0)
        .bind(session_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn delete_session_by_hash(tx: &mut Tx, token_hash: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM account_session WHERE token_hash = $1").bind(token_hash).execute(&mut **tx).await?.rows_affected())
}

pub(crate) async fn delete_session(tx: &mut Tx, account_id: UserId, session_id: SessionId) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM account_session WHERE account_session_id = $1 AND account_id = $2")
        .bind(session_id.to_string())
        .bind(account_id.to_string())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Deletes every session of the account except `keep` (if given).
pub(crate) async fn delete_sessions_except(
    tx: &mut Tx,
    account_id: UserId,
    keep: Option<SessionId>,
) -> Result<u64, sqlx::Error> {
    let keep = keep.map(|k| k.to_string()).unwrap_or_default();
    Ok(sqlx::query("DELETE FROM account_session WHERE account_id = $1 AND account_session_id <> $2")
        .bind(account_id.to_string())
        .bind(keep)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

pub(crate) async fn list_sessions(
    pool: &AnyPool,
    account_id: UserId,
    current: SessionId,
    now: Timestamp,
) -> Result<Vec<SessionInfo>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        account_session_id: String,
        ip: Option<String>,
        user_agent: Option<String>,
        created_at: i64,
        last_seen_at: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT account_session_id, ip, user_agent, created_at, last_seen_at FROM account_session \
         WHERE account_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC",
    )
    .bind(account_id.to_string())
    .bind(now.0)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id = SessionId::parse(&r.account_session_id).unwrap_or_default();
            SessionInfo {
                id,
                ip: r.ip,
                user_agent: r.user_agent,
                created_at: Timestamp(r.created_at),
                last_seen_at: Timestamp(r.last_seen_at),
                current: id == current,
            }
        })
        .collect())
}

pub(crate) async fn update_password(tx: &mut Tx, id: UserId, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account SET password_hash = $1, updated_at = $2 WHERE account_id = $3")
        .bind(hash)
        .bind(Timestamp::now().0)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) async fn update_display_name(tx: &mut Tx, id: UserId, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account SET display_name = $1, updated_at = $2 WHERE account_id = $3")
        .bind(name)
        .bind(Timestamp::now().0)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) async fn set_pending_mfa_secret(tx: &mut Tx, id: UserId, secret: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account SET mfa_pending_secret = $1, updated_at = $2 WHERE account_id = $3")
        .bind(secret)
        .bind(Timestamp::now().0)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) async fn enable_mfa(tx: &mut Tx, id: UserId, secret: &str, step: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE account SET mfa_secret = $1, mfa_pending_secret = NULL, mfa_enabled = 1, mfa_last_step = $2, updated_at = $3 \
         WHERE account_id = $4",
    )
    .bind(secret)
    .bind(step)
    .bind(Timestamp::now().0)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn disable_mfa(tx: &mut Tx, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE account SET mfa_secret = NULL, mfa_pending_secret = NULL, mfa_enabled = 0, mfa_last_step = NULL, updated_at = $1 \
         WHERE account_id = $2",
    )
    .bind(Timestamp::now().0)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM recovery_code WHERE account_id = $1").bind(id.to_string()).execute(&mut **tx).await?;
    Ok(())
}

/// Records that `step` was used, only if it is newer than the last one: the single-use rule.
/// Returns false when the step was already used (a replay).
pub(crate) async fn consume_mfa_step(tx: &mut Tx, id: UserId, step: i64) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE account SET mfa_last_step = $1, updated_at = $2 \
         WHERE account_id = $3 AND (mfa_last_step IS NULL OR mfa_last_step < $1)",
    )
    .bind(step)
    .bind(Timestamp::now().0)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub(crate) async fn replace_recovery_codes(tx: &mut Tx, id: UserId, hashes: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_code WHERE account_id = $1").bind(id.to_string()).execute(&mut **tx).await?;
    let now = Timestamp::now().0;
    for h in hashes {
        sqlx::query(
            "INSERT INTO recovery_code (recovery_code_id, account_id, code_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(id.to_string())
        .bind(h)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Marks an unused recovery code as used; false if there is none with that hash.
pub(crate) async fn use_recovery_code(tx: &mut Tx, id: UserId, hash: &str) -> Result<bool, sqlx::Error> {
    let now = Timestamp::now().0;
    let n = sqlx::query(
        "UPDATE recovery_code SET used_at = $1, updated_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(id.to_string())
    .bind(hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

pub(crate) async fn unused_recovery_codes(pool: &AnyPool, id: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_code WHERE account_id = $1 AND used_at IS NULL")
        .bind(id.to_string())
        .fetch_one(pool)
        .await
}

pub(crate) async fn insert_challenge(
    tx: &mut Tx,
    account_id: UserId,
    token_hash: &str,
    expires_at: Timestamp,
) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO mfa_challenge (mfa_challenge_id, account_id, token_hash, attempts, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $5)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(account_id.to_string())
    .bind(token_hash)
    .bind(expires_at.0)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts an attempt on a live challenge and returns its account and attempt number.
pub(crate) async fn bump_challenge(
    tx: &mut Tx,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query("UPDATE mfa_challenge SET attempts = attempts + 1, updated_at = $1 WHERE token_hash = $2 AND expires_at > $1")
        .bind(now.0)
        .bind(token_hash)
        .execute(&mut **tx)
        .await?;
    sqlx::query_as("SELECT account_id, attempts FROM mfa_challenge WHERE token_hash = $1 AND expires_at > $2")
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(&mut **tx)
        .await
}

pub(crate) async fn delete_challenge(tx: &mut Tx, token_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mfa_challenge WHERE token_hash = $1").bind(token_hash).execute(&mut **tx).await?;
    Ok(())
}

pub(crate) async fn record_failure(pool: &AnyPool, scope: &str, subject: &str) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO sign_in_failure (sign_in_failure_id, scope, subject, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(scope)
    .bind(subject)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Failures since `since`, and the oldest of them (to compute when the window reopens).
pub(crate) async fn failures_since(
    pool: &AnyPool,
    scope: &str,
    subject: &str,
    since: Timestamp,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM sign_in_failure WHERE scope = $1 AND subject = $2 AND created_at > $3")
        .bind(scope)
        .bind(subject)
        .bind(since.0)
        .fetch_one(pool)
        .await
}

pub(crate) async fn clear_failures(pool: &AnyPool, scope: &str, subject: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_failure WHERE scope = $1 AND subject = $2").bind(scope).bind(subject).execute(pool).await?;
    Ok(())
}

pub(crate) async fn list_dealers(pool: &AnyPool, status: DealerStatus) -> Result<Vec<AccountRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM account WHERE role = 'dealer' AND dealer_status = $1 ORDER BY created_at LIMIT 500"
    ))
    .bind(status.as_str())
    .fetch_all(pool)
    .await
}

pub(crate) async fn set_dealer_status(
    tx: &mut Tx,
    id: UserId,
    status: DealerStatus,
    note: Option<&str>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE account SET dealer_status = $1, dealer_note = $2, updated_at = $3 WHERE account_id = $4 AND role = 'dealer'",
    )
    .bind(status.as_str())
    .bind(note)
    .bind(Timestamp::now().0)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

pub(crate) async fn set_role(tx: &mut Tx, id: UserId, role: Role, dealer_status: Option<DealerStatus>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("UPDATE account SET role = $1, dealer_status = $2, updated_at = $3 WHERE account_id = $4")
        .bind(role.as_str())
        .bind(dealer_status.map(|s| s.as_str()))
        .bind(Timestamp::now().0)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Admin search: by email or display name (case-insensitive substring), newest first.
pub(crate) async fn search_accounts(pool: &AnyPool, query: &str, role: Option<Role>, suspended: Option<bool>, limit: i64) -> Result<Vec<AccountRow>, sqlx::Error> {
    let pattern = format!("%{}%", query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM account WHERE (LOWER(email) LIKE $1 ESCAPE '\\' OR LOWER(display_name) LIKE $1 ESCAPE '\\') \
         AND ($2 = '' OR role = $2) AND ($3 = '' OR status = $3) ORDER BY created_at DESC LIMIT $4"
    ))
    .bind(pattern)
    .bind(role.map(|r| r.as_str()).unwrap_or(""))
    .bind(match suspended { Some(true) => "suspended", Some(false) => "active", None => "" })
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub(crate) async fn set_account_status(tx: &mut Tx, id: UserId, suspended: bool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("UPDATE account SET status = $1, updated_at = $2 WHERE account_id = $3")
        .bind(if suspended { "suspended" } else { "active" })
        .bind(Timestamp::now().0)
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

pub(crate) async fn delete_sessions_of(tx: &mut Tx, id: UserId) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM account_session WHERE account_id = $1").bind(id.to_string()).execute(&mut **tx).await?.rows_affected())
}

/// Counts for the admin dashboard: all accounts, dealers, suspended, new since `since`, and
/// active since `since` (a session used).
pub(crate) async fn account_counts(pool: &AnyPool, since: i64) -> Result<(i64, i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN role = 'dealer' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN status = 'suspended' THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END), 0), \
         (SELECT COUNT(DISTINCT account_id) FROM account_session WHERE last_seen_at >= $1) FROM account",
    )
    .bind(since)
    .fetch_one(pool)
    .await
}

/// Replaces everything personal in an account with placeholders; it can never sign in again.
pub(crate) async fn erase_account(tx: &mut Tx, id: UserId) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "UPDATE account SET email = $1, display_name = 'Deleted account', password_hash = '!', status = 'suspended', \
         mfa_secret = NULL, mfa_pending_secret = NULL, mfa_enabled = 0, dealer_note = NULL, updated_at = $2 WHERE account_id = $3",
    )
    .bind(format!("deleted-{}@deleted.invalid", id))
    .bind(now)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    for sql in ["DELETE FROM recovery_code WHERE account_id = $1", "DELETE FROM mfa_challenge WHERE account_id = $1", "DELETE FROM account_identity WHERE account_id = $1"] {
        sqlx::query(sql).bind(id.to_string()).execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn account_by_email_tx(tx: &mut Tx, email: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE email = $1")).bind(email).fetch_optional(&mut **tx).await
}

pub(crate) async fn identity_account(tx: &mut Tx, provider: &str, subject: &str) -> Result<Option<UserId>, sqlx::Error> {
    let id: Option<String> = sqlx::query_scalar("SELECT account_id FROM account_identity WHERE provider = $1 AND subject = $2")
        .bind(provider)
        .bind(subject)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(id.and_then(|s| UserId::parse(&s).ok()))
}

/// Links an identity; the email it came with is not stored (the account has its own).
pub(crate) async fn insert_identity(tx: &mut Tx, provider: &str, subject: &str, account: UserId, _email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO account_identity (provider, subject, account_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(provider)
        .bind(subject)
        .bind(account.to_string())
        .bind(Timestamp::now().0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) async fn insert_oidc_flow(pool: &AnyPool, state_hash: &str, nonce: &str, verifier: &str, return_to: &str, expires_at: Timestamp) -> Result<(), sqlx::Error> {
    // forget flows nobody finished
    sqlx::query("DELETE FROM oidc_flow WHERE expires_at < $1").bind(Timestamp::now().0).execute(pool).await?;
    sqlx::query("INSERT INTO oidc_flow (state_hash, nonce, verifier, return_to, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(state_hash)
        .bind(nonce)
        .bind(verifier)
        .bind(return_to)
        .bind(expires_at.0)
        .execute(pool)
        .await?;
    Ok(())
}

/// Takes a live flow (once): (nonce, PKCE verifier, return path).
pub(crate) async fn take_oidc_flow(pool: &AnyPool, state_hash: &str, now: Timestamp) -> Result<Option<(String, String, String)>, sqlx::Error> {
    sqlx::query_as("DELETE FROM oidc_flow WHERE state_hash = $1 AND expires_at > $2 RETURNING nonce, verifier, return_to")
        .bind(state_hash)
        .bind(now.0)
        .fetch_optional(pool)
        .await
}
