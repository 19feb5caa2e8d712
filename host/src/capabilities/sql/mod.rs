//! The `sql` capability: a module's own SQL namespace for the calling tenant.
//!
//! - [`namespace`]: where the namespace lives (a SQLite file, or a
//!   PostgreSQL schema with its own role), creation and migrations.
//! - [`pool`]: the open SQLite namespaces and their connections, and where
//!   their statements run; [`sqlite`]: what makes a connection fit for a module.
//! - [`vet`]: every statement is parsed and vetted before it runs; what runs
//!   is the vetted AST printed back, never the module's text.
//! - [`values`]: binding parameters and decoding rows, per engine.
//!
//! Statements outside a transaction commit on their own; `begin`/`commit`/
//! `rollback` group them, and a transaction left open when the call ends is
//! rolled back. Each call has budgets for statements and rows read.
//!
//! Other capabilities may write in the module's open transaction and act
//! once it commits, through an explicit [`TxHook`] (the `events` outbox:
//! an event published in a transaction exists if and only if its data does).

pub mod namespace;
pub mod pool;
pub mod sqlite;
pub mod values;
pub mod vet;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

pub use namespace::{Budget, NamespaceError, Namespaces, NsConn, NsTx, PoolError};
use values::Outcome;
use vet::{Dialect, VetError, Vetted};

use wasmtime::component::{HasSelf, Linker};

use super::{CallState, CapError, End, InitContext, InitError, Prepare, Scope, Services, Unit};
use crate::contract::{Capability, Manifest};
use crate::contract::plaza::module::sql::{self as wit, Host, Rows, Value};

/// Distinct statements of one module version kept vetted.
const STATEMENT_CACHE_SIZE: usize = 1024;
/// Parameters one statement may take.
const MAX_PARAMS: usize = 1000;

/// The `sql` unit: the namespaces' pools host-wide; per call, its
/// connection or transaction and its budgets.
pub struct Sql;

impl Unit for Sql {
    const CAPABILITY: Capability = Capability::Sql;
    type Shared = Namespaces;
    type PerCall = Session;
    /// The module version's statements, vetted once each.
    type Grant = StatementCache;

    async fn init(cx: &InitContext<'_>) -> Result<Namespaces, InitError> {
        Namespaces::open(cx.config, cx.db.backend()).await.map_err(|e| InitError::new(Self::CAPABILITY, e))
    }

    fn configure(_: &Manifest) -> StatementCache {
        StatementCache::new()
    }

    fn prepare(_: &Namespaces, call: &Prepare<'_>) -> Session {
        Session::new(Budget::with_steps(call.deadline, call.limits.sql_work))
    }

    fn link<T: Send + 'static>(linker: &mut Linker<T>, get: fn(&mut T) -> &mut CallState) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<CallState>>(linker, get)
    }

    fn before_wait(session: &mut Session) {
        session.release_connection();
    }

    fn interrupt(session: &Session) {
        session.interrupt();
    }

    /// A transaction left open is rolled back.
    async fn finish(session: &mut Session, end: &End<'_>) {
        if session.rollback_open().await
            && let Some(scope) = end.scope
        {
            tracing::warn!(tenant = %scope.tenant, module = %scope.module(), "transaction left open; rolled back");
        }
    }
}

/// What another capability does with a module transaction: it writes its
/// rows in it ([`Session::execute_in_transaction`]), keeps its state in a
/// hook of its own type ([`Session::hook_mut`]), and the hook runs once the
/// transaction has committed. A rollback drops the hooks.
pub trait TxHook: Any + Send {
    /// The transaction committed.
    fn committed<'a>(
        self: Box<Self>,
        services: &'a Arc<Services>,
        scope: &'a Scope,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// The vetted statements of one module version, by text: parsed once.
pub struct StatementCache(quick_cache::sync::Cache<(Dialect, String), Arc<Vetted>>);

impl std::fmt::Debug for StatementCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatementCache").field("len", &self.0.len()).finish()
    }
}

impl Default for StatementCache {
    fn default() -> Self {
        Self::new()
    }
}

impl StatementCache {
    pub fn new() -> Self {
        Self(quick_cache::sync::Cache::new(STATEMENT_CACHE_SIZE))
    }

    /// The vetted form of `text`, parsing it only the first time (`parsed`
    /// is called on each parse, for the metrics). Refusals are not cached.
    pub fn get(&self, dialect: Dialect, text: &str, parsed: impl FnOnce()) -> Result<Arc<Vetted>, VetError> {
        let key = (dialect, text.to_owned());
        if let Some(v) = self.0.get(&key) {
            return Ok(v);
        }
        parsed();
        let vetted = Arc::new(vet::vet_one(dialect, text)?);
        self.0.insert(key, Arc::clone(&vetted));
        Ok(vetted)
    }
}

/// An open module transaction (on PostgreSQL with its tenant's connection slot).
enum Tx {
    Sqlite(NsTx),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>, Option<tokio::sync::OwnedSemaphorePermit>),
}

/// The SQL state of one call.
pub struct Session {
    /// What the call's statements may still spend (its deadline and, on
    /// SQLite, its virtual-machine steps), shared by all of them.
    budget: Budget,
    tx: Option<Tx>,
    /// On SQLite, the connection the call's statements outside a
    /// transaction run on: taken at the first one and kept to the end of
    /// the call, so a call pays for one acquire and one deadline, not one
    /// per statement. Released before a transaction begins (a call never
    /// holds two connections of its pool) and before the call waits on
    /// anything slow ([`Session::release_connection`]).
    conn: Option<NsConn>,
    /// On PostgreSQL, the transaction the call's reads outside a module
    /// transaction share: begun (inside the namespace) at the first, ended
    /// at the call's first write, its own `begin`, a slow wait or its end.
    /// Reads in one transaction cost one `BEGIN` for all, not one each;
    /// under READ COMMITTED each still sees what is committed when it runs.
    reads: Option<PgTx>,
    /// What other capabilities do once the open transaction commits.
    hooks: Vec<Box<dyn TxHook>>,
    /// Statements run, and rows read, by the call.
    statements: u32,
    rows: u32,
    /// The namespace's size quota, read at the call's first need of it.
    quota: Option<u64>,
}

impl Session {
    /// The SQL state of a call bounded by `budget`.
    pub fn new(budget: Budget) -> Self {
        Self { budget, tx: None, conn: None, reads: None, hooks: Vec::new(), statements: 0, rows: 0, quota: None }
    }

    /// Stops whatever statement the call is running, from outside the call
    /// (its deadline passed): SQLite's progress handler only runs between
    /// steps, an interrupt also ends the step. PostgreSQL ends its own at
    /// the transaction's `statement_timeout`.
    pub fn interrupt(&self) {
        if let Some(conn) = &self.conn {
            conn.interrupt();
        }
        if let Some(Tx::Sqlite(tx)) = &self.tx {
            tx.interrupt();
        }
    }

    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// The open transaction's hook of type `H`, if one was made.
    pub fn hook<H: TxHook>(&self) -> Option<&H> {
        self.hooks.iter().find_map(|h| (h.as_ref() as &dyn Any).downcast_ref::<H>())
    }

    /// The open transaction's hook of type `H`, made on first use; an
    /// error when no transaction is open.
    pub fn hook_mut<H: TxHook + Default>(&mut self) -> Result<&mut H, CapError> {
        if self.tx.is_none() {
            return Err(CapError::invalid("no transaction is open"));
        }
        let at = match self.hooks.iter().position(|h| (h.as_ref() as &dyn Any).is::<H>()) {
            Some(at) => at,
            None => {
                self.hooks.push(Box::new(H::default()));
                self.hooks.len() - 1
            }
        };
        (self.hooks[at].as_mut() as &mut dyn Any)
            .downcast_mut::<H>()
            .ok_or_else(|| CapError::unavailable("transaction hook lost"))
    }

    /// A statement's failure as the module sees it: an interrupted statement
    /// whose call spent its SQLite steps was stopped for its work.
    fn work_error(&self, e: CapError) -> CapError {
        if self.budget.steps_spent() {
            return CapError::limit(
                "the call's SQL did more work than its budget (rows scanned and produced); \
                 narrow the query, add an index or page through the data",
            );
        }
        e
    }

    /// Gives the call's autocommit connection back to its pool before the
    /// call waits on something slow (an outbound request, the object
    /// store): a connection is held across SQL work only, never across a
    /// wait that would keep other calls of the namespace from it. (An open
    /// transaction stays: the module asked for it.)
    pub fn release_connection(&mut self) {
        self.conn = None;
        self.reads = None;
    }

    /// Rolls back a transaction left open, and gives the call's connection
    /// back; true if there was a transaction.
    pub async fn rollback_open(&mut self) -> bool {
        self.hooks.clear();
        self.conn = None;
        self.reads = None;
        match self.tx.take() {
            Some(Tx::Sqlite(tx)) => {
                let _ = tx.rollback();
                true
            }
            Some(Tx::Postgres(tx, _slot)) => {
                let _ = tx.rollback().await;
                true
            }
            None => false,
        }
    }

    /// Runs a host statement (not the module's: it is not vetted) with
    /// text parameters in the open transaction, for another capability's
    /// rows that must commit or roll back with the module's.
    pub async fn execute_in_transaction(
        &mut self,
        statement: &'static str,
        params: &[Option<&str>],
    ) -> Result<(), CapError> {
        match &mut self.tx {
            Some(Tx::Sqlite(tx)) => {
                let db = tx.db().map_err(pool_error)?;
                db.execute(statement, rusqlite::params_from_iter(params.iter())).map_err(values::sqlite_error)?;
            }
            Some(Tx::Postgres(tx, _)) => {
                let mut query = sqlx::query(statement);
                for param in params {
                    query = query.bind(*param);
                }
                query.execute(&mut **tx).await.map_err(values::db_error)?;
            }
            None => return Err(CapError::invalid("no transaction is open")),
        }
        Ok(())
    }
}

impl CallState {
    /// Counts a statement against the call's budget.
    fn spend_statement(&mut self) -> Result<(), CapError> {
        if self.units.sql.statements >= self.limits().sql_statements {
            return Err(CapError::limit(format!(
                "a call may run {} SQL statements; this one ran them all",
                self.limits().sql_statements
            )));
        }
        self.units.sql.statements += 1;
        Ok(())
    }

    /// The size quota of the call's namespace (read once per call).
    async fn sql_quota(&mut self, scope: &Scope) -> Result<u64, CapError> {
        if let Some(quota) = self.units.sql.quota {
            return Ok(quota);
        }
        let services = Arc::clone(self.services());
        let quota = services
            .quotas
            .of(&services.db, &scope.tenant)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "quotas unavailable");
                CapError::unavailable("the host's database is not available; try again")
            })?
            .module_sql_bytes;
        self.units.sql.quota = Some(quota);
        Ok(quota)
    }

    fn vetted(&self, scope: &Scope, text: &str) -> Result<Arc<Vetted>, CapError> {
        let services = self.services();
        scope
            .grant
            .units
            .sql
            .get(services.sql.dialect(), text, || services.metrics.module_sql_parse(scope.module()))
            .map_err(|e| match e {
                VetError::Refused(why) => {
                    services.metrics.module_refusal(scope.module(), "sql");
                    tracing::warn!(tenant = %scope.tenant, module = %scope.module(), reason = %why, "SQL refused");
                    CapError::refused(why)
                }
                other => CapError::invalid(other.to_string()),
            })
    }

    /// Vets and runs one statement in the call's namespace. On SQLite, a
    /// read (or any statement in a transaction) runs here, within the
    /// call's budget; a write outside a transaction commits, so it runs on
    /// the blocking pool, in its turn among the namespace's writers (see
    /// [`pool`]).
    async fn run(&mut self, text: &str, params: &[Value], want_rows: bool) -> Result<Outcome, CapError> {
        let scope = self.scope_for(Capability::Sql)?;
        self.spend_statement()?;
        if params.len() > MAX_PARAMS {
            return Err(CapError::invalid(format!("a statement takes at most {MAX_PARAMS} parameters")));
        }
        let vetted = self.vetted(&scope, text)?;
        let caps = values::Caps {
            rows: self.limits().sql_rows.saturating_sub(self.units.sql.rows),
            bytes: self.limits().response_bytes,
        };
        let services = Arc::clone(self.services());
        // The size quota, read only where a statement needs it: on SQLite
        // to open the namespace's pool (its page limit), on PostgreSQL to
        // write outside a transaction (one checks it when it begins). A read
        // of a busy namespace costs no quota lookup.
        let needs_quota = if self.units.sql.tx.is_some() {
            false
        } else if services.sql.dialect() == Dialect::Sqlite {
            self.units.sql.conn.is_none() && !services.sql.sqlite_has_quota(&scope.tenant, scope.module())
        } else {
            !vetted.read_only
        };
        let quota = if needs_quota { Some(self.sql_quota(&scope).await?) } else { None };
        let result = match &mut self.units.sql.tx {
            Some(Tx::Sqlite(tx)) => tx
                .db()
                .map_err(pool_error)
                .and_then(|db| values::run_sqlite(db, &vetted.sql, params, want_rows, caps).map_err(CapError::from)),
            Some(Tx::Postgres(tx, _)) => values::run_postgres(tx, &vetted, params, want_rows, caps).await,
            None if services.sql.dialect() == Dialect::Sqlite => {
                if self.units.sql.conn.is_none() {
                    self.units.sql.conn = services
                        .sql
                        .sqlite_conn_within(&scope.tenant, scope.module(), &self.units.sql.budget, quota)
                        .await
                        .map_err(namespace_error)?;
                }
                let Some(conn) = self.units.sql.conn.as_mut() else {
                    return Err(CapError::unavailable("no SQL namespace"));
                };
                if vetted.read_only {
                    let deadline = self.units.sql.budget.deadline();
                    pool::while_busy(deadline, || {
                        values::run_sqlite(conn.db()?, &vetted.sql, params, want_rows, caps)
                    })
                    .await
                    .map_err(CapError::from)
                } else {
                    let (vetted, params) = (Arc::clone(&vetted), params.to_vec());
                    conn.blocking_write(move |db| values::run_sqlite(db, &vetted.sql, &params, want_rows, caps))
                        .await
                        .map_err(pool_error)?
                        .map_err(CapError::from)
                }
            }
            None if vetted.read_only => {
                if self.units.sql.reads.is_none() {
                    let deadline = self.units.sql.budget.deadline();
                    self.units.sql.reads = Some(pg_transaction(&services, &scope, deadline, None).await?);
                }
                let Some((tx, _)) = self.units.sql.reads.as_mut() else {
                    return Err(CapError::unavailable("no SQL namespace"));
                };
                let out = values::run_postgres(tx, &vetted, params, want_rows, caps).await;
                if out.is_err() {
                    // A failed statement aborts its transaction: the next read begins another.
                    self.units.sql.reads = None;
                }
                out
            }
            None => {
                // A write commits on its own: the reads' transaction ends first.
                self.units.sql.reads = None;
                let deadline = self.units.sql.budget.deadline();
                autocommit_postgres(&services, &scope, &vetted, params, want_rows, caps, deadline, quota).await
            }
        };
        let outcome = result.map_err(|e| self.units.sql.work_error(e))?;
        self.units.sql.rows += u32::try_from(outcome.rows.len()).unwrap_or(u32::MAX);
        Ok(outcome)
    }

    async fn begin_tx(&mut self) -> Result<(), CapError> {
        let scope = self.scope_for(Capability::Sql)?;
        if self.units.sql.tx.is_some() {
            return Err(CapError::invalid("a transaction is already open; commit or roll it back first"));
        }
        self.spend_statement()?;
        let deadline = self.deadline();
        let services = Arc::clone(self.services());
        let ns = &services.sql;
        let needs_quota = ns.dialect() == Dialect::Postgres || !ns.sqlite_has_quota(&scope.tenant, scope.module());
        let quota = if needs_quota { Some(self.sql_quota(&scope).await?) } else { None };
        // The call's autocommit connection goes back first: a transaction
        // takes its own, and a call never holds two.
        self.units.sql.conn = None;
        self.units.sql.reads = None;
        let tx = if let Some(tx) = ns
            .sqlite_begin_within(&scope.tenant, scope.module(), &self.units.sql.budget, quota)
            .await
            .map_err(namespace_error)?
        {
            Tx::Sqlite(tx)
        } else {
            let (tx, slot) = pg_transaction(&services, &scope, deadline, quota).await?;
            Tx::Postgres(tx, slot)
        };
        self.units.sql.tx = Some(tx);
        Ok(())
    }

    async fn commit_tx(&mut self) -> Result<(), CapError> {
        let scope = self.scope_for(Capability::Sql)?;
        let result = match self.units.sql.tx.take() {
            Some(Tx::Sqlite(tx)) => tx.commit().await.map_err(pool_error),
            Some(Tx::Postgres(tx, _slot)) => tx.commit().await.map_err(values::db_error),
            None => return Err(CapError::invalid("no transaction is open")),
        };
        let hooks = std::mem::take(&mut self.units.sql.hooks);
        result?;
        let services = Arc::clone(self.services());
        for hook in hooks {
            hook.committed(&services, &scope).await;
        }
        Ok(())
    }
}

/// A write refused because the namespace reached its size quota.
fn sql_quota_error(quota: u64) -> CapError {
    CapError::limit(format!("the module's SQL data reached its quota of {quota} bytes; delete some or ask for more"))
}

fn unavailable(e: NamespaceError) -> CapError {
    tracing::error!(error = %e, "module namespace unavailable");
    CapError::unavailable("the module's database is not available")
}

/// A SQLite connection's failure as the module sees it.
fn pool_error(e: PoolError) -> CapError {
    match e {
        PoolError::Sqlite(e) => values::sqlite_error(e),
        PoolError::TimedOut => CapError::unavailable(format!("{}; try again", PoolError::TimedOut)),
        other => {
            tracing::error!(error = %other, "module namespace connection failed");
            CapError::unavailable("the module's database is not available")
        }
    }
}

/// A database error as the module sees it; anything else as unavailable.
fn namespace_error(e: NamespaceError) -> CapError {
    match e {
        NamespaceError::Db(e) => values::db_error(e),
        NamespaceError::Sqlite(e) => pool_error(e),
        busy @ NamespaceError::TenantBusy(_) => CapError::unavailable(format!("{busy}; try again")),
        other => unavailable(other),
    }
}

/// A module transaction on PostgreSQL and the tenant's connection slot it holds.
type PgTx = (sqlx::Transaction<'static, sqlx::Postgres>, Option<tokio::sync::OwnedSemaphorePermit>);

/// Begins a module transaction on PostgreSQL, inside the pair's namespace,
/// on one of the tenant's connection slots. With `quota`, a namespace at
/// its size quota is refused first: the quota is checked when a
/// transaction starts, not at each of its writes (that check would need a
/// second connection).
async fn pg_transaction(
    services: &Services,
    scope: &Scope,
    deadline: Instant,
    quota: Option<u64>,
) -> Result<PgTx, CapError> {
    let ns = &services.sql;
    let Some(namespace::PgPlace { pool, names }) =
        ns.pg_place(&scope.tenant, scope.module()).await.map_err(unavailable)?
    else {
        return Err(CapError::unavailable("no SQL namespace"));
    };
    if let Some(quota) = quota
        && ns.pg_full(&scope.tenant, scope.module(), quota).await.map_err(namespace_error)?
    {
        return Err(sql_quota_error(quota));
    }
    let slot = ns.pg_slot(&scope.tenant, deadline).await.map_err(namespace_error)?;
    let tx = ns
        .pg_begin(&pool, &names, deadline.saturating_duration_since(Instant::now()))
        .await
        .map_err(values::db_error)?;
    Ok((tx, slot))
}

/// One statement in its own transaction, on PostgreSQL (which needs one to
/// enter the namespace's role and schema), on one of the tenant's
/// connection slots; a write first checks the namespace's size quota.
#[allow(clippy::too_many_arguments)]
async fn autocommit_postgres(
    services: &Services,
    scope: &Scope,
    vetted: &Vetted,
    params: &[Value],
    want_rows: bool,
    caps: values::Caps,
    deadline: Instant,
    quota: Option<u64>,
) -> Result<Outcome, CapError> {
    let (mut tx, _slot) = pg_transaction(services, scope, deadline, quota).await?;
    let out = values::run_postgres(&mut tx, vetted, params, want_rows, caps).await?;
    tx.commit().await.map_err(values::db_error)?;
    Ok(out)
}

impl Host for CallState {
    async fn query(&mut self, statement: String, params: Vec<Value>) -> Result<Rows, CapError> {
        let out = self.run(&statement, &params, true).await?;
        Ok(Rows { columns: out.columns, rows: out.rows })
    }

    async fn execute(&mut self, statement: String, params: Vec<Value>) -> Result<u64, CapError> {
        Ok(self.run(&statement, &params, false).await?.changed)
    }

    async fn batch(&mut self, statements: String) -> Result<(), CapError> {
        let scope = self.scope_for(Capability::Sql)?;
        let dialect = self.services().sql.dialect();
        let parts = vet::vet_all(dialect, &statements).map_err(|e| match e {
            VetError::Refused(why) => {
                self.services().metrics.module_refusal(scope.module(), "sql");
                CapError::refused(why)
            }
            other => CapError::invalid(other.to_string()),
        })?;
        for part in parts {
            self.run(&part.sql, &[], false).await?;
        }
        Ok(())
    }

    async fn begin(&mut self) -> Result<(), CapError> {
        self.begin_tx().await
    }

    async fn commit(&mut self) -> Result<(), CapError> {
        self.commit_tx().await
    }

    async fn rollback(&mut self) -> Result<(), CapError> {
        self.scope_for(Capability::Sql)?;
        if !self.units.sql.rollback_open().await {
            return Err(CapError::invalid("no transaction is open"));
        }
        Ok(())
    }
}
