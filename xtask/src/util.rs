//! Small helpers: running commands, ports, raw HTTP, randomness, apt.

use std::ffi::OsStr;
use std::fs::{self, DirBuilder};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C reaches every process of the foreground group: the children
/// (cargo, the server) stop on their own. xtask itself only records it,
/// so that it can wait for them and run its clean-up (stop PostgreSQL,
/// kill the S3 server, remove temporary directories).
pub fn install_interrupt_handler() -> io::Result<()> {
    signal_hook::flag::register(signal_hook::consts::SIGINT, &INTERRUPTED).map(|_| ())
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> &'static Path {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` or `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { workspace_root().join(dir) }
        }
        _ => workspace_root().join("target"),
    }
}

/// `cargo` (the one that runs us, when known), in the workspace root.
/// Set by `cargo xtask ci`: nested cargo runs build without incremental
/// caches, which CI never reuses and which take gigabytes of its disk.
static LEAN_BUILDS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes every later [`cargo`] command build without incremental caches.
pub fn lean_builds() {
    LEAN_BUILDS.store(true, std::sync::atomic::Ordering::Relaxed);
}

pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    // `cargo run` sets CARGO_PKG_*, CARGO_MANIFEST_DIR and friends for xtask
    // itself; passed on, they change the environment build scripts see and
    // make the nested cargo rebuild ring, rustls and sqlx every time.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if (key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR") || key == "OUT_DIR" {
            cmd.env_remove(key.as_ref());
        }
    }
    if LEAN_BUILDS.load(std::sync::atomic::Ordering::Relaxed) {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

/// Free space where the build writes, for the log (CI disks can be small).
pub fn disk_free() -> Option<String> {
    let out = Command::new("df").args(["-h", "--output=avail"]).arg(workspace_root()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).map(|line| line.trim().to_owned())
}

/// A command line as a human would type it, for logs.
pub fn display(cmd: &Command) -> String {
    let mut out = String::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            out.push_str(&key.to_string_lossy());
            out.push('=');
            out.push_str(&quote(value));
            out.push(' ');
        }
    }
    out.push_str(&quote(cmd.get_program()));
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&quote(arg));
    }
    out
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain { s.into_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// Runs a command to completion, echoing it first; fails on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd.status().with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs a command quietly and returns its trimmed standard output.
pub fn capture(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let output = cmd.output().with_context(|| format!("cannot start `{line}`"))?;
    if !output.status.success() {
        bail!(
            "`{line}` failed ({})\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Whether this process runs with effective uid 0 (read from /proc, so no
/// `unsafe` call to `geteuid` is needed).
pub fn is_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("Uid:") {
                // Real, effective, saved, filesystem.
                return rest.split_whitespace().nth(1) == Some("0");
            }
        }
    }
    capture(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0")
}

/// Looks a program up in `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The address to connect to for a listen address: a wildcard address
/// (`0.0.0.0`, `::`) is reached on loopback.
pub fn connect_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Polls `probe` every 100 ms until it returns `Ok(true)`, `alive` fails
/// (e.g. the server process exited), Ctrl-C is pressed or `timeout` passes.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> bool,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if probe() {
            return Ok(());
        }
        alive()?;
        if interrupted() {
            bail!("interrupted while waiting for {what}");
        }
        if Instant::now() >= deadline {
            bail!("{what} did not answer within {} s", timeout.as_secs());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Whether something accepts TCP connections at `addr`.
pub fn port_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// A minimal HTTP/1.1 request with an empty body; returns the status code
/// and the whole response (headers and body) as text.
pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, String)> {
    let (status, head, body) = http_call(addr, method, path, &[], &[])?;
    Ok((status, format!("{head}\r\n\r\n{body}")))
}

/// One HTTP request with headers and a body, spoken as HTTP/1.0 so that the
/// answer is never chunked (it ends when the server closes). Returns the
/// status, the head and the body as text.
pub fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String, String)> {
    let timeout = Duration::from_secs(30);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: plaza-xtask\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response.as_str(), ""));
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP response from {addr}: {response:.200}"))?;
    Ok((status, head.to_owned(), body.to_owned()))
}

/// A JSON call: `body` (if any) sent as JSON with `headers`; the answer's
/// JSON (`null` when empty) when its status is one of `ok`, else an error
/// naming the call and what the server said.
pub fn http_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
    ok: &[u16],
) -> Result<serde_json::Value> {
    let mut headers = headers.to_vec();
    headers.push(("Accept", "application/json"));
    let payload = match body {
        Some(b) => {
            headers.push(("Content-Type", "application/json"));
            serde_json::to_vec(b)?
        }
        None => Vec::new(),
    };
    let (status, _, text) = http_call(addr, method, path, &headers, &payload)?;
    if !ok.contains(&status) {
        bail!("{method} {path} answered {status}: {text:.500}");
    }
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {path}: not JSON: {text:.200}"))
}

/// `n` random bytes from the kernel, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).context("cannot read /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates a fresh private directory `<temp>/<prefix><random>`.
pub fn make_temp_dir(base: &Path, prefix: &str) -> Result<PathBuf> {
    for _ in 0..8 {
        let dir = base.join(format!("{prefix}{}", random_hex(6)?));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(err).with_context(|| format!("cannot create {}", dir.display()));
            }
        }
    }
    bail!("cannot create a temporary directory under {}", base.display())
}

/// The last `n` lines of a (log) file, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

/// Debian packages, installed on demand when we are root. `apt-get update`
/// runs at most once per xtask run.
#[derive(Debug, Default)]
pub struct Apt {
    updated: bool,
}

impl Apt {
    pub fn install(&mut self, packages: &[&str]) -> Result<()> {
        if !is_root() {
            bail!("not root: install {} yourself (apt-get install {})", packages.join(", "), packages.join(" "));
        }
        if find_in_path("apt-get").is_none() {
            bail!("apt-get not found: install {} yourself", packages.join(", "));
        }
        if !self.updated {
            run(Command::new("apt-get").args(["update", "-q"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
            self.updated = true;
        }
        run(Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    }
}

/// The target bundled modules are built for. Cheap when already there.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Adds the `wasm32-wasip2` target to the active toolchain when missing.
pub fn ensure_wasm_target() -> Result<()> {
    if find_in_path("rustup").is_none() {
        eprintln!("warning: rustup not found: cannot check the {WASM_TARGET} target");
        return Ok(());
    }
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"]).current_dir(workspace_root());
    let installed = capture(&mut list)?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]).current_dir(workspace_root()))
}
