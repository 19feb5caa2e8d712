//! Which versions to enable: a module with a version range, and, through
//! its manifest's dependencies, every module it needs.
//!
//! The rule is simple and predictable: the highest version that is not
//! yanked and matches every range asked of it; a module the tenant already
//! has must match the ranges too (it is not silently upgraded). A
//! dependency cycle, or two ranges no single version meets, is refused
//! with the chain of modules that leads to it. (There is no backtracking
//! search: when the highest version of a module pulls in a conflict, the
//! error says so and the tenant asks for a narrower range.)

use std::collections::BTreeMap;

use semver::{Version, VersionReq};

/// Why a resolution failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("{0:?} is not a semantic version")]
    BadVersion(String),
    #[error("{0:?} is not a version range (e.g. ^1.2, >=1.0, <2)")]
    BadRange(String),
    #[error("module {0:?} is not in the registry")]
    Unknown(String),
    #[error("no version of {module:?} matches {range} (required by {required_by}); published: {published}")]
    NoMatch { module: String, range: String, required_by: String, published: String },
    #[error("dependency cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    #[error("{module:?} {chosen} (wanted by {chosen_by}) does not match {range}, required by {required_by}")]
    Conflict { module: String, chosen: String, chosen_by: String, range: String, required_by: String },
}

#[derive(Debug, Clone)]
struct Candidate {
    version: Version,
    dependencies: Vec<(String, VersionReq)>,
    yanked: bool,
}

/// The published versions of every module, with their dependencies.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    modules: BTreeMap<String, Vec<Candidate>>,
}

impl Catalogue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a published version and its dependencies (`(name, range)`).
    pub fn add(
        &mut self,
        name: &str,
        version: &str,
        dependencies: &[(&str, &str)],
        yanked: bool,
    ) -> Result<(), ResolveError> {
        let version = Version::parse(version).map_err(|_| ResolveError::BadVersion(version.to_owned()))?;
        let dependencies = dependencies
            .iter()
            .map(|(n, r)| Ok(((*n).to_owned(), parse_range(r)?)))
            .collect::<Result<Vec<_>, ResolveError>>()?;
        self.modules.entry(name.to_owned()).or_default().push(Candidate { version, dependencies, yanked });
        Ok(())
    }

    /// Resolves `name` at `range` for a tenant that already runs `installed`.
    pub fn resolve(
        &self,
        name: &str,
        range: &str,
        installed: &BTreeMap<String, Version>,
    ) -> Result<Resolution, ResolveError> {
        let range = parse_range(range)?;
        let mut state = State { catalogue: self, installed, chosen: BTreeMap::new(), order: Vec::new() };
        state.visit(name, &range, "the request", &mut Vec::new())?;
        Ok(Resolution { versions: state.chosen.into_iter().map(|(k, (v, _))| (k, v)).collect(), order: state.order })
    }
}

/// Parses a range; a bare version `1.2.3` means `^1.2.3`, `*` any.
pub fn parse_range(range: &str) -> Result<VersionReq, ResolveError> {
    VersionReq::parse(range.trim()).map_err(|_| ResolveError::BadRange(range.to_owned()))
}

/// The outcome: a version per module, and the order to enable them in
/// (dependencies first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub versions: BTreeMap<String, Version>,
    pub order: Vec<String>,
}

struct State<'a> {
    catalogue: &'a Catalogue,
    installed: &'a BTreeMap<String, Version>,
    /// Module → (version, who asked for it first).
    chosen: BTreeMap<String, (Version, String)>,
    order: Vec<String>,
}

impl State<'_> {
    fn visit(
        &mut self,
        name: &str,
        range: &VersionReq,
        required_by: &str,
        path: &mut Vec<String>,
    ) -> Result<(), ResolveError> {
        if let Some(at) = path.iter().position(|p| p == name) {
            let mut cycle = path[at..].to_vec();
            cycle.push(name.to_owned());
            return Err(ResolveError::Cycle(cycle));
        }
        let conflict = |chosen: &Version, chosen_by: &str| ResolveError::Conflict {
            module: name.to_owned(),
            chosen: chosen.to_string(),
            chosen_by: chosen_by.to_owned(),
            range: range.to_string(),
            required_by: required_by.to_owned(),
        };
        if let Some((version, by)) = self.chosen.get(name) {
            return if range.matches(version) { Ok(()) } else { Err(conflict(version, by)) };
        }
        // The module being enabled may move to a new version; a dependency
        // the tenant already runs must fit as it is.
        if let Some(version) = self.installed.get(name).filter(|_| !path.is_empty()) {
            if !range.matches(version) {
                return Err(conflict(version, "the tenant's installed modules"));
            }
            self.chosen.insert(name.to_owned(), (version.clone(), "installed".into()));
            return Ok(());
        }
        let candidates = self.catalogue.modules.get(name).ok_or_else(|| ResolveError::Unknown(name.to_owned()))?;
        let best = candidates
            .iter()
            .filter(|c| !c.yanked && range.matches(&c.version))
            .max_by(|a, b| a.version.cmp(&b.version))
            .ok_or_else(|| ResolveError::NoMatch {
                module: name.to_owned(),
                range: range.to_string(),
                required_by: required_by.to_owned(),
                published: published(candidates),
            })?;
        self.chosen.insert(name.to_owned(), (best.version.clone(), required_by.to_owned()));
        path.push(name.to_owned());
        let who = format!("{name} {}", best.version);
        for (dep, dep_range) in &best.dependencies {
            self.visit(dep, dep_range, &who, path)?;
        }
        path.pop();
        self.order.push(name.to_owned());
        Ok(())
    }
}

fn published(candidates: &[Candidate]) -> String {
    let mut versions: Vec<&Candidate> = candidates.iter().collect();
    versions.sort_by(|a, b| a.version.cmp(&b.version));
    let list: Vec<String> = versions
        .iter()
        .map(|c| if c.yanked { format!("{} (yanked)", c.version) } else { c.version.to_string() })
        .collect();
    if list.is_empty() { "none".into() } else { list.join(", ") }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn catalogue() -> Catalogue {
        let mut c = Catalogue::new();
        c.add("base", "1.0.0", &[], false).unwrap();
        c.add("base", "1.4.0", &[], false).unwrap();
        c.add("base", "2.0.0", &[], false).unwrap();
        c.add("blog", "1.0.0", &[("base", "^1.0")], false).unwrap();
        c.add("blog", "1.1.0", &[("base", "^1.2")], false).unwrap();
        c.add("blog", "1.2.0", &[("base", "^1.2")], true).unwrap();
        c.add("shop", "1.0.0", &[("base", "^2")], false).unwrap();
        c.add("site", "1.0.0", &[("blog", "^1"), ("shop", "^1")], false).unwrap();
        c.add("a", "1.0.0", &[("b", "*")], false).unwrap();
        c.add("b", "1.0.0", &[("c", "*")], false).unwrap();
        c.add("c", "1.0.0", &[("a", "^1")], false).unwrap();
        c
    }

    #[test]
    fn picks_the_highest_unyanked_matching_versions_dependencies_first() {
        let r = catalogue().resolve("blog", "^1", &BTreeMap::new()).unwrap();
        assert_eq!(r.versions["blog"], v("1.1.0"), "1.2.0 is yanked");
        assert_eq!(r.versions["base"], v("1.4.0"), "the highest 1.x ≥ 1.2");
        assert_eq!(r.order, ["base", "blog"]);
    }

    #[test]
    fn an_installed_dependency_must_fit_and_is_not_upgraded() {
        let installed = BTreeMap::from([("base".to_owned(), v("1.0.0"))]);
        let err = catalogue().resolve("blog", "=1.1.0", &installed).unwrap_err();
        assert!(matches!(err, ResolveError::Conflict { ref module, .. } if module == "base"), "{err}");
        let r = catalogue().resolve("blog", "=1.0.0", &installed).unwrap();
        assert_eq!(r.versions["base"], v("1.0.0"));
    }

    #[test]
    fn cycles_and_conflicts_are_refused_with_their_chain() {
        let err = catalogue().resolve("a", "*", &BTreeMap::new()).unwrap_err();
        assert_eq!(err, ResolveError::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
        assert_eq!(err.to_string(), "dependency cycle: a → b → c → a");
        let err = catalogue().resolve("site", "*", &BTreeMap::new()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"base\" 1.4.0") && text.contains("^2") && text.contains("shop 1.0.0"), "{text}");
    }

    #[test]
    fn unknown_modules_ranges_and_versions_are_clear_errors() {
        let c = catalogue();
        assert_eq!(c.resolve("nope", "*", &BTreeMap::new()).unwrap_err(), ResolveError::Unknown("nope".into()));
        assert_eq!(c.resolve("blog", "one", &BTreeMap::new()).unwrap_err(), ResolveError::BadRange("one".into()));
        let err = c.resolve("blog", "^3", &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("published: 1.0.0, 1.1.0, 1.2.0 (yanked)"), "{err}");
        assert!(Catalogue::new().add("x", "1.0", &[], false).is_err());
    }
}
