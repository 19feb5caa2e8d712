//! SQL values across the contract: binding module parameters and decoding
//! result columns, per engine, into the portable types of the WIT
//! (`null`, `integer`, `real`, `text`, `blob`, `boolean`).

use futures_util::TryStreamExt;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgRow, PgTypeInfo, Postgres};
use rusqlite::ErrorCode;
use rusqlite::types::ValueRef as SqliteValue;
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};

use super::vet::Vetted;
use crate::contract::CapError;
use crate::contract::plaza::module::sql::Value;

/// How much one statement's result may hold.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Rows (what is left of the call's row budget).
    pub rows: u32,
    /// Bytes of text and blobs, all rows together: as much as a response
    /// may carry. A larger result could not reach the module anyway (it is
    /// copied into its memory), and must not be built in the host's.
    pub bytes: usize,
}

/// What a statement gave back.
#[derive(Debug, Default)]
pub struct Outcome {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub changed: u64,
}

/// Maps a PostgreSQL error to what the module sees (SQLite namespaces go
/// through rusqlite: [`sqlite_error`]).
pub fn db_error(e: sqlx::Error) -> CapError {
    match &e {
        sqlx::Error::Database(_) if crate::db::is_busy(&e) => {
            CapError::unavailable("the database stayed busy past its timeout; try again")
        }
        sqlx::Error::Database(d) => {
            let message = d.message().to_owned();
            if d.is_unique_violation() || d.is_foreign_key_violation() || d.is_check_violation() {
                return CapError::Guest(crate::contract::GuestError::Conflict(message));
            }
            match d.code().as_deref() {
                // insufficient_privilege: the role refused it (defence in depth behind the vetter).
                Some("42501") => CapError::refused(message),
                // query_canceled: the statement timeout (the call's deadline).
                Some("57014") => CapError::limit("the statement ran past the call's deadline"),
                // program_limit_exceeded (the row guard), out_of_memory,
                // configuration_limit_exceeded (temp_file_limit).
                Some("54000" | "53200" | "53400") => CapError::limit(message),
                _ => CapError::invalid(message),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            CapError::unavailable("the database is not available; try again")
        }
        _ => CapError::invalid(e.to_string()),
    }
}

/// Maps a SQLite error to what the module sees (the cases of [`db_error`],
/// in SQLite's codes, and SQLite's own limits).
pub fn sqlite_error(e: rusqlite::Error) -> CapError {
    let rusqlite::Error::SqliteFailure(failure, message) = &e else {
        return CapError::invalid(e.to_string());
    };
    let message = message.clone().unwrap_or_else(|| failure.to_string());
    match failure.code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
            CapError::unavailable("the database stayed busy past its timeout; try again")
        }
        ErrorCode::ConstraintViolation
            if matches!(
                failure.extended_code,
                libsqlite3_sys::SQLITE_CONSTRAINT_UNIQUE
                    | libsqlite3_sys::SQLITE_CONSTRAINT_PRIMARYKEY
                    | libsqlite3_sys::SQLITE_CONSTRAINT_FOREIGNKEY
                    | libsqlite3_sys::SQLITE_CONSTRAINT_CHECK
            ) =>
        {
            CapError::Guest(crate::contract::GuestError::Conflict(message))
        }
        // The namespace reached its size quota (max_page_count).
        ErrorCode::DiskFull => {
            CapError::limit("the module's SQL data reached its size quota; delete some, or ask the operator for more")
        }
        // The process's SQLite heap limit.
        ErrorCode::OutOfMemory => CapError::limit("the statement needed more memory than the host allows"),
        // A value over the connection's length limit.
        ErrorCode::TooBig => CapError::limit(format!("{message}: a value may be as large as the operator allows")),
        // The progress handler, or an interrupt at the deadline.
        ErrorCode::OperationInterrupted => CapError::limit("the statement ran past the call's deadline"),
        _ => CapError::invalid(message),
    }
}

/// Why a SQLite statement gave no outcome: the database refused it (a
/// busy database is tried again), or its result went over the call's caps.
#[derive(Debug)]
pub enum SqliteFailure {
    Db(rusqlite::Error),
    Caps(CapError),
}

impl From<rusqlite::Error> for SqliteFailure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Db(e)
    }
}

impl From<super::pool::PoolError> for SqliteFailure {
    fn from(e: super::pool::PoolError) -> Self {
        match e {
            super::pool::PoolError::Sqlite(e) => Self::Db(e),
            other => Self::Caps(CapError::unavailable(format!("the module's database is not available: {other}"))),
        }
    }
}

impl From<SqliteFailure> for CapError {
    fn from(f: SqliteFailure) -> Self {
        match f {
            SqliteFailure::Db(e) => sqlite_error(e),
            SqliteFailure::Caps(e) => e,
        }
    }
}

impl super::pool::Busy for SqliteFailure {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Db(e) if super::pool::is_busy(e))
    }
}

/// A parameter PostgreSQL types from the statement itself: a NULL sent with
/// an unspecified type, so `NULL` fits an INTEGER column as well as a TEXT one.
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, Box<dyn std::error::Error + Send + Sync>> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}


/// The bytes a value takes in a result.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Text(t) => t.len(),
        Value::Blob(b) => b.len(),
        _ => 8,
    }
}

fn byte_limit(max: usize) -> CapError {
    CapError::limit(format!("a statement's result may hold {max} bytes; select fewer columns or page through it"))
}

/// Runs one vetted statement on SQLite, reading within `caps`. Parameters
/// are `$N` (or `?N`) by number, or `?` in order. The statement stays
/// prepared on the connection for the next call that runs it.
pub fn run_sqlite(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
    want_rows: bool,
    caps: Caps,
) -> Result<Outcome, SqliteFailure> {
    let mut stmt = conn.prepare_cached(sql)?;
    for at in 1..=stmt.parameter_count() {
        let number = stmt
            .parameter_name(at)
            .and_then(|name| name.strip_prefix(['$', '?']))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(at);
        let value = params.get(number.wrapping_sub(1)).ok_or_else(|| {
            SqliteFailure::Caps(CapError::invalid(format!(
                "the statement uses parameter {number}; {} were given",
                params.len()
            )))
        })?;
        match value {
            Value::Null => stmt.raw_bind_parameter(at, rusqlite::types::Null)?,
            Value::Integer(i) => stmt.raw_bind_parameter(at, i)?,
            Value::Real(f) => stmt.raw_bind_parameter(at, f)?,
            Value::Text(t) => stmt.raw_bind_parameter(at, t.as_str())?,
            Value::Blob(b) => stmt.raw_bind_parameter(at, b.as_slice())?,
            Value::Boolean(b) => stmt.raw_bind_parameter(at, b)?,
        }
    }
    let mut out = Outcome::default();
    if want_rows {
        // Declared BOOLEAN columns read as booleans (SQLite stores integers).
        let boolean: Vec<bool> =
            stmt.columns().iter().map(|c| c.decl_type().is_some_and(|t| t.eq_ignore_ascii_case("BOOLEAN"))).collect();
        out.columns = stmt.column_names().into_iter().map(str::to_owned).collect();
        let mut bytes = 0usize;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            if out.rows.len() >= caps.rows as usize {
                return Err(SqliteFailure::Caps(row_limit(caps.rows)));
            }
            let mut values = Vec::with_capacity(boolean.len());
            for (i, &is_bool) in boolean.iter().enumerate() {
                values.push(match row.get_ref(i)? {
                    SqliteValue::Null => Value::Null,
                    SqliteValue::Integer(n) if is_bool => Value::Boolean(n != 0),
                    SqliteValue::Integer(n) => Value::Integer(n),
                    SqliteValue::Real(f) => Value::Real(f),
                    SqliteValue::Text(t) => Value::Text(String::from_utf8(t.to_vec()).map_err(|_| {
                        SqliteFailure::Caps(CapError::invalid(format!("column {i} holds text that is not UTF-8")))
                    })?),
                    SqliteValue::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            bytes = bytes.saturating_add(values.iter().map(value_bytes).sum::<usize>());
            if bytes > caps.bytes {
                return Err(SqliteFailure::Caps(byte_limit(caps.bytes)));
            }
            out.rows.push(values);
        }
    } else {
        // Stepped to the end: a write with RETURNING runs whole.
        let mut rows = stmt.raw_query();
        while rows.next()?.is_some() {}
        out.changed = conn.changes();
    }
    Ok(out)
}

fn row_limit(max: u32) -> CapError {
    CapError::limit(format!("the call may read {max} more rows; narrow the query or page through it"))
}

/// Runs one vetted statement on PostgreSQL, reading within `caps`.
///
/// A statement that returns rows runs inside a guard that fails any row
/// over `caps.bytes` on the server: PostgreSQL builds values up to a
/// gigabyte (`repeat('x', 900000000)`), and the host must never receive one.
pub async fn run_postgres(
    conn: &mut sqlx::PgConnection,
    vetted: &Vetted,
    params: &[Value],
    want_rows: bool,
    caps: Caps,
) -> Result<Outcome, CapError> {
    let sql = match (want_rows, &vetted.guard) {
        (true, Some(guard)) => guard.with_limit(caps.bytes),
        _ => vetted.sql.clone(),
    };
    let mut q = sqlx::query::<Postgres>(AssertSqlSafe(sql));
    for p in params {
        q = bind_pg(q, p);
    }
    if !want_rows {
        let done = q.execute(&mut *conn).await.map_err(db_error)?;
        return Ok(Outcome { changed: done.rows_affected(), ..Outcome::default() });
    }
    let mut out = Outcome::default();
    let mut bytes = 0usize;
    let mut stream = q.fetch(&mut *conn);
    while let Some(row) = stream.try_next().await.map_err(db_error)? {
        if out.columns.is_empty() {
            out.columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
        }
        if out.rows.len() >= caps.rows as usize {
            return Err(row_limit(caps.rows));
        }
        let values = decode_pg(&row)?;
        bytes = bytes.saturating_add(values.iter().map(value_bytes).sum::<usize>());
        if bytes > caps.bytes {
            return Err(byte_limit(caps.bytes));
        }
        out.rows.push(values);
    }
    Ok(out)
}

fn bind_pg<'q>(
    q: sqlx::query::Query<'q, Postgres, PgArguments>,
    p: &Value,
) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    match p {
        Value::Null => q.bind(UntypedNull),
        Value::Integer(i) => q.bind(*i),
        Value::Real(f) => q.bind(*f),
        Value::Text(s) => q.bind(s.clone()),
        Value::Blob(b) => q.bind(b.clone()),
        Value::Boolean(b) => q.bind(*b),
    }
}

fn decode_pg(row: &PgRow) -> Result<Vec<Value>, CapError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(db_error)?;
        if raw.is_null() {
            values.push(Value::Null);
            continue;
        }
        let ty = column.type_info().name().to_ascii_uppercase();
        let get_err = db_error;
        let value = match ty.as_str() {
            "BOOL" => Value::Boolean(row.try_get(i).map_err(get_err)?),
            "INT2" => Value::Integer(i64::from(row.try_get::<i16, _>(i).map_err(get_err)?)),
            "INT4" => Value::Integer(i64::from(row.try_get::<i32, _>(i).map_err(get_err)?)),
            "INT8" => Value::Integer(row.try_get(i).map_err(get_err)?),
            "FLOAT4" => Value::Real(f64::from(row.try_get::<f32, _>(i).map_err(get_err)?)),
            "FLOAT8" => Value::Real(row.try_get(i).map_err(get_err)?),
            "NUMERIC" => {
                let d: rust_decimal::Decimal = row.try_get(i).map_err(get_err)?;
                match (d.fract().is_zero(), i64::try_from(d)) {
                    (true, Ok(n)) => Value::Integer(n),
                    _ => Value::Real(rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(f64::NAN)),
                }
            }
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "CITEXT" | "UNKNOWN" => {
                Value::Text(row.try_get(i).map_err(get_err)?)
            }
            "BYTEA" => Value::Blob(row.try_get(i).map_err(get_err)?),
            "TIMESTAMPTZ" => {
                let t: chrono::DateTime<chrono::Utc> = row.try_get(i).map_err(get_err)?;
                Value::Text(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
            "TIMESTAMP" => {
                let t: chrono::NaiveDateTime = row.try_get(i).map_err(get_err)?;
                Value::Text(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
            }
            "DATE" => Value::Text(row.try_get::<chrono::NaiveDate, _>(i).map_err(get_err)?.to_string()),
            "JSON" | "JSONB" => Value::Text(row.try_get::<serde_json::Value, _>(i).map_err(get_err)?.to_string()),
            "UUID" => Value::Text(row.try_get::<uuid::Uuid, _>(i).map_err(get_err)?.to_string()),
            other => {
                return Err(CapError::invalid(format!(
                    "column {:?} has type {other}, which is not portable; CAST it to TEXT",
                    column.name()
                )));
            }
        };
        values.push(value);
    }
    Ok(values)
}
