//! The host's database: one pool over SQLite (default) or PostgreSQL.
//!
//! Host SQL is written once in a portable dialect (`$1` placeholders, TEXT
//! timestamps, INTEGER/BIGINT numbers) and runs through sqlx's `Any` driver,
//! so every query works on both backends. Only migrations differ per backend.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolOptions;
use sqlx::{AnyPool, ConnectOptions, Connection, Database, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How long a pooled PostgreSQL connection may sit idle and still be handed
/// out without a ping first.
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// A server pool that pings a connection before handing it out only when it
/// sat idle past [`PING_AFTER_IDLE`] (one a server or a proxy may have
/// dropped meanwhile), not on every acquire as sqlx does by default: on a
/// busy pool that ping was one round trip of every module call and host
/// query, a context switch on each side, for a connection used a moment ago.
/// (sqlx still tests each connection as it goes back to the pool, which also
/// flushes a dropped transaction's `ROLLBACK`; a broken one is replaced then.)
pub fn ping_when_idle<DB: Database>(options: PoolOptions<DB>) -> PoolOptions<DB> {
    options.test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for > PING_AFTER_IDLE {
                conn.ping().await?;
            }
            Ok(true)
        })
    })
}

/// Database failures, before they are mapped to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

impl DbError {
    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// True when the database was busy past its timeout: a retry will do.
    pub fn is_busy(&self) -> bool {
        matches!(self, DbError::Sqlx(e) if is_busy(e))
    }
}

/// True when `e` says the database stayed locked by other writers past the
/// busy timeout (SQLite's `SQLITE_BUSY` and `SQLITE_LOCKED` with their
/// extended codes; PostgreSQL's lock timeout and serialization failures):
/// the work was not done, and trying again later will do it.
pub fn is_busy(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else { return false };
    let Some(code) = d.code() else { return false };
    match code.parse::<i32>() {
        // SQLite: the primary result code is the low byte of the extended one.
        Ok(n) => matches!(n & 0xff, 5 | 6),
        // PostgreSQL: lock_not_available, serialization_failure, deadlock_detected.
        Err(_) => matches!(code.as_ref(), "55P03" | "40001" | "40P01"),
    }
}

/// The host's connection pool and the backend behind it.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// On SQLite, this process's write transactions take turns in arrival
    /// order before `BEGIN IMMEDIATE`. Without it they met at the file lock,
    /// whose busy handler sleeps longer and longer (to 100 ms) while
    /// newcomers get in: under a steady stream of short writes (events
    /// relayed by one tenant's busy module, fanned out by the dispatcher) a
    /// writer could wait seconds, another tenant's among them. (PostgreSQL
    /// never takes it.)
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// How long a write transaction waits for its turn: the busy timeout's 5 s.
const WRITE_TURN_WAIT: Duration = Duration::from_secs(5);

/// A write transaction of the host's database ([`Db::begin`]), holding the
/// process's write turn on SQLite until it commits, rolls back or is
/// dropped. It derefs to the connection, so `&mut *tx` runs statements in it.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

impl Db {
    /// Opens the pool. SQLite files are created (with their directory) when
    /// missing and run with WAL, a busy timeout and foreign keys on.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let mut pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Some(Duration::from_secs(300)));
        if backend == Backend::Postgres {
            pool = ping_when_idle(pool);
        } else {
            // A local file: no ping before each use (a thread round trip).
            pool = pool.test_before_acquire(false).after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        Ok(Db { pool, backend, writer: Arc::new(tokio::sync::Mutex::new(())) })
    }

    /// Applies the host's pending migrations.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that may write. On SQLite it is `BEGIN
    /// IMMEDIATE`: the write lock is taken first, waiting out the busy
    /// timeout for other writers, so a transaction that reads and then
    /// writes never fails on the upgrade (`SQLITE_BUSY_SNAPSHOT`), which
    /// no timeout can wait out. Every host transaction starts here.
    pub async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let turn = tokio::time::timeout(WRITE_TURN_WAIT, Arc::clone(&self.writer).lock_owned())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx { tx, _turn: Some(turn) })
            }
            Backend::Postgres => Ok(WriteTx { tx: self.pool.begin().await?, _turn: None }),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connections open and idle, for the pool gauges in `/metrics`.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// A cheap round trip, for `/ready`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Ensures the SQLite file's directory exists and asks sqlx to create the file.
fn sqlite_url(url: &str) -> Result<String, DbError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    let dir = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir.filter(|_| path != ":memory:" && !path.is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir { path: dir.display().to_string(), source })?;
    }
    Ok(if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") })
}

/// Now, as the fixed-width UTC text every host table stores (sorts correctly).
pub fn now() -> String {
    format_time(chrono::Utc::now())
}

/// Formats a timestamp the way the host tables store it.
pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses a stored timestamp; a malformed one (never written by the host) maps to the epoch.
pub fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    try_parse_time(s).unwrap_or_default()
}

/// Parses a stored timestamp, `None` when malformed: for callers whose
/// fallback is not the epoch.
pub fn try_parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_transactions_take_turns_in_arrival_order() {
        // Three writers wait while a fourth holds the database for 300 ms:
        // they write in the order they came. With only the busy handler,
        // whose sleeps grow to 100 ms, the last to come often went first.
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()), 5).await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER)").execute(db.pool()).await.unwrap();
        let first = db.begin().await.unwrap();
        let mut waiting = Vec::new();
        for n in 1..=3_i64 {
            let db = db.clone();
            waiting.push(tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }));
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
        first.commit().await.unwrap();
        for w in waiting {
            w.await.unwrap();
        }
        let order: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY rowid").fetch_all(db.pool()).await.unwrap();
        assert_eq!(order, [1, 2, 3]);
    }
}
