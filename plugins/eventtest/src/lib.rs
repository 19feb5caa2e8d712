//! `eventtest`: test-only modules for the scheduler and event delivery. One
//! crate builds several small modules, one per Cargo feature:
//!
//! - `publisher` (default): `POST /publish` publishes events in a call that
//!   succeeds, or in one that then fails (inside a transaction that rolls
//!   back, or outside one with a 500);
//! - `subscriber` 1.0.0 / 1.1.0 (`subscriber_fixed`): records each event it
//!   accepts, in arrival order, and counts every attempt; `test.flaky`
//!   fails its first two attempts; `test.broken` always fails in 1.0.0 and
//!   is fixed in 1.1.0;
//! - `ticker`: job `tick` every second records its fire time; job `slow`
//!   (run by hand) records its start, works for four seconds, records its end.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[cfg(any(
    all(feature = "publisher", feature = "subscriber"),
    all(feature = "publisher", feature = "ticker"),
    all(feature = "subscriber", feature = "ticker"),
))]
compile_error!("enable one of publisher, subscriber and ticker (with --no-default-features for the last two)");

struct EventTest;

impl plaza_sdk::Module for EventTest {
    fn router() -> Router {
        variant::router()
    }

    fn on_event(event: Event) -> Result<(), String> {
        variant::on_event(event)
    }

    fn run_job(run: JobRun) -> Result<(), String> {
        variant::run_job(run)
    }
}

plaza_sdk::export!(EventTest);

#[cfg(not(any(feature = "subscriber", feature = "ticker")))]
mod variant {
    use super::*;

    #[derive(Deserialize, JsonSchema)]
    struct ToPublish {
        /// The event type, e.g. `test.ok`.
        event_type: String,
        /// How many events (payload `{"n": 0…}`), 1–100.
        #[serde(default = "one")]
        count: u32,
        /// `rollback`: publish inside a transaction, then fail it; `after`:
        /// publish outside a transaction, then answer 500.
        fail: Option<String>,
        /// The payload of every event instead of `{"n": …}` (the mail tests
        /// ask the `mail` module for a message this way).
        payload: Option<serde_json::Value>,
    }

    fn one() -> u32 {
        1
    }

    #[derive(Serialize, JsonSchema)]
    struct Published {
        event_ids: Vec<String>,
    }

    pub fn router() -> Router {
        Router::new("publisher", "1.0.0")
            .description("Test-only: publishes events.")
            .capabilities([Capability::Sql, Capability::Events])
            .migration(1, "published", "CREATE TABLE published (event_id TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            .post("/publish", publish)
            .roles(["member"])
            .summary("Publish events")
    }

    fn publish(_req: &Request, Json(p): Json<ToPublish>) -> Result<Json<Published>, Problem> {
        if !(1..=100).contains(&p.count) {
            return Err(Problem::unprocessable("count: 1 to 100").with("field", "count"));
        }
        let mut event_ids = Vec::new();
        match p.fail.as_deref() {
            Some("after") => {
                event_ids.push(events::publish(&p.event_type, &serde_json::json!({ "n": 0 }))?);
                Err(Problem::internal(format!("failing after publishing {}", event_ids[0])))
            }
            Some("rollback") => sql::transaction(|| -> Result<Json<Published>, Problem> {
                let id = events::publish(&p.event_type, &serde_json::json!({ "n": 0 }))?;
                sql::execute("INSERT INTO published (event_id, n) VALUES ($1, 0)", &params![id.as_str()])?;
                Err(Problem::conflict(format!("rolling back the transaction that published {id}")))
            }),
            _ => {
                sql::transaction(|| -> Result<(), Problem> {
                    for n in 0..p.count {
                        let payload = p.payload.clone().unwrap_or_else(|| serde_json::json!({ "n": n }));
                        let id = events::publish(&p.event_type, &payload)?;
                        sql::execute("INSERT INTO published (event_id, n) VALUES ($1, $2)", &params![id.as_str(), n])?;
                        event_ids.push(id);
                    }
                    Ok(())
                })?;
                Ok(Json(Published { event_ids }))
            }
        }
    }

    pub fn on_event(_event: Event) -> Result<(), String> {
        Ok(())
    }

    pub fn run_job(_run: JobRun) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(feature = "subscriber")]
mod variant {
    use super::*;

    const VERSION: &str = if cfg!(feature = "subscriber_fixed") { "1.1.0" } else { "1.0.0" };

    pub fn router() -> Router {
        Router::new("subscriber", VERSION)
            .description("Test-only: receives events.")
            .capabilities([Capability::Sql, Capability::Kv])
            .migration(
                1,
                "received",
                "CREATE TABLE received (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, source TEXT NOT NULL, \
                 payload TEXT NOT NULL, arrival INTEGER NOT NULL)",
            )
            .subscribe("test.ok")
            .subscribe("test.flaky")
            .subscribe("test.broken")
            .subscribe("test.seq")
            .subscribe("module.enabled")
            .subscribe("member.added")
            .get("/received", received)
            .roles(["member"])
            .summary("What was received, in arrival order, with the attempts of each")
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Received {
        event_id: String,
        event_type: String,
        source: String,
        payload: String,
        arrival: i64,
        #[serde(default)]
        attempts: i64,
    }

    #[derive(Serialize, JsonSchema)]
    struct ReceivedList {
        items: Vec<Received>,
    }

    fn received(_req: &Request) -> Result<Json<ReceivedList>, Problem> {
        let mut items: Vec<Received> =
            sql::query_as("SELECT event_id, event_type, source, payload, arrival FROM received ORDER BY arrival", &[])?;
        for item in &mut items {
            item.attempts = count(&format!("attempts/{}", item.event_id))?;
        }
        Ok(Json(ReceivedList { items }))
    }

    fn count(key: &str) -> Result<i64, Error> {
        Ok(kv::get_string(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    fn bump(key: &str) -> Result<i64, String> {
        let n = count(key).map_err(|e| e.to_string())? + 1;
        kv::set(key, n.to_string()).map_err(|e| e.to_string())?;
        Ok(n)
    }

    pub fn on_event(event: Event) -> Result<(), String> {
        let attempt = bump(&format!("attempts/{}", event.id))?;
        match event.event_type.as_str() {
            "test.flaky" if attempt < 3 => return Err(format!("flaky: attempt {attempt} fails")),
            "test.broken" if !cfg!(feature = "subscriber_fixed") => return Err("broken until 1.1.0".into()),
            _ => {}
        }
        events::once(&event, |e| {
            let arrival = bump("arrivals")?;
            sql::execute(
                "INSERT INTO received (event_id, event_type, source, payload, arrival) VALUES ($1, $2, $3, $4, $5)",
                &params![e.id.as_str(), e.event_type.as_str(), e.source.as_str(), e.payload.as_str(), arrival],
            )
            .map(|_| ())
            .map_err(|err| err.to_string())
        })
    }

    pub fn run_job(_run: JobRun) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(feature = "ticker")]
mod variant {
    use super::*;

    pub fn router() -> Router {
        Router::new("ticker", "1.0.0")
            .description("Test-only: scheduled jobs.")
            .capabilities([Capability::Sql])
            .migration(
                1,
                "ticks",
                "CREATE TABLE ticks (job TEXT NOT NULL, fire_time TEXT NOT NULL, run_id TEXT NOT NULL, \
                 what TEXT NOT NULL)",
            )
            .job("tick", "* * * * * *")
            .job_with(Job {
                name: "slow".into(),
                // New Year's midnight: in practice only run by hand.
                schedule: "0 0 1 1 *".into(),
                timezone: None,
                deadline_ms: Some(6_000),
            })
            .get("/ticks", ticks)
            .roles(["member"])
            .summary("Every run recorded, in order")
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Tick {
        job: String,
        fire_time: String,
        run_id: String,
        what: String,
    }

    #[derive(Serialize, JsonSchema)]
    struct Ticks {
        items: Vec<Tick>,
    }

    fn ticks(_req: &Request) -> Result<Json<Ticks>, Problem> {
        Ok(Json(Ticks {
            items: sql::query_as("SELECT job, fire_time, run_id, what FROM ticks ORDER BY fire_time, what", &[])?,
        }))
    }

    fn record(run: &JobRun, what: &str) -> Result<(), String> {
        sql::execute(
            "INSERT INTO ticks (job, fire_time, run_id, what) VALUES ($1, $2, $3, $4)",
            &params![run.name.as_str(), run.fire_time.as_str(), run.run_id.as_str(), what],
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    pub fn run_job(run: JobRun) -> Result<(), String> {
        match run.name.as_str() {
            "tick" => record(&run, "fired"),
            "slow" => {
                record(&run, "started")?;
                let started = std::time::Instant::now();
                while started.elapsed() < std::time::Duration::from_secs(4) {
                    std::hint::spin_loop();
                }
                record(&run, "finished")
            }
            other => Err(format!("unknown job {other}")),
        }
    }

    pub fn on_event(_event: Event) -> Result<(), String> {
        Ok(())
    }
}
