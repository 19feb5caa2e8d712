//! What the features share: pagination, validation problems, ownership
//! checks, and small parsers (URLs, dates, reasons).

use plaza_sdk::prelude::*;
use plaza_sdk::serde_json::{Value, json};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
// `::time` is the crate; `time` alone is also the SDK's module (prelude).
use ::time::Date;
use ::time::format_description::BorrowedFormatItem;
use ::time::macros::format_description;
use url::Url;

use crate::ADMIN;

// ----- pagination -----

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

// ----- validation -----

/// Validation errors collected field by field, answered together as one
/// 422 whose `errors` name each field.
#[derive(Debug, Default)]
pub struct Errors(Vec<(String, String)>);

impl Errors {
    pub fn add(&mut self, field: &str, detail: impl Into<String>) {
        self.0.push((field.to_owned(), detail.into()));
    }

    /// Adds the error unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, detail: impl FnOnce() -> String) {
        if !ok {
            self.add(field, detail());
        }
    }

    /// 422 with every error, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), Problem> {
        if self.0.is_empty() {
            return Ok(());
        }
        let detail = self.0.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>().join("; ");
        let errors: Vec<Value> = self.0.iter().map(|(f, d)| json!({ "field": f, "detail": d })).collect();
        Err(Problem::unprocessable(detail).with("errors", errors))
    }
}

/// A 422 about one field.
pub fn invalid(field: &str, detail: impl Into<String>) -> Problem {
    let mut errors = Errors::default();
    errors.add(field, detail);
    match errors.finish() {
        Err(problem) => problem,
        Ok(()) => Problem::unprocessable("invalid input"),
    }
}

/// A 409 about one field (a unique value already taken).
pub fn taken(field: &str, detail: impl Into<String>) -> Problem {
    let detail = detail.into();
    Problem::conflict(detail.clone()).with("field", field).with("errors", json!([{ "field": field, "detail": detail }]))
}

/// Trims `value` and checks it has `min..=max` characters.
pub fn text(errors: &mut Errors, field: &str, value: &str, min: usize, max: usize) -> String {
    let value = value.trim();
    let len = value.chars().count();
    errors.check((min..=max).contains(&len), field, || {
        if min > 0 && len == 0 {
            format!("`{field}` is required")
        } else {
            format!("`{field}` must be {min} to {max} characters, not {len}")
        }
    });
    value.to_owned()
}

/// Whether `url` is an absolute `http://` or `https://` URL with a host, as
/// the `url` crate (WHATWG URL Standard) parses it, at most 2048 bytes
/// without spaces or control characters.
///
/// It must also be written out with `//` and the host right after: a
/// browser would read `https:example.com` or `https:///example.com` as
/// `https://example.com/`, but they are typos worth refusing.
pub fn is_http_url(url: &str) -> bool {
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    // The scheme ends at the first `:` (the parser checks which it is).
    let written_out = url
        .split_once(':')
        .and_then(|(_, rest)| rest.strip_prefix("//"))
        .is_some_and(|authority| !authority.starts_with(['/', '\\']));
    written_out && Url::parse(url).is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.has_host())
}

/// How [`is_date`] reads a date: four digits for the year, two for the
/// month and two for the day.
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

/// A calendar date written `YYYY-MM-DD`, from year 1 (`time` also reads a
/// signed year such as `+2024`, which a date here never has).
pub fn is_date(text: &str) -> bool {
    text.len() == 10 && Date::parse(text, DATE).is_ok_and(|date| date.year() >= 1)
}

/// For update bodies: a present field (even `null`) is `Some`, an absent
/// one `None` (with `#[serde(default)]`), so `null` can clear a value.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

// ----- raw bodies -----

/// An image's bytes with its own content type (a channel's logo): the host
/// documents the body as `image/*` rather than JSON.
#[derive(JsonSchema)]
#[schemars(extend("contentMediaType" = "image/*", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
pub struct ImageBytes(String);

// ----- reasons -----

/// The body of a rejection.
#[derive(Deserialize, JsonSchema)]
pub struct Reason {
    /// Why: 1 to 1000 characters.
    #[allow(dead_code)] // read through OptionalReason
    pub reason: String,
}

/// A body with an optional reason.
#[derive(Deserialize, JsonSchema, Default)]
pub struct OptionalReason {
    /// Why, up to 1000 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The `reason` of a request body that may be empty (no body at all is
/// `{}`): 400 for malformed JSON; `None` when absent or blank; 422 when
/// over 1000 characters.
pub fn optional_reason(req: &Request) -> Result<Option<String>, Problem> {
    let body: OptionalReason =
        if req.body().iter().all(u8::is_ascii_whitespace) { OptionalReason::default() } else { req.json()? };
    let reason = body.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if let Some(r) = &reason
        && r.chars().count() > 1000
    {
        return Err(invalid("reason", "`reason` must be at most 1000 characters"));
    }
    Ok(reason)
}

/// The required `reason` of a rejection: 422 naming `reason` when it is
/// absent or blank.
pub fn required_reason(req: &Request) -> Result<String, Problem> {
    optional_reason(req)?.ok_or_else(|| invalid("reason", "`reason` is required: say why"))
}

// ----- callers -----

/// Whether the caller is a tenant admin (owners are too).
pub fn is_admin(caller: &Caller) -> bool {
    caller.has_role(ADMIN)
}

/// The caller's user id: every route that writes needs credentials, so its
/// absence is a 401 rather than a crash.
pub fn user_id(caller: &Caller) -> Result<&str, Problem> {
    caller.user().ok_or_else(|| Problem::of_kind(401, "unauthorized").detail("sign in first"))
}

/// Admins may change anything; others only what they own (403).
pub fn ensure_owner(caller: &Caller, owner_id: &str, what: &str) -> Result<(), Problem> {
    if is_admin(caller) || caller.user() == Some(owner_id) {
        Ok(())
    } else {
        Err(Problem::forbidden(format!("{what} belongs to another user: only they or an admin may change it")))
    }
}

/// The `id` path parameter (400 when not a number).
pub fn id(req: &Request) -> Result<i64, Problem> {
    req.path_param("id")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn urls_and_dates() {
        assert!(is_http_url("https://cdn.example.com/a.m3u8"));
        assert!(is_http_url("HTTP://example.com"));
        assert!(!is_http_url("ftp://example.com"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("https:///path"));
        assert!(!is_http_url("https://exa mple.com"));
        assert!(!is_http_url("example.com"));
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2023-02-29"));
        assert!(!is_date("2024-13-01"));
        assert!(!is_date("2024-1-01"));
        assert!(!is_date("2024-01-01T00:00:00Z"));
        assert!(!is_date("+024-01-01"));
    }

    #[test]
    fn urls_are_parsed_as_browsers_do() {
        assert!(is_http_url("https://user@cdn.example.com:8443/live/a.m3u8?token=x#t=10"));
        assert!(is_http_url("http://127.0.0.1:8080/x"));
        assert!(is_http_url("https://[::1]/x"));
        assert!(is_http_url("https://bücher.example/cover.png"));
        // A browser would read these as `https://example.com/`; here they are typos.
        for typo in ["https:example.com", "https:/example.com", "https:\\\\example.com", "https://\\example.com"] {
            assert!(!is_http_url(typo), "{typo}");
        }
        // What the URL parser refuses: no host, a bad port, address or host character.
        for bad in [
            "https://user@",
            "https://:80",
            "https://example.com:99999",
            "https://example.com:abc/",
            "https://1.2.3.256/",
            "https://[zz]/",
            "https://exa<mple.com",
            "https://exa%20mple.com",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
        assert!(!is_http_url("https://example.com/a\tb"));
        assert!(is_http_url(&format!("https://example.com/{}", "a".repeat(2028))));
        assert!(!is_http_url(&format!("https://example.com/{}", "a".repeat(2029))));
    }

    #[test]
    fn dates_are_checked_against_the_calendar() {
        assert!(is_date("2000-02-29"));
        assert!(is_date("0001-01-01"));
        assert!(is_date("9999-12-31"));
        for bad in [
            "1900-02-29",
            "2024-04-31",
            "2024-00-10",
            "2024-01-00",
            "0000-01-01",
            "+2024-01-01",
            "2024-01-01 ",
            "2024/01/01",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn errors_name_their_fields() {
        let mut errors = Errors::default();
        let title = text(&mut errors, "title", "  ", 1, 10);
        assert_eq!(title, "");
        text(&mut errors, "name", "abcdefghijk", 1, 10);
        let problem = errors.finish().err();
        let fields = problem.as_ref().map(|p| p.extensions()["errors"].clone());
        assert_eq!(
            fields,
            Some(json!([
                { "field": "title", "detail": "`title` is required" },
                { "field": "name", "detail": "`name` must be 1 to 10 characters, not 11" },
            ]))
        );
        assert_eq!(taken("number", "taken").extensions()["field"], "number");
    }
}
