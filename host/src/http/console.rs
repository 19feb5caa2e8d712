//! `/console`: the web console for tenant admins and the operator, a page
//! over the public API (see `docs/console.md`). Its files are compiled into
//! the host, so there is no front-end build or server to run. The page's
//! policy allows scripts, styles and requests from this origin only: no
//! inline script, no third-party file, no framing.

use poem::http::{StatusCode, header};
use poem::{Endpoint, EndpointExt, Response, Route, get, handler};

/// The console's content security policy.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                               connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STRINGS: &str = include_str!("../../console/strings.js");
const STYLE: &str = include_str!("../../console/console.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::CONTENT_SECURITY_POLICY, CONSOLE_CSP)
        .body(body)
}

#[handler]
fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

#[handler]
fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

#[handler]
fn strings() -> Response {
    asset("text/javascript; charset=utf-8", STRINGS)
}

#[handler]
fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The console's routes, to nest at `/console`.
pub fn endpoint() -> impl Endpoint<Output = Response> + 'static {
    Route::new()
        .at("/", get(index))
        .at("/console.js", get(script))
        .at("/strings.js", get(strings))
        .at("/console.css", get(style))
        .map_to_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_of_its_own_origin_and_no_inline_script() {
        assert!(!INDEX.contains("<script>") && !INDEX.contains(" style="), "inline script or style");
        for src in ["/console/console.js", "/console/console.css"] {
            assert!(INDEX.contains(src), "{src}");
        }
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("eval("), "text is never parsed as HTML or code");
        assert!(CONSOLE_CSP.contains("script-src 'self';") && !CONSOLE_CSP.contains("unsafe"));
    }

    #[test]
    fn every_string_has_its_spanish() {
        let keys = |lang: &str| -> Vec<String> {
            let start = STRINGS.find(&format!("\n  {lang}: {{")).unwrap_or(0);
            let block = &STRINGS[start..];
            let end = block.find("\n  },").unwrap_or(block.len());
            block[..end]
                .lines()
                .filter_map(|l| l.trim().strip_prefix('"').and_then(|r| r.split_once('"')).map(|(k, _)| k.to_owned()))
                .collect()
        };
        let (en, es) = (keys("en"), keys("es"));
        assert!(en.len() > 50, "{}", en.len());
        assert_eq!(en, es, "the Spanish strings have the English keys, in order");
        // Every key the script asks for exists.
        let mut used = 0;
        for (at, _) in SCRIPT.match_indices("t(\"") {
            let before = SCRIPT[..at].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == '.' {
                continue; // `split(",")`, `x.t(`
            }
            let key = SCRIPT[at + 3..].split('"').next().unwrap_or("");
            assert!(en.iter().any(|k| k == key), "missing string {key:?}");
            used += 1;
        }
        assert!(used > 40, "{used}");
    }
}
