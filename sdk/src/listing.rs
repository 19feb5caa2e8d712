//! Paged listings: the `page` and `per_page` query parameters, the page
//! answered (`items`, `total`, `page`, `per_page`), and the two queries
//! behind it. Every listing of every module reads the same way.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validation::Errors;
use crate::{Problem, Request, sql};

/// Default and largest page sizes.
pub const DEFAULT_PER_PAGE: i64 = 20;
pub const MAX_PER_PAGE: i64 = 100;

/// One page of a listing.
#[derive(Serialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items the whole listing has.
    pub total: i64,
    /// This page's number, from 1.
    pub page: i64,
    /// The page size asked for (1 to 100, 20 by default).
    pub per_page: i64,
}

/// The page asked for by the query (`page` from 1, `per_page` 1 to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
}

impl PageRequest {
    /// Reads `page` and `per_page`: 422 naming the parameter when one is not
    /// a number in range.
    pub fn from_request(req: &Request) -> Result<Self, Problem> {
        Self::parse(req.query_param("page"), req.query_param("per_page"))
    }

    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, Problem> {
        let mut errors = Errors::default();
        let mut number = |field: &str, raw: Option<&str>, default: i64, max: i64| match raw.map(str::trim) {
            None | Some("") => default,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    let range = if max == i64::MAX { "1 or more".to_owned() } else { format!("1 to {max}") };
                    errors.add(field, format!("`{field}` must be a whole number, {range}, not `{raw}`"));
                    default
                }
            },
        };
        let page = number("page", page, 1, i64::MAX);
        let per_page = number("per_page", per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE);
        errors.finish()?;
        Ok(Self { page, per_page })
    }

    /// The SQL `OFFSET` of this page (saturating: a huge page is just empty).
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// Wraps one page of items.
    pub fn wrap<T>(self, items: Vec<T>, total: i64) -> Page<T> {
        Page { items, total, page: self.page, per_page: self.per_page }
    }
}

/// Runs `SELECT COUNT(*) AS n {from_where}` and the page of `SELECT
/// {columns} {from_where} {order} LIMIT … OFFSET …`, with the same
/// parameters (the limit and offset are appended to them).
pub fn paged<T: serde::de::DeserializeOwned>(
    columns: &str,
    from_where: &str,
    order: &str,
    params: &[sql::Value],
    page: PageRequest,
) -> Result<Page<T>, Problem> {
    let total = count(&format!("SELECT COUNT(*) AS n {from_where}"), params)?;
    let n = params.len();
    let statement = format!("SELECT {columns} {from_where} ORDER BY {order} LIMIT ${} OFFSET ${}", n + 1, n + 2);
    let mut all = params.to_vec();
    all.push(page.per_page.into());
    all.push(page.offset().into());
    let items = sql::query_as(&statement, &all)?;
    Ok(page.wrap(items, total))
}

/// The single integer a `SELECT COUNT(*) AS n …` answers.
pub fn count(statement: &str, params: &[sql::Value]) -> Result<i64, Problem> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    Ok(sql::query_one_as::<Count>(statement, params)?.map_or(0, |c| c.n))
}

/// The `id` an `INSERT … RETURNING id` answered.
pub fn returned_id(rows: &sql::Rows) -> Result<i64, Problem> {
    rows.get(0, "id").and_then(sql::Value::as_i64).ok_or_else(|| Problem::internal("INSERT … RETURNING id gave no id"))
}

/// The `WHERE` of a listing's search, built from the query: each condition
/// with its parameter numbered in order (`?` in a clause becomes `$n`), then
/// handed to [`paged`] with [`Filter::from`].
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    params: Vec<sql::Value>,
}

impl Filter {
    /// Adds `clause` with one `?` for `value`.
    pub fn add(&mut self, clause: &str, value: sql::Value) {
        self.params.push(value);
        self.clauses.push(clause.replace('?', &format!("${}", self.params.len())));
    }

    /// Adds a clause without parameters (`active = TRUE`).
    pub fn when(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// `column = value` when the query has `param`.
    pub fn eq(&mut self, req: &Request, param: &str, column: &str) {
        if let Some(v) = req.query_param(param) {
            self.add(&format!("{column} = ?"), v.into());
        }
    }

    /// `column = value` when the query has `param`, a whole number (an id
    /// column: PostgreSQL does not compare a number with text); 422 naming
    /// `param` otherwise.
    pub fn eq_int(&mut self, req: &Request, param: &str, column: &str) -> Result<(), Problem> {
        if let Some(v) = req.query_param(param) {
            let n: i64 = v.trim().parse().map_err(|_| {
                crate::validation::invalid(param, format!("`{param}` must be a whole number, not {v:?}"))
            })?;
            self.add(&format!("{column} = ?"), n.into());
        }
        Ok(())
    }

    /// Each of `words` (already folded the way `column` was) must start a
    /// word of `column`, a space-separated text.
    pub fn words(&mut self, column: &str, words: &[String]) {
        for word in words {
            self.add(&format!("(' ' || {column} || ' ') LIKE ?"), format!("% {word}%").into());
        }
    }

    /// `FROM table [WHERE …]`, and the parameters, for [`paged`].
    pub fn from(self, table: &str) -> (String, Vec<sql::Value>) {
        let sql = if self.clauses.is_empty() {
            format!("FROM {table}")
        } else {
            format!("FROM {table} WHERE {}", self.clauses.join(" AND "))
        };
        (sql, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_default_and_refuse_out_of_range_values() {
        assert_eq!(PageRequest::parse(None, None).ok(), Some(PageRequest { page: 1, per_page: 20 }));
        let p = PageRequest::parse(Some("3"), Some("100")).ok();
        assert_eq!(p, Some(PageRequest { page: 3, per_page: 100 }));
        assert_eq!(p.map(PageRequest::offset), Some(200));
        for (page, per_page, field) in
            [("0", "5", "page"), ("x", "5", "page"), ("1", "101", "per_page"), ("1", "0", "per_page")]
        {
            let problem = PageRequest::parse(Some(page), Some(per_page)).err();
            let problem = problem.as_ref().map(|p| (p.status(), p.extensions()["errors"][0]["field"].clone()));
            assert_eq!(problem, Some((422, json!(field))), "{page} {per_page}");
        }
        assert_eq!(PageRequest { page: i64::MAX, per_page: 100 }.offset(), i64::MAX);
    }

    #[test]
    fn filters_number_their_parameters_in_order() {
        let mut filter = Filter::default();
        filter.add("state = ?", "draft".into());
        filter.when("active = TRUE");
        filter.words("search_text", &["ana".to_owned(), "pena".to_owned()]);
        let (sql, params) = filter.from("documents");
        assert_eq!(
            sql,
            "FROM documents WHERE state = $1 AND active = TRUE AND (' ' || search_text || ' ') LIKE $2 \
             AND (' ' || search_text || ' ') LIKE $3"
        );
        assert_eq!(params.len(), 3);
        assert_eq!(Filter::default().from("t").0, "FROM t");
    }
}
