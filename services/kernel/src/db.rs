//! One storage layer for both backends. SQL is written once with `$n` placeholders (sqlx binds them by
//! number on SQLite too); where the dialects differ, the repository module asks [`Db::backend`].
//! On SQLite every write transaction goes through a single-connection pool: SQLite allows one writer at a
//! time anyway, and queueing in the pool avoids `SQLITE_BUSY` on lock upgrades.

use std::{
    ops::{Deref, DerefMut},
    path::Path,
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    AnyPool, Executor,
};

use tokio::sync::watch;

/// Bumped whenever new background work (events, sagas) may be due; every waiting loop sees it.
type WakeTx = Arc<watch::Sender<u64>>;

/// A write transaction. Derefs to the connection, so repository code runs queries on `&mut **tx`.
/// Committing a transaction that wrote events wakes this instance's event dispatcher.
pub struct Tx {
    inner: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    wake: WakeTx,
    wrote_events: bool,
}

impl Tx {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn mark_events_written(&mut self) {
        self.wrote_events = true;
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await?;
        if self.wrote_events {
            self.wake.send_modify(|v| *v = v.wrapping_add(1));
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl Deref for Tx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

/// The migrations built into this binary. A database may hold migrations a newer release applied
/// (a rollback to the previous build, or an old instance of a fleet still serving during a deploy):
/// migrations only ever add, so this build starts on that schema instead of refusing it; a changed
/// migration it knows is still an error.
static SQLITE_MIGRATIONS: std::sync::LazyLock<Migrator> = std::sync::LazyLock::new(|| newer_applied_is_fine(sqlx::migrate!("../../migrations/sqlite")));
static POSTGRES_MIGRATIONS: std::sync::LazyLock<Migrator> = std::sync::LazyLock::new(|| newer_applied_is_fine(sqlx::migrate!("../../migrations/postgres")));

fn newer_applied_is_fine(mut m: Migrator) -> Migrator {
    m.set_ignore_missing(true);
    m
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database url (expected sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Cheap to clone: pools are reference counted.
#[derive(Clone, Debug)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    url: String,
    wake: WakeTx,
    /// Seals personal data before it is stored (see [`crate::crypto`]); set at start-up.
    vault: Option<Arc<crate::crypto::Vault>>,
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`); the SQLite file is created if missing.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(redact(url)));
        };
        let opts = AnyConnectOptions::from_str(url)?;
        match backend {
            Backend::Sqlite => {
                let opts = if url.contains("mode=") {
                    opts
                } else {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    AnyConnectOptions::from_str(&format!("{url}{sep}mode=rwc"))?
                };
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(sqlite_pragmas)
                    .connect_with(opts.clone())
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(sqlite_pragmas)
                    .connect_with(opts)
                    .await?;
                Ok(Self { read, write, backend, url: url.to_owned(), wake: Arc::new(watch::channel(0).0), vault: None })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?;
                Ok(Self { read: pool.clone(), write: pool, backend, url: url.to_owned(), wake: Arc::new(watch::channel(0).0), vault: None })
            }
        }
    }

    /// The SQLite url for a database file inside `dir`, creating the folder.
    pub fn sqlite_url_in(dir: &Path) -> std::io::Result<String> {
        std::fs::create_dir_all(dir)?;
        Ok(format!("sqlite://{}", dir.join("bespoke.db").display()))
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.write).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.write).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This handle with the vault that seals personal data.
    pub fn with_vault(mut self, vault: Arc<crate::crypto::Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The vault; an error (never a silent plaintext) when none was configured.
    pub fn vault(&self) -> Result<&crate::crypto::Vault, crate::crypto::CryptoError> {
        self.vault.as_deref().ok_or_else(|| crate::crypto::CryptoError::Config("no encryption keys are configured for this process".into()))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Pool for reads that need no transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Opens up to `n` reader connections now, side by side, and keeps them in the pool: a cold
    /// start does it while it loads its snapshots, instead of the first requests opening them one
    /// by one (a few milliseconds each). Errors are left to the first real query to report.
    pub async fn warm_readers(&self, n: usize) {
        // all held until the last is open (so they are `n` connections), then back to the pool
        futures::future::join_all((0..n).map(|_| self.read.acquire())).await;
    }

    /// Pool for single-statement writes that need no transaction (on SQLite: the one writer).
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Starts a write transaction; commit it in the service method that began it.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(Tx { inner: self.write.begin().await?, backend: self.backend, wake: self.wake.clone(), wrote_events: false })
    }

    /// Wakes this instance's event dispatcher (new work may be due).
    pub fn wake(&self) {
        self.wake.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// What background loops wait on (`changed()`): each receiver sees every wake-up.
    pub fn wake_receiver(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.read).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

type BoxFut<'c> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

/// WAL for concurrent readers, foreign keys on, and a busy timeout instead of instant `SQLITE_BUSY`.
fn sqlite_pragmas(conn: &mut sqlx::AnyConnection, _: sqlx::pool::PoolConnectionMetadata) -> BoxFut<'_> {
    Box::pin(async move {
        conn.execute("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA synchronous=NORMAL;")
            .await?;
        Ok(())
    })
}

/// A url fit for logs and error messages: the password is removed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// True when the error is a unique-constraint violation (on either backend).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
