//! `plaza-registry`: module packages, publisher signatures and semver
//! dependency resolution, shared by the host and the CLI.
//!
//! - [`signature`]: publisher keys and the signature of a package (Ed25519
//!   over the SHA-256 of the component), checked against trusted keys.
//! - [`resolve`]: which version of each module to enable, given version
//!   ranges and the modules' own dependencies; cycles and conflicts are
//!   refused with the path that causes them.

pub mod resolve;
pub mod signature;

pub use resolve::{Catalogue, Resolution, ResolveError};
pub use signature::{PackageSignature, PublisherKey, SignatureError, TrustedKeys};
