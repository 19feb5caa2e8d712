//! Scenario 4: tenants at scale. One host per database engine, tenants
//! added tier by tier (10, then up to 1,000, then up to 10,000), each with
//! `blog` enabled through the API; after each tier, a load spread over all
//! the tenants, and the host's resident memory.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use super::{Host, Plan, wrk};
use crate::util;

/// Tenants are `s1`, `s2`, … (valid slugs, easy to draw at random).
const PREFIX: &str = "s";
/// The read every tenant answers: its posts (an empty list), from its own
/// namespace.
const READ: &str = "/blog/posts";
/// Clients enabling tenants at once (the operator's onboarding script).
pub const ENABLERS: usize = 4;

/// One tier of one engine.
#[derive(Debug, Clone)]
pub struct Tier {
    pub tenants: u32,
    /// The enable call (`POST /t/{tenant}/modules`) of each tenant added in
    /// this tier: its median and 99th percentile.
    pub enable_p50: Duration,
    pub enable_p99: Duration,
    /// Wall time to add this tier's tenants, divided by how many.
    pub added_per_tenant: Duration,
    pub load: wrk::Load,
    /// The host's resident memory after the load, in bytes.
    pub rss_bytes: u64,
}

/// One engine's tiers.
#[derive(Debug, Clone)]
pub struct Engine {
    pub name: &'static str,
    pub tiers: Vec<Tier>,
}

/// The tiers of a run.
pub fn tiers(quick: bool) -> &'static [u32] {
    if quick { &[10, 100] } else { &[10, 1_000, 10_000] }
}

/// Runs the tiers on a fresh host; `env` chooses its database.
pub fn run(
    name: &'static str,
    plaza: &Path,
    data: &Path,
    token: &str,
    env: &[(&str, String)],
    plan: &Plan,
) -> Result<Engine> {
    println!("==> tenants at scale on {name}: {:?}", tiers(plan.quick));
    let (host, _) = Host::start(plaza, data, token, env)?;
    let script = data.join("spread.lua");
    let mut engine = Engine { name, tiers: Vec::new() };
    let mut have = 0;
    for &tenants in tiers(plan.quick) {
        let started = Instant::now();
        let mut enables = add_tenants(host.addr, token, have + 1..=tenants)?;
        let added_per_tenant = started.elapsed() / (tenants - have);
        have = tenants;
        enables.sort();
        std::fs::write(&script, wrk::spread_script(PREFIX, tenants, READ))
            .with_context(|| format!("cannot write {}", script.display()))?;
        let first = format!("/t/{PREFIX}1{READ}");
        wrk::run_with(host.addr, &first, plan.connections, plan.scale_warmup, Some(&script))?;
        let load = wrk::run_with(host.addr, &first, plan.connections, plan.scale_duration, Some(&script))?;
        let rss_bytes = host.rss_bytes()?;
        let tier = Tier {
            tenants,
            enable_p50: percentile(&enables, 0.50),
            enable_p99: percentile(&enables, 0.99),
            added_per_tenant,
            load,
            rss_bytes,
        };
        println!(
            "    {tenants} tenants: enable p50 {:.1} ms, p99 {:.1} ms; {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} failed; RSS {} MiB",
            ms(tier.enable_p50),
            ms(tier.enable_p99),
            load.requests_per_sec,
            load.p50_ms,
            load.p99_ms,
            load.failed,
            rss_bytes >> 20
        );
        engine.tiers.push(tier);
    }
    Ok(engine)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Creates tenants `ids` and enables `blog` for each, from a few clients at
/// once; how long each enable call took.
fn add_tenants(addr: SocketAddr, token: &str, ids: std::ops::RangeInclusive<u32>) -> Result<Vec<Duration>> {
    let ids: Vec<u32> = ids.collect();
    let chunk = ids.len().div_ceil(ENABLERS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = ids.chunks(chunk).map(|part| scope.spawn(move || add_some(addr, token, part))).collect();
        let mut all = Vec::with_capacity(ids.len());
        for worker in workers {
            let part = worker.join().map_err(|_| anyhow::anyhow!("a tenant-adding thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

fn add_some(addr: SocketAddr, token: &str, ids: &[u32]) -> Result<Vec<Duration>> {
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str())];
    let mut times = Vec::with_capacity(ids.len());
    for id in ids {
        let tenant = format!("{PREFIX}{id}");
        util::http_json(
            addr,
            "POST",
            "/api/v1/tenants",
            &headers,
            Some(&json!({ "id": tenant, "name": tenant })),
            &[201],
        )?;
        let started = Instant::now();
        util::http_json(
            addr,
            "POST",
            &format!("/t/{tenant}/modules"),
            &headers,
            Some(&json!({ "name": "blog" })),
            &[200],
        )?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// The `q` quantile of sorted `values`.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&values, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&values[..1], 0.99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
