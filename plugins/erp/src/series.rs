//! Numbering series per establishment and point of sale, SRI style:
//! `001-002-000000123`. A number is drawn inside the transaction that uses
//! it: a rollback gives it back, so a series has no gaps. The row lock of
//! the `UPDATE … RETURNING` orders concurrent draws (on SQLite, the
//! transaction's write lock does).

use plaza_sdk::prelude::*;
use plaza_sdk::sql::Value;
use plaza_sdk::validation::{Errors, invalid, text};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::on_conflict;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Series {
    /// `001-002`: establishment and point of sale.
    pub code: String,
    pub establishment: String,
    pub point: String,
    pub name: String,
    /// The last number drawn (0: none yet).
    pub last_value: i64,
    pub created_at: String,
}

const COLUMNS: &str = "code, establishment, point, name, last_value, created_at";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewSeries {
    /// Three digits: `001`.
    pub establishment: String,
    /// Three digits: `002`.
    pub point: String,
    pub name: String,
}

pub fn series(code: &str) -> Result<Option<Series>, Problem> {
    Ok(sql::query_one_as(&format!("SELECT {COLUMNS} FROM series WHERE code = $1"), &params![code])?)
}

pub fn list(_req: &Request) -> Result<Json<Vec<Series>>, Problem> {
    Ok(Json(sql::query_as(&format!("SELECT {COLUMNS} FROM series ORDER BY code LIMIT 1000"), &[])?))
}

fn three_digits(errors: &mut Errors, field: &str, value: &str) -> String {
    let v = value.trim();
    errors.check(v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()) && v != "000", field, || {
        format!("`{field}` is three digits from 001 to 999, not {v:?}")
    });
    v.to_owned()
}

pub fn create(_req: &Request, Json(new): Json<NewSeries>) -> Result<Created<Series>, Problem> {
    let mut errors = Errors::default();
    let establishment = three_digits(&mut errors, "establishment", &new.establishment);
    let point = three_digits(&mut errors, "point", &new.point);
    let name = text(&mut errors, "name", &new.name, 1, 120);
    errors.finish()?;
    let code = format!("{establishment}-{point}");
    sql::execute(
        "INSERT INTO series (code, establishment, point, name, last_value, created_at) VALUES ($1, $2, $3, $4, 0, $5)",
        &params![code.as_str(), establishment, point, name, time::now_rfc3339()],
    )
    .map_err(on_conflict("point", format!("series {code} already exists")))?;
    series(&code)?.map(Created).ok_or_else(Problem::not_found)
}

/// The series a sale uses: the one it names, else the tenant's default,
/// else the only one there is; 422 naming `series` otherwise.
pub fn resolve(named: Option<&str>, default: Option<&str>) -> Result<Series, Problem> {
    if let Some(code) = named.or(default) {
        return series(code)?.ok_or_else(|| invalid("series", format!("there is no series {code}")));
    }
    let all: Vec<Series> = sql::query_as(&format!("SELECT {COLUMNS} FROM series ORDER BY code LIMIT 2"), &[])?;
    match all.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(invalid("series", "the tenant has no numbering series yet: create one (POST /series)")),
        _ => Err(invalid("series", "name the series (the tenant has several and no `default_series` setting)")),
    }
}

/// Draws the next number of `code`; only inside the transaction using it.
pub fn draw(code: &str) -> Result<(i64, String), Problem> {
    let rows = sql::query(
        "UPDATE series SET last_value = last_value + 1 WHERE code = $1 RETURNING last_value",
        &params![code],
    )?;
    let n = rows.get(0, "last_value").and_then(Value::as_i64).ok_or_else(Problem::not_found)?;
    Ok((n, format!("{code}-{n:09}")))
}
