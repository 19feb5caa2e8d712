//! The `plaza` command line: serve, migrate, administer tenants, print the spec.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::app::App;
use crate::audit::Actor;
use crate::config::Config;
use crate::db::Db;
use crate::storage::Storage;
use crate::tenancy::{self, TenancyError, TenantStatus};
use crate::{http, server, telemetry};

/// Plaza: a multi-tenant plugin host for business software.
///
/// Settings come from PLAZA_* environment variables and an optional
/// plaza.toml; every one has a working default (SQLite and local files
/// under ./data). See README.md for the table.
#[derive(Parser, Debug)]
#[command(name = "plaza", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: $PLAZA_CONFIG, else ./plaza.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server until SIGTERM or Ctrl-C (applies pending migrations first).
    Serve,
    /// Apply the host's pending database migrations and exit.
    Migrate,
    /// Administer tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Print the host's OpenAPI document (JSON) and exit.
    Openapi,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the keys that sign host-issued tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Modules: the registry, and which tenant runs which.
    #[command(subcommand)]
    Module(ModuleCommand),
}

#[derive(Subcommand, Debug)]
pub enum ModuleCommand {
    /// List the registry's modules (with PLAZA_MODULES_DIR's bundled ones), or a tenant's installs.
    List {
        /// Show this tenant's installs instead.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Publish a module version to the registry (signature from COMPONENT.sig unless given).
    Publish {
        /// The component (.wasm).
        component: PathBuf,
        /// The signature file (default: COMPONENT.sig, when it exists).
        #[arg(long, value_name = "FILE", conflicts_with = "key")]
        signature: Option<PathBuf>,
        /// Sign with this publisher secret key file instead of reading a signature.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Succeed when this name and version are published already (a warning
        /// is printed when the bytes differ: versions are never overwritten).
        #[arg(long)]
        skip_existing: bool,
    },
    /// Yank a published version (no new installs), or restore it with --undo.
    Yank {
        name: String,
        #[arg(value_name = "VERSION")]
        release: String,
        #[arg(long)]
        undo: bool,
    },
    /// Enable a module for a tenant, with its dependencies: namespaces, migrations, install.
    Enable {
        #[arg(long)]
        tenant: String,
        /// Module name.
        name: String,
        /// Version range, e.g. `^1.2` (default: the newest version).
        #[arg(long, value_name = "RANGE")]
        range: Option<String>,
    },
    /// Upgrade a tenant's module (pending migrations in one transaction; nothing changes if one fails).
    Upgrade {
        #[arg(long)]
        tenant: String,
        name: String,
        /// Version range (default: the newest version).
        #[arg(long, value_name = "RANGE")]
        range: Option<String>,
    },
    /// Go back to the version before the last upgrade (when its migrations allow it).
    Rollback {
        #[arg(long)]
        tenant: String,
        name: String,
    },
    /// Disable a module for a tenant (its data is kept).
    Disable {
        #[arg(long)]
        tenant: String,
        name: String,
    },
    /// Delete a module's data for a tenant for good: SQL namespace, blobs, KV, settings.
    Purge {
        #[arg(long)]
        tenant: String,
        name: String,
        /// Required: confirms that the data is to be deleted.
        #[arg(long)]
        yes: bool,
    },
    /// Sign a module component with a publisher key (writes COMPONENT.sig, JSON).
    Sign {
        /// The publisher's secret key file (from `plaza keys generate`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The component (.wasm).
        component: PathBuf,
        /// Where to write the signature (default: COMPONENT.sig).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check a component's signature against trusted publisher keys.
    Verify {
        /// Trusted public keys, comma-separated (default: PLAZA_TRUSTED_PUBLISHERS).
        #[arg(long, env = "PLAZA_TRUSTED_PUBLISHERS", value_name = "KEYS")]
        trusted: String,
        component: PathBuf,
        /// The signature file (default: COMPONENT.sig).
        #[arg(long, value_name = "FILE")]
        signature: Option<PathBuf>,
    },
    /// Set a module's setting (a JSON value) or, with --secret, a secret for a tenant.
    SetConfig {
        #[arg(long)]
        tenant: String,
        name: String,
        key: String,
        /// A JSON value (`'"text"'`, `42`, `{"a":1}`); a secret is any text. Read from stdin when `-`.
        value: String,
        #[arg(long)]
        secret: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password comes from PLAZA_USER_PASSWORD, else a prompt (not echoed), else one line of stdin.
    Create {
        /// Email address (the sign-in name).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Make the account a platform operator (retires a generated bootstrap token).
        #[arg(long)]
        operator: bool,
        /// Also make the account a member of this tenant.
        #[arg(long, requires = "roles")]
        tenant: Option<String>,
        /// Roles in --tenant, comma-separated (e.g. owner or admin,producer).
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Succeed when the account exists (a --tenant membership is still applied).
        #[arg(long)]
        if_not_exists: bool,
    },
    /// Print a fresh access token for an account (development and automation).
    Token {
        /// Email address of the account.
        #[arg(long)]
        email: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List the signing keys (newest first; the first one signs).
    List,
    /// Add a new signing key; older keys keep verifying until their files are removed.
    Rotate,
    /// Make a module publisher's key pair: the secret goes to FILE (mode 0600), the public key to stdout.
    Generate {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Tenant id (slug): 2-63 lowercase letters, digits and hyphens, starting with a letter.
        id: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
        /// Succeed without change when the tenant already exists.
        #[arg(long)]
        if_not_exists: bool,
        /// The database for its module namespaces: `main` or a name from PLAZA_DATABASES.
        #[arg(long, default_value = "main")]
        database: String,
    },
    /// List tenants.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant as JSON.
    Show {
        /// Tenant id.
        id: String,
    },
    /// Suspend a tenant: its routes answer 403, its data is kept.
    Suspend {
        /// Tenant id.
        id: String,
    },
    /// Resume a suspended tenant.
    Resume {
        /// Tenant id.
        id: String,
    },
    /// Delete a tenant with its files (the audit log keeps its history).
    Delete {
        /// Tenant id.
        id: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Openapi = cli.command {
        println!("{}", serde_json::to_string_pretty(&http::spec())?);
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(&config);
    match cli.command {
        Command::Openapi => Ok(()),
        Command::Serve => {
            tracing::info!(config = %config.redacted_summary(), "starting plaza {}", env!("CARGO_PKG_VERSION"));
            let app = App::start(config).await.context("start-up failed")?;
            server::serve_until_signal(app).await.context("server failed")
        }
        Command::Migrate => {
            let db = connect(&config).await?;
            db.migrate().await.context("migration failed")?;
            println!("migrations applied ({})", db.backend().name());
            Ok(())
        }
        Command::Tenant(cmd) => tenant(&config, cmd).await,
        Command::User(cmd) => user(&config, cmd).await,
        Command::Keys(cmd) => keys(&config, cmd),
        Command::Module(cmd) => module(&config, cmd).await,
    }
}

async fn module(config: &Config, cmd: ModuleCommand) -> anyhow::Result<()> {
    let cmd = match cmd {
        ModuleCommand::Sign { key, component, out } => return sign_component(&key, &component, out),
        ModuleCommand::Verify { trusted, component, signature } => {
            return verify_component(&trusted, &component, signature);
        }
        other => other,
    };
    let db = connect(config).await?;
    db.migrate().await.context("migration failed")?;
    let storage = Storage::from_config(config)?;
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::new(2));
    let modules = crate::modules::Modules::start(config, &db, &storage, &metrics).await?;
    let actor = Actor::cli();
    match cmd {
        ModuleCommand::List { tenant: None } => {
            println!("{:<20} {:<12} {:<40} DESCRIPTION", "NAME", "LATEST", "VERSIONS");
            for m in crate::modules::registry::list(&db).await? {
                let latest = m.latest.as_deref().unwrap_or("(yanked)");
                println!("{:<20} {:<12} {:<40} {}", m.name, latest, m.versions.join(", "), m.description);
            }
        }
        ModuleCommand::List { tenant: Some(t) } => {
            tenancy::get(&db, &t).await?;
            println!("{:<20} {:<12} {:<10} {:<12} UPDATED", "MODULE", "VERSION", "STATUS", "PREVIOUS");
            for i in crate::modules::installs::list(&db, &t).await? {
                let previous = i.previous_version.as_deref().unwrap_or("-");
                println!("{:<20} {:<12} {:<10} {:<12} {}", i.module, i.version, i.status, previous, i.updated_at);
            }
        }
        ModuleCommand::Publish { component, signature, key, skip_existing } => {
            let wasm = std::fs::read(&component).with_context(|| format!("cannot read {}", component.display()))?;
            let signature = match (key, signature) {
                (Some(key), _) => {
                    let secret =
                        std::fs::read_to_string(&key).with_context(|| format!("cannot read {}", key.display()))?;
                    Some(plaza_registry::PublisherKey::from_secret_text(&secret)?.sign(&wasm))
                }
                (None, Some(path)) => Some(read_signature(&path)?),
                (None, None) => {
                    let path = signature_path(&component);
                    if path.exists() { Some(read_signature(&path)?) } else { None }
                }
            };
            let v = match modules.publish(wasm, signature, &actor).await {
                Err(crate::modules::ModuleError::VersionExists { name, version, same }) if skip_existing => {
                    if same {
                        println!("{name} {version} is published already");
                    } else {
                        eprintln!(
                            "warning: {name} {version} is published with other bytes; bump the version to publish this build"
                        );
                    }
                    db.close().await;
                    return Ok(());
                }
                other => other?,
            };
            println!(
                "published {} {} (sha256 {}, signed by {})",
                v.name,
                v.version,
                v.sha256,
                v.publisher.as_deref().unwrap_or("nobody: development switch")
            );
        }
        ModuleCommand::Yank { name, release, undo } => {
            let v = crate::modules::registry::set_yanked(&db, &actor, &name, &release, !undo).await?;
            println!("{} {} {}", v.name, v.version, if v.yanked { "yanked" } else { "installable again" });
        }
        ModuleCommand::Enable { tenant, name, range } => {
            let change = modules.enable(&tenant, &name, range.as_deref(), &actor).await?;
            for i in &change.also_enabled {
                println!("dependency {} {} enabled for tenant {}", i.module, i.version, i.tenant);
            }
            let i = &change.install;
            println!("module {} {} enabled for tenant {}", i.module, i.version, i.tenant);
        }
        ModuleCommand::Upgrade { tenant, name, range } => {
            let change = modules.upgrade(&tenant, &name, range.as_deref(), &actor).await?;
            let i = &change.install;
            let applied = change.migrations_applied.get(&name).map(Vec::len).unwrap_or(0);
            println!(
                "module {} upgraded to {} for tenant {} ({applied} migration(s) applied)",
                i.module, i.version, i.tenant
            );
        }
        ModuleCommand::Rollback { tenant, name } => {
            let change = modules.rollback(&tenant, &name, &actor).await?;
            println!("module {} rolled back to {} for tenant {}", name, change.install.version, tenant);
        }
        ModuleCommand::Disable { tenant, name } => {
            modules.disable(&tenant, &name, &actor).await?;
            println!("module {name} disabled for tenant {tenant} (its data is kept)");
        }
        ModuleCommand::Purge { tenant, name, yes } => {
            if !yes {
                anyhow::bail!("purging deletes {name}'s data for tenant {tenant} for good: add --yes to confirm");
            }
            modules.purge(&tenant, &name, &actor).await?;
            println!("module {name} purged for tenant {tenant}: its data is gone");
        }
        // Handled above, without a database.
        ModuleCommand::Sign { .. } | ModuleCommand::Verify { .. } => {}
        ModuleCommand::SetConfig { tenant, name, key, value, secret } => {
            tenancy::get(&db, &tenant).await?;
            let value = if value == "-" {
                let mut v = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut v)?;
                v.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                value
            };
            modules.configure(&tenant, &name, &key, &value, secret, &actor).await?;
            println!("{} {key} of module {name} set for tenant {tenant}", if secret { "secret" } else { "setting" });
        }
    }
    db.close().await;
    Ok(())
}

fn read_signature(path: &std::path::Path) -> anyhow::Result<plaza_registry::PackageSignature> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(plaza_registry::PackageSignature::from_json(&text)?)
}

fn signature_path(component: &std::path::Path) -> PathBuf {
    let mut name = component.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn sign_component(key: &std::path::Path, component: &std::path::Path, out: Option<PathBuf>) -> anyhow::Result<()> {
    let secret = std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let key = plaza_registry::PublisherKey::from_secret_text(&secret)?;
    let wasm = std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let signature = key.sign(&wasm);
    let out = out.unwrap_or_else(|| signature_path(component));
    std::fs::write(&out, signature.to_json()).with_context(|| format!("cannot write {}", out.display()))?;
    println!("signed {} (sha256 {}) as {}", component.display(), signature.sha256, signature.key);
    Ok(())
}

fn verify_component(trusted: &str, component: &std::path::Path, signature: Option<PathBuf>) -> anyhow::Result<()> {
    let trusted = plaza_registry::TrustedKeys::parse(trusted)?;
    if trusted.is_empty() {
        bail!("no trusted publisher keys: pass --trusted or set PLAZA_TRUSTED_PUBLISHERS");
    }
    let wasm = std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let path = signature.unwrap_or_else(|| signature_path(component));
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let signature = plaza_registry::PackageSignature::from_json(&text)?;
    trusted.check(&wasm, &signature)?;
    println!("{}: signed by trusted key {}", component.display(), signature.key);
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if let Ok(p) = std::env::var("PLAZA_USER_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        // Typed by a person: prompt, and do not echo it.
        return rpassword::prompt_password("Password: ").context("reading the password");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn user(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    use crate::auth::{AuthError, accounts, members, tokens};
    let db = connect(config).await?;
    db.migrate().await.context("migration failed")?;
    match cmd {
        UserCommand::Create { email, name, operator, tenant, roles, if_not_exists } => {
            let password = read_password()?;
            let actor = Actor::cli();
            let id = match accounts::create_user(&db, &actor, &email, &password, &name, operator, None).await {
                Ok(id) => {
                    let email = accounts::normalise_email(&email)?;
                    println!("created account {email} ({id}){}", if operator { " as operator" } else { "" });
                    id
                }
                Err(AuthError::Conflict(_)) if if_not_exists => {
                    let email = accounts::normalise_email(&email)?;
                    let row = accounts::find_by_email(&db, &email).await?;
                    println!("account {email} already exists");
                    row.map(|r| r.id).unwrap_or_default()
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(tenant) = tenant {
                crate::auth::principal::validate_roles(&roles)?;
                tenancy::get(&db, &tenant).await?;
                let mut tx = db.begin().await?;
                members::add_in(&mut tx, &actor, &tenant, &id, &roles).await?;
                tx.commit().await?;
                println!("member of {tenant} with roles {}", roles.join(","));
            }
        }
        UserCommand::Token { email, ttl_secs } => {
            let email = accounts::normalise_email(&email)?;
            let row = accounts::find_by_email(&db, &email).await?.with_context(|| format!("no account {email}"))?;
            let identity = crate::auth::Identity::from_config(config)?;
            let token =
                tokens::issue(&identity.keys, &identity.issuer, &row.id, tokens::PURPOSE_ACCESS, &["cli"], ttl_secs)?;
            println!("{token}");
        }
    }
    db.close().await;
    Ok(())
}

fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    use crate::auth::keys::{self, KeyRing};
    match cmd {
        KeysCommand::List => {
            let ring = KeyRing::load_or_create(&config.data_dir)?;
            for key in ring.jwks()["keys"].as_array().into_iter().flatten() {
                println!("{}", key["kid"].as_str().unwrap_or_default());
            }
        }
        KeysCommand::Rotate => {
            let kid = keys::generate(&keys::dir(&config.data_dir))?;
            println!("new signing key {kid}; restart the servers to sign with it (older keys keep verifying)");
        }
        KeysCommand::Generate { out, force } => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let key = plaza_registry::PublisherKey::generate()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).mode(0o600);
            if force {
                options.create(true).truncate(true)
            } else {
                options.create_new(true)
            };
            let mut file = options
                .open(&out)
                .with_context(|| format!("cannot create {} (use --force to replace it)", out.display()))?;
            writeln!(file, "{}", key.secret_text())?;
            eprintln!("secret key written to {}; keep it private", out.display());
            println!("{}", key.public_text());
        }
    }
    Ok(())
}

async fn connect(config: &Config) -> anyhow::Result<Db> {
    let url = config.effective_database_url();
    Db::connect(&url, 2).await.with_context(|| format!("cannot open {}", crate::config::redact_url(&url)))
}

async fn tenant(config: &Config, cmd: TenantCommand) -> anyhow::Result<()> {
    let db = connect(config).await?;
    db.migrate().await.context("migration failed")?;
    let actor = Actor::cli();
    match cmd {
        TenantCommand::Create { id, name, if_not_exists, database } => {
            let name = name.unwrap_or_else(|| id.clone());
            let known = config.database_list()?.iter().any(|(n, _)| *n == database);
            if database != "main" && !known {
                bail!("--database {database}: not in PLAZA_DATABASES");
            }
            match tenancy::create_placed(&db, &actor, &id, &name, &database).await {
                Ok(t) => println!("created tenant {} ({})", t.id, t.name),
                Err(TenancyError::AlreadyExists(_)) if if_not_exists => println!("tenant {id} already exists"),
                Err(e) => return Err(e.into()),
            }
        }
        TenantCommand::List { json } => {
            let mut all = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = tenancy::list(&db, after.as_deref(), 500).await?;
                let done = page.len() < 500;
                after = page.last().map(|t| t.id.clone());
                all.extend(page);
                if done {
                    break;
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<24} {:<10} {:<25} NAME", "ID", "STATUS", "CREATED");
                for t in &all {
                    println!("{:<24} {:<10} {:<25} {}", t.id, t.status.as_str(), t.created_at, t.name);
                }
            }
        }
        TenantCommand::Show { id } => {
            println!("{}", serde_json::to_string_pretty(&tenancy::get(&db, &id).await?)?);
        }
        TenantCommand::Suspend { id } => {
            tenancy::get(&db, &id).await?;
            tenancy::set_status(&db, &actor, &id, TenantStatus::Suspended).await?;
            println!("tenant {id} suspended");
        }
        TenantCommand::Resume { id } => {
            tenancy::get(&db, &id).await?;
            tenancy::set_status(&db, &actor, &id, TenantStatus::Active).await?;
            println!("tenant {id} resumed");
        }
        TenantCommand::Delete { id, yes } => {
            if !yes {
                bail!("deleting tenant {id} removes its files; run again with --yes to confirm");
            }
            let storage = Storage::from_config(config)?;
            tenancy::get(&db, &id).await?;
            let namespaces = crate::capabilities::sql::Namespaces::open(config, db.backend()).await?;
            crate::modules::installs::drop_namespaces(&namespaces, &db, &id).await?;
            tenancy::delete(&db, &storage, &actor, &id).await?;
            println!("tenant {id} deleted");
        }
    }
    db.close().await;
    Ok(())
}

/// An error and its causes on one line, each cause said once (error types
/// that repeat their source in their own message are not repeated again).
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        // clap checks every subcommand's arguments here (a clash with the
        // propagated --version flag would otherwise panic at run time).
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn error_chains_say_each_cause_once() {
        let inner = std::io::Error::other("connection refused");
        let err = anyhow::Error::new(inner).context("database error: connection refused").context("start-up failed");
        assert_eq!(error_chain(&err), "start-up failed: database error: connection refused");
    }
}
