//! The layer rule of `docs/architecture.md`, checked on the source.
//!
//! Each folder (or file) of `host/src` sits on one line of the layer table
//! in `docs/architecture.md`; it may use the folders on the lines above it,
//! never those on its own line or below. Inside a folder, its parts may use
//! each other, but not in a cycle. The references read are paths that start
//! with `crate::`, `super::` or `self::` outside comments: `use` lines and
//! paths written out in the code alike.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Where the table sits in the document, between these two lines.
const TABLE_START: &str = "<!-- layers: from the bottom up; a folder may use only the lines above its own -->";
const TABLE_END: &str = "<!-- end of layers -->";

/// One source file: its module path (`["capabilities", "sql", "vet"]`)
/// and its text without comments.
struct Source {
    module: Vec<String>,
    code: String,
}

/// The code of `source`: comments (line, doc and block) removed, and the
/// contents of string and character literals (raw strings included)
/// emptied, so that only code is left to read references from.
fn strip_comments(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        let after_ident = i > 0 && is_ident(chars[i - 1]);
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && !after_ident && (at(i + 1) == '"' || at(i + 1) == '#') {
            // A raw string: r"…", r#"…"#, …
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if at(i + 1 + hashes) != '"' {
                out.push(c);
                i += 1;
                continue;
            }
            i += hashes + 2;
            while i < chars.len() && !(chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#')) {
                i += 1;
            }
            i += hashes + 1;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (at(i + 2) == '\'' || at(i + 1) == '\\') {
            // A character literal ('x', '\n', '\u{1F600}'); a lifetime has no closing quote.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The module paths `code` refers to from module `from`, resolved to
/// absolute paths from the crate root (`super::super::x` included), with
/// `use a::{b, c::{d}}` groups expanded.
fn references(from: &[String], code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let starts_word = i == 0 || !is_ident(bytes[i - 1] as char) && bytes[i - 1] != b':';
        let head = ["crate::", "super::", "self::"].into_iter().find(|h| code[i..].starts_with(h));
        match head {
            Some(head) if starts_word => {
                let base: Vec<String> = match head {
                    "crate::" => Vec::new(),
                    "self::" => from.to_vec(),
                    _ => from[..from.len().saturating_sub(1)].to_vec(),
                };
                let end = path_end(code, i + head.len());
                expand(&base, &code[i + head.len()..end], &mut found);
                i = end;
            }
            _ => i += 1,
        }
    }
    found
}

/// Where the path that starts at `start` ends: after its identifiers,
/// `::` and a balanced `{…}` group.
fn path_end(code: &str, start: usize) -> usize {
    let bytes = code.as_bytes();
    let mut i = start;
    let mut depth = 0usize;
    while i < bytes.len() {
        let c = bytes[i] as char;
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ if depth > 0 => {}
            ':' if code[i..].starts_with("::") => {
                i += 2;
                continue;
            }
            c if is_ident(c) => {}
            _ => break,
        }
        i += 1;
    }
    i
}

/// Adds to `out` each path of `text` (`a::b`, `a::{b, c::d}`, `super::x`)
/// resolved against `base`.
fn expand(base: &[String], text: &str, out: &mut Vec<Vec<String>>) {
    let text = text.trim();
    let (prefix, group) = match text.find('{') {
        Some(at) => (&text[..at], Some(&text[at + 1..text.rfind('}').unwrap_or(text.len())])),
        None => (text, None),
    };
    let mut path = base.to_vec();
    for segment in prefix.split("::").map(str::trim).filter(|s| !s.is_empty()) {
        match segment {
            "super" => {
                path.pop();
            }
            "self" => {}
            name => path.push(name.split_whitespace().next().unwrap_or(name).to_owned()),
        }
    }
    match group {
        None => out.push(path),
        Some(group) => {
            for item in split_top_level(group) {
                let item = item.split(" as ").next().unwrap_or(item).trim();
                if item.is_empty() || item == "*" || item == "self" {
                    out.push(path.clone());
                } else {
                    expand(&path, item, out);
                }
            }
        }
    }
}

/// The comma-separated items of a `{…}` group, nested groups kept whole.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// Every `.rs` file under `dir`, with its module path relative to `src`.
fn sources(src: &Path, dir: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(src, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            out.push(Source { module, code: strip_comments(&fs::read_to_string(&path).unwrap()) });
        }
    }
}

/// The layer table: each folder's line number, from the bottom (0) up.
fn parse_layers(doc: &str) -> BTreeMap<String, usize> {
    let start = doc.find(TABLE_START).expect("the layer table's start marker in docs/architecture.md");
    let end = doc[start..].find(TABLE_END).expect("the layer table's end marker") + start;
    let mut layers = BTreeMap::new();
    let rows = doc[start + TABLE_START.len()..end].lines().filter(|l| l.trim_start().starts_with('|'));
    // Skip the header and its separator row.
    for (level, row) in rows.skip(2).enumerate() {
        let first_cell = row.trim().trim_start_matches('|').split('|').next().unwrap_or_default();
        for name in first_cell.split(',').map(|n| n.trim().trim_matches('`').trim_end_matches('/')) {
            if !name.is_empty() {
                let name = name.trim_end_matches(".rs");
                assert!(layers.insert(name.to_owned(), level).is_none(), "{name} is in the layer table twice");
            }
        }
    }
    layers
}

/// What `lib.rs` re-exports at the crate root (`pub use app::App;`): a
/// reference to `crate::App` is a reference to `app`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for line in lib.lines() {
        if let Some(path) = line.trim().strip_prefix("pub use ").and_then(|p| p.strip_suffix(';')) {
            let parts: Vec<&str> = path.split("::").collect();
            if let (Some(first), Some(last)) = (parts.first(), parts.last()) {
                names.insert(last.to_owned().to_owned(), first.to_owned().to_owned());
            }
        }
    }
    names
}

/// The breaches of the layer rule among `sources`: `(from, to, file)`.
fn layer_breaches(
    sources: &[Source],
    layers: &BTreeMap<String, usize>,
    reexports: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut breaches = BTreeSet::new();
    for source in sources.iter().filter(|s| s.module.first().is_some_and(|m| m != "lib" && m != "main")) {
        let from = &source.module[0];
        let Some(&from_level) = layers.get(from) else {
            breaches.insert(format!("{from} is not in the layer table of docs/architecture.md"));
            continue;
        };
        for path in references(&source.module, &source.code) {
            let Some(first) = path.first() else { continue };
            let to = reexports.get(first).unwrap_or(first);
            if to == from {
                continue;
            }
            if let Some(&to_level) = layers.get(to)
                && to_level >= from_level
            {
                breaches.insert(format!(
                    "{} uses {to}, which is not below {from} in the layer table",
                    source.module.join("/")
                ));
            }
        }
    }
    breaches.into_iter().collect()
}

/// The import cycles between the parts of each folder (`auth/members` ↔
/// `auth/principal`), as lists of parts.
fn cycles_inside_folders(sources: &[Source]) -> Vec<String> {
    let parts: BTreeSet<(String, String)> =
        sources.iter().filter(|s| s.module.len() >= 2).map(|s| (s.module[0].clone(), s.module[1].clone())).collect();
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for source in sources.iter().filter(|s| s.module.len() >= 2) {
        let (folder, part) = (&source.module[0], &source.module[1]);
        for path in references(&source.module, &source.code) {
            if path.len() >= 2
                && &path[0] == folder
                && &path[1] != part
                && parts.contains(&(folder.clone(), path[1].clone()))
            {
                edges.entry((folder.clone(), part.clone())).or_default().insert(path[1].clone());
            }
        }
    }
    let mut cycles = BTreeSet::new();
    for (folder, part) in &parts {
        // Parts reachable from `part`; a cycle when `part` is among them.
        let mut seen = BTreeSet::new();
        let mut queue = vec![part.clone()];
        while let Some(at) = queue.pop() {
            for next in edges.get(&(folder.clone(), at)).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    queue.push(next.clone());
                }
            }
        }
        if seen.contains(part) {
            let mut members: Vec<&String> = seen
                .iter()
                .filter(|other| {
                    // Members of the cycle: reachable, and reaching `part` back.
                    let mut back = BTreeSet::new();
                    let mut queue = vec![(*other).clone()];
                    while let Some(at) = queue.pop() {
                        for next in edges.get(&(folder.clone(), at)).into_iter().flatten() {
                            if back.insert(next.clone()) {
                                queue.push(next.clone());
                            }
                        }
                    }
                    back.contains(part)
                })
                .collect();
            members.sort();
            let names: Vec<String> = members.iter().map(|m| format!("{folder}/{m}")).collect();
            cycles.insert(format!("an import cycle: {}", names.join(" ↔ ")));
        }
    }
    cycles.into_iter().collect()
}

fn host_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn host_folders_use_only_the_layers_below_them() {
    let src = host_dir().join("src");
    let mut all = Vec::new();
    sources(&src, &src, &mut all);
    let doc = fs::read_to_string(host_dir().join("../docs/architecture.md")).unwrap();
    let layers = parse_layers(&doc);
    let reexports = root_reexports(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut problems = layer_breaches(&all, &layers, &reexports);
    problems.extend(cycles_inside_folders(&all));
    assert!(problems.is_empty(), "the layer rule of docs/architecture.md is broken:\n{}", problems.join("\n"));
    // The table names no folder that is gone.
    let folders: BTreeSet<&str> = all.iter().map(|s| s.module[0].as_str()).collect();
    let stale: Vec<&String> = layers.keys().filter(|name| !folders.contains(name.as_str())).collect();
    assert!(stale.is_empty(), "the layer table names folders that do not exist: {stale:?}");
}

fn source(module: &str, code: &str) -> Source {
    Source { module: module.split('/').map(str::to_owned).collect(), code: strip_comments(code) }
}

#[test]
fn the_check_finds_an_upward_use_a_cycle_and_a_missing_folder() {
    let layers = parse_layers(&format!(
        "{TABLE_START}\n| folder | owns |\n| --- | --- |\n| `db/` | rows |\n| `audit.rs`, `jobs/` | logs |\n\
         | `modules/` | modules |\n{TABLE_END}"
    ));
    assert_eq!(layers.get("audit"), Some(&1));
    let reexports = BTreeMap::from([("Modules".to_owned(), "modules".to_owned())]);
    let sources = [
        source("db", "use crate::audit::Actor; // a lower layer using a higher one"),
        source("audit", "fn f() { crate::db::now(); }"),
        source("jobs/runs", "use crate::{db::Db, Modules};"),
        source("jobs/schedule", "use super::runs::Run;"),
        source("jobs/runs/take", "use super::super::schedule::Schedule;"),
        source("modules", "use crate::{audit, jobs::{self, runs}}; // fine: below"),
        source("metrics", "// not in the table"),
        source("audit", "/* crate::modules::x */ const S: &str = \"crate::modules\";"),
    ];
    let breaches = layer_breaches(&sources, &layers, &reexports);
    assert_eq!(
        breaches,
        [
            "db uses audit, which is not below db in the layer table",
            "jobs/runs uses modules, which is not below jobs in the layer table",
            "metrics is not in the layer table of docs/architecture.md",
        ],
        "{breaches:#?}"
    );
    assert_eq!(cycles_inside_folders(&sources), ["an import cycle: jobs/runs ↔ jobs/schedule"]);
}
