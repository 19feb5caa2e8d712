//! Who is calling. For now only the platform operator, by bearer token; the
//! identity work (accounts, JWTs, API keys) builds on this module.

pub mod operator;
