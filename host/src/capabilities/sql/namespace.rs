//! SQL namespaces: one per (tenant, module), created when a module is
//! enabled for a tenant.
//!
//! - SQLite (the host's database is SQLite): one database file per pair,
//!   with ATTACH made impossible on every connection (`SQLITE_LIMIT_ATTACHED`
//!   = 0), so no statement can reach another file even past the vetter.
//! - PostgreSQL: one schema per pair, owned by a NOLOGIN role of its own.
//!   Module statements run in a transaction with `SET LOCAL ROLE` to that
//!   role and `search_path` to that schema only, so the database itself
//!   refuses other schemas, the host's tables and server-side functions.
//!   A tenant's schemas live on the database its `db_location` names:
//!   `main` (the host's own) or one of `PLAZA_DATABASES` (placement).
//!
//! Each namespace holds two host tables: `_plaza_migrations` (the module's
//! applied migrations) and `_plaza_outbox` (events published in a module
//! transaction, written in that same transaction).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, Sqlite, SqliteConnection};

use super::sqlite::{self, Interrupt};
use super::vet::{self, Dialect};
use crate::config::Config;
use crate::contract::Migration;
use crate::db::Backend;

/// Why a namespace could not be created, migrated or dropped.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration {version} ({name}) failed: {detail}")]
    Migration { version: u32, name: String, detail: String },
    #[error("migration {0} changed after it was applied; add a new migration instead")]
    Changed(u32),
    #[error("cannot create {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("tenant {tenant:?} is placed on database {location:?}, which this host is not configured with")]
    Placement { tenant: String, location: String },
    #[error("the tenant's module calls hold all of its {0} database connections")]
    TenantBusy(usize),
}

/// The host tables of every namespace (portable SQL).
const HOST_TABLES: &str = "\
CREATE TABLE IF NOT EXISTS _plaza_migrations (\
 version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL);\
CREATE TABLE IF NOT EXISTS _plaza_outbox (\
 id TEXT PRIMARY KEY, event_type TEXT NOT NULL, payload TEXT NOT NULL, request_id TEXT, published_at TEXT NOT NULL);";

/// Connections a module of a tenant may hold at once on SQLite.
const SQLITE_POOL_SIZE: u32 = 4;
/// SQLite namespaces kept open at once. Each open pool holds up to
/// [`SQLITE_POOL_SIZE`] connections, each a thread and three file
/// descriptors: with thousands of tenants, the least recently used pools
/// are closed (their files stay; the next call opens them again).
const SQLITE_OPEN_POOLS: usize = 512;
/// An idle SQLite connection is closed after this long.
const SQLITE_IDLE: Duration = Duration::from_secs(30);
/// SQLite's default page size: a size quota becomes a page count.
const SQLITE_PAGE_BYTES: u64 = 4096;
/// How long a PostgreSQL namespace's measured size is trusted.
const PG_SIZE_KEEP: Duration = Duration::from_secs(5);
/// Virtual-machine steps between two checks of a holder's budget.
const PROGRESS_PERIOD: i32 = 1000;

/// What a holder of a namespace connection may still spend: a deadline,
/// and, for module calls, SQLite virtual-machine steps (about ten per row
/// scanned or produced) shared by every statement of the call, so that an
/// aggregate over a million generated rows is stopped like a million rows
/// returned would be. Checked every [`PROGRESS_PERIOD`] steps.
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: Instant,
    steps: Option<Arc<AtomicI64>>,
}

impl Budget {
    /// A deadline and nothing else (the host's own work on a namespace).
    pub fn until(deadline: Instant) -> Self {
        Self { deadline, steps: None }
    }

    /// A deadline and `steps` virtual-machine steps.
    pub fn with_steps(deadline: Instant, steps: u64) -> Self {
        Self { deadline, steps: Some(Arc::new(AtomicI64::new(i64::try_from(steps).unwrap_or(i64::MAX)))) }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the steps are spent: an interrupted statement was stopped
    /// for its work, not its time.
    pub fn steps_spent(&self) -> bool {
        self.steps.as_ref().is_some_and(|s| s.load(Ordering::Relaxed) <= 0)
    }
}

/// A connection to a pair's SQLite file, held by one user until dropped,
/// with the means to stop its running statement from another task.
pub struct NsConn {
    conn: PoolConnection<Sqlite>,
    interrupt: Interrupt,
}

impl NsConn {
    /// Stops the statement running on it now, if any.
    pub fn interrupt(&self) {
        self.interrupt.interrupt();
    }
}

impl Deref for NsConn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for NsConn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

/// A transaction on a pair's SQLite file, stoppable like [`NsConn`].
pub struct NsTx {
    tx: sqlx::Transaction<'static, Sqlite>,
    interrupt: Interrupt,
}

impl NsTx {
    pub fn interrupt(&self) {
        self.interrupt.interrupt();
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for NsTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for NsTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// The open SQLite pools, by (tenant, module), with when each was last used.
struct OpenPools {
    /// Each pool, when it was last used, and the size quota its
    /// connections were opened with.
    pools: HashMap<(String, String), (SqlitePool, u64, Option<u64>)>,
    /// Bumped on every use: the order pools were last used in.
    clock: u64,
    capacity: usize,
}

impl OpenPools {
    fn new(capacity: usize) -> Self {
        Self { pools: HashMap::new(), clock: 0, capacity: capacity.max(1) }
    }

    /// The pool of `key` and the quota it was opened with.
    fn get(&mut self, key: &(String, String)) -> Option<(SqlitePool, Option<u64>)> {
        self.clock += 1;
        let clock = self.clock;
        self.pools.get_mut(key).map(|(pool, used, quota)| {
            *used = clock;
            (pool.clone(), *quota)
        })
    }

    /// Adds (or replaces) a pool, first dropping the least recently used one
    /// when full (calls holding its connections finish on them; it closes after).
    fn insert(&mut self, key: (String, String), pool: SqlitePool, quota: Option<u64>) {
        if self.pools.len() >= self.capacity
            && !self.pools.contains_key(&key)
            && let Some(oldest) = self.pools.iter().min_by_key(|(_, (_, used, _))| *used).map(|(k, _)| k.clone())
        {
            self.pools.remove(&oldest);
        }
        self.clock += 1;
        self.pools.insert(key, (pool, self.clock, quota));
    }

    fn remove(&mut self, key: &(String, String)) -> Option<SqlitePool> {
        self.pools.remove(key).map(|(pool, _, _)| pool)
    }
}

/// The PostgreSQL schema and role of one pair, as quoted identifiers.
#[derive(Debug, Clone)]
pub struct PgNames {
    pub schema: String,
    pub role: String,
}

/// One PostgreSQL database that holds namespaces.
struct PgDatabase {
    pool: PgPool,
    /// Its name (`current_database()`), part of every schema's name hash.
    database: String,
}

enum Store {
    Sqlite {
        dir: PathBuf,
        pools: Mutex<OpenPools>,
        /// Largest string or blob a module statement may build.
        value_bytes: usize,
    },
    Postgres {
        /// The host's own database (location `main`).
        main: PgDatabase,
        /// The other databases tenants can be placed on, by location name.
        others: HashMap<String, PgDatabase>,
        /// Tenant → location, read once per tenant (placement never changes).
        placement: std::sync::RwLock<HashMap<String, String>>,
        /// `SET LOCAL`s that bound a module transaction's memory and
        /// temporary files, run before its role is entered.
        bounds: String,
        /// Sizes of the module schemas, for their quotas.
        sizes: Arc<SchemaSizes>,
        /// Each tenant's share of the connections (see [`Namespaces::pg_slot`]).
        slots: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
        /// Connections one tenant's module calls may hold at once.
        share: usize,
    },
}

/// Where one pair's schema is: the pool of its database and its names.
pub struct PgPlace {
    pub pool: PgPool,
    pub names: PgNames,
}

async fn connect_pg(url: &str, max_connections: u32) -> Result<PgDatabase, NamespaceError> {
    let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_with(options)
        .await?;
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await?;
    Ok(PgDatabase { pool, database })
}

/// Runs the migrations not yet recorded, recording each (a macro: the same
/// code over a SQLite and a PostgreSQL connection).
macro_rules! apply_migrations {
    ($conn:expr, $dialect:expr, $ordered:expr) => {{
        let conn = $conn;
        let dialect: Dialect = $dialect;
        let ordered: &[&Migration] = $ordered;
        let done: Vec<(i64, String)> =
            sqlx::query_as("SELECT CAST(version AS BIGINT), checksum FROM _plaza_migrations")
                .fetch_all(&mut *conn)
                .await?;
        let done: HashMap<i64, String> = done.into_iter().collect();
        let mut applied = Vec::new();
        for m in ordered {
            let text = match (dialect, &m.postgres_sql) {
                (Dialect::Postgres, Some(pg)) => pg.as_str(),
                _ => m.sql.as_str(),
            };
            let checksum = hex::encode(Sha256::digest(text.as_bytes()));
            if let Some(known) = done.get(&i64::from(m.version)) {
                if *known != checksum {
                    return Err(NamespaceError::Changed(m.version));
                }
                continue;
            }
            let failed =
                |detail: String| NamespaceError::Migration { version: m.version, name: m.name.clone(), detail };
            let statements = vet::vet_all(dialect, text).map_err(|e| failed(e.to_string()))?;
            for s in statements {
                conn.execute(AssertSqlSafe(s.sql)).await.map_err(|e| failed(e.to_string()))?;
            }
            sqlx::query("INSERT INTO _plaza_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(i64::from(m.version))
                .bind(m.name.clone())
                .bind(checksum)
                .bind(crate::db::now())
                .execute(&mut *conn)
                .await?;
            applied.push(m.version);
        }
        applied
    }};
}

/// Every module namespace of this host, on the host's database engine.
pub struct Namespaces {
    store: Store,
}

impl std::fmt::Debug for Namespaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespaces").field("dialect", &self.dialect()).finish()
    }
}

impl Namespaces {
    /// Opens the namespaces next to the host's database: a directory of
    /// SQLite files, or a pool on the same PostgreSQL database.
    pub async fn open(config: &Config, backend: Backend) -> Result<Self, NamespaceError> {
        let store = match backend {
            Backend::Sqlite => {
                let dir = crate::config::absolute(&config.data_dir.join("modules"));
                std::fs::create_dir_all(&dir)
                    .map_err(|source| NamespaceError::Io { path: dir.display().to_string(), source })?;
                sqlite::limit_heap(config.sqlite_heap_bytes);
                Store::Sqlite {
                    dir,
                    pools: Mutex::new(OpenPools::new(SQLITE_OPEN_POOLS)),
                    value_bytes: usize::try_from(config.module_sql_value_bytes).unwrap_or(usize::MAX),
                }
            }
            Backend::Postgres => {
                let main = connect_pg(&config.effective_database_url(), config.db_max_connections).await?;
                let mut others = HashMap::new();
                let list = config
                    .database_list()
                    .map_err(|e| NamespaceError::Placement { tenant: String::new(), location: e.to_string() })?;
                for (name, url) in list {
                    others.insert(name, connect_pg(&url, config.db_max_connections).await?);
                }
                for db in std::iter::once(&main).chain(others.values()) {
                    install_row_guard(&db.pool).await?;
                }
                let bounds = pg_bounds(&main.pool, config).await?;
                Store::Postgres {
                    main,
                    others,
                    placement: std::sync::RwLock::new(HashMap::new()),
                    bounds,
                    sizes: Arc::default(),
                    slots: Mutex::default(),
                    share: pg_share(config.db_max_connections),
                }
            }
        };
        Ok(Self { store })
    }

    pub fn dialect(&self) -> Dialect {
        match self.store {
            Store::Sqlite { .. } => Dialect::Sqlite,
            Store::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// The pool of a pair's SQLite file (opened on first use, then kept).
    /// Private: its connections are taken through [`Self::sqlite_conn`] and
    /// [`Self::sqlite_begin`], which set each holder's deadline.
    ///
    /// `quota` is the pair's size quota in bytes: its connections refuse to
    /// grow the file past it (`max_page_count`). `None` takes the pool as it
    /// is; a different quota opens a new pool (the old one closes once its
    /// connections are back).
    fn sqlite(&self, tenant: &str, module: &str, quota: Option<u64>) -> Result<Option<SqlitePool>, NamespaceError> {
        let Store::Sqlite { dir, pools, value_bytes } = &self.store else { return Ok(None) };
        let value_bytes = *value_bytes;
        let key = (tenant.to_owned(), module.to_owned());
        let mut pools = pools.lock().map_err(|_| NamespaceError::Db(sqlx::Error::PoolClosed))?;
        let open = pools.get(&key);
        if let Some((pool, opened_with)) = open.as_ref()
            && (quota.is_none() || quota == *opened_with)
        {
            return Ok(Some(pool.clone()));
        }
        let quota = quota.or_else(|| open.and_then(|(_, q)| q));
        let tenant_dir = dir.join(tenant);
        std::fs::create_dir_all(&tenant_dir)
            .map_err(|source| NamespaceError::Io { path: tenant_dir.display().to_string(), source })?;
        let options = SqliteConnectOptions::new()
            .filename(tenant_dir.join(format!("{module}.db")))
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .pragma("trusted_schema", "OFF")
            .disable_statement_logging();
        let options = match quota {
            Some(bytes) => options.pragma("max_page_count", (bytes / SQLITE_PAGE_BYTES).max(1).to_string()),
            None => options,
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_POOL_SIZE)
            .min_connections(0)
            // A local file: a broken connection fails its statement anyway,
            // and a ping per acquire would cost a thread round trip.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Some(SQLITE_IDLE))
            .after_connect(move |conn, _meta| Box::pin(async move { sqlite::harden(conn, value_bytes).await }))
            .connect_lazy_with(options);
        pools.insert(key, pool.clone(), quota);
        Ok(Some(pool))
    }

    /// Whether a pair's SQLite pool is open with a size quota (pools the
    /// host opened for its own work, such as migrations, have none).
    pub fn sqlite_has_quota(&self, tenant: &str, module: &str) -> bool {
        let Store::Sqlite { pools, .. } = &self.store else { return false };
        pools
            .lock()
            .is_ok_and(|p| p.pools.get(&(tenant.to_owned(), module.to_owned())).is_some_and(|(_, _, q)| q.is_some()))
    }

    /// Closes a tenant's open SQLite pools (its quotas changed): the next
    /// call opens them again with the new page limit.
    pub fn close_tenant_pools(&self, tenant: &str) {
        if let Store::Sqlite { pools, .. } = &self.store
            && let Ok(mut pools) = pools.lock()
        {
            pools.pools.retain(|(t, _), _| t != tenant);
        }
    }

    /// A connection to a pair's SQLite file whose statements are interrupted
    /// at `deadline`. See [`Self::sqlite_conn_within`].
    pub async fn sqlite_conn(
        &self,
        tenant: &str,
        module: &str,
        deadline: Instant,
    ) -> Result<Option<NsConn>, NamespaceError> {
        self.sqlite_conn_within(tenant, module, &Budget::until(deadline), None).await
    }

    /// A connection to a pair's SQLite file whose statements are interrupted
    /// when `budget` is spent. Every use of a namespace's connections goes
    /// through here or [`Self::sqlite_begin_within`]: the budget stays with
    /// the connection when it returns to the pool, so each holder sets its own.
    /// `quota`: the pair's size quota, when the caller knows it.
    pub async fn sqlite_conn_within(
        &self,
        tenant: &str,
        module: &str,
        budget: &Budget,
        quota: Option<u64>,
    ) -> Result<Option<NsConn>, NamespaceError> {
        let Some(pool) = self.sqlite(tenant, module, quota)? else { return Ok(None) };
        let mut conn = pool.acquire().await?;
        let interrupt = watch(&mut conn, budget).await?;
        Ok(Some(NsConn { conn, interrupt }))
    }

    /// A transaction on a pair's SQLite file, bounded by `deadline` like
    /// [`Self::sqlite_conn`].
    pub async fn sqlite_begin(
        &self,
        tenant: &str,
        module: &str,
        deadline: Instant,
    ) -> Result<Option<NsTx>, NamespaceError> {
        self.sqlite_begin_within(tenant, module, &Budget::until(deadline), None).await
    }

    /// A write transaction on a pair's SQLite file, bounded by `budget`.
    pub async fn sqlite_begin_within(
        &self,
        tenant: &str,
        module: &str,
        budget: &Budget,
        quota: Option<u64>,
    ) -> Result<Option<NsTx>, NamespaceError> {
        let Some(pool) = self.sqlite(tenant, module, quota)? else { return Ok(None) };
        // IMMEDIATE: the write lock is taken (or waited for, up to the busy
        // timeout) now, so no later statement fails on a lock upgrade that
        // no timeout can wait out.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let interrupt = watch(&mut tx, budget).await?;
        Ok(Some(NsTx { tx, interrupt }))
    }

    /// The host's own PostgreSQL pool, when the namespaces are schemas.
    pub fn pg(&self) -> Option<&PgPool> {
        match &self.store {
            Store::Postgres { main, .. } => Some(&main.pool),
            Store::Sqlite { .. } => None,
        }
    }

    /// Whether tenants can be placed on `location` (`main` always can).
    pub fn has_location(&self, location: &str) -> bool {
        location == "main" || matches!(&self.store, Store::Postgres { others, .. } if others.contains_key(location))
    }

    /// Where a pair's schema lives, on PostgreSQL: the database of the
    /// tenant's placement (read from `tenants` once, then remembered).
    pub async fn pg_place(&self, tenant: &str, module: &str) -> Result<Option<PgPlace>, NamespaceError> {
        let Store::Postgres { main, others, placement, .. } = &self.store else { return Ok(None) };
        let known = placement.read().ok().and_then(|p| p.get(tenant).cloned());
        let location = match known {
            Some(l) => l,
            None => {
                let row: Option<String> = sqlx::query_scalar("SELECT db_location FROM tenants WHERE id = $1")
                    .bind(tenant)
                    .fetch_optional(&main.pool)
                    .await?;
                let location = row.unwrap_or_else(|| "main".to_owned());
                if let Ok(mut p) = placement.write() {
                    p.insert(tenant.to_owned(), location.clone());
                }
                location
            }
        };
        let db = if location == "main" {
            main
        } else {
            others
                .get(&location)
                .ok_or_else(|| NamespaceError::Placement { tenant: tenant.to_owned(), location: location.clone() })?
        };
        Ok(Some(PgPlace { pool: db.pool.clone(), names: pg_names(&db.database, tenant, module) }))
    }

    /// The schema and role names of a pair (on SQLite, the names it would
    /// have: tests use them to try reaching other schemas).
    pub async fn pg_names(&self, tenant: &str, module: &str) -> Result<PgNames, NamespaceError> {
        Ok(match self.pg_place(tenant, module).await? {
            Some(place) => place.names,
            None => pg_names("", tenant, module),
        })
    }

    /// The size of a pair's namespace in bytes: its SQLite file with its
    /// write-ahead log, or its PostgreSQL schema's tables and indexes.
    pub async fn size(&self, tenant: &str, module: &str) -> Result<u64, NamespaceError> {
        match &self.store {
            Store::Sqlite { dir, .. } => Ok(["db", "db-wal"]
                .iter()
                .filter_map(|suffix| std::fs::metadata(dir.join(tenant).join(format!("{module}.{suffix}"))).ok())
                .map(|m| m.len())
                .sum()),
            Store::Postgres { .. } => {
                let Some(PgPlace { pool, names }) = self.pg_place(tenant, module).await? else { return Ok(0) };
                let (bytes,): (i64,) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')",
                )
                .bind(names.schema.trim_matches('"'))
                .fetch_one(&pool)
                .await?;
                Ok(u64::try_from(bytes).unwrap_or(0))
            }
        }
    }

    /// On PostgreSQL, one of `tenant`'s share of the connections, waited for
    /// until `deadline`. Every database pool is shared by all tenants: a
    /// tenant whose statements run long (its own, or an attack) holds at
    /// most its share, and the others still get connections. `None` on SQLite,
    /// where each pair has a pool of its own.
    pub async fn pg_slot(
        &self,
        tenant: &str,
        deadline: Instant,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, NamespaceError> {
        let Store::Postgres { slots, share, .. } = &self.store else { return Ok(None) };
        let slot = {
            let mut slots = slots.lock().map_err(|_| NamespaceError::Db(sqlx::Error::PoolClosed))?;
            if slots.len() >= 4096 {
                slots.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < *share);
            }
            Arc::clone(slots.entry(tenant.to_owned()).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(*share))))
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, slot.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(NamespaceError::TenantBusy(*share)),
        }
    }

    /// On PostgreSQL, whether a pair's schema has reached `quota` bytes, by
    /// the sizes of every module schema, measured together in the
    /// background at most every [`PG_SIZE_KEEP`] (one scan of the catalog
    /// for all tenants, never one per write: measuring one schema scans the
    /// whole catalog too). A schema not measured yet counts as empty.
    /// (SQLite enforces its quota itself, page by page.)
    pub async fn pg_full(&self, tenant: &str, module: &str, quota: u64) -> Result<bool, NamespaceError> {
        let Store::Postgres { sizes, main, others, .. } = &self.store else { return Ok(false) };
        let names = self.pg_names(tenant, module).await?;
        if sizes.stale() {
            let pools: Vec<PgPool> = std::iter::once(main).chain(others.values()).map(|d| d.pool.clone()).collect();
            let sizes = Arc::clone(sizes);
            tokio::spawn(async move { sizes.refresh(&pools).await });
        }
        Ok(sizes.of(names.schema.trim_matches('"')).is_some_and(|size| size >= quota))
    }

    /// Forgets a tenant's placement (the tenant was deleted).
    pub fn forget_tenant(&self, tenant: &str) {
        if let Store::Postgres { placement, .. } = &self.store
            && let Ok(mut p) = placement.write()
        {
            p.remove(tenant);
        }
    }

    /// Creates the namespace of a pair (idempotent).
    pub async fn create(&self, tenant: &str, module: &str) -> Result<(), NamespaceError> {
        if let Some(mut conn) = self.sqlite_conn(tenant, module, Instant::now() + Duration::from_secs(30)).await? {
            conn.execute(HOST_TABLES).await?;
            return Ok(());
        }
        let Some(PgPlace { pool, names }) = self.pg_place(tenant, module).await? else { return Ok(()) };
        let mut conn = pool.acquire().await?;
        if let Err(e) = conn.execute(AssertSqlSafe(format!("CREATE ROLE {} NOLOGIN", names.role))).await {
            // Created already (or concurrently): fine, it is ours by name.
            let exists =
                matches!(&e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("42710" | "23505")));
            if !exists {
                return Err(e.into());
            }
        }
        let mut tx = conn.begin().await?;
        let role = &names.role;
        let schema = &names.schema;
        tx.execute(AssertSqlSafe(format!(
            "GRANT {role} TO CURRENT_USER; \
             CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}; \
             REVOKE ALL ON SCHEMA {schema} FROM PUBLIC; \
             SET LOCAL search_path TO {schema}; {HOST_TABLES} \
             GRANT SELECT, INSERT ON _plaza_migrations TO {role}; \
             GRANT SELECT, INSERT, DELETE ON _plaza_outbox TO {role};"
        )))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies the pending `migrations` of a pair in ONE transaction: all of
    /// them, or none (the namespace is left as it was). Every statement is
    /// vetted like any other module statement. Returns the versions applied.
    pub async fn migrate(
        &self,
        tenant: &str,
        module: &str,
        migrations: &[Migration],
    ) -> Result<Vec<u32>, NamespaceError> {
        let dialect = self.dialect();
        let mut ordered: Vec<&Migration> = migrations.iter().collect();
        ordered.sort_by_key(|m| m.version);
        let deadline = Instant::now() + Duration::from_secs(120);
        if let Some(mut tx) = self.sqlite_begin(tenant, module, deadline).await? {
            let applied = apply_migrations!(&mut *tx, dialect, &ordered);
            tx.commit().await?;
            return Ok(applied);
        }
        let Some(PgPlace { pool, names }) = self.pg_place(tenant, module).await? else { return Ok(Vec::new()) };
        let mut tx = pool.begin().await?;
        self.enter(&mut tx, &names, Duration::from_secs(120)).await?;
        let applied = apply_migrations!(&mut *tx, dialect, &ordered);
        tx.commit().await?;
        Ok(applied)
    }

    /// Drops a pair's namespace and everything in it.
    pub async fn drop_namespace(&self, tenant: &str, module: &str) -> Result<(), NamespaceError> {
        match &self.store {
            Store::Sqlite { dir, pools, .. } => {
                let pool = pools.lock().ok().and_then(|mut p| p.remove(&(tenant.to_owned(), module.to_owned())));
                if let Some(pool) = pool {
                    pool.close().await;
                }
                for suffix in ["db", "db-wal", "db-shm"] {
                    let path = dir.join(tenant).join(format!("{module}.{suffix}"));
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(NamespaceError::Io { path: path.display().to_string(), source }),
                    }
                }
                Ok(())
            }
            Store::Postgres { .. } => {
                let Some(PgPlace { pool, names }) = self.pg_place(tenant, module).await? else { return Ok(()) };
                let mut conn = pool.acquire().await?;
                conn.execute(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE; DROP ROLE IF EXISTS {}",
                    names.schema, names.role
                )))
                .await?;
                Ok(())
            }
        }
    }
}

/// The sizes of every module schema of the PostgreSQL databases, by name.
#[derive(Debug, Default)]
struct SchemaSizes {
    sizes: std::sync::RwLock<HashMap<String, u64>>,
    /// When a measure last started; `None` before the first.
    started: Mutex<Option<Instant>>,
}

impl SchemaSizes {
    /// True (once) when the sizes are older than [`PG_SIZE_KEEP`]: the
    /// caller starts the measure, later callers within the period do not.
    fn stale(&self) -> bool {
        let Ok(mut started) = self.started.lock() else { return false };
        if started.is_some_and(|at| at.elapsed() < PG_SIZE_KEEP) {
            return false;
        }
        *started = Some(Instant::now());
        true
    }

    fn of(&self, schema: &str) -> Option<u64> {
        self.sizes.read().ok().and_then(|s| s.get(schema).copied())
    }

    /// Measures every module schema (`m_…`) of `pools`' databases.
    async fn refresh(&self, pools: &[PgPool]) {
        let mut all = HashMap::new();
        for pool in pools {
            let rows: Result<Vec<(String, i64)>, sqlx::Error> = sqlx::query_as(
                "SELECT n.nspname, CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) \
                 FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid \
                 WHERE n.nspname LIKE 'm\\_%' AND c.relkind IN ('r', 'm') GROUP BY n.nspname",
            )
            .fetch_all(pool)
            .await;
            match rows {
                Ok(rows) => all.extend(rows.into_iter().map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))),
                Err(e) => tracing::warn!(error = %e, "module schema sizes not measured"),
            }
        }
        if let Ok(mut sizes) = self.sizes.write() {
            *sizes = all;
        }
    }
}

/// One tenant's share of a pool of `pool` connections: a quarter, at least one.
fn pg_share(pool: u32) -> usize {
    (pool as usize / 4).max(1)
}

/// The schema and role of a pair: readable prefixes, and a hash of
/// (database, tenant, module) so that names never collide and fit
/// PostgreSQL's 63-byte identifiers.
fn pg_names(database: &str, tenant: &str, module: &str) -> PgNames {
    let hash = hex::encode(Sha256::digest(format!("{database}\0{tenant}\0{module}")));
    let clean = |s: &str, n: usize| s.chars().take(n).map(|c| if c == '-' { '_' } else { c }).collect::<String>();
    let base = format!("{}_{}_{}", clean(tenant, 20), clean(module, 16), &hash[..10]);
    PgNames { schema: format!("\"m_{base}\""), role: format!("\"plaza_m_{base}\"") }
}

/// Sets this holder's budget on a connection (a progress handler that
/// interrupts its statement once the budget is spent) and returns the means
/// to interrupt it from outside.
async fn watch(conn: &mut SqliteConnection, budget: &Budget) -> Result<Interrupt, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let Budget { deadline, steps } = budget.clone();
    let period = i64::from(PROGRESS_PERIOD);
    handle.set_progress_handler(PROGRESS_PERIOD, move || {
        let within = steps.as_ref().is_none_or(|s| s.fetch_sub(period, Ordering::Relaxed) > period);
        within && Instant::now() < deadline
    });
    Ok(Interrupt::of(&mut handle))
}

impl Namespaces {
    /// Enters a pair's namespace for the rest of a module transaction:
    /// [`enter`], with the transaction's memory and temporary files bounded
    /// first (`work_mem`, and `temp_file_limit` where the host may set it).
    pub async fn enter(&self, conn: &mut PgConnection, names: &PgNames, timeout: Duration) -> Result<(), sqlx::Error> {
        let bounds = match &self.store {
            Store::Postgres { bounds, .. } => bounds.as_str(),
            Store::Sqlite { .. } => "",
        };
        enter_with(conn, names, timeout, bounds).await
    }
}

/// Enters a pair's namespace for the rest of the transaction: its role, its
/// schema only, and a statement timeout.
pub async fn enter(conn: &mut PgConnection, names: &PgNames, timeout: Duration) -> Result<(), sqlx::Error> {
    enter_with(conn, names, timeout, "").await
}

async fn enter_with(
    conn: &mut PgConnection,
    names: &PgNames,
    timeout: Duration,
    bounds: &str,
) -> Result<(), sqlx::Error> {
    let ms = timeout.as_millis().clamp(1, 3_600_000);
    conn.execute(AssertSqlSafe(format!(
        "{bounds}SET LOCAL ROLE {}; SET LOCAL search_path TO {}; SET LOCAL statement_timeout = {ms}; \
         SET LOCAL standard_conforming_strings = on",
        names.role, names.schema
    )))
    .await?;
    Ok(())
}

/// The `SET LOCAL`s that bound a module transaction on PostgreSQL. Only a
/// role allowed to set `temp_file_limit` (a superuser, or one granted `SET`
/// on it, PostgreSQL 15+) can bound temporary files per transaction; others
/// leave it to the server's own setting, and the start-up log says so.
async fn pg_bounds(pool: &PgPool, config: &Config) -> Result<String, sqlx::Error> {
    let mut bounds = format!("SET LOCAL work_mem = '{}kB'; ", config.module_pg_work_mem_kb.max(64));
    let temp = format!("SET LOCAL temp_file_limit = '{}kB'; ", config.module_pg_temp_file_kb);
    let mut tx = pool.begin().await?;
    match tx.execute(AssertSqlSafe(temp.clone())).await {
        Ok(_) => bounds.push_str(&temp),
        Err(e) => tracing::warn!(
            error = %e,
            "module transactions cannot set temp_file_limit; set it for the database or grant SET on it \
             (docs/operations.md)"
        ),
    }
    tx.rollback().await?;
    Ok(bounds)
}

/// Creates `plaza_guard.row_too_large`, which fails a statement whose row
/// is over the limit (see `vet::RowGuard`), in a database holding
/// namespaces. Module roles may call it (it only raises); they cannot name it.
async fn install_row_guard(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Several processes start at once: one creates, the others wait.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('plaza_guard'))").await?;
    tx.execute(
        "CREATE SCHEMA IF NOT EXISTS plaza_guard; \
         CREATE OR REPLACE FUNCTION plaza_guard.row_too_large(size integer, max_bytes bigint) RETURNS boolean \
         LANGUAGE plpgsql VOLATILE AS $$ BEGIN \
         RAISE EXCEPTION 'a row of % bytes is over the limit of % bytes', size, max_bytes \
         USING ERRCODE = 'program_limit_exceeded'; END $$; \
         REVOKE CREATE ON SCHEMA plaza_guard FROM PUBLIC; \
         GRANT USAGE ON SCHEMA plaza_guard TO PUBLIC;",
    )
    .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn lazy_pool(dir: &std::path::Path, name: &str) -> SqlitePool {
        SqlitePoolOptions::new().connect_lazy_with(SqliteConnectOptions::new().filename(dir.join(name)))
    }

    #[tokio::test]
    async fn the_least_recently_used_pool_is_closed_first() {
        let dir = tempfile::tempdir().unwrap();
        let key = |t: &str| (t.to_owned(), "blog".to_owned());
        let mut open = OpenPools::new(2);
        open.insert(key("a"), lazy_pool(dir.path(), "a.db"), None);
        open.insert(key("b"), lazy_pool(dir.path(), "b.db"), None);
        assert!(open.get(&key("a")).is_some(), "a is used again: b is now the oldest");
        open.insert(key("c"), lazy_pool(dir.path(), "c.db"), Some(1 << 20));
        assert_eq!(open.pools.len(), 2, "never more than the capacity");
        assert!(open.get(&key("b")).is_none(), "b, the least recently used, was closed");
        assert!(open.get(&key("a")).is_some() && open.get(&key("c")).is_some());
        assert!(open.remove(&key("a")).is_some());
        assert!(open.get(&key("a")).is_none());
    }

    #[tokio::test]
    async fn every_acquisition_sets_its_own_deadline() {
        // The deadline is a progress handler on the connection, which goes
        // back to the pool when the holder is done: the next holder of that
        // same connection must not inherit an expired one.
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let ns = Namespaces::open(&config, Backend::Sqlite).await.unwrap();
        const LONG: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) \
                            SELECT COUNT(*) FROM c";
        let past = Instant::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut late = ns.sqlite_conn("acme", "blog", past).await.unwrap().unwrap();
        let interrupted = sqlx::query_scalar::<_, i64>(LONG).fetch_one(&mut *late).await;
        assert!(interrupted.is_err(), "a statement past its deadline is interrupted");
        drop(late);
        // Back in the pool: the next acquisition takes that idle connection.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut next = ns.sqlite_conn("acme", "blog", Instant::now() + Duration::from_secs(30)).await.unwrap().unwrap();
        let n: i64 = sqlx::query_scalar(LONG).fetch_one(&mut *next).await.unwrap();
        assert_eq!(n, 200_000, "the next holder runs under its own deadline");
    }
}
