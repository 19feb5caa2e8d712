//! `cargo xtask walkthrough`: proves the module authors' guide
//! (`docs/module-authors.md`) right by doing what it says.
//!
//! The guide's example project is written as fenced code blocks whose info
//! string names a file, e.g. ```` ```toml file=Cargo.toml ```` or
//! ```` ```rust file=src/lib.rs ````; every file of the project is in exactly
//! one such block. This command writes those blocks to
//! `<target>/walkthrough/<package>/` (emptied first), checks their
//! formatting (`cargo fmt --check`), builds the component
//! (`cargo build --release --target wasm32-wasip2`) and runs the project's
//! own tests natively (`cargo test`), which load the component through
//! plaza-testing.
//!
//! # Paths to Plaza
//!
//! The guide assumes the reader's project sits next to a Plaza checkout
//! named `plaza`, so its `Cargo.toml` says `path = "../plaza/sdk"` and
//! `path = "../plaza/testing"`. Those strings (quoted, exactly) are
//! rewritten to this repository's absolute `sdk/` and `testing/`; either
//! one missing is an error, so the guide and this tool cannot drift apart
//! silently. The test finds the component through `<PACKAGE>_WASM`
//! (`GREETER_WASM`), which is set to the component built here.
//!
//! # Reusing what is already built
//!
//! The component is built into `<target>/plugins`, the directory of
//! `cargo xtask plugins`, with the guide's release profile (the same as
//! `plugins/Cargo.toml`'s) and the root `Cargo.lock` (whose versions of the
//! SDK's dependencies are those of `plugins/Cargo.lock`): only the SDK and
//! the module compile.
//!
//! The tests are built into the root target directory so that the host's
//! dependencies (wasmtime, sqlx, …) compiled by the workspace's own tests
//! are reused. Cargo reuses a compiled crate only when its version,
//! features and profile are the same, so the generated `Cargo.toml` gets,
//! after the guide's text (which stays readable for authors):
//!
//! - an empty `[workspace]`: the project lives under `target/`, inside
//!   the Plaza workspace's directory, but is not one of its members;
//! - the root `Cargo.toml`'s `[profile.dev…]` sections, and for the Plaza
//!   crates it reaches by path (`plaza`, `plaza-sdk`, `plaza-testing`),
//!   which are workspace members at the root but plain dependencies here,
//!   an override back to the dev defaults the root builds them with;
//! - every registry dependency and dev-dependency of every root workspace
//!   member (one line per package, their features merged), as native
//!   dev-dependencies. `cargo test --workspace` unifies the features of
//!   all of them (the host's dev-dependency on wasmtime adds `wat`, for
//!   one); without the same set here, wasmtime and everything above it
//!   would be compiled a second time with other features. They are built
//!   already, so they cost nothing.
//!
//! And the root `Cargo.lock` is copied in (Cargo drops what the project
//! does not use), so every version is the one the root built.
//!
//! Two things are compiled once more for the project, and then stay fresh
//! across runs unless their sources change: the Plaza crates themselves
//! (`plaza`, `plaza-sdk`, `plaza-testing`: Cargo keys a path dependency's
//! artefacts by its path relative to the workspace root, which differs),
//! and `schemars`, whose `default` feature the guide's plain
//! `schemars = "1"` turns on natively while the workspace (the SDK takes
//! it without default features) does not. Nothing else: on a warm tree the
//! whole walkthrough is the module compiled twice and its tests run.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{self, WASM_TARGET};

/// The guide, relative to the workspace root.
const GUIDE: &str = "docs/module-authors.md";

/// Relative paths in the guide's `Cargo.toml` and the root directories
/// they stand for.
const PLAZA_PATHS: [(&str, &str); 2] = [("../plaza/sdk", "sdk"), ("../plaza/testing", "testing")];

pub fn run() -> Result<ExitCode> {
    check(&mut |cmd| util::run(cmd))?;
    Ok(ExitCode::SUCCESS)
}

/// Extracts, builds and tests the guide's project; `run_tests` runs the
/// `cargo test` command (plainly, or counting results for `xtask test`).
pub fn check(run_tests: &mut dyn FnMut(&mut Command) -> Result<()>) -> Result<()> {
    let started = Instant::now();
    let root = util::workspace_root();
    let guide = root.join(GUIDE);
    println!("==> walkthrough of {GUIDE}");
    let text = fs::read_to_string(&guide).with_context(|| format!("cannot read {}", guide.display()))?;
    let files = extract(&text).with_context(|| format!("in {}", guide.display()))?;
    let manifest = files
        .iter()
        .find(|f| f.path == Path::new("Cargo.toml"))
        .with_context(|| format!("{GUIDE} has no ```toml file=Cargo.toml block"))?;
    let package = package_name(&manifest.text).context("the guide's Cargo.toml has no package name")?;
    if package.is_empty() || !package.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        bail!("the guide's package name {package:?} is not a crate name");
    }

    let project = util::target_dir().join("walkthrough").join(&package);
    if project.exists() {
        fs::remove_dir_all(&project).with_context(|| format!("cannot empty {}", project.display()))?;
    }
    for file in &files {
        let text =
            if file.path == Path::new("Cargo.toml") { patch_manifest(&file.text, root)? } else { file.text.clone() };
        let dest = project.join(&file.path);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fs::write(&dest, text).with_context(|| format!("cannot write {}", dest.display()))?;
    }
    let lock = root.join("Cargo.lock");
    fs::copy(&lock, project.join("Cargo.lock")).with_context(|| format!("cannot copy {}", lock.display()))?;
    println!("{} files of {GUIDE} written to {}", files.len(), project.display());

    // The guide's code as rustfmt leaves it (the project has its rustfmt.toml).
    util::run(util::cargo().current_dir(&project).args(["fmt", "--", "--check"]))?;

    // (a) The component, beside the bundled modules' (`cargo xtask plugins`).
    util::ensure_wasm_target()?;
    let plugins_target = util::target_dir().join("plugins");
    let mut build = util::cargo();
    build
        .current_dir(&project)
        .args(["build", "--release", "--target", WASM_TARGET, "--target-dir"])
        .arg(&plugins_target);
    util::run(&mut build)?;
    let wasm = plugins_target.join(WASM_TARGET).join("release").join(format!("{}.wasm", package.replace('-', "_")));
    check_component(&wasm)?;
    let size = fs::metadata(&wasm)?.len();
    println!("component {} ({:.1} KiB)", wasm.display(), size as f64 / 1024.0);

    // (b) Its tests, natively, in the root target directory.
    let wasm_var = format!("{}_WASM", package.to_ascii_uppercase().replace('-', "_"));
    let mut test = util::cargo();
    test.current_dir(&project).args(["test", "--target-dir"]).arg(util::target_dir()).env(&wasm_var, &wasm);
    run_tests(&mut test)?;

    println!("walkthrough passed in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// One file of the example project, as the guide shows it.
#[derive(Debug, PartialEq, Eq)]
struct File {
    path: PathBuf,
    text: String,
}

/// Every fenced block whose info string has `file=<path>`, in order.
///
/// Fences are CommonMark's: three or more backticks or tildes, closed by
/// at least as many of the same character; the opening fence's
/// indentation is removed from the block's lines (blocks in list items).
/// Paths are relative, without `..`, each used once.
fn extract(markdown: &str) -> Result<Vec<File>> {
    struct Open {
        marker: char,
        len: usize,
        indent: usize,
        line: usize,
        file: Option<PathBuf>,
        text: String,
    }
    let mut files: Vec<File> = Vec::new();
    let mut open: Option<Open> = None;
    for (i, line) in markdown.lines().enumerate() {
        let number = i + 1;
        let indent = line.len() - line.trim_start_matches(' ').len();
        let trimmed = &line[indent..];
        let fence = ['`', '~'].into_iter().find_map(|c| {
            let len = trimmed.len() - trimmed.trim_start_matches(c).len();
            (len >= 3).then_some((c, len))
        });
        if let Some(mut block) = open.take() {
            let closes =
                fence.is_some_and(|(c, len)| c == block.marker && len >= block.len && trimmed[len..].trim().is_empty());
            if !closes {
                // Remove at most the fence's indentation.
                block.text.push_str(&line[indent.min(block.indent)..]);
                block.text.push('\n');
                open = Some(block);
            } else if let Some(path) = block.file {
                if files.iter().any(|f| f.path == path) {
                    bail!("line {}: {} is in two blocks; give each file once", block.line, path.display());
                }
                files.push(File { path, text: block.text });
            }
            continue;
        }
        let Some((marker, len)) = fence else { continue };
        let info = trimmed[len..].trim();
        let mut file = None;
        for word in info.split_whitespace() {
            if let Some(path) = word.strip_prefix("file=") {
                file = Some(checked_path(path).with_context(|| format!("line {number}"))?);
            }
        }
        open = Some(Open { marker, len, indent, line: number, file, text: String::new() });
    }
    if let Some(block) = open {
        bail!("line {}: a code block is never closed", block.line);
    }
    if files.is_empty() {
        bail!("no ```lang file=<path> block: nothing to build");
    }
    Ok(files)
}

/// A relative path that stays inside the project.
fn checked_path(path: &str) -> Result<PathBuf> {
    let p = PathBuf::from(path.trim_matches('"'));
    let plain = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        bail!("file={path}: give a relative path inside the project, without `..`");
    }
    Ok(p)
}

/// The guide's `Cargo.toml` made to build here: Plaza's paths made
/// absolute, then the settings described in the module documentation.
fn patch_manifest(manifest: &str, root: &Path) -> Result<String> {
    let mut text = manifest.to_owned();
    for (relative, dir) in PLAZA_PATHS {
        let quoted = format!("\"{relative}\"");
        if !text.contains(&quoted) {
            bail!("the guide's Cargo.toml no longer says path = {quoted}: update {GUIDE} or xtask/src/walkthrough.rs");
        }
        text = text.replace(&quoted, &toml_string(&root.join(dir)));
    }
    let root_manifest = read(&root.join("Cargo.toml"))?;
    let mut added = String::from(
        "\n# ---- added by `cargo xtask walkthrough`: build like the Plaza workspace, reuse its artefacts ----\n\
         [workspace]\n",
    );
    for section in sections(&root_manifest, |h| h.starts_with("[profile.dev") || h.starts_with("[profile.test")) {
        let header = section.lines().next().unwrap_or_default();
        if text.lines().any(|l| l.trim() == header) {
            bail!("the guide's Cargo.toml has {header}, which the walkthrough takes from the root Cargo.toml");
        }
        added.push('\n');
        added.push_str(&section);
    }
    let members = workspace_members(root, &root_manifest)?;
    // The Plaza crates this project reaches by path: built here as the root
    // builds its members (dev defaults), not as `package."*"` says.
    for member in reached_by_path(&members, &text) {
        added.push_str(&format!("\n[profile.dev.package.{}]\nopt-level = 0\ndebug = true\n", member.name));
    }
    added.push_str("\n[target.'cfg(not(target_family = \"wasm\"))'.dev-dependencies]\n");
    for line in merged_dependencies(&members) {
        added.push_str(&line);
        added.push('\n');
    }
    text.push_str(&added);
    Ok(text)
}

/// The `name` of the `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let package = sections(manifest, |h| h == "[package]").concat();
    package.lines().find_map(|line| {
        let value = line.trim().strip_prefix("name")?.trim_start().strip_prefix('=')?;
        Some(value.trim().trim_matches('"').to_owned())
    })
}

/// Fails unless `path` is a WebAssembly component (not a core module):
/// `\0asm`, then version 0x0d and layer 1.
fn check_component(path: &Path) -> Result<()> {
    const PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !bytes.starts_with(&PREAMBLE) {
        let head = &bytes[..bytes.len().min(8)];
        bail!("{} is not a component: it starts with {head:02x?}, a component with {PREAMBLE:02x?}", path.display());
    }
    Ok(())
}

/// A TOML basic string.
fn toml_string(path: &Path) -> String {
    let s = path.display().to_string();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The tables whose header line satisfies `wanted`, each with its header
/// and its lines up to the next header.
fn sections(manifest: &str, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            out.extend(current.take());
            if wanted(trimmed) {
                current = Some(String::new());
            }
        }
        if let Some(section) = &mut current {
            section.push_str(line);
            section.push('\n');
        }
    }
    out.extend(current);
    out
}

/// A member of the root workspace.
struct Member {
    dir: PathBuf,
    name: String,
    manifest: String,
}

/// The members listed in `[workspace] members = [...]`, with their manifests.
fn workspace_members(root: &Path, root_manifest: &str) -> Result<Vec<Member>> {
    let workspace = sections(root_manifest, |h| h == "[workspace]").concat();
    let start = workspace.find("members").context("the root Cargo.toml lists no workspace members")?;
    let list = &workspace[start..];
    let (open, close) = (list.find('[').unwrap_or(0), list.find(']').unwrap_or(0));
    if close <= open {
        bail!("cannot read `members = [...]` in the root Cargo.toml");
    }
    let mut members = Vec::new();
    for dir in list[open + 1..close].split(',').map(|s| s.trim().trim_matches('"')).filter(|s| !s.is_empty()) {
        let dir = root.join(dir);
        let manifest = read(&dir.join("Cargo.toml"))?;
        let name = package_name(&manifest)
            .with_context(|| format!("no package name in {}", dir.join("Cargo.toml").display()))?;
        members.push(Member { dir, name, manifest });
    }
    Ok(members)
}

/// The `key = spec` lines of `[dependencies]` and `[dev-dependencies]`
/// that come from a registry (not a path, not inherited, not optional).
/// Members' build-dependencies would need the build-dependency side of
/// the feature resolver and are left out (there are none today).
fn registry_dependencies(manifest: &str) -> Vec<(String, String)> {
    let tables = sections(manifest, |h| h == "[dependencies]" || h == "[dev-dependencies]");
    let mut deps = Vec::new();
    for line in tables.iter().flat_map(|t| t.lines().skip(1)) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, spec)) = line.split_once('=') else { continue };
        let (key, spec) = (key.trim().trim_matches('"'), spec.trim());
        let local = ["path", "workspace", "optional", "package", "git"]
            .iter()
            .any(|word| key.ends_with(&format!(".{word}")) || spec.contains(&format!("{word} =")));
        if local {
            continue;
        }
        let spec = if let Some(rest) = spec.strip_prefix('"') {
            match rest.find('"') {
                Some(end) => format!("\"{}\"", &rest[..end]),
                None => continue,
            }
        } else if spec.starts_with('{') {
            match spec.rfind('}') {
                Some(end) => spec[..=end].to_owned(),
                None => continue,
            }
        } else {
            continue;
        };
        deps.push((key.to_owned(), spec));
    }
    deps
}

/// One dependency line per package for every registry dependency of the
/// members: the first version requirement seen, default features if any
/// member wants them, and the union of the features asked for. (Cargo
/// refuses one package under two names, so the specs are merged rather
/// than renamed.)
fn merged_dependencies(members: &[Member]) -> Vec<String> {
    struct Merged {
        name: String,
        version: String,
        default_features: bool,
        features: Vec<String>,
    }
    let mut merged: Vec<Merged> = Vec::new();
    for (name, spec) in members.iter().flat_map(|m| registry_dependencies(&m.manifest)) {
        let (version, default_features, features) = match spec.strip_prefix('{') {
            None => (spec.clone(), true, Vec::new()),
            Some(_) => {
                let Some(version) = inline_value(&spec, "version") else { continue };
                let default_features = inline_value(&spec, "default-features").is_none_or(|v| v != "false");
                let features = inline_value(&spec, "features")
                    .map(|list| {
                        list.trim_matches(['[', ']'])
                            .split(',')
                            .map(|f| f.trim().to_owned())
                            .filter(|f| !f.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                (version, default_features, features)
            }
        };
        match merged.iter_mut().find(|m| m.name == name) {
            Some(m) => {
                m.default_features |= default_features;
                for f in features {
                    if !m.features.contains(&f) {
                        m.features.push(f);
                    }
                }
            }
            None => merged.push(Merged { name, version, default_features, features }),
        }
    }
    merged
        .into_iter()
        .map(|m| {
            let mut line = format!("{} = {{ version = {}", m.name, m.version);
            if !m.default_features {
                line.push_str(", default-features = false");
            }
            if !m.features.is_empty() {
                line.push_str(&format!(", features = [{}]", m.features.join(", ")));
            }
            line.push_str(" }");
            line
        })
        .collect()
}

/// The raw value of `key` in a one-line inline table (`"1"`, `false`,
/// `["a", "b"]`).
fn inline_value(table: &str, key: &str) -> Option<String> {
    let inner = table.trim().strip_prefix('{')?.strip_suffix('}')?;
    let (mut depth, mut quoted, mut start) = (0_i32, false, 0);
    let mut parts = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// The members that `manifest` reaches through path dependencies, directly
/// or through other members, by their directory.
fn reached_by_path<'a>(members: &'a [Member], manifest: &str) -> Vec<&'a Member> {
    let mut reached: Vec<&Member> = Vec::new();
    let mut queue: Vec<(PathBuf, String)> = vec![(PathBuf::new(), manifest.to_owned())];
    while let Some((dir, text)) = queue.pop() {
        for path in path_dependencies(&text) {
            let target = normalise(&dir.join(path));
            if let Some(m) = members.iter().find(|m| normalise(&m.dir) == target)
                && !reached.iter().any(|r| r.name == m.name)
            {
                reached.push(m);
                queue.push((m.dir.clone(), m.manifest.clone()));
            }
        }
    }
    reached.sort_by(|a, b| a.name.cmp(&b.name));
    reached
}

/// The `path = "…"` values of a manifest.
fn path_dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in manifest.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("path =") {
            rest = &rest[at + "path =".len()..];
            if let Some(value) = rest.trim_start().strip_prefix('"')
                && let Some(end) = value.find('"')
            {
                out.push(value[..end].replace("\\\\", "\\"));
            }
        }
    }
    out
}

/// `a/b/../c` as `a/c`, lexically.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_file_blocks_only() {
        let md = "# Guide\n\n```toml file=Cargo.toml\n[package]\nname = \"x\"\n```\n\n```sh\ncargo build\n```\n\n\
                  - item\n\n  ```rust file=src/lib.rs\n  fn f() {}\n\n  ```\n\n````md\n```rust file=no.rs\n```\n````\n";
        let files = extract(md).unwrap();
        assert_eq!(
            files,
            vec![
                File { path: "Cargo.toml".into(), text: "[package]\nname = \"x\"\n".into() },
                File { path: "src/lib.rs".into(), text: "fn f() {}\n\n".into() },
            ]
        );
    }

    #[test]
    fn refuses_bad_paths_duplicates_and_open_blocks() {
        assert!(extract("```rust file=../x.rs\n```\n").is_err());
        assert!(extract("```rust file=/etc/x\n```\n").is_err());
        assert!(extract("```rust file=a.rs\n```\n```rust file=a.rs\n```\n").is_err());
        assert!(extract("```rust file=a.rs\nfn f() {}\n").is_err());
        assert!(extract("```sh\nls\n```\n").is_err(), "no file block at all");
    }

    #[test]
    fn merges_the_registry_dependencies_of_members() {
        let host = "[package]\nname = \"h\"\n\n[dependencies]\nanyhow = \"1\" # any\n\
                    plaza = { path = \"../host\" }\nserde.workspace = true\n\
                    wasmtime = { version = \"48\", default-features = false, features = [\"std\", \"async\"] }\n\n\
                    [dev-dependencies]\nwasmtime = { version = \"48\", default-features = false, features = [\"wat\"] }\n\
                    tempfile = { version = \"3\", default-features = false }\n\n[lints]\nx = 1\n";
        let testing =
            "[dependencies]\ntempfile = \"3\"\nanyhow = { version = \"1.0.1\", features = [\"backtrace\"] }\n";
        let member = |manifest: &str| Member { dir: PathBuf::new(), name: String::new(), manifest: manifest.into() };
        assert_eq!(
            merged_dependencies(&[member(host), member(testing)]),
            [
                "anyhow = { version = \"1\", features = [\"backtrace\"] }",
                "wasmtime = { version = \"48\", default-features = false, features = [\"std\", \"async\", \"wat\"] }",
                "tempfile = { version = \"3\" }",
            ]
        );
    }

    #[test]
    fn follows_path_dependencies_between_members() {
        let member = |dir: &str, name: &str, manifest: &str| Member {
            dir: PathBuf::from(dir),
            name: name.into(),
            manifest: manifest.into(),
        };
        let members = [
            member("/r/host", "plaza", "[dependencies]\nx = \"1\"\n"),
            member("/r/testing", "plaza-testing", "[dependencies]\nplaza = { path = \"../host\" }\n"),
            member("/r/xtask", "xtask", ""),
        ];
        let guide = "[dev-dependencies]\nplaza-testing = { path = \"/r/testing\" }\n";
        let names: Vec<&str> = reached_by_path(&members, guide).iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["plaza", "plaza-testing"]);
    }

    #[test]
    fn the_guide_extracts_and_its_manifest_patches() {
        let root = util::workspace_root();
        let files = extract(&read(&root.join(GUIDE)).unwrap()).unwrap();
        let manifest = files.iter().find(|f| f.path == Path::new("Cargo.toml")).unwrap();
        let patched = patch_manifest(&manifest.text, root).unwrap();
        assert!(patched.contains(&toml_string(&root.join("sdk"))));
        assert!(patched.contains("[profile.dev.package.plaza]"));
        assert!(patched.contains("\nwasmtime = { version = "));
        for path in ["src/lib.rs", "tests/greeter.rs", "migrations/0001_greetings.sql"] {
            assert!(files.iter().any(|f| f.path == Path::new(path)), "{path} missing");
        }
    }
}
