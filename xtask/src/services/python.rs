//! The tests' Python tools from PyPI, in a virtual environment of its own
//! under the target directory, every package pinned:
//! `openapi-python-client`, for the test that generates a Python client from
//! a tenant's OpenAPI document and calls a module with it (with the
//! libraries its clients import), `aiosmtpd`, the SMTP server the mail
//! tests deliver to, and `http_ece` (with `cryptography`), the reference
//! implementation of Web Push encryption the notification tests decrypt
//! with, and `axe-playwright-python` for the axe-core script it carries
//! (`axe.min.js`), which the console's browser tests run in Chromium.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{self, Apt};

/// What the environment holds. Generated clients import `httpx` (below
/// 0.29, as their own metadata says) and `attrs`; dates are parsed with the
/// standard library since 0.27, so `python-dateutil` is not needed. A change
/// here rebuilds the environment at the next run.
const REQUIREMENTS: &[&str] = &[
    "openapi-python-client==0.29.1",
    "httpx==0.28.1",
    "attrs==26.1.0",
    "aiosmtpd==1.4.6",
    "http-ece==1.2.1",
    "cryptography==51.0.1",
    "axe-playwright-python==0.1.8",
];

/// What the generated clients and the mail and notification tests import,
/// checked after the install.
const IMPORTS: &str = "import httpx, attrs, aiosmtpd, http_ece, cryptography";

/// The generator and the interpreter to run its clients with.
#[derive(Debug, Clone)]
pub struct OpenapiPythonClient {
    /// The environment's `openapi-python-client` program.
    pub generator: PathBuf,
    /// The environment's `python`, which imports what generated clients need.
    pub python: PathBuf,
}

impl OpenapiPythonClient {
    /// axe-core's `axe.min.js`, from the `axe-playwright-python` package
    /// (found without importing it: it would import Playwright).
    pub fn axe_script(&self) -> Result<PathBuf> {
        let find = "import importlib.util, os; \
                    print(os.path.join(importlib.util.find_spec('axe_playwright_python').submodule_search_locations[0], 'axe.min.js'))";
        let out = util::capture(Command::new(&self.python).args(["-c", find]))?;
        let path = PathBuf::from(out.trim());
        if !path.is_file() {
            bail!("axe-playwright-python has no axe.min.js at {}", path.display());
        }
        Ok(path)
    }
}

impl OpenapiPythonClient {
    fn in_venv(dir: &Path) -> Self {
        let bin = dir.join("bin");
        Self { generator: bin.join("openapi-python-client"), python: bin.join("python") }
    }

    /// Whether both programs start (a venv outlives the interpreter it was
    /// made from, and then its `python` is a dangling link).
    fn works(&self) -> bool {
        succeeds(Command::new(&self.generator).arg("--version"))
            && succeeds(Command::new(&self.python).args(["-c", IMPORTS]))
    }
}

/// Whether `cmd` runs and exits 0 (its output is dropped).
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}

/// The environment: `<target>/python-openapi`.
fn venv_dir() -> PathBuf {
    util::target_dir().join("python-openapi")
}

/// The pinned generator in its environment, created or brought up to date
/// when needed (needs PyPI then; a later run with the same pins does not).
pub fn ensure(apt: &mut Apt) -> Result<OpenapiPythonClient> {
    let dir = venv_dir();
    let tools = OpenapiPythonClient::in_venv(&dir);
    venv(apt, &dir, REQUIREMENTS, &|| tools.works())?;
    Ok(tools)
}

/// A virtual environment at `dir` holding `requirements` (pinned), made or
/// brought up to date when the pins changed or `works` says it is broken.
/// Returns its `python`.
pub fn venv(apt: &mut Apt, dir: &Path, requirements: &[&str], works: &dyn Fn() -> bool) -> Result<PathBuf> {
    let python = dir.join("bin").join("python");
    // Written last, so an interrupted install is redone.
    let stamp = dir.join("plaza-requirements.txt");
    let wanted = format!("{}\n", requirements.join("\n"));
    if fs::read_to_string(&stamp).is_ok_and(|pins| pins == wanted) && works() {
        return Ok(python);
    }
    println!("installing {} from PyPI into {}", requirements.join(" "), dir.display());
    create_venv(apt, dir)?;
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--timeout", "60"]).args(requirements);
    util::run(&mut pip).with_context(|| format!("cannot install {} with pip", requirements.join(" ")))?;
    if !works() {
        bail!("{} is installed in {}, but does not work", requirements.join(" "), dir.display());
    }
    fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(python)
}

/// A fresh venv at `dir` (`--clear` drops a broken or outdated one). Debian's
/// `python3` makes venvs only with `python3-venv`, installed when missing.
fn create_venv(apt: &mut Apt, dir: &Path) -> Result<()> {
    if !succeeds(Command::new("python3").arg("--version")) {
        apt.install(&["python3", "python3-venv"]).context("cannot install python3")?;
    }
    let venv = || {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "venv", "--clear"]).arg(dir);
        cmd
    };
    if util::run(&mut venv()).is_err() {
        println!("retrying after installing python3-venv");
        apt.install(&["python3-venv"]).context("cannot install python3-venv")?;
        util::run(&mut venv()).context("cannot create a Python virtual environment")?;
    }
    Ok(())
}
