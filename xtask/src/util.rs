//! Small helpers: running commands, ports, HTTP calls, randomness, apt.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
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

/// A request with an empty body; returns the status code and the whole
/// response (head and body) as text.
pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, String)> {
    let (status, head, body) = http_call(addr, method, path, &[], &[])?;
    Ok((status, format!("{head}\r\n\r\n{body}")))
}

/// The client of [`http_call`]. Every status is an answer the caller
/// judges (not an error), and so is a redirect (not followed). A fresh
/// agent per call keeps no connection between calls: the bench stops and
/// starts servers between them. Connecting, and each read and write, may
/// take 30 s.
fn http_agent() -> ureq::Agent {
    let timeout = Some(Duration::from_secs(30));
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent("plaza-xtask")
        .timeout_connect(timeout)
        .timeout_per_read(timeout)
        .timeout_per_write(timeout)
        .build()
        .into()
}

/// One HTTP request to `http://{addr}{path}` with headers and a body.
/// Returns the status, the head (status line and headers, for messages)
/// and the body as text; an answer of any status is `Ok`.
pub fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String, String)> {
    let url = format!("http://{addr}{path}");
    let mut request = ureq::http::Request::builder().method(method).uri(&url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body).with_context(|| format!("cannot make the request {method} {url}"))?;
    let mut response = http_agent().run(request).with_context(|| format!("{method} {url} failed"))?;
    let mut head = format!("{:?} {}", response.version(), response.status());
    for (name, value) in response.headers() {
        head.push_str(&format!("\r\n{name}: {}", String::from_utf8_lossy(value.as_bytes())));
    }
    // No size limit: the answers come from our own server.
    let body = response
        .body_mut()
        .with_config()
        .read_to_vec()
        .with_context(|| format!("{method} {url}: cannot read the answer"))?;
    Ok((response.status().as_u16(), head, String::from_utf8_lossy(&body).into_owned()))
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

/// `n` random bytes from the operating system, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).context("cannot get random bytes from the operating system")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates a fresh private (0700) directory `<base>/<prefix><random>`.
/// It stays on disk: callers keep the path and remove the directory
/// themselves (the PostgreSQL cluster when dropped, the bench when done).
pub fn make_temp_dir(base: &Path, prefix: &str) -> Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(base)
        .with_context(|| format!("cannot create a temporary directory under {}", base.display()))?;
    Ok(dir.keep())
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::mpsc;

    use super::*;

    /// A one-request HTTP server on a free port: answers `response` and
    /// sends back what it received (head and body).
    fn serve_once(response: &'static str) -> (SocketAddr, mpsc::Receiver<String>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent, received) = mpsc::channel();
        thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
                request.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            request.push_str(&String::from_utf8(body).unwrap());
            (&stream).write_all(response.as_bytes()).unwrap();
            sent.send(request).unwrap();
        });
        (addr, received)
    }

    #[test]
    fn http_call_returns_every_status_with_head_and_body() {
        let (addr, request) = serve_once(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nX-Test: yes\r\nConnection: close\r\n\r\nnot found",
        );
        let (status, head, body) =
            http_call(addr, "PUT", "/bucket?x=1", &[("Authorization", "Bearer t")], b"{\"a\":1}").unwrap();
        assert_eq!((status, body.as_str()), (404, "not found"));
        assert!(head.starts_with("HTTP/1.1 404 Not Found") && head.contains("\r\nx-test: yes"), "{head}");
        let request = request.recv().unwrap();
        assert!(request.starts_with("PUT /bucket?x=1 HTTP/1.1\r\n"), "{request}");
        let lower = request.to_ascii_lowercase();
        assert!(
            lower.contains("authorization: bearer t\r\n") && lower.contains("user-agent: plaza-xtask\r\n"),
            "{request}"
        );
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
    }

    #[test]
    fn redirects_are_answers_not_followed() {
        let (addr, _) =
            serve_once("HTTP/1.1 308 Permanent Redirect\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
        let (status, response) = http_request(addr, "GET", "/moved").unwrap();
        assert_eq!(status, 308);
        assert!(response.contains("location: /elsewhere"), "{response}");
    }

    #[test]
    fn http_json_accepts_only_the_listed_statuses() {
        let (addr, request) =
            serve_once("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"id\":7}");
        let answer = http_json(addr, "POST", "/items", &[], Some(&serde_json::json!({"n": 1})), &[200, 201]).unwrap();
        assert_eq!(answer, serde_json::json!({"id": 7}));
        let lower = request.recv().unwrap().to_ascii_lowercase();
        assert!(lower.contains("content-type: application/json") && lower.contains("accept: application/json"));

        let (addr, _) = serve_once("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(http_json(addr, "DELETE", "/items/7", &[], None, &[204]).unwrap(), serde_json::Value::Null);

        let (addr, _) = serve_once("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
        let err = http_json(addr, "GET", "/items", &[], None, &[200]).unwrap_err();
        assert_eq!(err.to_string(), "GET /items answered 500: oops");
    }

    #[test]
    fn a_closed_port_is_an_error() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port().unwrap()));
        assert!(http_call(addr, "GET", "/health", &[], &[]).is_err());
    }

    #[test]
    fn random_hex_has_two_digits_a_byte() {
        let (a, b) = (random_hex(16).unwrap(), random_hex(16).unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn temporary_directories_are_private_and_kept() {
        let base = std::env::temp_dir();
        let dir = make_temp_dir(&base, "plaza-util-test-").unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(dir.starts_with(&base) && name.starts_with("plaza-util-test-") && name.len() > 16, "{name}");
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let other = make_temp_dir(&base, "plaza-util-test-").unwrap();
        assert_ne!(other, dir);
        // Kept on disk: the caller removes them.
        assert!(dir.is_dir() && other.is_dir());
        fs::remove_dir(&dir).unwrap();
        fs::remove_dir(&other).unwrap();
    }
}
