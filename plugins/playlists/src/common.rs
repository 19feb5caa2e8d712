//! What the features share: pagination, validation problems, ownership
//! checks, and small parsers (URLs, dates, reasons).

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
// `::time` is the crate; `time` alone is also the SDK's module (prelude).
use ::time::Date;
use ::time::format_description::BorrowedFormatItem;
use ::time::macros::format_description;
use url::Url;

use crate::ADMIN;

pub use plaza_sdk::listing::{Page, PageRequest, count, paged, returned_id};
pub use plaza_sdk::validation::{Errors, invalid, present, taken, text};

// ----- parsers -----

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
}
