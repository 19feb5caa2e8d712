//! The module's own SQL namespace for this tenant (capability `sql`).
//!
//! One portable dialect on SQLite and PostgreSQL: `$1` parameters, types
//! TEXT, INTEGER, REAL, BLOB, BOOLEAN; `RETURNING` and `ON CONFLICT` work on
//! both. Rows can be read as plain [`Rows`] or mapped onto your own types
//! with [`query_as`]:
//!
//! ```no_run
//! # use plaza_sdk::prelude::*;
//! # fn main() -> Result<(), plaza_sdk::Error> {
//! #[derive(serde::Deserialize)]
//! struct Greeting { id: i64, name: String, archived: bool }
//! let all: Vec<Greeting> = sql::query_as("SELECT id, name, archived FROM greetings", &[])?;
//! let id = 7;
//! let one: Option<Greeting> = sql::query_one_as("SELECT id, name, archived FROM greetings WHERE id = $1", &params![id])?;
//! # Ok(()) }
//! ```

mod de;

use serde::de::DeserializeOwned;

use crate::bindings::plaza::module::sql as wit;
pub use crate::bindings::plaza::module::sql::{Rows, Value};
use crate::{Error, Result};

/// Runs a statement that returns rows (a `SELECT`, or anything with `RETURNING`).
pub fn query(statement: &str, params: &[Value]) -> Result<Rows> {
    Ok(wit::query(statement, params)?)
}

/// Runs a statement; returns how many rows it changed.
pub fn execute(statement: &str, params: &[Value]) -> Result<u64> {
    Ok(wit::execute(statement, params)?)
}

/// Runs several `;`-separated statements without parameters.
pub fn batch(statements: &str) -> Result<()> {
    Ok(wit::batch(statements)?)
}

/// Starts a transaction. One left open when the call ends is rolled back.
pub fn begin() -> Result<()> {
    Ok(wit::begin()?)
}

/// Commits the open transaction (and with it the events published in it).
pub fn commit() -> Result<()> {
    Ok(wit::commit()?)
}

/// Rolls the open transaction back.
pub fn rollback() -> Result<()> {
    Ok(wit::rollback()?)
}

/// Runs `f` in a transaction: committed when it returns `Ok`, rolled back
/// when it returns `Err` (that error is returned; a failed rollback is
/// ignored, as the host rolls back whatever is left open anyway). Works with
/// any error type a host [`Error`] converts into, e.g. `Problem` in a handler.
pub fn transaction<T, E: From<Error>>(f: impl FnOnce() -> std::result::Result<T, E>) -> std::result::Result<T, E> {
    begin()?;
    match f() {
        Ok(value) => {
            commit()?;
            Ok(value)
        }
        Err(err) => {
            let _ = rollback();
            Err(err)
        }
    }
}

/// Runs a query and maps each row onto `T` by column name (see [`rows_as`]).
pub fn query_as<T: DeserializeOwned>(statement: &str, params: &[Value]) -> Result<Vec<T>> {
    rows_as(&query(statement, params)?)
}

/// Runs a query and maps its first row, if any, onto `T`.
pub fn query_one_as<T: DeserializeOwned>(statement: &str, params: &[Value]) -> Result<Option<T>> {
    let rows = query(statement, params)?;
    match rows.rows.first() {
        Some(row) => row_as(&rows.columns, row, 0).map(Some),
        None => Ok(None),
    }
}

/// Maps rows onto `T` with serde, as if each row were a JSON object keyed by
/// column name (or, for tuples and sequences, a list in column order):
///
/// | SQL value | reads as |
/// | --- | --- |
/// | `integer` | a number; also a `bool` from `0`/`1` (SQLite has no boolean type) |
/// | `real` | a number |
/// | `text` | a string (also a unit enum variant by name) |
/// | `blob` | bytes: a `Vec<u8>` or `serde_bytes` field, a list of numbers in a `serde_json::Value` |
/// | `boolean` | a `bool` (PostgreSQL's booleans) |
/// | `null` | `None`, or a missing value for `Option` / `#[serde(default)]` fields |
///
/// A row that does not fit `T` (a missing column, a text column read into a
/// number) is the module's bug and comes back as `invalid` naming the row.
pub fn rows_as<T: DeserializeOwned>(rows: &Rows) -> Result<Vec<T>> {
    rows.rows.iter().enumerate().map(|(i, row)| row_as(&rows.columns, row, i)).collect()
}

fn row_as<T: DeserializeOwned>(columns: &[String], row: &[Value], index: usize) -> Result<T> {
    T::deserialize(de::RowDeserializer::new(columns, row))
        .map_err(|err| Error::invalid(format!("row {index} does not fit `{}`: {err}", std::any::type_name::<T>())))
}

impl Rows {
    /// A value by row index and column name.
    pub fn get(&self, row: usize, column: &str) -> Option<&Value> {
        let col = self.columns.iter().position(|c| c == column)?;
        self.rows.get(row)?.get(col)
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows as JSON objects keyed by column name (blobs as lists of numbers).
    pub fn to_json(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.rows.iter().map(|row| self.columns.iter().cloned().zip(row.iter().map(Value::to_json)).collect()).collect()
    }
}

impl Value {
    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is an integer or a real.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Real(r) => Some(*r),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a blob.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean or the integer 0 or 1.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            Value::Integer(0) => Some(false),
            Value::Integer(1) => Some(true),
            _ => None,
        }
    }

    /// The value as JSON (blobs as lists of numbers; a non-finite real as null).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Integer(i) => (*i).into(),
            Value::Real(r) => serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, Into::into),
            Value::Text(s) => s.clone().into(),
            Value::Blob(b) => b.iter().map(|&x| serde_json::Value::from(x)).collect(),
            Value::Boolean(b) => (*b).into(),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $via:ty),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(<$via>::from(v))
            }
        }
    )*};
}

value_from! {
    i64 => Integer as i64,
    i32 => Integer as i64,
    i16 => Integer as i64,
    i8 => Integer as i64,
    u32 => Integer as i64,
    u16 => Integer as i64,
    u8 => Integer as i64,
    f64 => Real as f64,
    f32 => Real as f64,
    bool => Boolean as bool,
    String => Text as String,
    &str => Text as String,
    &String => Text as String,
    Vec<u8> => Blob as Vec<u8>,
    &[u8] => Blob as Vec<u8>,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Statement parameters: `sql::query(stmt, &params![id, name, None::<String>])`.
/// Anything with `Into<sql::Value>` goes (integers, floats, bool, text,
/// bytes, `Option`s of those).
#[macro_export]
macro_rules! params {
    () => {{
        let params: [$crate::sql::Value; 0] = [];
        params
    }};
    ($($value:expr),+ $(,)?) => {
        [$($crate::sql::Value::from($value)),+]
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    fn rows() -> Rows {
        Rows {
            columns: vec!["id".into(), "name".into(), "score".into(), "active".into(), "data".into(), "note".into()],
            rows: vec![
                vec![
                    Value::Integer(1),
                    Value::Text("ann".into()),
                    Value::Real(1.5),
                    Value::Integer(1),
                    Value::Blob(vec![1, 2]),
                    Value::Null,
                ],
                vec![
                    Value::Integer(2),
                    Value::Text("bob".into()),
                    Value::Integer(3),
                    Value::Boolean(false),
                    Value::Blob(vec![]),
                    Value::Text("hi".into()),
                ],
            ],
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Person {
        id: i64,
        name: String,
        score: f64,
        active: bool,
        data: Vec<u8>,
        note: Option<String>,
    }

    #[test]
    fn rows_map_onto_structs_by_column_name() {
        let people: Vec<Person> = rows_as(&rows()).unwrap();
        assert_eq!(
            people,
            vec![
                Person { id: 1, name: "ann".into(), score: 1.5, active: true, data: vec![1, 2], note: None },
                Person { id: 2, name: "bob".into(), score: 3.0, active: false, data: vec![], note: Some("hi".into()) },
            ]
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Partial {
        name: String,
        #[serde(default)]
        missing: Option<i32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Name {
        Ann,
        Bob,
    }

    #[test]
    fn extra_columns_are_ignored_and_tuples_and_maps_work() {
        let partial: Vec<Partial> = rows_as(&rows()).unwrap();
        assert_eq!(partial[1], Partial { name: "bob".into(), missing: None });
        let mut two = rows();
        two.columns.truncate(2);
        two.rows.iter_mut().for_each(|row| row.truncate(2));
        let tuples: Vec<(i64, Name)> = rows_as(&two).unwrap();
        assert_eq!(tuples, vec![(1, Name::Ann), (2, Name::Bob)]);
        assert!(rows_as::<(i64, Name)>(&rows()).is_err(), "a tuple takes every column");
        let maps: Vec<BTreeMap<String, serde_json::Value>> = rows_as(&rows()).unwrap();
        assert_eq!(maps[0]["data"], serde_json::json!([1, 2]));
        assert_eq!(maps[0]["active"], serde_json::json!(1));
        assert_eq!(maps[1]["active"], serde_json::json!(false));
        let json: Vec<serde_json::Value> = rows_as(&rows()).unwrap();
        assert_eq!(json[0]["name"], "ann");
        assert_eq!(serde_json::Value::Object(rows().to_json().remove(0)), json[0]);
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        name: i64,
    }

    #[test]
    fn a_row_that_does_not_fit_is_invalid() {
        let err = rows_as::<Wrong>(&rows()).unwrap_err();
        assert_eq!(err.kind(), "invalid");
        assert!(err.to_string().contains("row 0 does not fit"), "{err}");
        let mut r = rows();
        r.rows[0][3] = Value::Integer(2);
        assert!(rows_as::<Person>(&r).is_err(), "only 0 and 1 read as booleans");
    }

    #[test]
    fn params_convert_from_rust_values() {
        let p = params![1, 2_i64, "x", String::from("y"), true, 1.5, vec![1_u8], None::<i64>, Some("z")];
        assert_eq!(
            p.to_vec(),
            vec![
                Value::Integer(1),
                Value::Integer(2),
                Value::Text("x".into()),
                Value::Text("y".into()),
                Value::Boolean(true),
                Value::Real(1.5),
                Value::Blob(vec![1]),
                Value::Null,
                Value::Text("z".into()),
            ]
        );
        assert!(params![].is_empty());
        assert_eq!(rows().get(1, "name").and_then(Value::as_str), Some("bob"));
        assert_eq!(Value::Integer(0).as_bool(), Some(false));
    }
}
