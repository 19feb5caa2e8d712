//! `hostile`: a test-only module that misbehaves on purpose, so the host's
//! tests can prove that one module cannot hurt the host or other tenants:
//! endless loops, unbounded memory, huge answers, panics, SQL it may not
//! run, hosts it may not reach, a capability it did not declare (kv), and
//! another module's signing certificate it asks for by name.
//!
//! Host-call failures are answered as plain JSON `{"error": <kind>,
//! "detail": <text>}` (not problem+json) so tests can read the WIT case.

use std::hint::black_box;

use plaza_sdk::HostError;
use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

struct Hostile;

impl plaza_sdk::Module for Hostile {
    fn router() -> Router {
        Router::new("hostile", env!("CARGO_PKG_VERSION"))
            .description("Test-only: misbehaves on purpose to exercise the host's limits.")
            // No `kv` on purpose: GET /undeclared calls it anyway.
            .capabilities([Capability::Sql, Capability::Http, Capability::Log, Capability::Crypto])
            .allowed_hosts(["127.0.0.1", "localhost"])
            .migration(1, "create notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            .get("/ok", ok)
            .public()
            .summary("Behaves")
            .get("/loop", endless_loop)
            .public()
            .summary("Never returns (the deadline must end it)")
            .get("/grow", grow)
            .public()
            .summary("Allocates without bound (the memory cap must end it)")
            .get("/huge", huge)
            .public()
            .summary("Answers `mb` MiB (default 16)")
            .get("/panic", panics)
            .public()
            .summary("Panics")
            .post("/sql", run_sql)
            .public()
            .summary("Runs any statement")
            .post("/fetch", fetch)
            .public()
            .summary("GETs any URL")
            .get("/certificate/{name}", certificate)
            .public()
            .summary("The SHA-256 of the certificate `name` the host signs this module's CMS with")
            .get("/undeclared", undeclared)
            .public()
            .summary("Calls kv, which it did not declare")
            .get("/many-statements", many_statements)
            .public()
            .summary("Runs `SELECT 1` `n` times (default 100)")
            .post("/open-transaction", open_transaction)
            .public()
            .summary("Begins a transaction, inserts a note and never commits")
    }
}

plaza_sdk::export!(Hostile);

/// A failed host call as `{"error": kind, "detail": text}` with a status per case.
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

fn endless_loop(_req: &Request) -> Result<Response, Problem> {
    // black_box keeps the optimiser from proving the loop does nothing.
    let mut spins: u64 = 0;
    loop {
        spins = black_box(spins.wrapping_add(1));
    }
}

fn grow(_req: &Request) -> Result<Response, Problem> {
    const MIB: usize = 1 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; MIB];
        // Touch every page so the memory is really used, not just reserved.
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 1;
        }
        hoard.push(black_box(chunk));
        black_box(&hoard);
    }
}

#[derive(Deserialize)]
struct HugeQuery {
    mb: Option<usize>,
}

fn huge(req: &Request) -> Result<Response, Problem> {
    let HugeQuery { mb } = req.query()?;
    let size = mb.unwrap_or(16).saturating_mul(1 << 20);
    Ok(Response::bytes("application/octet-stream", vec![b'x'; size]))
}

fn panics(_req: &Request) -> Result<Response, Problem> {
    panic!("hostile module panicked on purpose")
}

#[derive(Deserialize, JsonSchema)]
struct SqlRequest {
    statement: String,
    /// `true`: run it as a query and return the rows; otherwise execute it.
    #[serde(default)]
    query: bool,
}

fn run_sql(_req: &Request, Json(body): Json<SqlRequest>) -> Result<Response, Problem> {
    let answer = if body.query {
        sql::query(&body.statement, &[]).map(|rows| json!({ "rows": rows.to_json() }))
    } else {
        sql::execute(&body.statement, &[]).map(|changed| json!({ "changed": changed }))
    };
    Ok(match answer {
        Ok(value) => Response::json(200, &value),
        Err(err) => host_error(&err),
    })
}

#[derive(Deserialize, JsonSchema)]
struct FetchRequest {
    url: String,
}

fn fetch(_req: &Request, Json(body): Json<FetchRequest>) -> Result<Response, Problem> {
    Ok(match http::get(body.url).send() {
        Ok(answer) => Response::json(200, &json!({ "status": answer.status })),
        Err(err) => host_error(&err),
    })
}

/// Asks for a certificate by another module's name (e.g. `gdi`): the host
/// scopes names to this module, so it gets its own, never gdi's.
fn certificate(req: &Request) -> Result<Response, Problem> {
    let name: String = req.path_param("name")?;
    Ok(match crypto::certificate(&name).and_then(|der| crypto::sign_cms(&name, &[7; 32]).map(|cms| (der, cms))) {
        Ok((der, cms)) => {
            Response::json(200, &json!({ "sha256": crypto::to_hex(&crypto::sha256(&der)), "cms_bytes": cms.len() }))
        }
        Err(err) => host_error(&err),
    })
}

fn undeclared(_req: &Request) -> Result<Response, Problem> {
    Ok(match kv::get("x") {
        Ok(value) => Response::json(200, &json!({ "value": value })),
        Err(err) => host_error(&err),
    })
}

#[derive(Deserialize)]
struct ManyQuery {
    n: Option<u32>,
}

fn many_statements(req: &Request) -> Result<Response, Problem> {
    let ManyQuery { n } = req.query()?;
    let n = n.unwrap_or(100);
    for _ in 0..n {
        if let Err(err) = sql::query("SELECT 1", &[]) {
            return Ok(host_error(&err));
        }
    }
    Ok(Response::json(200, &json!({ "ran": n })))
}

/// Leaves a transaction open: the host must roll it back when the call ends.
fn open_transaction(_req: &Request) -> Result<Response, Problem> {
    let inserted = sql::begin().and_then(|()| {
        sql::execute(
            "INSERT INTO notes (id, body) VALUES ($1, $2)",
            &[sql::Value::from(999_i64), sql::Value::from("uncommitted")],
        )
    });
    match inserted {
        Ok(changed) => Ok(Response::json(200, &json!({ "changed": changed }))),
        Err(err) => Ok(host_error(&err)),
    }
}
