//! The WIT contract parses, and its `module` world imports exactly the
//! host capabilities and exports exactly the module's entry points.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::path::Path;

use wit_parser::{Resolve, WorldItem, WorldKey};

fn key_name(resolve: &Resolve, key: &WorldKey) -> String {
    match key {
        WorldKey::Name(n) => n.clone(),
        WorldKey::Interface(id) => resolve.interfaces[*id].name.clone().unwrap_or_default(),
    }
}

#[test]
fn the_module_world_imports_the_capabilities_and_exports_the_entry_points() {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")).expect("the WIT parses");
    let package = &resolve.packages[pkg];
    assert_eq!(package.name.to_string(), "plaza:module@1.1.0");
    let world = resolve.select_world(&[pkg], Some("module")).expect("a `module` world");
    let world = &resolve.worlds[world];

    let imports: BTreeSet<String> = world
        .imports
        .iter()
        .filter(|(_, item)| matches!(item, WorldItem::Interface { .. }))
        .map(|(k, _)| key_name(&resolve, k))
        .collect();
    let expected: BTreeSet<String> =
        ["types", "sql", "kv", "blob", "http", "events", "config", "log", "crypto", "mail", "push"]
            .map(String::from)
            .into();
    assert_eq!(imports, expected, "the world imports only Plaza's capabilities");

    let exports: BTreeSet<String> = world.exports.keys().map(|k| key_name(&resolve, k)).collect();
    let expected: BTreeSet<String> = ["manifest", "handle", "on-event", "run-job"].map(String::from).into();
    assert_eq!(exports, expected);
    for (key, item) in &world.exports {
        assert!(matches!(item, WorldItem::Function(_)), "{} is a function", key_name(&resolve, key));
    }
}

#[test]
fn version_1_1_adds_signing_functions_to_crypto_and_the_mail_and_push_interfaces_and_nothing_else() {
    let mut resolve = Resolve::default();
    resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")).unwrap();
    let crypto = resolve.interfaces.iter().find(|(_, i)| i.name.as_deref() == Some("crypto")).map(|(_, i)| i).unwrap();
    let names: BTreeSet<&str> = crypto.functions.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> =
        ["sha256", "hmac-sha256", "sign", "public-key", "verify", "sign-cms", "certificate", "sign-raw"].into();
    assert_eq!(names, expected);
    // Its one new type belongs to crypto, not to `types`.
    assert!(crypto.types.contains_key("hash-algorithm"));
    // `mail` is new in 1.1, with its own types.
    let mail = resolve.interfaces.iter().find(|(_, i)| i.name.as_deref() == Some("mail")).map(|(_, i)| i).unwrap();
    let names: BTreeSet<&str> = mail.functions.keys().map(String::as_str).collect();
    assert_eq!(names, ["send", "status"].into());
    let names: BTreeSet<&str> = mail.types.keys().map(String::as_str).collect();
    assert_eq!(names, ["attachment", "message", "state", "delivery", "error"].into());
    // So is `push`.
    let push = resolve.interfaces.iter().find(|(_, i)| i.name.as_deref() == Some("push")).map(|(_, i)| i).unwrap();
    let names: BTreeSet<&str> = push.functions.keys().map(String::as_str).collect();
    assert_eq!(names, ["to-stream", "send-web-push", "vapid-public-key"].into());
    // The types of 1.0 are the types of 1.1: a 1.0 module's exports keep their shape.
    let types = resolve.interfaces.iter().find(|(_, i)| i.name.as_deref() == Some("types")).map(|(_, i)| i).unwrap();
    // (host/tests/contract.rs runs a module built against 1.0 to prove it.)
    let names: BTreeSet<&str> = types.types.keys().map(String::as_str).collect();
    let v1_0: BTreeSet<&str> = [
        "method",
        "header",
        "caller",
        "request",
        "response",
        "access",
        "route",
        "capability",
        "migration",
        "job",
        "dependency",
        "limits",
        "manifest",
        "event",
        "job-run",
        "error",
    ]
    .into();
    assert_eq!(names, v1_0);
}

#[test]
fn nothing_in_the_contract_names_a_tenant_or_module_to_act_on() {
    // Scoping is the host's job: no import takes a tenant or module argument.
    let mut resolve = Resolve::default();
    resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")).unwrap();
    for (_, iface) in resolve.interfaces.iter() {
        for (name, func) in &iface.functions {
            for param in &func.params {
                let p = param.name.as_str();
                assert!(p != "tenant" && p != "module", "{name} takes a `{p}` parameter");
            }
        }
    }
}
