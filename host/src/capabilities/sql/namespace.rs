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
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection};

pub use super::pool::{Budget, NsConn, NsTx, PoolError};
use super::pool::{Limits, NsPool, OpenNamespaces};
use super::sqlite;
use super::vet::{self, Dialect};
use crate::config::Config;
use crate::contract::Migration;
use crate::db::Backend;

/// Why a namespace could not be created, migrated or dropped.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] PoolError),
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

/// How long a PostgreSQL namespace's measured size is trusted.
const PG_SIZE_KEEP: Duration = Duration::from_secs(5);

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
        pools: OpenNamespaces,
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
    // Errors only: the `ROLLBACK` each module transaction starts with
    // (see `Namespaces::pg_begin`) would warn on every call.
    let options = PgConnectOptions::from_str(url)?
        .disable_statement_logging()
        .options([("client_min_messages", "error")]);
    let pool = crate::db::ping_when_idle(PgPoolOptions::new())
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_with(options)
        .await?;
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await?;
    Ok(PgDatabase { pool, database })
}

/// A migration's text for `dialect`, and its checksum.
fn migration_text(dialect: Dialect, m: &Migration) -> (&str, String) {
    let text = match (dialect, &m.postgres_sql) {
        (Dialect::Postgres, Some(pg)) => pg.as_str(),
        _ => m.sql.as_str(),
    };
    (text, hex::encode(Sha256::digest(text.as_bytes())))
}

/// Whether migration `m` is to be applied, given those applied already
/// (an applied one whose text changed is an error).
fn pending(done: &HashMap<i64, String>, m: &Migration, checksum: &str) -> Result<bool, NamespaceError> {
    match done.get(&i64::from(m.version)) {
        Some(known) if known != checksum => Err(NamespaceError::Changed(m.version)),
        Some(_) => Ok(false),
        None => Ok(true),
    }
}

fn migration_failed(m: &Migration) -> impl Fn(String) -> NamespaceError + '_ {
    |detail| NamespaceError::Migration { version: m.version, name: m.name.clone(), detail }
}

/// Runs the migrations not yet recorded on PostgreSQL, recording each, in
/// the caller's transaction.
async fn migrate_pg(conn: &mut PgConnection, ordered: &[&Migration]) -> Result<Vec<u32>, NamespaceError> {
    let done: Vec<(i64, String)> =
        sqlx::query_as("SELECT CAST(version AS BIGINT), checksum FROM _plaza_migrations").fetch_all(&mut *conn).await?;
    let done: HashMap<i64, String> = done.into_iter().collect();
    let mut applied = Vec::new();
    for m in ordered {
        let (text, checksum) = migration_text(Dialect::Postgres, m);
        if !pending(&done, m, &checksum)? {
            continue;
        }
        let failed = migration_failed(m);
        for s in vet::vet_all(Dialect::Postgres, text).map_err(|e| failed(e.to_string()))? {
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
    Ok(applied)
}

/// Runs the migrations not yet recorded on SQLite, recording each, all in
/// one transaction (on a blocking thread: DDL rewrites whole tables).
fn migrate_sqlite(conn: &rusqlite::Connection, ordered: &[Migration]) -> Result<Vec<u32>, NamespaceError> {
    let sqlite = |e: rusqlite::Error| NamespaceError::Sqlite(PoolError::Sqlite(e));
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite)?;
    let run = || -> Result<Vec<u32>, NamespaceError> {
        let mut done = HashMap::new();
        let mut read = conn.prepare("SELECT version, checksum FROM _plaza_migrations").map_err(sqlite)?;
        let mut rows = read.query([]).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            done.insert(row.get::<_, i64>(0).map_err(sqlite)?, row.get::<_, String>(1).map_err(sqlite)?);
        }
        let mut applied = Vec::new();
        for m in ordered {
            let (text, checksum) = migration_text(Dialect::Sqlite, m);
            if !pending(&done, m, &checksum)? {
                continue;
            }
            let failed = migration_failed(m);
            for s in vet::vet_all(Dialect::Sqlite, text).map_err(|e| failed(e.to_string()))? {
                conn.execute_batch(&s.sql).map_err(|e| failed(e.to_string()))?;
            }
            conn.execute(
                "INSERT INTO _plaza_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![i64::from(m.version), m.name, checksum, crate::db::now()],
            )
            .map_err(sqlite)?;
            applied.push(m.version);
        }
        Ok(applied)
    };
    match run() {
        Ok(applied) => {
            conn.execute_batch("COMMIT").map_err(sqlite)?;
            Ok(applied)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
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
                    pools: OpenNamespaces::new(Limits::from_fd_limit()),
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

    /// The pool of a pair's SQLite file (opened on first use, then kept
    /// while the cache has room). Private: its connections are taken
    /// through [`Self::sqlite_conn`] and [`Self::sqlite_begin`], which set
    /// each holder's budget.
    ///
    /// `quota` is the pair's size quota in bytes: its connections refuse to
    /// grow the file past it (`max_page_count`). `None` takes the pool as it
    /// is; a different quota is applied to the open pool's connections in
    /// place (by each as it is next handed out).
    fn sqlite(&self, tenant: &str, module: &str, quota: Option<u64>) -> Result<Option<Arc<NsPool>>, NamespaceError> {
        let Store::Sqlite { dir, pools, value_bytes } = &self.store else { return Ok(None) };
        if let Some(pool) = pools.get(tenant, module) {
            if let Some(quota) = quota.filter(|&q| Some(q) != pool.quota()) {
                pool.set_quota(quota);
            }
            return Ok(Some(pool));
        }
        let tenant_dir = dir.join(tenant);
        std::fs::create_dir_all(&tenant_dir)
            .map_err(|source| NamespaceError::Io { path: tenant_dir.display().to_string(), source })?;
        Ok(Some(pools.insert(tenant, module, tenant_dir.join(format!("{module}.db")), quota, *value_bytes)))
    }

    /// Whether a pair's SQLite pool is open with a size quota (pools the
    /// host opened for its own work, such as migrations, have none).
    pub fn sqlite_has_quota(&self, tenant: &str, module: &str) -> bool {
        let Store::Sqlite { pools, .. } = &self.store else { return false };
        pools.get(tenant, module).is_some_and(|p| p.quota().is_some())
    }

    /// Closes a tenant's open SQLite pools (its quotas changed): the next
    /// call opens them again with the new page limit.
    pub fn close_tenant_pools(&self, tenant: &str) {
        if let Store::Sqlite { pools, .. } = &self.store {
            pools.remove_tenant(tenant);
        }
    }

    /// SQLite connections open now (0 on PostgreSQL).
    pub fn sqlite_connections(&self) -> usize {
        match &self.store {
            Store::Sqlite { pools, .. } => pools.connections(),
            Store::Postgres { .. } => 0,
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
        Ok(Some(pool.acquire(budget).await?))
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
        Ok(Some(pool.acquire(budget).await?.begin().await?))
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

    /// The size of a pair's namespace in bytes: its SQLite file (with a
    /// write-ahead log, if it has one still), or its PostgreSQL schema's
    /// tables and indexes.
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
            conn.blocking(|c| c.execute_batch(HOST_TABLES)).await?.map_err(PoolError::from)?;
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
        let mut ordered: Vec<&Migration> = migrations.iter().collect();
        ordered.sort_by_key(|m| m.version);
        let deadline = Instant::now() + Duration::from_secs(120);
        if let Some(mut conn) = self.sqlite_conn(tenant, module, deadline).await? {
            let owned: Vec<Migration> = ordered.into_iter().cloned().collect();
            return conn
                .blocking(move |c| {
                    let applied = migrate_sqlite(c, &owned);
                    // The pages a migration wrote (about 40 KiB for a small
                    // schema) are no call's working set: kept, they were
                    // most of what each of ten thousand namespaces cost.
                    super::sqlite::release_memory(c);
                    applied
                })
                .await?;
        }
        let Some(PgPlace { pool, names }) = self.pg_place(tenant, module).await? else { return Ok(Vec::new()) };
        let mut tx = pool.begin().await?;
        self.enter(&mut tx, &names, Duration::from_secs(120)).await?;
        let applied = migrate_pg(&mut tx, &ordered).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Drops a pair's namespace and everything in it.
    pub async fn drop_namespace(&self, tenant: &str, module: &str) -> Result<(), NamespaceError> {
        match &self.store {
            Store::Sqlite { dir, pools, .. } => {
                if let Some(pool) = pools.remove(tenant, module) {
                    pool.close_idle().await;
                }
                // The journal exists only mid-commit; the log files only
                // for namespaces last opened in WAL mode.
                for suffix in ["db", "db-journal", "db-wal", "db-shm"] {
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

    /// Measures every module schema (`m_…`) of `pools`' databases, each on
    /// a connection that is closed afterwards: the measure opens every
    /// relation of every schema, and the backend that ran it would keep all
    /// their catalog entries (about 900 MB at 10,000 tenants, measured) while
    /// it went on serving tenants' calls.
    async fn refresh(&self, pools: &[PgPool]) {
        let mut all = HashMap::new();
        for pool in pools {
            let rows: Result<Vec<(String, i64)>, sqlx::Error> = async {
                let mut conn = pool.acquire().await?;
                conn.close_on_drop();
                sqlx::query_as(
                    "SELECT n.nspname, CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) \
                     FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid \
                     WHERE n.nspname LIKE 'm\\_%' AND c.relkind IN ('r', 'm') GROUP BY n.nspname",
                )
                .fetch_all(&mut *conn)
                .await
            }
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

impl Namespaces {
    /// Begins a module transaction on `pool` already inside a pair's
    /// namespace ([`Namespaces::enter`]): `BEGIN` and the `SET LOCAL`s are
    /// one simple query, one round trip instead of two.
    ///
    /// Two things keep a connection from going back to the pool inside a
    /// transaction sqlx does not know of (sqlx counts one only once its
    /// `BEGIN` has answered). The begin runs in a task of its own, so a call
    /// dropped meanwhile (its deadline, a client gone) does not cut it off
    /// after the server began: the task finishes it, and the transaction is
    /// rolled back as any dropped one. And the query starts with `ROLLBACK`,
    /// which ends whatever a connection still holds (a `SET LOCAL` that
    /// failed after its `BEGIN`, when a namespace is dropped under a call)
    /// and does nothing otherwise. Without them such a connection served the
    /// host's next work in a tenant's role, or failed every statement until
    /// something rolled it back (seen at 10,000 tenants).
    pub async fn pg_begin(
        &self,
        pool: &PgPool,
        names: &PgNames,
        timeout: Duration,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let bounds = match &self.store {
            Store::Postgres { bounds, .. } => bounds.as_str(),
            Store::Sqlite { .. } => "",
        };
        let statement = format!("ROLLBACK; BEGIN; {}", enter_sql(names, timeout, bounds));
        let pool = pool.clone();
        match tokio::spawn(async move { pool.begin_with(AssertSqlSafe(statement)).await }).await {
            Ok(begun) => begun,
            Err(_) => Err(sqlx::Error::PoolClosed),
        }
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
    conn.execute(AssertSqlSafe(enter_sql(names, timeout, bounds))).await?;
    Ok(())
}

/// The `SET LOCAL`s that enter a pair's namespace.
fn enter_sql(names: &PgNames, timeout: Duration, bounds: &str) -> String {
    let ms = timeout.as_millis().clamp(1, 3_600_000);
    format!(
        "{bounds}SET LOCAL ROLE {}; SET LOCAL search_path TO {}; SET LOCAL statement_timeout = {ms}; \
         SET LOCAL standard_conforming_strings = on",
        names.role, names.schema
    )
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
