//! `cargo xtask dev`: the host on SQLite + local files, with a demo tenant
//! and a stable operator token, ready to try from a browser or curl; next to
//! it the tax-authority mock, which the demo's electronic invoices go to.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{demo, plugins, util};

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Address the server listens on.
    #[arg(long, env = "PLAZA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Build and run the release binary instead of the debug one.
    #[arg(long)]
    release: bool,
    /// Port of the tax-authority mock on 127.0.0.1 (0: any free port).
    /// Without it: 8089, or a free port when 8089 is taken.
    #[arg(long, env = "PLAZA_TAX_MOCK_PORT")]
    tax_mock_port: Option<u16>,
}

const TOKEN_FILE: &str = "dev-operator-token";
/// The development publisher key (secret, mode 0600) and its public half.
const PUBLISHER_KEY_FILE: &str = "dev-publisher.key";
const PUBLISHER_PUB_FILE: &str = "dev-publisher.pub";
const DEMO_TENANT: &str = "demo";
const DEMO_EMAIL: &str = "demo@plaza.example";
/// A development-only password, printed in the banner.
const DEMO_PASSWORD: &str = "demo-password-123";
/// Demo accounts besides the owner: (email, name, role in the demo tenant).
const DEMO_ACCOUNTS: &[(&str, &str, &str)] = &[
    ("editor@plaza.example", "Demo editor", "editor"),
    ("producer@plaza.example", "Demo producer", "producer"),
    ("agency@plaza.example", "Demo agency", "agency"),
    ("viewer@plaza.example", "Demo viewer", "user"),
    ("escribiente@plaza.example", "Demo GDI writer", "gdi-writer"),
    ("secretario@plaza.example", "Demo GDI secretary", "gdi-signer"),
    ("intendente@plaza.example", "Demo GDI intendente", "gdi-signer"),
    ("cajero@plaza.example", "Demo ERP cashier", "erp-seller"),
    ("bodeguero@plaza.example", "Demo ERP warehouse keeper", "erp-stock"),
    ("contador@plaza.example", "Demo ERP accountant", "erp-accountant"),
    ("facturacion@plaza.example", "Demo e-invoicing clerk", "einvoicing-issuer"),
];
/// The modules the demo tenant has enabled. All are enabled before the
/// server starts, so einvoicing is subscribed before erp's sales are seeded.
const DEMO_MODULES: &[&str] =
    &["hello", "blog", "playlists", "gdi", "erp", "einvoicing", "mail", "notifications", "documents"];

pub fn run(args: &DevArgs) -> Result<ExitCode> {
    util::ensure_wasm_target()?;
    plugins::build()?;
    let modules_dir = plugins::modules_dir();

    let mut build = util::cargo();
    build.args(["build", "-p", "plaza"]);
    if args.release {
        build.arg("--release");
    }
    util::run(&mut build)?;
    let profile = if args.release { "release" } else { "debug" };
    let plaza = util::target_dir().join(profile).join("plaza");
    if !plaza.is_file() {
        bail!("built, but {} is missing", plaza.display());
    }
    let tax_mock_binary = build_tax_mock(args.release)?;

    let data_dir = data_dir()?;
    fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let token = operator_token(&data_dir)?;
    let publisher = publisher_key(&plaza, &data_dir)?;

    // The development switch lets unsigned packages in (a module author's
    // local build); the bundled modules are still signed, by the dev key.
    let host = |args: &[&str]| {
        let mut cmd = Command::new(&plaza);
        cmd.args(args)
            .current_dir(util::workspace_root())
            .env("PLAZA_DATA_DIR", &data_dir)
            .env("PLAZA_OPERATOR_TOKEN", &token)
            .env("PLAZA_TRUSTED_PUBLISHERS", &publisher)
            .env("PLAZA_ALLOW_UNSIGNED_MODULES", "true");
        cmd
    };
    util::run(&mut host(&["migrate"]))?;
    util::run(&mut host(&["tenant", "create", DEMO_TENANT, "--name", "Demo tenant", "--if-not-exists"]))?;
    // A demo account owning the demo tenant, and a day-long token for it.
    let mut create_user = host(&[
        "user",
        "create",
        "--email",
        DEMO_EMAIL,
        "--name",
        "Demo admin",
        "--tenant",
        DEMO_TENANT,
        "--roles",
        "owner",
        "--if-not-exists",
    ]);
    create_user.env("PLAZA_USER_PASSWORD", DEMO_PASSWORD);
    util::run(&mut create_user)?;
    // The other demo accounts, one per role the modules define.
    for (email, name, role) in DEMO_ACCOUNTS {
        let mut create = host(&[
            "user",
            "create",
            "--email",
            email,
            "--name",
            name,
            "--tenant",
            DEMO_TENANT,
            "--roles",
            role,
            "--if-not-exists",
        ]);
        create.env("PLAZA_USER_PASSWORD", DEMO_PASSWORD);
        util::run(&mut create)?;
    }
    let token_of = |email: &str| util::capture(&mut host(&["user", "token", "--email", email, "--ttl-secs", "86400"]));
    let user_token = token_of(DEMO_EMAIL)?;
    // The bundled business modules and the example, signed with the dev key,
    // published and enabled for the demo tenant (again on every start: a new
    // version is upgraded to).
    let key_arg = data_dir.join(PUBLISHER_KEY_FILE).display().to_string();
    for module in DEMO_MODULES {
        let wasm = modules_dir.join(format!("{module}.wasm")).display().to_string();
        util::run(&mut host(&["module", "publish", &wasm, "--key", &key_arg, "--skip-existing"]))?;
        util::run(&mut host(&["module", "enable", "--tenant", DEMO_TENANT, module]))?;
    }

    let addr = util::connect_addr(args.listen);
    if util::port_open(addr) {
        bail!("something already listens on {addr}: stop it or pick another address with --listen");
    }
    // From here on xtask has children to stop: a SIGTERM (which, unlike
    // Ctrl-C at a terminal, reaches xtask alone) is passed on to them.
    signal_hook::flag::register(signal_hook::consts::SIGTERM, &TERMINATED).context("cannot handle SIGTERM")?;
    // Dropped on every way out of this function, which stops it.
    let mut tax_mock = TaxMock::start(&tax_mock_binary, args.tax_mock_port)?;
    let mut serve = host(&["serve"]);
    serve.env("PLAZA_LISTEN", args.listen.to_string());
    // Development only: lets modules reach loopback and plain http://, here
    // einvoicing the tax mock. A real deployment must leave it off, or a
    // module could call the host's own network.
    serve.env("PLAZA_MODULE_ALLOW_PRIVATE_HOSTS", "true");
    println!("$ {}", util::display(&serve));
    let mut child = serve.spawn().context("cannot start plaza serve")?;
    if let Err(err) = wait_healthy(&mut child, addr) {
        if stopping() {
            return finish(&mut child, &mut tax_mock);
        }
        // A failed start: do not leave a server behind.
        let _ = child.kill();
        let _ = child.wait();
        return Err(err);
    }
    let authors = demo::Authors {
        admin: demo::Api::new(addr, &user_token),
        producer: demo::Api::new(addr, &token_of("producer@plaza.example")?),
        agency: demo::Api::new(addr, &token_of("agency@plaza.example")?),
        gdi_writer: demo::Api::new(addr, &token_of("escribiente@plaza.example")?),
        secretary: demo::Api::new(addr, &token_of("secretario@plaza.example")?),
        intendente: demo::Api::new(addr, &token_of("intendente@plaza.example")?),
        cashier: demo::Api::new(addr, &token_of("cajero@plaza.example")?),
        storekeeper: demo::Api::new(addr, &token_of("bodeguero@plaza.example")?),
        accountant: demo::Api::new(addr, &token_of("contador@plaza.example")?),
        invoicing: demo::Api::new(addr, &token_of("facturacion@plaza.example")?),
        tenant: DEMO_TENANT,
        tax_mock: &tax_mock.url(),
    };
    let seeded = match demo::seed(&authors) {
        Ok(lines) => lines,
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err.context("seeding the demo tenant failed"));
        }
    };
    print_banner(addr, &tax_mock.url(), &data_dir, &token, &user_token, &seeded);
    finish(&mut child, &mut tax_mock)
}

/// `PLAZA_DATA_DIR` (made absolute against the current directory) or
/// `<workspace>/data`, the binary's own default when run from the root.
fn data_dir() -> Result<PathBuf> {
    match std::env::var_os("PLAZA_DATA_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { Ok(dir) } else { Ok(std::env::current_dir()?.join(dir)) }
        }
        _ => Ok(util::workspace_root().join("data")),
    }
}

/// The token in `<data>/dev-operator-token`, made (32 random bytes, hex,
/// mode 0600) on first use so that it survives restarts.
fn operator_token(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(TOKEN_FILE);
    match fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
    let token = util::random_hex(32)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{token}")?;
    println!("new operator token written to {}", path.display());
    Ok(token)
}

/// The public half of the dev publisher key, made with `plaza keys
/// generate` on first use and kept in the data dir.
fn publisher_key(plaza: &Path, data_dir: &Path) -> Result<String> {
    let public = data_dir.join(PUBLISHER_PUB_FILE);
    let secret = data_dir.join(PUBLISHER_KEY_FILE);
    if let Ok(text) = fs::read_to_string(&public)
        && secret.is_file()
        && !text.trim().is_empty()
    {
        return Ok(text.trim().to_owned());
    }
    let mut generate = Command::new(plaza);
    generate.args(["keys", "generate", "--force", "--out"]).arg(&secret);
    let key = util::capture(&mut generate)?;
    let key = key.lines().map(str::trim).find(|l| l.starts_with("ed25519:")).unwrap_or_default().to_owned();
    if key.is_empty() {
        bail!("plaza keys generate printed no public key");
    }
    fs::write(&public, format!("{key}\n")).with_context(|| format!("cannot write {}", public.display()))?;
    println!("new development publisher key: {key} ({})", secret.display());
    Ok(key)
}

fn wait_healthy(child: &mut Child, addr: SocketAddr) -> Result<()> {
    util::wait_until(
        &format!("plaza at http://{addr}/health"),
        Duration::from_secs(60),
        || matches!(util::http_request(addr, "GET", "/health"), Ok((200, _))),
        || still_starting(child, "plaza serve", "was healthy"),
    )
}

/// While waiting for a child to be ready: an error once it has exited, or
/// once xtask was told to stop.
fn still_starting(child: &mut Child, what: &str, ready: &str) -> Result<()> {
    match child.try_wait() {
        Ok(Some(status)) => bail!("{what} exited before it {ready} ({status})"),
        Ok(None) if TERMINATED.load(Ordering::SeqCst) => bail!("terminated while waiting for {what}"),
        Ok(None) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Set by SIGTERM once the children run (see [`finish`]).
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// Whether xtask was asked to stop, by Ctrl-C or SIGTERM.
fn stopping() -> bool {
    util::interrupted() || TERMINATED.load(Ordering::SeqCst)
}

/// How long the server may take to stop once told before it is killed: its
/// shutdown lets in-flight requests finish, which takes seconds, not this.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits for the server, then stops the mock. Ctrl-C at a terminal reaches
/// both (same process group); a signal sent to xtask alone (`kill`, a
/// process manager, an IDE's stop button) does not, so xtask passes a
/// SIGTERM on to each, which stops the server the same graceful way.
fn finish(child: &mut Child, tax_mock: &mut TaxMock) -> Result<ExitCode> {
    let mut told: Option<Instant> = None;
    let mut mock_gone_reported = false;
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot wait for plaza serve")? {
            break status;
        }
        match told {
            None if stopping() => {
                // A second signal is harmless if the group's Ctrl-C got there
                // first. Only children not yet reaped are signalled, so the
                // pid cannot be another process's by now.
                terminate(child.id());
                if !tax_mock.exited() {
                    terminate(tax_mock.id());
                }
                told = Some(Instant::now());
            }
            Some(at) if at.elapsed() > STOP_TIMEOUT => {
                eprintln!("plaza serve did not stop within {} s: killing it", STOP_TIMEOUT.as_secs());
                let _ = child.kill();
            }
            _ => {}
        }
        if told.is_none() && !mock_gone_reported && tax_mock.exited() {
            // The server goes on; the documents wait for the retry job.
            eprintln!("warning: the tax-authority mock exited: einvoicing cannot reach its SRI until dev restarts");
            mock_gone_reported = true;
        }
        thread::sleep(Duration::from_millis(100));
    };
    println!("plaza stopped");
    if status.success() || matches!(status.signal(), Some(2 | 15)) || stopping() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("plaza serve exited ({status})")
    }
}

/// Sends SIGTERM to a child by pid with `kill(1)` (xtask has no libc
/// binding); a child already gone is no error.
fn terminate(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// The port the tax-authority mock listens on unless told otherwise (the
/// binary's own default), so that the URL in the demo's settings stays the
/// same from one start to the next.
const TAX_MOCK_PORT: u16 = 8089;

/// Builds `plaza-tax-mock` of plaza-testing in the host's profile (one build
/// of plaza's dependencies serves both) and returns the binary's path.
fn build_tax_mock(release: bool) -> Result<PathBuf> {
    let mut build = util::cargo();
    build.args(["build", "-p", "plaza-testing", "--bin", "plaza-tax-mock"]);
    if release {
        build.arg("--release");
    }
    util::run(&mut build)?;
    let profile = if release { "release" } else { "debug" };
    let binary = util::target_dir().join(profile).join("plaza-tax-mock");
    if !binary.is_file() {
        bail!("built, but {} is missing", binary.display());
    }
    Ok(binary)
}

/// The tax-authority mock (`plaza-tax-mock`), which stands in for the SRI
/// and the AEAT so that the demo's invoices are authorized without a
/// network and without sending made-up documents to a real tax authority.
/// Dropping it stops it, so no way out of [`run`] leaves it listening.
struct TaxMock {
    child: Child,
    addr: SocketAddr,
}

impl TaxMock {
    /// Starts the mock on 127.0.0.1: with `localhost`, the one local
    /// address einvoicing's manifest lets it call. `port`: `None` is
    /// [`TAX_MOCK_PORT`], or a free port when that one is taken (a second
    /// `dev`, another service; the demo's settings get whichever URL it
    /// has); an explicit port must be free, `0` picks one.
    fn start(binary: &Path, port: Option<u16>) -> Result<Self> {
        let port = match port {
            None => {
                let default = SocketAddr::from((Ipv4Addr::LOCALHOST, TAX_MOCK_PORT));
                if util::port_open(default) {
                    let free = util::free_port()?;
                    println!("{default} is taken: the tax-authority mock listens on port {free} instead");
                    free
                } else {
                    TAX_MOCK_PORT
                }
            }
            Some(0) => util::free_port()?,
            Some(port) => {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                if util::port_open(addr) {
                    bail!("something already listens on {addr}: stop it or pick another port with --tax-mock-port");
                }
                port
            }
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut cmd = Command::new(binary);
        cmd.arg(addr.to_string()).current_dir(util::workspace_root()).stdin(Stdio::null());
        println!("$ {}", util::display(&cmd));
        let child = cmd.spawn().context("cannot start plaza-tax-mock")?;
        // Owned before the wait, so that a mock that never listens is stopped too.
        let mut mock = Self { child, addr };
        let child = &mut mock.child;
        util::wait_until(
            &format!("the tax-authority mock at http://{addr}"),
            Duration::from_secs(30),
            || util::port_open(addr),
            || still_starting(child, "plaza-tax-mock", "listened"),
        )?;
        Ok(mock)
    }

    /// The base URL: the SRI's services and the AEAT's are below it.
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (or cannot be asked, which counts the same).
    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for TaxMock {
    fn drop(&mut self) {
        // Usually gone already (Ctrl-C, or finish's SIGTERM); it keeps no
        // state worth a graceful stop, so a kill does for the rest.
        if !self.exited() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        println!("tax-authority mock stopped");
    }
}

fn print_banner(addr: SocketAddr, tax_mock: &str, data_dir: &Path, token: &str, user_token: &str, seeded: &[String]) {
    let base = format!("http://{addr}");
    let t = format!("{base}/t/{DEMO_TENANT}");
    let mut rows = vec![
        ("Console", format!("{base}/console  (sign in with an account below)")),
        ("Demo API docs", format!("{t}/docs  (Swagger UI: Authorize with the demo token)")),
        ("Demo token", format!("{user_token}  (Demo admin, 24 h)")),
        ("Blog", format!("{t}/blog/posts  ({t}/blog/feed.xml, {t}/blog/sitemap.xml)")),
        ("Playlists", format!("{t}/playlists/api/playlists  ({t}/playlists/api/channels)")),
        ("GDI", format!("{t}/gdi/documents  ({t}/gdi/expedientes, public: {t}/gdi/verify/{{number}})")),
        ("ERP", format!("{t}/erp/products  ({t}/erp/sales, {t}/erp/reports/tax-summary)")),
        ("E-invoicing", format!("{t}/einvoicing/documents  ({t}/einvoicing/documents/{{id}}/pdf: the RIDE)")),
        ("Mail", format!("{t}/mail/templates  ({t}/mail/sent; sends need PLAZA_SMTP_URL or {t}/mail-settings)")),
        ("Notifications", format!("{t}/notifications/notifications  (live: {t}/stream, server-sent events)")),
        ("Documents", format!("{t}/documents/documents  ({t}/documents/search?q=presupuesto)")),
        ("Hello", format!("{t}/hello/")),
        ("Host API docs", format!("{base}/docs")),
        ("OpenAPI", format!("{t}/openapi.json  (host: {base}/openapi.json)")),
        ("Health", format!("{base}/health")),
        ("Metrics", format!("{base}/metrics")),
        ("Registry", format!("{base}/api/v1/registry/modules")),
        ("Tax mock", format!("{tax_mock}  (SRI + AEAT stand-in: received, authorized, correct)")),
        ("Data dir", data_dir.display().to_string()),
        ("Operator token", token.to_owned()),
        ("Accounts", format!("{DEMO_EMAIL} (owner), password {DEMO_PASSWORD}")),
    ];
    for (email, _, role) in DEMO_ACCOUNTS {
        rows.push(("", format!("{email} ({role}), same password")));
    }
    for line in seeded {
        rows.push(("Seeded", line.clone()));
    }
    let mut lines = vec!["Plaza dev server is running".to_owned(), String::new()];
    lines.extend(rows.iter().map(|(k, v)| format!("{k:<15} {v}")));
    lines.extend([
        String::new(),
        "Try:".to_owned(),
        format!("  export TOKEN={user_token}"),
        format!("  curl -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/auth/me"),
        format!("  curl {t}/blog/posts"),
        format!(
            "  curl -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"title\":\"Mi primer post\",\"content_markdown\":\"Hola **mundo**\"}}' {t}/blog/admin/posts"
        ),
        String::new(),
        "Ctrl-C stops the server.".to_owned(),
    ]);
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let rule = "─".repeat(width + 2);
    let mut out = format!("\n┌{rule}┐\n");
    for line in &lines {
        out.push_str(&format!("│ {line:<width$} │\n"));
    }
    out.push_str(&format!("└{rule}┘\n"));
    print!("{out}");
    let _ = std::io::stdout().flush();
}
