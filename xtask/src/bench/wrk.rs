//! The load generator: `wrk` (Debian's package), run with `--latency`, its
//! report read back into numbers.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::util::{self, Apt};

/// What one run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The slowest request.
    pub max_ms: f64,
    pub requests: u64,
    /// Answers that were not 2xx/3xx, plus socket errors.
    pub failed: u64,
}

/// `wrk`, installed from Debian's packages when missing.
pub fn ensure(apt: &mut Apt) -> Result<()> {
    if util::find_in_path("wrk").is_none() {
        apt.install(&["wrk"]).context("cannot install wrk")?;
    }
    Ok(())
}

/// `connections` connections on two threads against `path` for `duration`.
pub fn run(addr: SocketAddr, path: &str, connections: u32, duration: Duration) -> Result<Load> {
    run_with(addr, path, connections, duration, None)
}

/// The same, each request's path chosen by the Lua `script` (its
/// `request` function); `path` is only the URL wrk is started on.
pub fn run_with(
    addr: SocketAddr,
    path: &str,
    connections: u32,
    duration: Duration,
    script: Option<&Path>,
) -> Result<Load> {
    let url = format!("http://{addr}{path}");
    let mut cmd = Command::new("wrk");
    cmd.args(["--latency", "-t", "2", "-c", &connections.to_string(), "--timeout", "10s", "-d"])
        .arg(format!("{}s", duration.as_secs().max(1)));
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(&url);
    let report = util::capture(&mut cmd)?;
    parse(&report).with_context(|| format!("cannot read wrk's report on {url}:\n{report}"))
}

/// A wrk script whose requests go to `GET /t/{prefix}{1..=n}{rest}`,
/// tenants drawn at random: a load spread over `n` tenants.
pub fn spread_script(prefix: &str, n: u32, rest: &str) -> String {
    format!(
        "-- Written by cargo xtask bench: one of {n} tenants per request.\n\
         local counter = 0\n\
         function setup(thread)\n  counter = counter + 1\n  thread:set(\"seed\", counter)\nend\n\
         function init(args)\n  math.randomseed(os.time() * 1000 + seed)\nend\n\
         function request()\n  return wrk.format(\"GET\", \"/t/{prefix}\" .. math.random(1, {n}) .. \"{rest}\")\nend\n"
    )
}

/// Reads wrk's report: `Requests/sec:`, the thread stats' `Latency` line
/// (its maximum), the `50%`/`99%` latency
/// distribution lines, `N requests in`, `Non-2xx or 3xx responses:` and
/// `Socket errors:`.
pub fn parse(report: &str) -> Result<Load> {
    let mut load = Load {
        requests_per_sec: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        max_ms: f64::NAN,
        requests: 0,
        failed: 0,
    };
    for line in report.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => load.requests_per_sec = n.parse()?,
            ["Latency", _avg, _stdev, max, ..] if max.ends_with('s') => load.max_ms = millis(max)?,
            ["50%", t] => load.p50_ms = millis(t)?,
            ["99%", t] => load.p99_ms = millis(t)?,
            [n, "requests", "in", ..] => load.requests = n.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => load.failed += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                for pair in rest.join(" ").split(',') {
                    if let Some(n) = pair.split_whitespace().nth(1) {
                        load.failed += n.parse::<u64>()?;
                    }
                }
            }
            _ => {}
        }
    }
    if load.requests_per_sec.is_nan() || load.p50_ms.is_nan() || load.p99_ms.is_nan() {
        bail!("no throughput or latency in the report");
    }
    Ok(load)
}

/// `1.23ms`, `456.00us`, `1.02s`, `2.00m` in milliseconds.
fn millis(text: &str) -> Result<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).context("a unit")?;
    let (n, unit) = text.split_at(split);
    let n: f64 = n.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        other => bail!("unknown unit {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 5s test @ http://127.0.0.1:8080/x
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.12ms    2.01ms  40.00ms   80.00%
    Req/Sec     6.20k   400.00     7.00k    70.00%
  Latency Distribution
     50%    4.80ms
     75%    6.00ms
     90%    7.50ms
     99%  950.00us
  61234 requests in 5.00s, 60.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  12246.80
Transfer/sec:     12.00MB
";

    #[test]
    fn a_report_becomes_numbers() {
        let load = parse(REPORT).unwrap();
        assert_eq!(load.requests_per_sec, 12246.80);
        assert_eq!(load.p50_ms, 4.8);
        assert!((load.p99_ms - 0.95).abs() < 1e-9);
        assert_eq!(load.max_ms, 40.0);
        assert_eq!(load.requests, 61234);
        assert_eq!(load.failed, 12);
        assert!(parse("Running 5s test").is_err());
        assert_eq!(millis("1.5s").unwrap(), 1500.0);
    }
}
