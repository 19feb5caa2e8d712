//! `cargo xtask plugins`: builds the bundled modules under `plugins/` (their
//! own Cargo workspace) as WebAssembly components and copies each to
//! `target/modules/<name>.wasm`, the directory the dev server
//! (`PLAZA_MODULES_DIR`) and the host's tests load modules from.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::util::{self, WASM_TARGET};

/// What every component starts with: the `\0asm` magic, then version 0x0d
/// and layer 1 (a core module has version 1, layer 0).
const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// One module built and copied.
#[derive(Debug)]
pub struct Built {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
}

pub fn run() -> Result<ExitCode> {
    build()?;
    Ok(ExitCode::SUCCESS)
}

/// `plugins/` in the workspace.
fn plugins_dir() -> PathBuf {
    util::workspace_root().join("plugins")
}

/// Where the built components are collected: `<target>/modules`.
pub fn modules_dir() -> PathBuf {
    util::target_dir().join("modules")
}

/// `cargo` run in `plugins/`, so that its `.cargo/config.toml` applies too.
fn plugins_cargo() -> std::process::Command {
    let mut cmd = util::cargo();
    cmd.current_dir(plugins_dir());
    cmd
}

/// Builds every module in release for `wasm32-wasip2`, checks each output
/// is a component and copies it to [`modules_dir`].
pub fn build() -> Result<Vec<Built>> {
    println!("==> bundled modules ({WASM_TARGET})");
    util::ensure_wasm_target()?;
    // One target tree for everything: <target>/plugins beside the host's.
    let target_dir = util::target_dir().join("plugins");
    let mut cmd = plugins_cargo();
    cmd.args(["build", "--release", "--target", WASM_TARGET, "--target-dir"]).arg(&target_dir);
    util::run(&mut cmd)?;

    let out_dir = target_dir.join(WASM_TARGET).join("release");
    let modules = modules_dir();
    fs::create_dir_all(&modules).with_context(|| format!("cannot create {}", modules.display()))?;
    let mut built = Vec::new();
    for package in cdylib_packages()? {
        let wasm = out_dir.join(format!("{}.wasm", package.replace('-', "_")));
        check_component(&wasm)?;
        let dest = modules.join(format!("{package}.wasm"));
        fs::copy(&wasm, &dest).with_context(|| format!("cannot copy {} to {}", wasm.display(), dest.display()))?;
        let size = fs::metadata(&dest)?.len();
        built.push(Built { name: package, path: dest, size });
    }
    if built.is_empty() {
        bail!("no module found under {}", plugins_dir().display());
    }
    for b in &built {
        println!("module {:<12} {:>10}  {}", b.name, format_size(b.size), b.path.display());
    }
    Ok(built)
}

/// `cargo fmt --check` and clippy (warnings denied) on the modules, for
/// the lint pass.
pub fn lint() -> Result<()> {
    util::ensure_wasm_target()?;
    let target_dir = util::target_dir().join("plugins");
    util::run(plugins_cargo().args(["fmt", "--all", "--", "--check"]))?;
    util::run(
        plugins_cargo()
            .args(["clippy", "--release", "--target", WASM_TARGET, "--target-dir"])
            .arg(&target_dir)
            .args(["--", "-D", "warnings"]),
    )
}

/// The packages under `plugins/*/` that build a `cdylib` (every module),
/// sorted by name. Read from their manifests with a line scan: they are
/// ours and simple, and xtask keeps no TOML parser.
fn cdylib_packages() -> Result<Vec<String>> {
    let dir = plugins_dir();
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let manifest = entry?.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = fs::read_to_string(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
        if !text.lines().any(|l| l.trim_start().starts_with("crate-type") && l.contains("\"cdylib\"")) {
            continue;
        }
        names.push(package_name(&text).with_context(|| format!("no package name in {}", manifest.display()))?);
    }
    names.sort();
    Ok(names)
}

/// The `name` of the `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

/// Fails unless `path` starts with the component-model preamble.
fn check_component(path: &Path) -> Result<()> {
    let mut head = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .with_context(|| format!("cannot read the first 8 bytes of {}", path.display()))?;
    if head == COMPONENT_PREAMBLE {
        return Ok(());
    }
    let what = if head[..4] == COMPONENT_PREAMBLE[..4] && head[4..] == [1, 0, 0, 0] {
        "a core WebAssembly module, not a component (was it built for wasm32-wasip1?)"
    } else if head[..4] == COMPONENT_PREAMBLE[..4] {
        "WebAssembly of an unknown version/layer"
    } else {
        "not WebAssembly"
    };
    bail!(
        "{} is {what}: its first bytes are {head:02x?}, a component starts with {COMPONENT_PREAMBLE:02x?}",
        path.display()
    )
}

fn format_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 { format!("{:.1} MiB", b / (1024.0 * 1024.0)) } else { format!("{:.1} KiB", b / 1024.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_package_name() {
        let manifest =
            "[workspace]\nname = \"no\"\n[package]\nname = \"hello\"\nversion = \"1.0.0\"\n[lib]\nname = \"x\"\n";
        assert_eq!(package_name(manifest).as_deref(), Some("hello"));
        assert_eq!(package_name("[lib]\nname = \"x\"\n"), None);
    }

    #[test]
    fn tells_components_from_core_modules() {
        let dir = std::env::temp_dir().join(format!("plaza-xtask-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let component = dir.join("c.wasm");
        fs::write(&component, [&COMPONENT_PREAMBLE[..], b"rest"].concat()).unwrap();
        check_component(&component).unwrap();
        let core = dir.join("m.wasm");
        fs::write(&core, b"\0asm\x01\0\0\0rest").unwrap();
        let err = check_component(&core).unwrap_err().to_string();
        assert!(err.contains("core WebAssembly module"), "{err}");
        fs::write(&core, b"short").unwrap();
        assert!(check_component(&core).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
