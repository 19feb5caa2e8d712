//! Scenario 7: a noisy neighbour. Tenant `quiet` reads its blog alone, then
//! while tenant `noisy`'s module burns CPU with many calls at once (the
//! test-only `rogue` module's `/spin`). What `quiet` sees is the measure of
//! the fair share between tenants (per-tenant slots, yields every tick).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use super::{Host, Plan, wrk};

/// The tenants and the loads.
pub const QUIET: &str = "quiet";
pub const NOISY: &str = "noisy";
/// Connections of the quiet tenant's readers.
pub const QUIET_CONNECTIONS: u32 = 8;
/// Connections of the noisy tenant, each asking for a CPU-heavy call.
pub const NOISY_CONNECTIONS: u32 = 100;
/// CPU time each noisy call asks for.
pub const SPIN_MS: u64 = 50;

/// What scenario 7 measured.
#[derive(Debug, Clone, Copy)]
pub struct Neighbour {
    /// The quiet tenant's reads, alone.
    pub alone: wrk::Load,
    /// The same reads during the noisy tenant's load.
    pub loaded: wrk::Load,
    /// The noisy tenant's own load (its 429s count as failed).
    pub noisy: wrk::Load,
}

pub fn run(plaza: &Path, data: &Path, token: &str, env: &[(&'static str, String)], plan: &Plan) -> Result<Neighbour> {
    println!("==> noisy neighbour");
    let (host, _) = Host::start(plaza, data, token, env)?;
    let operator = format!("Bearer {token}");
    let as_operator = [("Authorization", operator.as_str())];
    for (tenant, module) in [(QUIET, "blog"), (NOISY, "rogue")] {
        host.json("POST", "/api/v1/tenants", &as_operator, Some(&json!({ "id": tenant, "name": tenant })), 201)?;
        host.json("POST", &format!("/t/{tenant}/modules"), &as_operator, Some(&json!({ "name": module })), 200)?;
    }
    let post = host.json(
        "POST",
        &format!("/t/{QUIET}/blog/admin/posts"),
        &as_operator,
        Some(&json!({ "title": "Quiet post", "content_markdown": "Nothing to see." })),
        201,
    )?;
    let id = post["id"].as_i64().context("no post id")?;
    host.json("POST", &format!("/t/{QUIET}/blog/admin/posts/{id}/publish"), &as_operator, Some(&json!({})), 200)?;
    let quiet_path = format!("/t/{QUIET}/blog/posts/quiet-post");
    let noisy_path = format!("/t/{NOISY}/rogue/spin?ms={SPIN_MS}");

    wrk::run(host.addr, &quiet_path, QUIET_CONNECTIONS, plan.warmup)?;
    let alone = wrk::run(host.addr, &quiet_path, QUIET_CONNECTIONS, plan.duration)?;
    println!(
        "    alone: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        alone.requests_per_sec, alone.p50_ms, alone.p99_ms
    );
    // The noisy load starts first and outlasts the measured one.
    let addr = host.addr;
    let noisy_for = plan.duration + plan.warmup + Duration::from_secs(2);
    let noisy = std::thread::spawn(move || wrk::run(addr, &noisy_path, NOISY_CONNECTIONS, noisy_for));
    std::thread::sleep(plan.warmup);
    let loaded = wrk::run(host.addr, &quiet_path, QUIET_CONNECTIONS, plan.duration)?;
    let noisy = noisy.join().map_err(|_| anyhow::anyhow!("the noisy load's thread panicked"))??;
    println!(
        "    beside the noisy tenant: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} failed; \
         the noisy tenant: {:.0} requests/s, {} refused",
        loaded.requests_per_sec, loaded.p50_ms, loaded.p99_ms, loaded.failed, noisy.requests_per_sec, noisy.failed
    );
    Ok(Neighbour { alone, loaded, noisy })
}
