//! `cargo xtask dev`: the host on SQLite + local files, with a demo tenant
//! and a stable operator token, ready to try from a browser or curl.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::Duration;

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
];
/// The modules the demo tenant has enabled.
const DEMO_MODULES: &[&str] = &["hello", "blog", "playlists", "gdi", "erp"];

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
    let mut serve = host(&["serve"]);
    serve.env("PLAZA_LISTEN", args.listen.to_string());
    println!("$ {}", util::display(&serve));
    let mut child = serve.spawn().context("cannot start plaza serve")?;
    if let Err(err) = wait_healthy(&mut child, addr) {
        if util::interrupted() {
            return finish(&mut child);
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
        tenant: DEMO_TENANT,
    };
    let seeded = match demo::seed(&authors) {
        Ok(lines) => lines,
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err.context("seeding the demo tenant failed"));
        }
    };
    print_banner(addr, &data_dir, &token, &user_token, &seeded);
    finish(&mut child)
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
        || match child.try_wait() {
            Ok(Some(status)) => bail!("plaza serve exited before it was healthy ({status})"),
            Ok(None) => Ok(()),
            Err(err) => Err(err.into()),
        },
    )
}

/// Waits for the server; Ctrl-C reaches it too (same process group).
fn finish(child: &mut Child) -> Result<ExitCode> {
    let status = child.wait().context("cannot wait for plaza serve")?;
    if status.success() || status.signal() == Some(2) || util::interrupted() {
        println!("plaza stopped");
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("plaza serve exited ({status})")
    }
}

fn print_banner(addr: SocketAddr, data_dir: &Path, token: &str, user_token: &str, seeded: &[String]) {
    let base = format!("http://{addr}");
    let t = format!("{base}/t/{DEMO_TENANT}");
    let mut rows = vec![
        ("Demo API docs", format!("{t}/docs  (Swagger UI: Authorize with the demo token)")),
        ("Demo token", format!("{user_token}  (Demo admin, 24 h)")),
        ("Blog", format!("{t}/blog/posts  ({t}/blog/feed.xml, {t}/blog/sitemap.xml)")),
        ("Playlists", format!("{t}/playlists/api/playlists  ({t}/playlists/api/channels)")),
        ("GDI", format!("{t}/gdi/documents  ({t}/gdi/expedientes, public: {t}/gdi/verify/{{number}})")),
        ("ERP", format!("{t}/erp/products  ({t}/erp/sales, {t}/erp/reports/tax-summary)")),
        ("Hello", format!("{t}/hello/")),
        ("Host API docs", format!("{base}/docs")),
        ("OpenAPI", format!("{t}/openapi.json  (host: {base}/openapi.json)")),
        ("Health", format!("{base}/health")),
        ("Metrics", format!("{base}/metrics")),
        ("Registry", format!("{base}/api/v1/registry/modules")),
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
