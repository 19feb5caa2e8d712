//! The profiles of scenario 1: where a module request's CPU goes, next to a
//! native one's. `perf record` (Debian's `linux-perf`) samples the host
//! process during one more load on each side; `perf report` gives each
//! symbol's own share of the samples, and the symbols are grouped into
//! slices by what they are (the kernel's scheduler, the guest's compiled
//! code, SQLite, the allocator…). The process's CPU time during the load,
//! from `/proc`, turns the shares into microseconds per request.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{Plan, wrk};
use crate::util::{self, Apt};

/// Samples per second and CPU.
const FREQUENCY: &str = "999";
/// Symbols listed per side.
const TOP: usize = 12;

/// One side's profile.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Requests served while it was recorded.
    pub requests: u64,
    /// The host's CPU time while it was recorded (user and system).
    pub cpu: Duration,
    /// Share of the samples by slice, largest first.
    pub slices: Vec<(&'static str, f64)>,
    /// The symbols with the largest own share.
    pub top: Vec<(String, f64)>,
}

impl Profile {
    /// CPU microseconds per request.
    pub fn us_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }

    /// A slice's CPU microseconds per request.
    pub fn slice_us(&self, slice: &str) -> f64 {
        self.slices.iter().find(|(s, _)| *s == slice).map_or(0.0, |(_, share)| share / 100.0 * self.us_per_request())
    }
}

/// Both sides.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    pub module: Profile,
    pub native: Profile,
}

/// Installs `perf` if it is missing.
pub fn ensure(apt: &mut Apt) -> Result<()> {
    if util::find_in_path("perf").is_none() {
        apt.install(&["linux-perf"]).context("cannot install linux-perf")?;
    }
    Ok(())
}

/// Profiles the host `pid` under a load on `module_path`, then on `native_path`.
pub fn run(
    pid: u32,
    addr: SocketAddr,
    module_path: &str,
    native_path: &str,
    plan: &Plan,
    dir: &Path,
) -> Result<Profiles> {
    Ok(Profiles {
        module: record(pid, addr, module_path, plan, &dir.join("module.perf"))?,
        native: record(pid, addr, native_path, plan, &dir.join("native.perf"))?,
    })
}

fn record(pid: u32, addr: SocketAddr, path: &str, plan: &Plan, data: &Path) -> Result<Profile> {
    println!("==> profile of {path}");
    let seconds = plan.duration.as_secs().max(2);
    let mut perf = Command::new("perf")
        .args(["record", "-F", FREQUENCY, "-p", &pid.to_string(), "-o"])
        .arg(data)
        .args(["--", "sleep", &seconds.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start perf record")?;
    let before = cpu_time(pid)?;
    let load = wrk::run(addr, path, plan.connections, Duration::from_secs(seconds));
    let after = cpu_time(pid)?;
    let status = perf.wait()?;
    let load = load?;
    if !status.success() {
        bail!("perf record failed ({status}); is perf_event_paranoid above 1 for a non-root user?");
    }
    let report = util::capture(
        Command::new("perf")
            .args(["report", "--no-children", "--sort", "dso,sym", "--stdio", "-g", "none", "-t", "\t", "-i"])
            .arg(data),
    )?;
    let symbols = parse(&report);
    let mut slices: Vec<(&'static str, f64)> = Vec::new();
    for (dso, sym, share) in &symbols {
        let slice = slice_of(dso, sym);
        match slices.iter_mut().find(|(s, _)| *s == slice) {
            Some((_, total)) => *total += share,
            None => slices.push((slice, *share)),
        }
    }
    slices.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top = symbols.iter().take(TOP).map(|(dso, sym, share)| (format!("{sym} ({dso})"), *share)).collect();
    Ok(Profile { requests: load.requests, cpu: after.saturating_sub(before), slices, top })
}

/// The host's CPU time so far (`utime` + `stime` of `/proc/PID/stat`).
fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).context("unexpected /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (11 and 12 after the name); ticks of 1/100 s.
    Ok(Duration::from_millis((ticks(11) + ticks(12)) * 10))
}

/// `(dso, symbol, share %)` of each line of `perf report -t '\t'`, largest first.
fn parse(report: &str) -> Vec<(String, String, f64)> {
    let mut out: Vec<(String, String, f64)> = report
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let share = parts.next()?.trim().trim_end_matches('%').parse::<f64>().ok()?;
            let dso = parts.next()?.trim().to_owned();
            let sym = parts.next()?.trim();
            // `[k] name` or `[.] name`.
            let sym = sym.split_once("] ").map_or(sym, |(_, s)| s).to_owned();
            Some((dso, sym, share))
        })
        .collect();
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out
}

/// The slice a symbol belongs to.
pub fn slice_of(dso: &str, sym: &str) -> &'static str {
    if dso.contains("kernel") {
        const SCHEDULING: [&str; 12] = [
            "sched",
            "switch",
            "futex",
            "wake",
            "idle",
            "_raw_spin_unlock_irq",
            "irqentry_exit",
            "ttwu",
            "enqueue",
            "dequeue",
            "update_curr",
            "pick_next",
        ];
        const PAGES: [&str; 8] = ["pagemap", "walk_page", "walk_p", "madvise", "zap_", "fault", "clear_page", "unmap"];
        return if SCHEDULING.iter().any(|k| sym.contains(k)) {
            "kernel: scheduling, futex wake-ups"
        } else if PAGES.iter().any(|k| sym.contains(k)) {
            "kernel: page tables (wasm memory resets, faults)"
        } else if ["tcp", "ip_", "net", "sock", "skb", "napi", "softirq", "epoll"].iter().any(|k| sym.contains(k)) {
            "kernel: TCP and epoll"
        } else {
            "kernel: other (syscalls, memory, files)"
        };
    }
    if dso.starts_with("[JIT]")
        || dso.contains("jitted")
        || sym.starts_with("wasm[")
        || sym.starts_with("wasm-function")
    {
        return "guest code (compiled wasm)";
    }
    if dso.starts_with("libc") {
        return if ["malloc", "free", "_int_", "realloc", "calloc", "consolidate", "unlink_chunk", "tcache"]
            .iter()
            .any(|k| sym.contains(k))
        {
            "allocator (malloc, free)"
        } else if sym.contains("mem") {
            "libc: memcpy, memmove, memset"
        } else {
            "libc: other"
        };
    }
    if sym.starts_with("mi_") || sym.starts_with("_mi_") {
        return "allocator (malloc, free)";
    }
    if !sym.contains("::") {
        // C code linked into the host: SQLite's own functions, for these loads.
        return if dso.contains("plaza") { "SQLite (C)" } else { "other libraries" };
    }
    match crate_of(sym) {
        "plaza" => "Plaza host code",
        "wasmtime" | "cranelift" => "wasmtime runtime",
        "tokio" | "mio" | "futures_util" | "futures_core" | "futures_task" | "flume" => "tokio and futures",
        "hyper" | "hyper_util" | "poem" | "poem_openapi" | "http" | "httparse" | "bytes" | "headers" => {
            "HTTP (hyper, poem)"
        }
        "sqlx" | "sqlx_core" | "sqlx_sqlite" | "sqlx_postgres" | "rusqlite" => "SQL drivers (sqlx, rusqlite)",
        "serde" | "serde_json" => "JSON (serde)",
        "prometheus_client" | "tracing" | "tracing_core" | "tracing_subscriber" => "metrics and tracing",
        "core" | "alloc" | "std" | "hashbrown" => "Rust std (hashing, formatting, drops)",
        _ => "other Rust crates",
    }
}

/// The crate a demangled Rust symbol starts in: `<poem::route::Route as
/// poem::Endpoint>::call` is poem's.
fn crate_of(sym: &str) -> &str {
    let s = sym.trim_start_matches(['<', '&', '*', '(']);
    let s = s.strip_prefix("dyn ").unwrap_or(s);
    let s = s.strip_prefix("mut ").unwrap_or(s);
    let end = s.find("::").unwrap_or(s.len());
    let name = &s[..end];
    name.split('<').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_fall_in_their_slices() {
        assert_eq!(slice_of("[kernel.kallsyms]", "finish_task_switch.isra.0"), "kernel: scheduling, futex wake-ups");
        assert_eq!(slice_of("[kernel.kallsyms]", "tcp_sendmsg_locked"), "kernel: TCP and epoll");
        assert_eq!(slice_of("libc.so.6", "_int_malloc"), "allocator (malloc, free)");
        assert_eq!(slice_of("plaza", "_mi_page_malloc_zero"), "allocator (malloc, free)");
        assert_eq!(
            slice_of("[kernel.kallsyms]", "pagemap_scan_pmd_entry"),
            "kernel: page tables (wasm memory resets, faults)"
        );
        assert_eq!(slice_of("[kernel.kallsyms]", "_raw_spin_unlock_irqrestore"), "kernel: scheduling, futex wake-ups");
        assert_eq!(slice_of("libc.so.6", "__memmove_avx512_unaligned_erms"), "libc: memcpy, memmove, memset");
        assert_eq!(slice_of("[JIT] tid 15405", "0x00007f5735024cb2"), "guest code (compiled wasm)");
        assert_eq!(slice_of("plaza", "sqlite3VdbeExec"), "SQLite (C)");
        assert_eq!(
            slice_of("plaza", "<poem::route::router::Route as poem::endpoint::endpoint::Endpoint>::call::{{closure}}"),
            "HTTP (hyper, poem)"
        );
        assert_eq!(slice_of("plaza", "plaza::http::modules::serve::{{closure}}"), "Plaza host code");
        assert_eq!(slice_of("plaza", "wasmtime::runtime::vm::instance::Instance::new"), "wasmtime runtime");
        assert_eq!(
            slice_of("plaza", "prometheus_client::metrics::family::Family<S,M,C>::get_or_create"),
            "metrics and tracing"
        );
    }

    #[test]
    fn reports_are_read_largest_first() {
        let report =
            "# comment\n\n     3.50%\tplaza\t[.] sqlite3VdbeExec\n    15.85%\t[kernel.kallsyms]\t[k] schedule\n";
        let parsed = parse(report);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].1, "schedule");
        assert!((parsed[1].2 - 3.5).abs() < 1e-9);
    }
}
