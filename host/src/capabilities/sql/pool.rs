//! The open SQLite namespaces of this process: a bounded cache of small
//! connection pools, one per (tenant, module), and the connections they
//! hand out.
//!
//! A connection here is a SQLite handle and nothing else: no thread of its
//! own (sqlx's SQLite connections each have one, and each statement was a
//! round trip to it), so ten thousand open namespaces cost memory and file
//! descriptors, not threads. Where the work runs follows what it may wait on:
//!
//! - a statement runs on the task that holds the connection, like the
//!   module code that asked for it: its CPU is bounded by the holder's
//!   budget (a progress handler checks the deadline and the steps), and it
//!   never waits on a lock — the connection's busy timeout is zero, and a
//!   busy database is retried with an async sleep ([`while_busy`]);
//! - writers of a namespace in this process take turns in arrival order
//!   (an async mutex per namespace, taken before `BEGIN IMMEDIATE` and by a
//!   write outside a transaction), so a stream of short transactions
//!   cannot starve one writer; only writers of other processes meet at the
//!   file lock;
//! - what may wait on the disk or on another writer runs on the blocking
//!   pool ([`NsConn::blocking`]): opening a file, a commit (which may
//!   checkpoint the write-ahead log and `fsync`), a write outside a
//!   transaction, closing.
//!
//! A namespace file uses SQLite's rollback journal, not its write-ahead
//! log, because what limits a host with thousands of tenants is what each
//! *idle* namespace holds:
//!
//! - file descriptors: a connection holds one (the file; the journal exists
//!   only while a write commits), against three in WAL mode (the file, its
//!   log, its shared memory), so on a host allowed 20,000 descriptors all of
//!   10,000 tenants' namespaces stay open, where WAL fitted 3,000;
//! - memory: no 32 KiB shared-memory index mapped per file;
//! - the cost of a miss: opening a WAL file maps and rebuilds its index
//!   (about 250 µs, against 100 µs), and SQLite's Unix layer finds an open
//!   file's lock record by walking a list of every open file under one
//!   process-wide mutex, so once namespaces no longer fit, each open costs
//!   time in proportion to those open, and serialises the host.
//!
//! The price: a read takes and drops a file lock and checks for a journal
//! (a few microseconds more than a WAL read), and a commit waits for the
//! namespace's readers to finish (they are short: a module statement
//! collects its rows before it returns). Writes are `synchronous = FULL`:
//! a commit is on disk when it returns.
//!
//! Bounds: a namespace has at most [`POOL_SIZE`] connections at once; the
//! cache keeps at most [`Limits::namespaces`] namespaces open, sized from the
//! process's file-descriptor limit, and closes the least recently used ones
//! beyond it (their files stay; the next call opens them again, which costs
//! about a tenth of a millisecond). Past [`Limits::connections`] / 2 open
//! connections, a namespace keeps one idle connection, and an idle
//! connection gives back its page cache (the next statement reads its pages
//! from the operating system's cache) and all but its last
//! [`PREPARED_CROWDED`] prepared statements: an idle namespace then costs
//! about 15 KiB (the schema, the cache's fixed part, a statement or two).
//! A migration's connection gives its page cache back in any case.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, InterruptHandle, OpenFlags};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::sqlite;

/// Connections a module of a tenant may hold at once.
pub const POOL_SIZE: usize = 4;
/// Virtual-machine steps between two checks of a holder's budget.
const PROGRESS_PERIOD: i32 = 1000;
/// Statements each connection keeps prepared (the least recently used
/// beyond are finalised): a prepared statement costs a few KiB, times every
/// open namespace.
const PREPARED: usize = 16;
/// Statements an idle connection keeps prepared in a crowded process.
const PREPARED_CROWDED: usize = 4;
/// Page cache of one connection (SQLite's `cache_size`, in KiB). Small: a
/// namespace is one tenant's module.
const CACHE_KIB: u32 = 512;
/// File descriptors one open connection holds (its file: the rollback
/// journal is open only while a write commits), and those kept for
/// everything else of the process (sockets, the host's database, journals
/// of commits under way).
const FDS_PER_CONNECTION: u64 = 1;
const FDS_RESERVED: u64 = 2048;
/// The longest a caller waits for one of a namespace's connections.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

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

    /// Installs this budget on a connection: a progress handler that stops
    /// its statements once the budget is spent.
    fn watch(&self, conn: &Connection) -> rusqlite::Result<()> {
        let Budget { deadline, steps } = self.clone();
        let period = i64::from(PROGRESS_PERIOD);
        conn.progress_handler(
            PROGRESS_PERIOD,
            Some(move || {
                let within = steps.as_ref().is_none_or(|s| s.fetch_sub(period, Ordering::Relaxed) > period);
                !(within && Instant::now() < deadline)
            }),
        )
    }
}

/// Why a namespace connection could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("all {POOL_SIZE} connections of the module's database stayed busy")]
    TimedOut,
    #[error("the connection was lost when its holder was cancelled")]
    Lost,
    #[error("the blocking pool failed: {0}")]
    Join(String),
}

/// How many connections and namespaces this process keeps open.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Namespaces kept open (the cache's capacity).
    pub namespaces: usize,
    /// Connections this process may hold open; past half of them, a
    /// namespace keeps no more than one idle, and idle connections give
    /// their page cache back.
    pub connections: usize,
}

impl Limits {
    /// From the process's file-descriptor limit, raised to its hard limit
    /// first: a connection holds [`FDS_PER_CONNECTION`] descriptors, and
    /// [`FDS_RESERVED`] are left for sockets and the host's own files.
    pub fn from_fd_limit() -> Self {
        let fds = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
        let connections = usize::try_from(fds.saturating_sub(FDS_RESERVED) / FDS_PER_CONNECTION)
            .unwrap_or(usize::MAX)
            .max(POOL_SIZE * 4);
        // One idle connection per namespace, and a quarter of the budget
        // for the connections of calls under way.
        Self { namespaces: (connections / 4 * 3).max(POOL_SIZE), connections }
    }
}

/// The open namespaces, by (tenant, module).
pub struct OpenNamespaces {
    cache: quick_cache::sync::Cache<(String, String), Arc<NsPool>>,
    limits: Limits,
    /// Connections open now, in every pool.
    open: Arc<AtomicUsize>,
}

impl OpenNamespaces {
    pub fn new(limits: Limits) -> Self {
        Self { cache: quick_cache::sync::Cache::new(limits.namespaces), limits, open: Arc::default() }
    }

    /// The open pool of a pair, if any.
    pub fn get(&self, tenant: &str, module: &str) -> Option<Arc<NsPool>> {
        self.cache.get(&(tenant.to_owned(), module.to_owned()))
    }

    /// Opens (lazily: no connection yet) and keeps the pool of a pair's file.
    pub fn insert(&self, tenant: &str, module: &str, path: PathBuf, quota: Option<u64>, value_bytes: usize) -> Arc<NsPool> {
        let pool = Arc::new(NsPool {
            path,
            quota: AtomicU64::new(quota.unwrap_or(NO_QUOTA)),
            value_bytes,
            slots: Arc::new(Semaphore::new(POOL_SIZE)),
            writer: Arc::new(tokio::sync::Mutex::new(())),
            idle: Mutex::new(Vec::new()),
            open: Arc::clone(&self.open),
            keep_all_below: self.limits.connections / 2,
        });
        self.cache.insert((tenant.to_owned(), module.to_owned()), Arc::clone(&pool));
        pool
    }

    pub fn remove(&self, tenant: &str, module: &str) -> Option<Arc<NsPool>> {
        self.cache.remove(&(tenant.to_owned(), module.to_owned())).map(|(_, pool)| pool)
    }

    /// Closes every open pool of a tenant.
    pub fn remove_tenant(&self, tenant: &str) {
        self.cache.retain(|(t, _), _| t != tenant);
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// One namespace's connections.
pub struct NsPool {
    path: PathBuf,
    /// The size quota its connections apply (`max_page_count`), or
    /// [`NO_QUOTA`]. Changed in place ([`NsPool::set_quota`]): each
    /// connection applies the new one when it is next handed out, so a
    /// pool the host opened for a migration serves the module's calls
    /// without a file being opened again (an open costs time in proportion
    /// to the files open, see the module's notes).
    quota: AtomicU64,
    value_bytes: usize,
    slots: Arc<Semaphore>,
    /// This process's writers of the namespace, in turn: a write
    /// transaction takes it before `BEGIN IMMEDIATE`, so writers queue in
    /// order of arrival instead of polling the file lock (where a writer
    /// backing off for 32 ms lost to newcomers again and again: a p99 of
    /// seconds for 16 writers of one tenant). Writers in other processes
    /// still meet at the file lock.
    writer: Arc<tokio::sync::Mutex<()>>,
    idle: Mutex<Vec<Pooled>>,
    open: Arc<AtomicUsize>,
    /// Connections open in the process below which idle connections are
    /// all kept, with their page caches.
    keep_all_below: usize,
}

impl NsPool {
    /// The size quota its connections apply, if any.
    pub fn quota(&self) -> Option<u64> {
        Some(self.quota.load(Ordering::Acquire)).filter(|&q| q != NO_QUOTA)
    }

    /// Makes its connections apply `quota` from now on: each one as it is
    /// next handed out (one in use keeps the old page limit until then).
    pub fn set_quota(&self, quota: u64) {
        self.quota.store(quota.min(NO_QUOTA - 1), Ordering::Release);
    }

    /// One of its connections, held until dropped, whose statements stop
    /// when `budget` is spent.
    pub async fn acquire(self: &Arc<Self>, budget: &Budget) -> Result<NsConn, PoolError> {
        let wait = budget.deadline.saturating_duration_since(Instant::now()).min(ACQUIRE_TIMEOUT);
        let slot = match tokio::time::timeout(wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => return Err(PoolError::TimedOut),
        };
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let Pooled { conn, quota } = match idle {
            Some(pooled) => pooled,
            None => self.open().await?,
        };
        let want = self.quota();
        // Held from here: if the new page limit cannot be applied, the
        // connection goes back to the pool with its old one, and the next
        // holder tries again.
        let mut held = NsConn {
            interrupt: conn.get_interrupt_handle(),
            conn: Some(conn),
            quota,
            pool: Arc::clone(self),
            deadline: budget.deadline,
            _slot: slot,
        };
        if let Some(bytes) = want.filter(|_| want != quota) {
            // Reads the file's header: may meet a writer's lock.
            while_busy(budget.deadline, || apply_quota(held.db()?, bytes).map_err(PoolError::from)).await?;
            held.quota = want;
        }
        budget.watch(held.db()?)?;
        Ok(held)
    }

    /// A new connection to the file, on the blocking pool (opening reads
    /// the file).
    async fn open(&self) -> Result<Pooled, PoolError> {
        let (path, quota, value_bytes) = (self.path.clone(), self.quota(), self.value_bytes);
        let conn = tokio::task::spawn_blocking(move || open(&path, quota, value_bytes))
            .await
            .map_err(|e| PoolError::Join(e.to_string()))??;
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(Pooled { conn, quota })
    }

    /// A connection back from its holder: kept idle, unless the process
    /// holds many and this namespace has one idle already. When the process
    /// holds many, the kept connection gives its page cache and its
    /// prepared statements back.
    fn put_back(&self, pooled: Pooled) {
        let crowded = self.open.load(Ordering::Relaxed) >= self.keep_all_below;
        if crowded {
            // Most of an idle connection's memory is its page cache (about
            // 40 KiB after a migration, 4 KiB a page after reads); the next
            // call reads its few pages from the operating system's cache
            // again (a microsecond each). Its last few statements stay
            // prepared (about 4 KiB each): preparing one again costs the
            // next call tens of microseconds of parsing and planning.
            pooled.conn.set_prepared_statement_cache_capacity(PREPARED_CROWDED);
            sqlite::release_memory(&pooled.conn);
        } else {
            pooled.conn.set_prepared_statement_cache_capacity(PREPARED);
        }
        let Ok(mut idle) = self.idle.lock() else { return self.close(vec![pooled]) };
        if idle.is_empty() || !crowded {
            idle.push(pooled);
        } else {
            drop(idle);
            self.close(vec![pooled]);
        }
    }

    /// Closes connections on the blocking pool: a close may roll back a
    /// journal left by a crash.
    fn close(&self, conns: Vec<Pooled>) {
        if conns.is_empty() {
            return;
        }
        self.open.fetch_sub(conns.len(), Ordering::Relaxed);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(move || drop(conns))),
            Err(_) => drop(conns),
        }
    }
}

impl NsPool {
    /// Closes its idle connections now and waits until they are (the
    /// namespace's files are about to be deleted).
    pub async fn close_idle(&self) {
        let idle = self.idle.lock().map(|mut idle| std::mem::take(&mut *idle)).unwrap_or_default();
        self.open.fetch_sub(idle.len(), Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || drop(idle)).await;
    }
}

impl Drop for NsPool {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().map(std::mem::take).unwrap_or_default();
        self.close(idle);
    }
}

/// A connection kept by a pool, with the size quota it applies.
struct Pooled {
    conn: Connection,
    quota: Option<u64>,
}

/// [`NsPool::quota`]'s "none".
const NO_QUOTA: u64 = u64::MAX;

/// Sets a connection's page limit to `bytes` (at least one page).
fn apply_quota(conn: &Connection, bytes: u64) -> rusqlite::Result<()> {
    conn.pragma_update(None, "max_page_count", i64::try_from(bytes / sqlite::PAGE_BYTES).unwrap_or(i64::MAX).max(1))
}

/// Opens a namespace file for module statements.
fn open(path: &std::path::Path, quota: Option<u64>, value_bytes: usize) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    sqlite::harden(&conn, value_bytes)?;
    // A file written before namespaces left WAL mode is converted when no
    // other connection has it open; until then it stays in WAL mode, which
    // works the same, at three descriptors.
    match conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0)) {
        Ok(_) => {}
        Err(e) if is_busy(&e) => tracing::debug!(path = %path.display(), "namespace stays in WAL mode while open elsewhere"),
        Err(e) => return Err(e),
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF; \
         PRAGMA cache_size = -{CACHE_KIB};"
    ))?;
    if let Some(bytes) = quota {
        apply_quota(&conn, bytes)?;
    }
    conn.set_prepared_statement_cache_capacity(PREPARED);
    // Nobody waits on a lock on a task's thread: see `while_busy`.
    conn.busy_timeout(Duration::ZERO)?;
    Ok(conn)
}

/// A connection to a pair's SQLite file, held by one user until dropped,
/// with the means to stop its running statement from another task.
/// Dropped with a transaction open, the transaction is rolled back.
pub struct NsConn {
    conn: Option<Connection>,
    /// The size quota `conn` applies.
    quota: Option<u64>,
    interrupt: InterruptHandle,
    pool: Arc<NsPool>,
    deadline: Instant,
    _slot: OwnedSemaphorePermit,
}

impl NsConn {
    /// Stops the statement running on it now, if any.
    pub fn interrupt(&self) {
        self.interrupt.interrupt();
    }

    /// The connection, for statements run here (within the holder's budget).
    pub fn db(&mut self) -> Result<&Connection, PoolError> {
        self.conn.as_ref().ok_or(PoolError::Lost)
    }

    /// Runs `work` on the connection on the blocking pool, where it may wait
    /// for the disk, and for another writer until the holder's deadline.
    pub async fn blocking<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&Connection) -> R + Send + 'static,
    ) -> Result<R, PoolError> {
        let conn = self.conn.take().ok_or(PoolError::Lost)?;
        let wait = self.deadline.saturating_duration_since(Instant::now());
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let _ = conn.busy_timeout(wait);
            let out = work(&conn);
            let _ = conn.busy_timeout(Duration::ZERO);
            (conn, out)
        })
        .await
        .map_err(|e| PoolError::Join(e.to_string()))?;
        self.conn = Some(conn);
        Ok(out)
    }

    /// Runs a write outside a transaction (it commits on its own) on the
    /// blocking pool, in its turn among the namespace's writers: waiting at
    /// the file lock alone, it lost to a stream of transactions.
    pub async fn blocking_write<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&Connection) -> R + Send + 'static,
    ) -> Result<R, PoolError> {
        let _turn = writer_turn(Arc::clone(&self.pool.writer), self.deadline).await?;
        self.blocking(work).await
    }

    /// Begins a write transaction: the process's turn first (writers
    /// queue in arrival order), then `BEGIN IMMEDIATE` (the file's write
    /// lock, which another process may hold: waited for without holding a
    /// thread). Both waits end at the holder's deadline.
    pub async fn begin(mut self) -> Result<NsTx, PoolError> {
        let deadline = self.deadline;
        let turn = writer_turn(Arc::clone(&self.pool.writer), deadline).await?;
        while_busy(deadline, || self.db()?.execute_batch("BEGIN IMMEDIATE").map_err(PoolError::from)).await?;
        Ok(NsTx { conn: self, _turn: turn })
    }
}

impl Drop for NsConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let pooled = Pooled { conn, quota: self.quota };
            // A rollback discards pages in memory: no wait on the disk.
            if !pooled.conn.is_autocommit() && pooled.conn.execute_batch("ROLLBACK").is_err() {
                return self.pool.close(vec![pooled]);
            }
            let _ = pooled.conn.progress_handler(0, None::<fn() -> bool>);
            self.pool.put_back(pooled);
        }
    }
}

/// A write transaction on a pair's SQLite file, holding the process's
/// writer turn of the namespace; rolled back if dropped without
/// [`NsTx::commit`].
pub struct NsTx {
    conn: NsConn,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl NsTx {
    pub fn interrupt(&self) {
        self.conn.interrupt();
    }

    pub fn db(&mut self) -> Result<&Connection, PoolError> {
        self.conn.db()
    }

    /// Commits, on the blocking pool (a commit writes and syncs the file,
    /// and waits for the namespace's readers).
    pub async fn commit(mut self) -> Result<(), PoolError> {
        self.conn.blocking(|c| c.execute_batch("COMMIT")).await??;
        Ok(())
    }

    pub fn rollback(mut self) -> Result<(), PoolError> {
        self.conn.db()?.execute_batch("ROLLBACK")?;
        Ok(())
    }
}

/// An error that may say the database was busy (another writer held it).
pub trait Busy {
    fn is_busy(&self) -> bool;
}

impl Busy for rusqlite::Error {
    fn is_busy(&self) -> bool {
        is_busy(self)
    }
}

impl Busy for PoolError {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Sqlite(e) if is_busy(e))
    }
}

/// Runs `attempt` until it is not refused for a busy database, sleeping
/// between tries (1 ms, doubling to 32 ms) until `deadline`: a wait for
/// another writer that holds no thread.
pub async fn while_busy<T, E: Busy>(deadline: Instant, mut attempt: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let mut pause = Duration::from_millis(1);
    loop {
        match attempt() {
            Err(e) if e.is_busy() && Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(32));
            }
            other => return other,
        }
    }
}

/// This process's turn among a namespace's writers, waited for until the
/// holder's deadline (then `SQLITE_BUSY`, as the file lock would answer).
/// Takes what it needs by value: a connection is not `Sync`, so no borrow
/// of one may live across the wait.
async fn writer_turn(
    writer: Arc<tokio::sync::Mutex<()>>,
    deadline: Instant,
) -> Result<tokio::sync::OwnedMutexGuard<()>, PoolError> {
    let wait = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(wait, writer.lock_owned())
        .await
        .map_err(|_| PoolError::Sqlite(busy("another write transaction held the database")))
}

/// A `SQLITE_BUSY` error of our own (a wait that ran out of time).
fn busy(why: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), Some(why.to_owned()))
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED`, with their extended codes.
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn limits(namespaces: usize) -> Limits {
        Limits { namespaces, connections: 1000 }
    }

    /// A cache with one namespace's pool, in a directory that lives as long as the first value.
    fn one_namespace() -> (tempfile::TempDir, OpenNamespaces, Arc<NsPool>) {
        let dir = tempfile::tempdir().unwrap();
        let open = OpenNamespaces::new(limits(8));
        let pool = open.insert("acme", "blog", dir.path().join("blog.db"), None, 1 << 20);
        (dir, open, pool)
    }

    #[tokio::test]
    async fn every_acquisition_sets_its_own_budget() {
        // The budget is a progress handler on the connection, which goes
        // back to the pool when the holder is done: the next holder of that
        // same connection must not inherit an expired one.
        let (_dir, open, pool) = one_namespace();
        const LONG: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) \
                            SELECT COUNT(*) FROM c";
        let mut late = pool.acquire(&Budget::until(Instant::now())).await.unwrap();
        let err = late.db().unwrap().query_row(LONG, [], |r| r.get::<_, i64>(0)).unwrap_err();
        assert!(err.to_string().contains("interrupt"), "{err}");
        drop(late);
        let mut next = pool.acquire(&Budget::until(Instant::now() + Duration::from_secs(30))).await.unwrap();
        let n: i64 = next.db().unwrap().query_row(LONG, [], |r| r.get(0)).unwrap();
        assert_eq!(n, 200_000, "the next holder runs under its own budget");
        assert_eq!(open.connections(), 1, "one connection, used twice");
    }

    #[tokio::test]
    async fn a_quota_set_on_an_open_pool_limits_its_connections_without_reopening_them() {
        // The host's migration opens the pool without a quota; the module's
        // first call sets it. The connection it opened must now refuse to
        // grow the file past the quota, without a second open.
        let (_dir, open, pool) = one_namespace();
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut conn = pool.acquire(&budget).await.unwrap();
        conn.db().unwrap().execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        drop(conn);
        assert_eq!(pool.quota(), None);
        pool.set_quota(64 * 1024);
        assert_eq!(pool.quota(), Some(64 * 1024));
        let mut conn = pool.acquire(&budget).await.unwrap();
        let err = conn
            .db()
            .unwrap()
            .execute("INSERT INTO t VALUES (zeroblob(200000))", [])
            .expect_err("a row three times the quota is refused");
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull), "{err}");
        conn.db().unwrap().execute("INSERT INTO t VALUES (zeroblob(1000))", []).expect("a small row still fits");
        drop(conn);
        assert_eq!(open.connections(), 1, "the quota was applied to the open connection");
    }

    #[tokio::test]
    async fn steps_are_shared_by_every_statement_of_a_budget() {
        let (_dir, _open, pool) = one_namespace();
        let budget = Budget::with_steps(Instant::now() + Duration::from_secs(30), 50_000);
        let mut conn = pool.acquire(&budget).await.unwrap();
        const SOME: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) \
                            SELECT COUNT(*) FROM c";
        let mut ran = 0;
        while conn.db().unwrap().query_row(SOME, [], |r| r.get::<_, i64>(0)).is_ok() {
            ran += 1;
            assert!(ran < 1000, "the steps never ran out");
        }
        assert!(ran > 0 && budget.steps_spent(), "stopped for its steps after {ran} statements");
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_and_its_connection_reused() {
        let (_dir, open, pool) = one_namespace();
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut tx = pool.acquire(&budget).await.unwrap().begin().await.unwrap();
        tx.db().unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
        tx.commit().await.unwrap();
        let mut tx = pool.acquire(&budget).await.unwrap().begin().await.unwrap();
        tx.db().unwrap().execute_batch("INSERT INTO t VALUES (2)").unwrap();
        drop(tx);
        let mut conn = pool.acquire(&budget).await.unwrap();
        let n: i64 = conn.db().unwrap().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "the dropped transaction left nothing");
        assert_eq!(open.connections(), 1);
    }

    #[tokio::test]
    async fn a_writer_waits_for_another_without_failing() {
        let (_dir, _open, pool) = one_namespace();
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut first = pool.acquire(&budget).await.unwrap().begin().await.unwrap();
        first.db().unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        let second = {
            let pool = Arc::clone(&pool);
            let budget = budget.clone();
            tokio::spawn(async move {
                let mut tx = pool.acquire(&budget).await.unwrap().begin().await.unwrap();
                tx.db().unwrap().execute_batch("INSERT INTO t VALUES (2)").unwrap();
                tx.commit().await.unwrap();
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "the second writer waits for the first");
        first.commit().await.unwrap();
        second.await.unwrap();
        let mut conn = pool.acquire(&budget).await.unwrap();
        let n: i64 = conn.db().unwrap().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_of_a_namespace_take_turns_in_arrival_order() {
        // Three writers wait while a fourth holds the namespace for 40 ms
        // (longer than the busy back-off's longest pause): they write in
        // the order they came, not in the order their retries happen to
        // find the file free.
        let (_dir, _open, pool) = one_namespace();
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut first = pool.acquire(&budget).await.unwrap().begin().await.unwrap();
        first.db().unwrap().execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        let mut waiting = Vec::new();
        for n in 1..=3 {
            let (pool, budget) = (Arc::clone(&pool), budget.clone());
            waiting.push(tokio::spawn(async move {
                let mut tx = pool.acquire(&budget).await.unwrap().begin().await.unwrap();
                tx.db().unwrap().execute("INSERT INTO t VALUES (?1)", [n]).unwrap();
                tx.commit().await.unwrap();
            }));
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        first.commit().await.unwrap();
        for w in waiting {
            w.await.unwrap();
        }
        let mut conn = pool.acquire(&budget).await.unwrap();
        let order: Vec<i64> = {
            let db = conn.db().unwrap();
            let mut stmt = db.prepare("SELECT n FROM t ORDER BY rowid").unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(order, [1, 2, 3]);
    }

    /// Descriptors of this process open on `path` (Linux: `/proc/self/fd`).
    fn descriptors_on(path: &std::path::Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.starts_with(path))
            .count()
    }

    #[tokio::test]
    async fn an_open_namespace_holds_one_descriptor_and_no_log_files() {
        // What lets ten thousand namespaces stay open: one descriptor each,
        // no write-ahead log, no shared memory.
        let (dir, _open, pool) = one_namespace();
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut tx = pool.acquire(&budget).await.unwrap().begin().await.unwrap();
        tx.db().unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
        tx.commit().await.unwrap();
        let mut conn = pool.acquire(&budget).await.unwrap();
        let mode: String = conn.db().unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "delete");
        let sync: i64 = conn.db().unwrap().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "a commit is on disk when it returns (FULL)");
        let files: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(files, ["blog.db"], "no log, no shared memory, no journal left");
        assert_eq!(descriptors_on(dir.path()), 1, "one descriptor for an open namespace");
    }

    #[tokio::test]
    async fn a_namespace_in_wal_mode_is_converted_with_its_data() {
        // Files written before namespaces left WAL mode.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blog.db");
        {
            let old = Connection::open(&path).unwrap();
            old.pragma_update(None, "journal_mode", "WAL").unwrap();
            let mut persist: std::ffi::c_int = 1;
            // Keep the log on close, as namespaces did: the worst case.
            #[allow(unsafe_code)]
            // SAFETY: a live handle and a pointer to a live local.
            unsafe {
                libsqlite3_sys::sqlite3_file_control(
                    old.handle(),
                    c"main".as_ptr(),
                    libsqlite3_sys::SQLITE_FCNTL_PERSIST_WAL,
                    (&raw mut persist).cast(),
                );
            }
            old.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)").unwrap();
        }
        let open = OpenNamespaces::new(limits(8));
        let pool = open.insert("acme", "blog", path.clone(), None, 1 << 20);
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut conn = pool.acquire(&budget).await.unwrap();
        let mode: String = conn.db().unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "delete");
        let n: i64 = conn.db().unwrap().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "nothing was lost in the conversion");
        assert!(!dir.path().join("blog.db-wal").exists() || std::fs::metadata(dir.path().join("blog.db-wal")).unwrap().len() == 0);
    }

    #[tokio::test]
    async fn a_reader_waits_for_a_commit_without_failing() {
        // In rollback-journal mode a commit locks readers out for a moment;
        // a read then waits (an async retry), it does not fail.
        let (_dir, _open, pool) = one_namespace();
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut setup = pool.acquire(&budget).await.unwrap();
        setup.db().unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
        drop(setup);
        let mut writer = pool.acquire(&budget).await.unwrap();
        writer.db().unwrap().execute_batch("BEGIN EXCLUSIVE; INSERT INTO t VALUES (2)").unwrap();
        let reader = {
            let pool = Arc::clone(&pool);
            let budget = budget.clone();
            tokio::spawn(async move {
                let mut conn = pool.acquire(&budget).await.unwrap();
                while_busy(budget.deadline(), || {
                    conn.db()?.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).map_err(PoolError::from)
                })
                .await
                .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!reader.is_finished(), "the reader waits for the writer");
        writer.db().unwrap().execute_batch("COMMIT").unwrap();
        assert_eq!(reader.await.unwrap(), 2, "and then reads the commit");
    }

    #[tokio::test]
    async fn a_crowded_process_keeps_idle_connections_without_their_caches() {
        let dir = tempfile::tempdir().unwrap();
        // Four connections allowed: past two open, idle ones give their
        // page cache back.
        let open = OpenNamespaces::new(Limits { namespaces: 8, connections: 4 });
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        let mut cached = Vec::new();
        for n in 0..3 {
            let pool = open.insert(&format!("t{n}"), "blog", dir.path().join(format!("{n}.db")), None, 1 << 20);
            let mut conn = pool.acquire(&budget).await.unwrap();
            let db = conn.db().unwrap();
            db.execute_batch(
                "CREATE TABLE t (x); INSERT INTO t WITH RECURSIVE c(i) AS \
                 (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 8) SELECT zeroblob(3000) FROM c",
            )
            .unwrap();
            let mut read = db.prepare_cached("SELECT count(*) FROM t WHERE length(x) = 3000").unwrap();
            let n: i64 = read.query_row([], |r| r.get(0)).unwrap();
            drop(read);
            assert_eq!(n, 8);
            drop(conn);
            let idle = pool.idle.lock().unwrap();
            cached.push((
                sqlite::status(&idle[0].conn, libsqlite3_sys::SQLITE_DBSTATUS_CACHE_USED),
                sqlite::status(&idle[0].conn, libsqlite3_sys::SQLITE_DBSTATUS_STMT_USED),
            ));
        }
        // The first (one open connection of four) keeps its pages; the
        // third (three open) keeps the cache's fixed part only. Both keep
        // their last statement prepared.
        assert!(cached[0].0 >= cached[2].0 + 8 * 4096, "{cached:?}");
        assert!(cached[0].1 > 0 && cached[2].1 > 0, "{cached:?}");
        assert_eq!(open.connections(), 3, "and stays open");
    }

    #[tokio::test]
    async fn the_cache_keeps_at_most_its_capacity_open() {
        let dir = tempfile::tempdir().unwrap();
        let open = OpenNamespaces::new(limits(4));
        let budget = Budget::until(Instant::now() + Duration::from_secs(30));
        for n in 0..50 {
            let pool = open.insert(&format!("t{n}"), "blog", dir.path().join(format!("{n}.db")), None, 1 << 20);
            drop(pool.acquire(&budget).await.unwrap());
        }
        // Closing runs on the blocking pool.
        for _ in 0..100 {
            if open.connections() <= 8 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(open.connections() <= 8, "{} connections stay open", open.connections());
    }
}
