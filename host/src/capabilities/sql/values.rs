//! SQL values across the contract: binding module parameters and decoding
//! result columns, per engine, into the portable types of the WIT
//! (`null`, `integer`, `real`, `text`, `blob`, `boolean`).

use futures_util::TryStreamExt;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgRow, PgTypeInfo, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};

use crate::capabilities::CapError;
use crate::runtime::bindings::plaza::module::sql::Value;

/// What a statement gave back.
#[derive(Debug, Default)]
pub struct Outcome {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    pub changed: u64,
}

/// Maps a database error to what the module sees.
pub fn db_error(e: sqlx::Error) -> CapError {
    match &e {
        sqlx::Error::Database(d) => {
            let message = d.message().to_owned();
            if d.is_unique_violation() || d.is_foreign_key_violation() || d.is_check_violation() {
                return CapError::Guest(crate::runtime::bindings::GuestError::Conflict(message));
            }
            match d.code().as_deref() {
                // insufficient_privilege: the role refused it (defence in depth behind the vetter).
                Some("42501") => CapError::refused(message),
                // query_canceled: the statement timeout (the call's deadline).
                Some("57014") => CapError::limit("the statement ran past the call's deadline"),
                // SQLITE_INTERRUPT from the progress handler.
                Some("9") => CapError::limit("the statement ran past the call's deadline"),
                _ if message.contains("interrupted") => CapError::limit("the statement ran past the call's deadline"),
                _ => CapError::invalid(message),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            CapError::unavailable("the database is not available; try again")
        }
        _ => CapError::invalid(e.to_string()),
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

/// Executes a bound query, or reads its rows (at most `max_rows`) with
/// `decode`: the same steps on either engine.
macro_rules! run_query {
    ($q:expr, $conn:expr, $want_rows:expr, $max_rows:expr, $decode:ident) => {{
        let (q, conn, max_rows) = ($q, $conn, $max_rows);
        if !$want_rows {
            let done = q.execute(&mut *conn).await.map_err(db_error)?;
            return Ok(Outcome { changed: done.rows_affected(), ..Outcome::default() });
        }
        let mut out = Outcome::default();
        let mut stream = q.fetch(&mut *conn);
        while let Some(row) = stream.try_next().await.map_err(db_error)? {
            if out.columns.is_empty() {
                out.columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
            }
            if out.rows.len() >= max_rows as usize {
                return Err(row_limit(max_rows));
            }
            out.rows.push($decode(&row)?);
        }
        Ok(out)
    }};
}

/// Runs one vetted statement on SQLite, reading at most `max_rows` rows.
pub async fn run_sqlite(
    conn: &mut sqlx::SqliteConnection,
    sql: &str,
    params: &[Value],
    want_rows: bool,
    max_rows: u32,
) -> Result<Outcome, CapError> {
    let mut q = sqlx::query::<Sqlite>(AssertSqlSafe(sql.to_owned()));
    for p in params {
        q = match p {
            Value::Null => q.bind(None::<i64>),
            Value::Integer(i) => q.bind(*i),
            Value::Real(f) => q.bind(*f),
            Value::Text(s) => q.bind(s.clone()),
            Value::Blob(b) => q.bind(b.clone()),
            Value::Boolean(b) => q.bind(*b),
        };
    }
    run_query!(q, conn, want_rows, max_rows, decode_sqlite)
}

fn row_limit(max: u32) -> CapError {
    CapError::limit(format!("the call may read {max} more rows; narrow the query or page through it"))
}

fn decode_sqlite(row: &SqliteRow) -> Result<Vec<Value>, CapError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(db_error)?;
        if raw.is_null() {
            values.push(Value::Null);
            continue;
        }
        let declared = column.type_info().name().to_ascii_uppercase();
        let actual = raw.type_info().name().to_ascii_uppercase();
        let value = match actual.as_str() {
            "INTEGER" | "INT" | "BIGINT" | "BOOLEAN" => {
                let i: i64 = row.try_get(i).map_err(db_error)?;
                if declared == "BOOLEAN" { Value::Boolean(i != 0) } else { Value::Integer(i) }
            }
            "REAL" | "FLOAT" | "DOUBLE" | "NUMERIC" => Value::Real(row.try_get(i).map_err(db_error)?),
            "BLOB" => Value::Blob(row.try_get(i).map_err(db_error)?),
            _ => Value::Text(row.try_get(i).map_err(db_error)?),
        };
        values.push(value);
    }
    Ok(values)
}

/// Runs one vetted statement on PostgreSQL, reading at most `max_rows` rows.
pub async fn run_postgres(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    params: &[Value],
    want_rows: bool,
    max_rows: u32,
) -> Result<Outcome, CapError> {
    let mut q = sqlx::query::<Postgres>(AssertSqlSafe(sql.to_owned()));
    for p in params {
        q = bind_pg(q, p);
    }
    run_query!(q, conn, want_rows, max_rows, decode_pg)
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
