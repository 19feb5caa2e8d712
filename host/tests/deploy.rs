//! The deployment files, checked without a Docker engine: the compose file
//! parses, wires PostgreSQL and an S3-compatible store, and names every
//! variable the host reads; the Dockerfile runs as non-root with a healthcheck.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml_ng::Value;

fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn compose_file_parses_and_names_every_variable_the_host_reads() {
    let compose: Value = serde_yaml_ng::from_str(&repo_file("docker/compose.yaml")).expect("valid YAML");
    let services = compose["services"].as_mapping().expect("services");
    for name in ["postgres", "plaza"] {
        assert!(services.contains_key(name), "service {name}");
    }
    let plaza = &compose["services"]["plaza"];
    let env = plaza["environment"].as_mapping().expect("plaza.environment is a map");
    let named: BTreeSet<&str> = env.keys().filter_map(Value::as_str).collect();
    let read: BTreeSet<&str> = plaza::config::ENV_VARS.iter().copied().collect();
    let missing: Vec<_> = read.difference(&named).collect();
    let unknown: Vec<_> = named.difference(&read).collect();
    assert!(missing.is_empty(), "compose does not set {missing:?}");
    assert!(unknown.is_empty(), "compose sets variables the host never reads: {unknown:?}");

    // Wired to the services it depends on.
    let db = env[&Value::from("PLAZA_DATABASE_URL")].as_str().unwrap();
    assert!(db.starts_with("postgres://") && db.contains("@postgres:"), "{db}");
    let storage = env[&Value::from("PLAZA_STORAGE_URL")].as_str().unwrap();
    assert!(storage.starts_with("s3://"), "{storage}");
    let endpoint = env[&Value::from("PLAZA_S3_ENDPOINT")].as_str().unwrap();
    let store_host = endpoint.trim_start_matches("http://").split(':').next().unwrap();
    assert!(services.contains_key(store_host), "the S3 endpoint {endpoint} names a compose service");
    let depends = plaza["depends_on"].as_mapping().expect("depends_on");
    assert!(depends.contains_key("postgres") && depends.contains_key(store_host));
}

#[test]
fn dockerfile_builds_the_host_and_runs_it_unprivileged_with_a_healthcheck() {
    let dockerfile = repo_file("docker/Dockerfile");
    let stages = dockerfile.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "multi-stage build");
    assert!(dockerfile.contains("cargo build --release"), "builds the host");
    assert!(dockerfile.contains("wasm32-wasip2"), "can build the bundled modules");
    let user = dockerfile.lines().filter_map(|l| l.strip_prefix("USER ")).next_back().expect("a USER line");
    assert!(user.trim() != "root" && user.trim() != "0", "runs as {user}");
    let health = dockerfile.lines().position(|l| l.starts_with("HEALTHCHECK")).expect("HEALTHCHECK");
    let check: String = dockerfile.lines().skip(health).take(3).collect();
    assert!(check.contains("/health"), "{check}");
}
