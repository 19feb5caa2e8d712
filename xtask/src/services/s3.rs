//! An S3-compatible server for the storage tests: moto's server mode from
//! PyPI, on a free port of 127.0.0.1, killed on drop.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::util::{self, Apt};

/// How to start moto's server.
#[derive(Debug, Clone)]
pub enum Moto {
    /// `python3 -m moto.server` (preferred: the interpreter pip installs into).
    Module,
    /// A `moto_server` script on `PATH`.
    Script(PathBuf),
}

impl Moto {
    fn command(&self) -> Command {
        match self {
            Moto::Module => {
                let mut cmd = Command::new("python3");
                cmd.args(["-m", "moto.server"]);
                cmd
            }
            Moto::Script(path) => Command::new(path),
        }
    }
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}

pub fn find() -> Option<Moto> {
    if quiet(Command::new("python3").args(["-c", "import moto.server"])) {
        return Some(Moto::Module);
    }
    // A shim (pyenv) may exist without a working program behind it.
    let script = util::find_in_path("moto_server")?;
    quiet(Command::new(&script).arg("--help")).then_some(Moto::Script(script))
}

/// Finds moto's server, installing `moto[server]` with pip when missing.
pub fn ensure(apt: &mut Apt) -> Result<Moto> {
    if let Some(moto) = find() {
        return Ok(moto);
    }
    println!("moto's server not found: installing moto[server] from PyPI");
    if !quiet(Command::new("python3").args(["-m", "pip", "--version"])) {
        apt.install(&["python3", "python3-pip"]).context("cannot install python3 and pip")?;
    }
    let install = || {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "install", "--quiet", "moto[server]"]);
        cmd
    };
    if util::run(&mut install()).is_err() {
        // Debian's own python3 refuses pip installs outside a venv (PEP 668).
        println!("retrying with --break-system-packages");
        util::run(install().arg("--break-system-packages")).context("cannot install moto[server] with pip")?;
    }
    find().context("moto[server] is installed but neither `python3 -m moto.server` nor moto_server works")
}

/// A running moto server; dropping it kills the server.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl MotoServer {
    pub fn start(moto: &Moto) -> Result<Self> {
        let port = util::free_port()?;
        let log = std::env::temp_dir().join(format!("plaza-moto-{}.log", util::random_hex(6)?));
        let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = moto.command();
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdin(Stdio::null()).stdout(out).stderr(err);
        println!("$ {}", util::display(&cmd));
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_file(&log);
                return Err(e).context("cannot start moto's server");
            }
        };
        let mut server = MotoServer { child, port, log };
        let addr = server.addr();
        let log_tail = server.log.clone();
        let child = &mut server.child;
        util::wait_until(
            "moto's server",
            Duration::from_secs(60),
            || util::port_open(addr),
            || match child.try_wait() {
                Ok(Some(status)) => bail!("moto's server exited ({status}):\n{}", util::tail(&log_tail, 20)),
                Ok(None) => Ok(()),
                Err(e) => Err(e.into()),
            },
        )?;
        println!("moto's S3 server running on {}", server.endpoint());
        Ok(server)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Creates a bucket (moto does not check signatures, so a bare request
    /// does; us-east-1 needs no location body).
    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        let (status, response) = util::http_request(self.addr(), "PUT", &format!("/{bucket}"))
            .with_context(|| format!("cannot create bucket {bucket}"))?;
        if status != 200 {
            bail!("creating bucket {bucket} answered {status}:\n{response}");
        }
        println!("bucket {bucket} created");
        Ok(())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Ctrl-C may have ended it already; killing a reaped child is an error we ignore.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
        println!("moto's server stopped");
    }
}
