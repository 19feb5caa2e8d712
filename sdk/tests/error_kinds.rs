//! `plaza_sdk::Error::kind()` names exactly the cases of the WIT `error`
//! variant, and the `Capability` names in error texts are the WIT's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;

use plaza_sdk::{Capability, Error, HostError};
use wit_parser::{Resolve, TypeDefKind};

fn wit_cases(type_name: &str) -> Vec<String> {
    let mut resolve = Resolve::default();
    resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")).expect("the WIT parses");
    let ty = resolve
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(type_name))
        .map(|(_, t)| &t.kind)
        .unwrap_or_else(|| panic!("no type `{type_name}`"));
    match ty {
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.name.clone()).collect(),
        TypeDefKind::Enum(e) => e.cases.iter().map(|c| c.name.clone()).collect(),
        other => panic!("`{type_name}` is a {other:?}"),
    }
}

#[test]
fn error_kinds_are_the_wit_cases() {
    let errors = [
        HostError::UndeclaredCapability(Capability::Sql),
        HostError::Refused(String::new()),
        HostError::Invalid(String::new()),
        HostError::LimitExceeded(String::new()),
        HostError::NotFound,
        HostError::Conflict(String::new()),
        HostError::Unavailable(String::new()),
    ];
    let kinds: Vec<String> = errors.into_iter().map(|e| Error::from(e).kind().to_owned()).collect();
    assert_eq!(kinds, wit_cases("error"));
}

#[test]
fn capability_names_are_the_wit_cases() {
    let all = [
        Capability::Sql,
        Capability::Kv,
        Capability::Blob,
        Capability::Http,
        Capability::Events,
        Capability::Config,
        Capability::Log,
        Capability::Crypto,
    ];
    let names: Vec<String> = all.into_iter().map(|c| c.to_string()).collect();
    assert_eq!(names, wit_cases("capability"));
}
