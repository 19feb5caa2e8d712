//! `deptest`: test-only modules for the registry's dependency checks. One
//! crate builds several small modules, one per Cargo feature, so the tests
//! get real packages without a crate each:
//!
//! - `greetbook` (default): depends on `hello` ^1, and has a table of its own;
//! - `ping` and `pong`: each depends on the other: a cycle.
//!
//! Every one answers `GET /ping` with `{"module": <name>}`.

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

// The features are exclusive: two of them would build a module that is
// neither, so say so rather than pick one silently.
#[cfg(any(
    all(feature = "greetbook", feature = "ping"),
    all(feature = "greetbook", feature = "pong"),
    all(feature = "ping", feature = "pong"),
))]
compile_error!("enable one of the features greetbook, ping and pong (with --no-default-features for ping or pong)");

/// Every module built here is at its first release.
const VERSION: &str = "1.0.0";

struct DepTest;

impl plaza_sdk::Module for DepTest {
    fn router() -> Router {
        variant::declare(Router::new(variant::NAME, VERSION).description("Test-only: a module with dependencies."))
            .get("/ping", ping)
            .public()
            .summary("Which module answers")
    }
}

plaza_sdk::export!(DepTest);

/// `greetbook` needs `hello`, and a database so that enabling it has a
/// migration to run. It is also what builds with no feature at all.
#[cfg(not(any(feature = "ping", feature = "pong")))]
mod variant {
    use plaza_sdk::prelude::*;

    pub const NAME: &str = "greetbook";

    pub fn declare(router: Router) -> Router {
        router
            .capabilities([Capability::Sql])
            .migration(1, "create entries", "CREATE TABLE entries (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
            .depends_on("hello", "^1")
    }
}

/// `ping` needs `pong`, which needs `ping`.
#[cfg(feature = "ping")]
mod variant {
    use plaza_sdk::prelude::*;

    pub const NAME: &str = "ping";

    pub fn declare(router: Router) -> Router {
        router.depends_on("pong", "^1")
    }
}

/// `pong` needs `ping`, which needs `pong`.
#[cfg(feature = "pong")]
mod variant {
    use plaza_sdk::prelude::*;

    pub const NAME: &str = "pong";

    pub fn declare(router: Router) -> Router {
        router.depends_on("ping", "^1")
    }
}

#[derive(Serialize, JsonSchema)]
struct Pong {
    module: &'static str,
}

fn ping(_req: &Request) -> Result<Json<Pong>, Problem> {
    Ok(Json(Pong { module: variant::NAME }))
}

#[cfg(test)]
mod tests {
    use plaza_sdk::Module as _;

    use super::*;

    /// Each feature builds the module `cargo xtask plugins` names its package after.
    #[test]
    fn the_manifest_names_the_module_and_its_dependency() {
        let manifest = DepTest::router().manifest();
        let (name, needs) = if cfg!(feature = "ping") {
            ("ping", "pong")
        } else if cfg!(feature = "pong") {
            ("pong", "ping")
        } else {
            ("greetbook", "hello")
        };
        assert_eq!((manifest.name.as_str(), manifest.version.as_str()), (name, "1.0.0"));
        let dependencies: Vec<_> =
            manifest.dependencies.iter().map(|d| (d.name.as_str(), d.version_req.as_str())).collect();
        assert_eq!(dependencies, [(needs, "^1")]);
    }
}
