//! Swagger UI, served from the assets bundled in poem-openapi (no CDN).
//!
//! The assets are served as files of their own (cacheable, and allowed by a
//! strict `script-src 'self'` policy), and the page loads its spec by URL,
//! so the same page serves the host spec now and per-tenant specs later.

use bytes::Bytes;
use poem::endpoint::make_sync;
use poem::http::header;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route};

/// Swagger UI's JavaScript and CSS, cut once from poem-openapi's bundled page.
#[derive(Clone)]
pub struct SwaggerAssets {
    js: Bytes,
    css: Bytes,
}

impl SwaggerAssets {
    /// Extracts the assets from the page poem-openapi renders (which inlines them).
    pub fn from_bundled_page(page: &str) -> Option<Self> {
        let css = between(page, "<style charset=\"UTF-8\">", "</style>")?;
        let js = between(page, "<script charset=\"UTF-8\">", "</script>")?;
        Some(Self { js: Bytes::copy_from_slice(js.as_bytes()), css: Bytes::copy_from_slice(css.as_bytes()) })
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// Starts Swagger UI. A tenant's document shows anonymous callers only its
/// public operations, so the credentials given with Authorize are sent with
/// the document's own request too, and the document is fetched again when
/// they change: authorizing reveals the operations the caller may use.
const INIT_JS: &str = r#"window.addEventListener('load', function () {
  var el = document.getElementById('swagger-ui');
  var specUrl = el.dataset.specUrl;
  function authorization() {
    var saved = {};
    try {
      saved = window.ui ? window.ui.authSelectors.authorized().toJS()
                        : JSON.parse(localStorage.getItem('authorized') || '{}');
    } catch (e) { saved = {}; }
    if (saved.bearerAuth && saved.bearerAuth.value) {
      return ['Authorization', 'Bearer ' + saved.bearerAuth.value];
    }
    if (saved.apiKey && saved.apiKey.value) { return ['X-API-Key', saved.apiKey.value]; }
    return null;
  }
  function refetchAfter(action, system) {
    return function () {
      var result = action.apply(null, arguments);
      setTimeout(function () { system.specActions.download(specUrl); }, 0);
      return result;
    };
  }
  window.ui = SwaggerUIBundle({
    url: specUrl,
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    requestInterceptor: function (req) {
      var auth = authorization();
      var path = new URL(req.url, window.location.href).pathname;
      if (auth && path === specUrl && !req.headers[auth[0]]) { req.headers[auth[0]] = auth[1]; }
      return req;
    },
    plugins: [function () {
      return { statePlugins: { auth: { wrapActions: { authorize: refetchAfter, logout: refetchAfter } } } };
    }],
  });
});
"#;

/// The page's content security policy: scripts only from this origin.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The HTML page of Swagger UI for the spec at `spec_url` (escaped for an attribute).
pub fn page(title: &str, spec_url: &str) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{url}"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
"#,
        title = esc(title),
        url = esc(spec_url),
    )
}

fn asset(content_type: &'static str, body: Bytes) -> Response {
    Response::builder().content_type(content_type).header(header::CACHE_CONTROL, "public, max-age=3600").body(body)
}

/// `/docs` (the page) and `/docs/assets/*`.
pub fn endpoint(assets: SwaggerAssets, title: &str, spec_url: &str) -> impl Endpoint + 'static {
    let html = page(title, spec_url);
    let SwaggerAssets { js, css } = assets;
    Route::new()
        .at(
            "/",
            make_sync(move |_| {
                Html(html.clone()).with_header(header::CONTENT_SECURITY_POLICY, DOCS_CSP).into_response()
            }),
        )
        .at("/assets/swagger-ui-bundle.js", make_sync(move |_| asset("text/javascript; charset=utf-8", js.clone())))
        .at("/assets/swagger-ui.css", make_sync(move |_| asset("text/css; charset=utf-8", css.clone())))
        .at(
            "/assets/init.js",
            make_sync(|_| asset("text/javascript; charset=utf-8", Bytes::from_static(INIT_JS.as_bytes()))),
        )
        .map_to_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_escapes_the_spec_url() {
        let html = page("T", "/t/x\"><script>/openapi.json");
        assert!(!html.contains("x\"><script>"));
    }

    #[test]
    fn cuts_assets_from_a_page() {
        let a = SwaggerAssets::from_bundled_page(
            "<style charset=\"UTF-8\">CSS</style><script charset=\"UTF-8\">JS</script>",
        );
        let a = a.map(|a| (a.css, a.js));
        assert_eq!(a, Some((Bytes::from_static(b"CSS"), Bytes::from_static(b"JS"))));
    }
}
