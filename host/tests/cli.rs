//! The `plaza` binary itself: help texts, tenant administration, migrations
//! and the printed OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::process::{Command, Output};

use serde_json::Value;

struct Plaza {
    dir: tempfile::TempDir,
}

impl Plaza {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_plaza"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PLAZA_CONFIG")
            .env_remove("PLAZA_DATABASE_URL")
            .env_remove("PLAZA_STORAGE_URL")
            .env("PLAZA_DATA_DIR", self.dir.path().join("data"))
            .env("PLAZA_LOG", "warn")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "plaza {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn every_command_has_help() {
    let p = Plaza::new();
    let top = p.ok(&["--help"]);
    for cmd in ["serve", "migrate", "tenant", "openapi", "user", "keys"] {
        assert!(top.contains(cmd), "{cmd} missing from --help");
    }
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["openapi", "--help"],
        &["tenant", "--help"],
        &["tenant", "create", "--help"],
        &["tenant", "list", "--help"],
        &["tenant", "show", "--help"],
        &["tenant", "suspend", "--help"],
        &["tenant", "resume", "--help"],
        &["tenant", "delete", "--help"],
        &["user", "create", "--help"],
        &["user", "token", "--help"],
        &["keys", "list", "--help"],
        &["keys", "rotate", "--help"],
    ] {
        let help = p.ok(args);
        assert!(help.contains("Usage:"), "{args:?}: {help}");
    }
}

#[test]
fn tenants_are_administered_from_the_command_line() {
    let p = Plaza::new();
    assert!(p.ok(&["migrate"]).contains("sqlite"));
    assert!(p.dir.path().join("data/plaza.db").exists(), "SQLite file under the data dir");
    p.ok(&["tenant", "create", "acme", "--name", "Acme Corp"]);
    let dup = p.run(&["tenant", "create", "acme"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    assert!(p.ok(&["tenant", "create", "acme", "--if-not-exists"]).contains("already exists"));
    let bad = p.run(&["tenant", "create", "Not A Slug"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid tenant id"));

    p.ok(&["tenant", "create", "globex"]);
    let list: Value = serde_json::from_str(&p.ok(&["tenant", "list", "--json"])).unwrap();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["acme", "globex"]);
    assert!(p.ok(&["tenant", "list"]).contains("Acme Corp"));

    p.ok(&["tenant", "suspend", "acme"]);
    let shown: Value = serde_json::from_str(&p.ok(&["tenant", "show", "acme"])).unwrap();
    assert_eq!(shown["status"], "suspended");
    p.ok(&["tenant", "resume", "acme"]);

    let refused = p.run(&["tenant", "delete", "acme"]);
    assert!(!refused.status.success(), "delete needs --yes");
    p.ok(&["tenant", "delete", "acme", "--yes"]);
    assert!(!p.run(&["tenant", "show", "acme"]).status.success());
}

#[test]
fn openapi_prints_the_host_spec_without_a_database() {
    let p = Plaza::new();
    let spec: Value = serde_json::from_str(&p.ok(&["openapi"])).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["paths"]["/t/{tenant}/files"].is_object());
    assert!(!p.dir.path().join("data").exists(), "printing the spec touches no data");
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let p = Plaza::new();
    let out = p.run(&["--config", "nope.toml", "migrate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn plaza_toml_is_read_and_environment_wins() {
    let p = Plaza::new();
    std::fs::write(p.dir.path().join("plaza.toml"), "data_dir = \"from-toml\"\n").unwrap();
    // PLAZA_DATA_DIR (set by `run`) overrides the file.
    p.ok(&["migrate"]);
    assert!(p.dir.path().join("data/plaza.db").exists());
    assert!(!p.dir.path().join("from-toml").exists());
    // Without the variable, the file applies.
    let out = Command::new(env!("CARGO_BIN_EXE_plaza"))
        .arg("migrate")
        .current_dir(p.dir.path())
        .env_remove("PLAZA_DATA_DIR")
        .env_remove("PLAZA_DATABASE_URL")
        .env_remove("PLAZA_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(p.dir.path().join("from-toml/plaza.db").exists());
}

/// A `plaza serve` child, killed if a test fails before terminating it, and
/// the log lines it wrote after it started listening.
struct Served(Option<std::process::Child>, std::sync::Arc<std::sync::Mutex<String>>);

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `plaza serve` on a free port and reads stderr until it listens.
fn serve(p: &Plaza, envs: &[(&str, &str)]) -> (Served, String, String) {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plaza"));
    cmd.arg("serve")
        .current_dir(p.dir.path())
        .env_remove("PLAZA_CONFIG")
        .env_remove("PLAZA_OPERATOR_TOKEN")
        .env("PLAZA_DATA_DIR", p.dir.path().join("data"))
        .env("PLAZA_LISTEN", "127.0.0.1:0")
        .env("PLAZA_LOG", "info")
        .env("PLAZA_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let child = Served(Some(child), Default::default());
    let mut seen = String::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("\"listening;") {
            break;
        }
        line.clear();
    }
    let addr = seen
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"].as_str().is_some_and(|m| m.starts_with("listening;")))
        .find_map(|v| v["addr"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no listening line in:\n{seen}"));
    // Keep draining stderr so the server never blocks on a full pipe.
    let rest = std::sync::Arc::clone(&child.1);
    std::thread::spawn(move || {
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            rest.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    (child, addr, seen)
}

fn terminate(mut served: Served) -> std::process::ExitStatus {
    let mut child = served.0.take().unwrap();
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    child.wait().unwrap()
}

#[test]
fn serve_logs_its_configuration_without_secrets_and_stops_on_sigterm() {
    let p = Plaza::new();
    let (child, addr, log) = serve(&p, &[("PLAZA_OPERATOR_TOKEN", "very-secret-operator-token")]);
    let startup = log.lines().find(|l| l.contains("starting plaza")).expect("a start-up line");
    let startup: Value = serde_json::from_str(startup).expect("JSON logs");
    let config = startup["config"].as_str().unwrap();
    for field in ["listen=", "database=sqlite://", "storage=file://", "max_upload=26214400", "operator_token=***"] {
        assert!(config.contains(field), "{field} missing from {config}");
    }
    assert!(!log.contains("very-secret-operator-token"), "the token leaked into the logs:\n{log}");
    let health = reqwest::blocking_get(&format!("http://{addr}/health"));
    assert_eq!(health, 200);
    let status = terminate(child);
    assert!(status.success(), "graceful exit on SIGTERM: {status}");
}

#[test]
fn a_generated_operator_token_is_printed_once_and_only_its_hash_is_kept() {
    let p = Plaza::new();
    let (child, _, first) = serve(&p, &[]);
    terminate(child);
    let token = first
        .split_whitespace()
        .find(|w| w.starts_with("plz_op_"))
        .unwrap_or_else(|| panic!("no token printed:\n{first}"))
        .to_owned();
    assert_eq!(token.len(), "plz_op_".len() + 64);
    let (child, addr, second) = serve(&p, &[]);
    assert!(!second.contains("plz_op_"), "printed again:\n{second}");
    assert_eq!(reqwest::blocking_get_auth(&format!("http://{addr}/api/v1/tenants"), &token), 200);
    assert_eq!(reqwest::blocking_get_auth(&format!("http://{addr}/api/v1/tenants"), "plz_op_wrong"), 401);
    terminate(child);
    let db = std::fs::read(p.dir.path().join("data/plaza.db")).unwrap();
    let haystack = String::from_utf8_lossy(&db);
    assert!(!haystack.contains(&token), "the token itself is stored");
}

/// Tiny blocking HTTP helpers: the CLI tests run no async runtime.
mod reqwest {
    pub fn blocking_get(url: &str) -> u16 {
        status(url, None)
    }

    pub fn blocking_get_auth(url: &str, token: &str) -> u16 {
        status(url, Some(token))
    }

    fn status(url: &str, token: Option<&str>) -> u16 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut req = ::reqwest::Client::new().get(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap().status().as_u16()
        })
    }
}

#[test]
fn a_typo_in_plaza_toml_is_refused() {
    let p = Plaza::new();
    std::fs::write(p.dir.path().join("plaza.toml"), "lisen = \"0.0.0.0:9000\"\n").unwrap();
    let out = p.run(&["migrate"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lisen"), "{err}");
}

#[test]
fn no_password_token_or_key_reaches_the_logs() {
    use serde_json::json;
    let p = Plaza::new();
    let operator = "operator-token-that-must-not-be-logged";
    let password = "password-that-must-not-be-logged";
    let (served, addr, startup) = serve(&p, &[("PLAZA_OPERATOR_TOKEN", operator), ("PLAZA_LOG", "debug")]);
    let base = format!("http://{addr}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let secrets: Vec<String> = rt.block_on(async {
        let c = ::reqwest::Client::new();
        let ok = |r: ::reqwest::Response| async move {
            assert!(r.status().is_success(), "{} {}", r.status(), r.text().await.unwrap_or_default());
            r.json::<Value>().await.unwrap_or(Value::Null)
        };
        ok(c.post(format!("{base}/api/v1/tenants"))
            .bearer_auth(operator)
            .json(&json!({"id": "acme", "name": "Acme"}))
            .send()
            .await
            .unwrap())
        .await;
        let inv = ok(c
            .post(format!("{base}/t/acme/invitations"))
            .bearer_auth(operator)
            .json(&json!({"email": "ana@example.org", "roles": ["owner"]}))
            .send()
            .await
            .unwrap())
        .await;
        let invitation = inv["accept_token"].as_str().unwrap().to_owned();
        ok(c.post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"email": "ana@example.org", "password": password, "invitation": invitation}))
            .send()
            .await
            .unwrap())
        .await;
        // A failed sign-in too: its log lines must not carry the attempt.
        let wrong = c
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "ana@example.org", "password": "wrong-password-not-logged"}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let login = ok(c
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "ana@example.org", "password": password}))
            .send()
            .await
            .unwrap())
        .await;
        let access = login["access_token"].as_str().unwrap().to_owned();
        let refresh = login["refresh_token"].as_str().unwrap().to_owned();
        let refreshed = ok(c
            .post(format!("{base}/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .unwrap())
        .await;
        let access2 = refreshed["access_token"].as_str().unwrap().to_owned();
        let refresh2 = refreshed["refresh_token"].as_str().unwrap().to_owned();
        let key = ok(c
            .post(format!("{base}/t/acme/api-keys"))
            .bearer_auth(&access2)
            .json(&json!({"name": "ci", "roles": ["member"]}))
            .send()
            .await
            .unwrap())
        .await;
        let api_key = key["secret"].as_str().unwrap().to_owned();
        ok(c.get(format!("{base}/t/acme/files")).header("X-API-Key", &api_key).send().await.unwrap()).await;
        ok(c.post(format!("{base}/api/v1/auth/password"))
            .bearer_auth(&access2)
            .json(&json!({"current_password": password, "new_password": "new-password-not-logged"}))
            .send()
            .await
            .unwrap())
        .await;
        vec![
            operator.into(),
            password.into(),
            "wrong-password-not-logged".into(),
            "new-password-not-logged".into(),
            invitation,
            access,
            refresh,
            access2,
            refresh2,
            api_key,
        ]
    });
    terminate_keep(&served);
    let logs = format!("{startup}{}", served.1.lock().unwrap());
    assert!(logs.lines().count() > 10, "the server logged the requests:\n{logs}");
    assert!(logs.contains("auth") || logs.contains("login"), "{logs}");
    for secret in &secrets {
        // Tokens are long; even a fragment of one in the logs is a leak.
        let probe: String = secret.chars().take(24).collect();
        assert!(!logs.contains(&probe), "a secret ({}…) is in the logs:\n{logs}", &probe[..8]);
    }
    drop(served);
}

/// Sends SIGTERM and waits, leaving the log buffer readable.
fn terminate_keep(served: &Served) {
    if let Some(child) = served.0.as_ref() {
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
}

#[test]
fn an_operator_account_retires_the_generated_bootstrap_token() {
    let p = Plaza::new();
    let (served, addr, first) = serve(&p, &[]);
    let token = first.split_whitespace().find(|w| w.starts_with("plz_op_")).unwrap().to_owned();
    assert_eq!(reqwest::blocking_get_auth(&format!("http://{addr}/api/v1/tenants"), &token), 200);
    // `plaza user create --operator` (password on stdin) creates the first operator.
    let mut create = Command::new(env!("CARGO_BIN_EXE_plaza"))
        .args(["user", "create", "--email", "root@example.org", "--operator"])
        .current_dir(p.dir.path())
        .env("PLAZA_DATA_DIR", p.dir.path().join("data"))
        .env_remove("PLAZA_USER_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    create.stdin.take().unwrap().write_all(b"a long operator password\n").unwrap();
    let out = create.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        reqwest::blocking_get_auth(&format!("http://{addr}/api/v1/tenants"), &token),
        401,
        "bootstrap token retired"
    );
    // The operator signs in instead; `plaza user token` mints a token for automation.
    let minted = p.ok(&["user", "token", "--email", "root@example.org", "--ttl-secs", "600"]);
    assert_eq!(reqwest::blocking_get_auth(&format!("http://{addr}/api/v1/tenants"), minted.trim()), 200);
    terminate(served);
}

#[test]
fn publisher_keys_sign_and_verify_components() {
    let p = Plaza::new();
    let dir = p.dir.path();
    let public = p.ok(&["keys", "generate", "--out", "publisher.key"]);
    let public = public.trim();
    assert!(public.starts_with("ed25519:"), "{public}");
    let key_file = std::fs::metadata(dir.join("publisher.key")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key_file.permissions()) & 0o777, 0o600);
    let again = p.run(&["keys", "generate", "--out", "publisher.key"]);
    assert!(!again.status.success(), "an existing key file is not overwritten");

    std::fs::write(dir.join("m.wasm"), b"\0asm\x0d\0\x01\0 pretend component").unwrap();
    let signed = p.ok(&["module", "sign", "--key", "publisher.key", "m.wasm"]);
    assert!(signed.contains(public), "{signed}");
    let verified = p.ok(&["module", "verify", "--trusted", public, "m.wasm"]);
    assert!(verified.contains("signed by trusted key"), "{verified}");

    // Another publisher's key is not trusted.
    let other = p.ok(&["keys", "generate", "--out", "other.key"]);
    let out = p.run(&["module", "verify", "--trusted", other.trim(), "m.wasm"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not trust"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A tampered component fails, with the reason.
    std::fs::write(dir.join("m.wasm"), b"\0asm\x0d\0\x01\0 tampered component").unwrap();
    let out = p.run(&["module", "verify", "--trusted", public, "m.wasm"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another component"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
