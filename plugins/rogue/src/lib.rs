//! `rogue`: a test-only module written the way a hostile third party would
//! write one, to attack *other tenants* through the host rather than the
//! host itself (that is `hostile`'s job):
//!
//! - pages served from the host's origin that try to weaken its security
//!   headers, read its cookies and act as whoever opens them (`/page`,
//!   `/svg`, `/headers`);
//! - SQL built-ins that allocate without bound or scan without end
//!   (`/sql/{attack}`), in the dialect the test names;
//! - CPU-heavy calls that would hold the executor (`/spin`);
//! - storage floods against the quotas (`/blob`, `/kv`, `/fill`);
//! - answers the HTTP layer cannot send (`/status`).
//!
//! Host-call failures are answered as `{"error": <kind>, "detail": <text>}`
//! with a status per case, so tests read the WIT error.

use std::hint::black_box;
use std::time::{Duration, Instant};

use plaza_sdk::HostError;
use plaza_sdk::prelude::*;
use serde::Deserialize;
use serde_json::json;

struct Rogue;

impl plaza_sdk::Module for Rogue {
    fn router() -> Router {
        Router::new("rogue", env!("CARGO_PKG_VERSION"))
            .description("Test-only: attacks other tenants through the host, to prove isolation.")
            .capabilities([Capability::Sql, Capability::Blob, Capability::Kv, Capability::Log])
            .migration(1, "junk", "CREATE TABLE junk (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")
            .get("/ok", ok)
            .public()
            .summary("Behaves")
            .get("/page", page)
            .public()
            .summary("An HTML page that tries to act as whoever opens it")
            .get("/svg", svg)
            .public()
            .summary("An SVG image with a script in it")
            .get("/headers", headers)
            .public()
            .summary("JSON with every security header weakened")
            .get("/status", status)
            .public()
            .summary("Answers with the status `code`")
            .get("/sql/{attack}", sql_attack)
            .public()
            .summary("Runs one SQL resource attack (`db=postgres` for PostgreSQL's dialect)")
            .get("/spin", spin)
            .public()
            .summary("Burns CPU for `ms` milliseconds (default 1000)")
            .post("/blob", blob_flood)
            .public()
            .summary("Stores `kb` KiB (default 1024) as blob `key`")
            .post("/kv", kv_flood)
            .public()
            .summary("Sets `n` keys (default 100) from `from`")
            .post("/fill", fill)
            .public()
            .summary("Inserts `kb` KiB (default 1024) into its table")
    }
}

plaza_sdk::export!(Rogue);

fn host_error(err: &Error) -> Response {
    let status = match &**err {
        HostError::Refused(_) => 403,
        HostError::Invalid(_) => 400,
        HostError::LimitExceeded(_) => 429,
        HostError::NotFound => 404,
        HostError::Conflict(_) => 409,
        HostError::Unavailable(_) => 503,
        HostError::UndeclaredCapability(_) => 500,
    };
    Response::json(status, &json!({ "error": err.kind(), "detail": err.to_string() }))
}

fn ok(_req: &Request) -> Result<Response, Problem> {
    Ok(Response::json(200, &json!({ "ok": true })))
}

/// Every header a page would want to loosen, set as loosely as it can be.
const WEAKENED: &[(&str, &str)] = &[
    ("content-security-policy", "default-src * 'unsafe-inline' 'unsafe-eval'; frame-ancestors *"),
    ("content-security-policy-report-only", "default-src *"),
    ("x-frame-options", "ALLOWALL"),
    ("x-content-type-options", "sniff"),
    ("referrer-policy", "unsafe-url"),
    ("strict-transport-security", "max-age=0"),
    ("access-control-allow-origin", "*"),
    ("access-control-allow-credentials", "true"),
    ("access-control-allow-headers", "*"),
    ("cross-origin-resource-policy", "cross-origin"),
    ("cross-origin-opener-policy", "unsafe-none"),
    ("clear-site-data", "\"cookies\", \"storage\""),
    ("set-cookie", "__Host-plaza_access=stolen; Path=/; Secure"),
    ("service-worker-allowed", "/"),
];

fn weakened(mut resp: Response) -> Response {
    for (name, value) in WEAKENED {
        resp = resp.with_header(*name, *value);
    }
    resp
}

/// The page: it reports what it could do in `window.rogue` (and the page
/// text), for the browser test to read. `victim` is a path of another
/// tenant's module route to POST to with the visitor's credentials.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>rogue</title></head>
<body><pre id="out">running</pre>
<script>
(async () => {
  const out = {};
  const params = new URLSearchParams(location.search);
  const victim = params.get('victim') || '/api/v1/auth/me';
  let csrf = '';
  try {
    out.cookie = document.cookie;
    const m = document.cookie.match(/(?:^|; )(?:__Host-)?plaza_csrf=([^;]*)/);
    csrf = m ? m[1] : '';
  } catch (e) { out.cookie_error = e.name; }
  try { localStorage.setItem('rogue', '1'); out.storage = true; } catch (e) { out.storage_error = e.name; }
  try {
    const r = await fetch('/api/v1/auth/me', { credentials: 'include' });
    out.me_status = r.status;
    out.me_body = await r.text();
  } catch (e) { out.me_error = e.name; }
  try {
    const r = await fetch('/api/v1/auth/csrf', { credentials: 'include' });
    out.csrf_status = r.status;
    const body = await r.json();
    if (body.csrf_token) csrf = body.csrf_token;
  } catch (e) { out.csrf_error = e.name; }
  try {
    const r = await fetch(victim, {
      method: 'POST', credentials: 'include',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ title: 'pwned by rogue', content_markdown: 'pwned' }),
    });
    out.post_status = r.status;
  } catch (e) { out.post_error = e.name; }
  try {
    const r = await fetch(victim, {
      method: 'POST', credentials: 'include', mode: 'no-cors',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ title: 'pwned by rogue (no-cors)', content_markdown: 'pwned' }),
    });
    out.no_cors_type = r.type;
  } catch (e) { out.no_cors_error = e.name; }
  out.origin = self.origin;
  out.done = true;
  window.rogue = out;
  document.getElementById('out').textContent = JSON.stringify(out);
})();
</script></body></html>"#;

fn page(_req: &Request) -> Result<Response, Problem> {
    Ok(weakened(Response::bytes("text/html; charset=utf-8", PAGE)))
}

const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>
fetch('/api/v1/auth/me', { credentials: 'include' }).then(r => document.title = 'me ' + r.status);
</script><rect width="10" height="10"/></svg>"#;

fn svg(_req: &Request) -> Result<Response, Problem> {
    Ok(weakened(Response::bytes("image/svg+xml", SVG)))
}

fn headers(_req: &Request) -> Result<Response, Problem> {
    Ok(weakened(Response::json(200, &json!({ "weakened": WEAKENED.len() }))))
}

#[derive(Deserialize)]
struct StatusQuery {
    code: u16,
}

fn status(req: &Request) -> Result<Response, Problem> {
    let StatusQuery { code } = req.query()?;
    Ok(Response::new(code).with_header("upgrade", "websocket").with_body("switching"))
}

#[derive(Deserialize)]
struct SqlQuery {
    db: Option<String>,
}

/// The statement of each attack, per dialect: (SQLite, PostgreSQL).
fn attack_sql(attack: &str) -> Option<(&'static str, &'static str)> {
    Some(match attack {
        // One value as large as the engine allows.
        "printf" => ("SELECT printf('%.*c', 900000000, 'x') AS v", "SELECT lpad('', 900000000, 'x') AS v"),
        "randomblob" => ("SELECT randomblob(900000000) AS v", "SELECT repeat('x', 900000000) AS v"),
        "hex" => (
            "SELECT hex(randomblob(400000000)) AS v",
            "SELECT encode(convert_to(repeat('ab', 400000000), 'UTF8'), 'hex') AS v",
        ),
        "zeroblob" => ("SELECT zeroblob(900000000) AS v", "SELECT decode(repeat('00', 450000000), 'hex') AS v"),
        // One row built from millions.
        "group-concat" => (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) \
             SELECT group_concat('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', '') AS v FROM c",
            "SELECT string_agg(repeat('x', 48), '') AS v FROM generate_series(1, 20000000)",
        ),
        // One small row computed from a million scanned: around the row cap.
        "count" => (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
             SELECT count(*) AS v FROM c",
            "SELECT count(*) AS v FROM generate_series(1, 1000000)",
        ),
        // A sort of millions of wide rows: memory and temporary files.
        "sort" => (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) \
             SELECT max(y) AS v FROM (SELECT printf('%0500d', x) AS y FROM c ORDER BY y DESC)",
            "SELECT max(y) AS v FROM (SELECT lpad(x::text, 500, '0') AS y FROM generate_series(1, 5000000) x \
             ORDER BY y DESC) s",
        ),
        _ => return None,
    })
}

fn sql_attack(req: &Request) -> Result<Response, Problem> {
    let attack = req.param("attack").unwrap_or_default();
    let SqlQuery { db } = req.query()?;
    let Some((sqlite, postgres)) = attack_sql(attack) else {
        return Err(Problem::of_kind(404, "not-found").detail(format!("no attack {attack:?}")));
    };
    let statement = if db.as_deref() == Some("postgres") { postgres } else { sqlite };
    let started = Instant::now();
    Ok(match sql::query(statement, &[]) {
        Ok(rows) => {
            let size = rows.rows.first().and_then(|r| r.first()).map_or(0, |v| match v {
                sql::Value::Text(t) => t.len(),
                sql::Value::Blob(b) => b.len(),
                _ => 8,
            });
            Response::json(200, &json!({ "size": size, "ms": started.elapsed().as_millis() as u64 }))
        }
        Err(err) => host_error(&err),
    })
}

#[derive(Deserialize)]
struct SpinQuery {
    ms: Option<u64>,
}

/// Pure computation: no host call, so only the runtime can take the CPU back.
fn spin(req: &Request) -> Result<Response, Problem> {
    let SpinQuery { ms } = req.query()?;
    let until = Instant::now() + Duration::from_millis(ms.unwrap_or(1000));
    let mut x: u64 = 1;
    let mut rounds: u64 = 0;
    while Instant::now() < until {
        for _ in 0..10_000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        rounds += 1;
    }
    Ok(Response::json(200, &json!({ "rounds": rounds, "x": x })))
}

#[derive(Deserialize)]
struct BlobQuery {
    kb: Option<usize>,
    key: Option<String>,
}

fn blob_flood(req: &Request) -> Result<Response, Problem> {
    let BlobQuery { kb, key } = req.query()?;
    let data = vec![b'r'; kb.unwrap_or(1024) * 1024];
    Ok(match blob::put(key.as_deref().unwrap_or("flood"), &data, "application/octet-stream") {
        Ok(()) => Response::json(201, &json!({ "stored": data.len() })),
        Err(err) => host_error(&err),
    })
}

#[derive(Deserialize)]
struct KvQuery {
    n: Option<u32>,
    from: Option<u32>,
}

fn kv_flood(req: &Request) -> Result<Response, Problem> {
    let KvQuery { n, from } = req.query()?;
    let from = from.unwrap_or(0);
    for i in from..from + n.unwrap_or(100) {
        if let Err(err) = kv::set(&format!("key-{i:08}"), b"value") {
            let mut resp = host_error(&err);
            resp = resp.with_header("x-rogue-stored", (i - from).to_string());
            return Ok(resp);
        }
    }
    Ok(Response::json(201, &json!({ "stored": n.unwrap_or(100) })))
}

#[derive(Deserialize)]
struct FillQuery {
    kb: Option<usize>,
}

fn fill(req: &Request) -> Result<Response, Problem> {
    let FillQuery { kb } = req.query()?;
    let chunk = "f".repeat(64 * 1024);
    let mut stored = 0usize;
    while stored < kb.unwrap_or(1024) * 1024 {
        if let Err(err) = sql::execute("INSERT INTO junk (data) VALUES ($1)", &[sql::Value::from(chunk.as_str())]) {
            return Ok(host_error(&err).with_header("x-rogue-stored", stored.to_string()));
        }
        stored += chunk.len();
    }
    Ok(Response::json(201, &json!({ "stored": stored })))
}
