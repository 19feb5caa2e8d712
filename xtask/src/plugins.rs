//! `cargo xtask plugins`: builds the modules under `plugins/` (their own
//! Cargo workspace) as WebAssembly components.
//!
//! - The bundled modules are copied to `target/modules/<name>.wasm`, the
//!   directory the dev server (`PLAZA_MODULES_DIR`) and the host's tests load
//!   modules from.
//! - Packages for the registry's tests, which need other releases of a module
//!   and modules with dependencies, are built from the same crates with Cargo
//!   features (see [`PACKAGES`]) and copied to
//!   `target/packages/<module>-<version>.wasm`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::util::{self, WASM_TARGET};

/// What every component starts with: the `\0asm` magic, then version 0x0d
/// and layer 1 (a core module has version 1, layer 0).
const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Crates under `plugins/` that only build packages: never bundled.
const NOT_BUNDLED: &[&str] = &["deptest", "eventtest"];

/// One package for the registry's tests: a module release built from a crate
/// with Cargo features.
struct Package {
    /// The crate under `plugins/`.
    crate_name: &'static str,
    /// Its features, comma separated; its default features are turned off.
    features: &'static str,
    /// The module name and version its manifest declares, which name the file.
    module: &'static str,
    version: &'static str,
}

/// Every package, built in this order.
const PACKAGES: &[Package] = &[
    // Upgrades of the bundled `hello` (1.0.0): one that adds a migration,
    // one whose new migration fails.
    Package { crate_name: "hello", features: "v1_1", module: "hello", version: "1.1.0" },
    Package { crate_name: "hello", features: "broken", module: "hello", version: "1.2.0" },
    // Dependencies: `greetbook` needs `hello`; `ping` and `pong` need each other.
    Package { crate_name: "deptest", features: "greetbook", module: "greetbook", version: "1.0.0" },
    Package { crate_name: "deptest", features: "ping", module: "ping", version: "1.0.0" },
    Package { crate_name: "deptest", features: "pong", module: "pong", version: "1.0.0" },
    // Jobs and events: a publisher, a subscriber and its fix, a ticker.
    Package { crate_name: "eventtest", features: "publisher", module: "publisher", version: "1.0.0" },
    Package { crate_name: "eventtest", features: "subscriber", module: "subscriber", version: "1.0.0" },
    Package { crate_name: "eventtest", features: "subscriber_fixed", module: "subscriber", version: "1.1.0" },
    Package { crate_name: "eventtest", features: "ticker", module: "ticker", version: "1.0.0" },
    // The next patch release of the bundled `blog` (1.0.0), the same code:
    // `cargo xtask bench` upgrades to it under load.
    Package { crate_name: "blog", features: "next", module: "blog", version: "1.0.1" },
];

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

/// Where the packages for the registry's tests are collected: `<target>/packages`.
pub fn packages_dir() -> PathBuf {
    util::target_dir().join("packages")
}

/// The one target tree of the modules: `<target>/plugins`, beside the host's.
fn plugins_target_dir() -> PathBuf {
    util::target_dir().join("plugins")
}

/// `cargo` run in `plugins/`, so that its `.cargo/config.toml` applies too.
fn plugins_cargo() -> std::process::Command {
    let mut cmd = util::cargo();
    cmd.current_dir(plugins_dir());
    cmd
}

/// A `cargo <subcommand> --release --target wasm32-wasip2` in the modules'
/// target tree.
fn plugins_cargo_release(subcommand: &str) -> std::process::Command {
    let mut cmd = plugins_cargo();
    cmd.args([subcommand, "--release", "--target", WASM_TARGET, "--target-dir"]).arg(plugins_target_dir());
    cmd
}

/// The component cargo last built from `crate_name`.
fn built_wasm(crate_name: &str) -> PathBuf {
    plugins_target_dir().join(WASM_TARGET).join("release").join(format!("{}.wasm", crate_name.replace('-', "_")))
}

/// Checks `wasm` is a component and copies it to `dest`.
fn collect(wasm: &Path, dest: &Path) -> Result<u64> {
    check_component(wasm)?;
    fs::copy(wasm, dest).with_context(|| format!("cannot copy {} to {}", wasm.display(), dest.display()))
}

/// Builds the bundled modules into [`modules_dir`], then the packages into
/// [`packages_dir`].
pub fn build() -> Result<Vec<Built>> {
    let modules = build_modules()?;
    build_packages()?;
    Ok(modules)
}

/// Builds every module in release for `wasm32-wasip2`, checks each output
/// is a component and copies the bundled ones to [`modules_dir`].
pub fn build_modules() -> Result<Vec<Built>> {
    println!("==> bundled modules ({WASM_TARGET})");
    util::ensure_wasm_target()?;
    util::run(&mut plugins_cargo_release("build"))?;

    let modules = modules_dir();
    fs::create_dir_all(&modules).with_context(|| format!("cannot create {}", modules.display()))?;
    let mut built = Vec::new();
    for package in cdylib_packages()? {
        if NOT_BUNDLED.contains(&package.as_str()) {
            continue;
        }
        let dest = modules.join(format!("{package}.wasm"));
        let size = collect(&built_wasm(&package), &dest)?;
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

/// Builds the entry of [`PACKAGES`] for `module` at `version` alone; the
/// path of its package.
pub fn build_package(module: &str, version: &str) -> Result<PathBuf> {
    let p = PACKAGES
        .iter()
        .find(|p| p.module == module && p.version == version)
        .with_context(|| format!("no package {module} {version} is defined"))?;
    util::ensure_wasm_target()?;
    let packages = packages_dir();
    fs::create_dir_all(&packages).with_context(|| format!("cannot create {}", packages.display()))?;
    util::run(plugins_cargo_release("build").args(["--package", p.crate_name]).args(feature_args(p.features)))?;
    let dest = packages.join(format!("{}-{}.wasm", p.module, p.version));
    collect(&built_wasm(p.crate_name), &dest)?;
    Ok(dest)
}

/// Builds every entry of [`PACKAGES`] and copies it to [`packages_dir`] as
/// `<module>-<version>.wasm`.
///
/// The builds share the modules' target tree, so only the crate itself is
/// recompiled; but builds of one crate write the same output file, so each
/// is copied before the next starts.
pub fn build_packages() -> Result<Vec<Built>> {
    println!("==> module packages for the registry's tests ({WASM_TARGET})");
    util::ensure_wasm_target()?;
    let packages = packages_dir();
    fs::create_dir_all(&packages).with_context(|| format!("cannot create {}", packages.display()))?;
    let mut built = Vec::new();
    for p in PACKAGES {
        util::run(plugins_cargo_release("build").args(["--package", p.crate_name]).args(feature_args(p.features)))?;
        let name = format!("{}-{}", p.module, p.version);
        let dest = packages.join(format!("{name}.wasm"));
        let size = collect(&built_wasm(p.crate_name), &dest)?;
        built.push(Built { name, path: dest, size });
    }
    for b in &built {
        println!("package {:<16} {:>10}  {}", b.name, format_size(b.size), b.path.display());
    }
    Ok(built)
}

/// Exactly `features`, without the crate's defaults (`deptest`'s are exclusive).
fn feature_args(features: &str) -> [&str; 3] {
    ["--no-default-features", "--features", features]
}

/// `cargo fmt --check` and clippy (warnings denied) on the modules, for
/// the lint pass: the workspace as it builds by default, then each package's
/// features (code behind a feature is only linted when it is on).
/// `cargo test` of every module's unit tests, built for this machine rather
/// than for wasm (a component cannot run a test harness; the logic the
/// tests cover compiles natively, and host calls are never reached).
pub fn unit_tests_command() -> Result<std::process::Command> {
    let rustc = util::capture(std::process::Command::new("rustc").arg("-vV"))?;
    let triple =
        rustc.lines().find_map(|l| l.strip_prefix("host: ")).context("`rustc -vV` names no host triple")?.to_owned();
    let mut cmd = plugins_cargo();
    cmd.args(["test", "--workspace", "--target", &triple, "--target-dir"]).arg(plugins_target_dir());
    Ok(cmd)
}

pub fn lint() -> Result<()> {
    util::ensure_wasm_target()?;
    util::run(plugins_cargo().args(["fmt", "--all", "--", "--check"]))?;
    util::run(plugins_cargo_release("clippy").args(["--", "-D", "warnings"]))?;
    for p in PACKAGES {
        util::run(
            plugins_cargo_release("clippy")
                .args(["--package", p.crate_name])
                .args(feature_args(p.features))
                .args(["--", "-D", "warnings"]),
        )?;
    }
    Ok(())
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
    fn packages_come_from_module_crates() {
        let crates = cdylib_packages().unwrap();
        for name in PACKAGES.iter().map(|p| p.crate_name).chain(NOT_BUNDLED.iter().copied()) {
            assert!(crates.iter().any(|c| c == name), "no module crate `{name}` under plugins/");
        }
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
