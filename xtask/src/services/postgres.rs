//! A private PostgreSQL cluster: Debian's server binaries, a temporary data
//! directory, a free port on 127.0.0.1, trust authentication, no fsync.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{self, Apt};

/// Where the server binaries (`initdb`, `pg_ctl`, `postgres`) are.
#[derive(Debug, Clone)]
pub struct PgInstall {
    pub bin_dir: PathBuf,
    /// The major version, e.g. "15" (empty when found on `PATH`).
    pub version: String,
}

impl PgInstall {
    pub fn label(&self) -> String {
        if self.version.is_empty() { "PostgreSQL".to_owned() } else { format!("PostgreSQL {}", self.version) }
    }
}

/// `/usr/lib/postgresql/<N>/bin` with the highest N that has `initdb`,
/// else the directory of an `initdb` on `PATH`.
pub fn find() -> Option<PgInstall> {
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.flatten() {
            let Some(version) = entry.file_name().to_str().and_then(|v| v.parse::<u32>().ok()) else {
                continue;
            };
            let bin_dir = entry.path().join("bin");
            if bin_dir.join("initdb").is_file() && best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, bin_dir));
            }
        }
    }
    if let Some((version, bin_dir)) = best {
        return Some(PgInstall { bin_dir, version: version.to_string() });
    }
    let initdb = util::find_in_path("initdb")?;
    Some(PgInstall { bin_dir: initdb.parent()?.to_path_buf(), version: String::new() })
}

/// Finds the server binaries, installing Debian's `postgresql` when we are
/// root and they are missing.
pub fn ensure(apt: &mut Apt) -> Result<PgInstall> {
    if let Some(install) = find() {
        return Ok(install);
    }
    println!("PostgreSQL server binaries not found: installing Debian's postgresql");
    apt.install(&["postgresql"]).context("cannot install the PostgreSQL server")?;
    find().context("postgresql is installed but no initdb was found under /usr/lib/postgresql")
}

/// A running private cluster. Dropping it stops the server and removes
/// its directory.
#[derive(Debug)]
pub struct PgCluster {
    install: PgInstall,
    /// Temporary root: holds `data/`, the log and the Unix socket.
    dir: PathBuf,
    port: u16,
    /// initdb and postgres refuse to run as root: run them as `postgres`.
    as_postgres: bool,
    started: bool,
}

impl PgCluster {
    pub fn start(install: &PgInstall) -> Result<Self> {
        let as_postgres = util::is_root();
        let base = std::env::temp_dir();
        let dir = util::make_temp_dir(&base, "plaza-pg-")?;
        // From here on, dropping `cluster` cleans up whatever was made.
        let mut cluster =
            PgCluster { install: install.clone(), dir, port: util::free_port()?, as_postgres, started: false };
        if as_postgres {
            util::run(Command::new("chown").arg("postgres:postgres").arg(&cluster.dir))
                .context("cannot give the cluster directory to user postgres (is the postgresql package installed?)")?;
            let mut probe = cluster.command(Path::new("test"));
            probe.arg("-w").arg(&cluster.dir);
            if util::capture(&mut probe).is_err() {
                bail!(
                    "user postgres cannot write to {}: set TMPDIR to a directory it can reach (e.g. /tmp)",
                    cluster.dir.display()
                );
            }
        }

        let data = cluster.data_dir();
        let mut initdb = cluster.command(&install.bin_dir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            // Bytewise collation, like SQLite's default; no fsync at init.
            .args(["--no-locale", "--no-sync"]);
        println!("$ {}", util::display(&initdb));
        util::capture(&mut initdb).context("initdb failed")?;

        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            cluster.port,
            cluster.dir.display()
        );
        let mut start = cluster.command(&install.bin_dir.join("pg_ctl"));
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.log_file())
            .arg("-o")
            .arg(options)
            .args(["-w", "-t", "60", "start"]);
        println!("$ {}", util::display(&start));
        // Mark as started before trying: a half-started server is stopped on drop.
        cluster.started = true;
        if let Err(err) = util::capture(&mut start) {
            bail!(
                "PostgreSQL did not start: {err:#}\n--- {} ---\n{}",
                cluster.log_file().display(),
                util::tail(&cluster.log_file(), 30)
            );
        }
        println!("{} running on 127.0.0.1:{} (data in {})", cluster.install.label(), cluster.port, data.display());
        Ok(cluster)
    }

    /// The superuser URL on the `postgres` database; tests create their
    /// own databases from it.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// `program`, run as user postgres when we are root, from a directory
    /// that user can enter.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    fn stop(&mut self) -> Result<()> {
        if !self.started {
            return Ok(());
        }
        self.started = false;
        let mut stop = self.command(&self.install.bin_dir.join("pg_ctl"));
        stop.arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "-t", "60", "stop"]);
        util::capture(&mut stop).map(|_| ())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            // A server that never came up has nothing to stop.
            if self.data_dir().join("postmaster.pid").exists() {
                eprintln!("warning: cannot stop PostgreSQL in {}: {err:#}", self.dir.display());
            }
        }
        if let Err(err) = fs::remove_dir_all(&self.dir) {
            eprintln!("warning: cannot remove {}: {err}", self.dir.display());
        } else {
            println!("PostgreSQL stopped, {} removed", self.dir.display());
        }
    }
}
