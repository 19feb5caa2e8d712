//! `plaza-registry`: module packages, publisher signatures and semver
//! dependency resolution, shared by the host and the CLI.
//!
//! Filled in by the registry work (issue #5); until then this crate only
//! holds the workspace's place.
