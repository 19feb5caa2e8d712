//! A tenant's OpenAPI document as client authors use it: a Python client
//! generated from it by `openapi-python-client` (from PyPI) creates and
//! lists greetings of the `hello` module, over HTTP, against a real host.
//!
//! `cargo xtask test` installs the generator in a venv of its own and sets
//! `PLAZA_TEST_OPENAPI_PYTHON_CLIENT` (the generator) and `PLAZA_TEST_PYTHON`
//! (that venv's interpreter, which has `httpx` and `attrs`); without them
//! the test says so and skips.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{TestServer, modules_dir};
use reqwest::Method;
use serde_json::{Value, json};

/// The generated package's name (the directory it is written to).
const PACKAGE: &str = "plaza_acme_client";

/// Creates a greeting through the generated client, fails to create an
/// invalid one, lists them, and prints what each call answered as JSON.
/// Arguments: the base URL and the bearer token.
const SCRIPT: &str = r#"
import json
import sys

import httpx

from plaza_acme_client import AuthenticatedClient
from plaza_acme_client.api.hello import hello_get_greetings, hello_post_greetings
from plaza_acme_client.models import HelloNewGreeting, Problem

base_url, token = sys.argv[1], sys.argv[2]


def seen(response):
    parsed = response.parsed
    return {
        "status": int(response.status_code),
        "model": type(parsed).__name__,
        "body": parsed.to_dict() if parsed is not None else None,
    }


client = AuthenticatedClient(base_url=base_url, token=token, timeout=httpx.Timeout(30.0))
with client:
    created = hello_post_greetings.sync_detailed(client=client, body=HelloNewGreeting(name="Grace"))
    refused = hello_post_greetings.sync_detailed(client=client, body=HelloNewGreeting(name="  "))
    assert isinstance(refused.parsed, Problem), refused
    listed = hello_get_greetings.sync_detailed(client=client)
print(json.dumps({"created": seen(created), "refused": seen(refused), "listed": seen(listed)}))
"#;

/// The generator and the interpreter, from the environment.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    Some((var("PLAZA_TEST_OPENAPI_PYTHON_CLIENT")?, var("PLAZA_TEST_PYTHON")?))
}

/// Runs `cmd` to its end within `limit`; past that it is killed and the test fails.
async fn run(cmd: &mut tokio::process::Command, limit: Duration) -> Output {
    let line = format!("{:?}", cmd.as_std());
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("cannot start {line}: {e}")),
        Err(_) => panic!("{line} did not finish within {limit:?}"),
    }
}

/// `PATH` with the directory of `program` first: the generator runs `ruff`
/// (installed beside it) on what it wrote.
fn path_with(program: &Path) -> std::ffi::OsString {
    let bin = program.parent().expect("the generator's directory").to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&rest))).expect("a valid PATH")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Every `$ref` in `doc`.
fn refs<'a>(doc: &'a Value, out: &mut Vec<&'a str>) {
    match doc {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// Checks the document is OpenAPI 3 and every reference in it resolves.
fn parse(doc: &Value) -> openapiv3::OpenAPI {
    let parsed: openapiv3::OpenAPI = serde_json::from_value(doc.clone()).expect("parses as OpenAPI 3");
    assert!(parsed.openapi.starts_with("3."), "openapi: {}", parsed.openapi);
    let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
    let mut found = Vec::new();
    refs(doc, &mut found);
    for r in found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} names no schema");
    }
    parsed
}

fn hello_schemas(doc: &Value) -> Vec<&str> {
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    schemas.keys().map(String::as_str).filter(|k| k.starts_with("hello.")).collect()
}

/// The generator's configuration, as a client author of these modules would write it.
const GENERATOR_CONFIG: &str = "content_type_overrides:
  image/*: application/octet-stream
  application/rss+xml: application/octet-stream
  application/xml: application/octet-stream
";

/// Generates a client package from `doc` into `dir` with the generator
/// (which must not warn about any route) and returns the package's path.
async fn generate(generator: &Path, doc: &Value, dir: &Path) -> PathBuf {
    let spec = dir.join("acme-openapi.json");
    std::fs::write(&spec, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let package = dir.join(PACKAGE);
    // The generator parses JSON and octet-stream answers; the bodies modules
    // document by their own media type (a feed, an image) are bytes to it.
    let config = dir.join("openapi-python-client.yaml");
    std::fs::write(&config, GENERATOR_CONFIG).unwrap();
    let out = run(
        tokio::process::Command::new(generator)
            .args(["generate", "--meta", "none", "--config"])
            .arg(&config)
            .arg("--path")
            .arg(&spec)
            .arg("--output-path")
            .arg(&package)
            .env("PATH", path_with(generator))
            .current_dir(dir),
        Duration::from_secs(180),
    )
    .await;
    let log = text(&out);
    eprintln!("openapi-python-client:\n{log}");
    assert!(out.status.success(), "openapi-python-client failed ({}):\n{log}", out.status);
    assert!(!log.contains("/t/acme/"), "the generator warned about a route:\n{log}");
    package
}

/// Runs `script` (written to `dir/name`) with the generated package on the
/// path; panics with its output and the generated models if it fails.
async fn run_script(python: &Path, dir: &Path, name: &str, script: &str, args: &[&str]) -> Output {
    let file = dir.join(name);
    std::fs::write(&file, script).unwrap();
    let out = run(
        tokio::process::Command::new(python)
            .arg(&file)
            .args(args)
            .env("PYTHONPATH", dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(dir),
        Duration::from_secs(120),
    )
    .await;
    if !out.status.success() {
        let models = std::fs::read_to_string(dir.join(PACKAGE).join("models/__init__.py")).unwrap_or_default();
        panic!("the Python client failed ({}):\n{}\ngenerated models/__init__.py:\n{models}", out.status, text(&out));
    }
    out
}

/// The last line the script printed, as JSON.
fn printed(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_the_tenant_document_calls_hello() {
    let Some((generator, python)) = tools() else {
        eprintln!(
            "SKIPPED: set PLAZA_TEST_OPENAPI_PYTHON_CLIENT and PLAZA_TEST_PYTHON \
             (cargo xtask test installs openapi-python-client and sets them)"
        );
        return;
    };
    let s = TestServer::start_with(|c| c.modules_dir = modules_dir().display().to_string()).await;
    s.tenant_with("acme", &["hello"]).await;
    s.create_tenant("globex").await;
    let key = s.api_key("acme", &["member"]).await;

    // acme's document: OpenAPI 3, with hello's routes and schemas.
    let get = |path: &str, key: &str| s.anon(Method::GET, path).header("x-api-key", key).send();
    let resp = get("/t/acme/openapi.json", &key).await.unwrap();
    assert_eq!(resp.status(), 200);
    let acme: Value = resp.json().await.unwrap();
    let parsed = parse(&acme);
    for path in ["/t/acme/hello/", "/t/acme/hello/greetings", "/t/acme/hello/greetings/{id}"] {
        assert!(parsed.paths.paths.contains_key(path), "{path} missing from acme's document");
    }
    let greetings = &acme["paths"]["/t/acme/hello/greetings"];
    assert_eq!(greetings["post"]["operationId"], "hello_post_greetings");
    assert_eq!(greetings["get"]["operationId"], "hello_get_greetings");
    assert!(hello_schemas(&acme).contains(&"hello.Greeting"), "{:?}", hello_schemas(&acme));

    // globex's has neither.
    let globex_key = s.api_key("globex", &["member"]).await;
    let globex: Value = get("/t/globex/openapi.json", &globex_key).await.unwrap().json().await.unwrap();
    let parsed = parse(&globex);
    assert!(!parsed.paths.paths.keys().any(|p| p.contains("/hello")), "globex has no hello route");
    assert!(hello_schemas(&globex).is_empty(), "{:?}", hello_schemas(&globex));
    assert!(parsed.paths.paths.contains_key("/t/globex/files"), "the host's tenant API is there");

    // Generate the client from acme's document, as a client author would, and call hello with it.
    let dir = tempfile::tempdir().unwrap();
    let package = generate(&generator, &acme, dir.path()).await;
    for op in ["hello_post_greetings", "hello_get_greetings"] {
        let module = package.join("api/hello").join(format!("{op}.py"));
        assert!(module.is_file(), "{} was not generated", module.display());
    }
    let out = run_script(&python, dir.path(), "call_hello.py", SCRIPT, &[&s.base, &key]).await;
    let calls = printed(&out);
    eprintln!("the Python client saw: {calls:#}");

    let created = &calls["created"];
    assert_eq!(created["status"], 201, "{calls}");
    assert_eq!(created["model"], "HelloGreeted", "{calls}");
    assert_eq!(created["body"]["name"], "Grace");
    assert_eq!(created["body"]["message"], "Hello, Grace!");
    let id = created["body"]["id"].as_i64().expect("an id");
    let refused = &calls["refused"];
    assert_eq!(refused["status"], 422, "{calls}");
    assert_eq!(refused["model"], "Problem", "{calls}");
    assert_eq!(refused["body"]["type"], "urn:plaza:problem:validation-failed", "{calls}");
    let listed = &calls["listed"];
    assert_eq!(listed["status"], 200, "{calls}");
    assert_eq!(listed["model"], "HelloGreetings", "{calls}");
    assert_eq!(listed["body"]["items"][0]["id"], id, "{calls}");
    assert_eq!(listed["body"]["items"][0]["name"], "Grace", "{calls}");

    // The host agrees, over plain HTTP.
    let list: Value = get("/t/acme/hello/greetings", &key).await.unwrap().json().await.unwrap();
    assert_eq!(list["items"], json!([listed["body"]["items"][0]]), "{list}");
    s.stop().await;
}

/// Creates a post through the generated blog client (as the tenant's admin),
/// reads it back by id, publishes it, and reads it as the public does.
const BLOG_SCRIPT: &str = r#"
import json
import sys

import httpx

from plaza_acme_client import AuthenticatedClient, Client
from plaza_acme_client.api.blog import (
    blog_get_admin_posts_id,
    blog_get_posts,
    blog_post_admin_posts,
    blog_post_admin_posts_id_publish,
)
from plaza_acme_client.models import BlogFaqItem, BlogNewPost, BlogPublishRequest, Problem

base_url, token = sys.argv[1], sys.argv[2]
timeout = httpx.Timeout(30.0)

with AuthenticatedClient(base_url=base_url, token=token, timeout=timeout) as client:
    new = BlogNewPost(
        title="Cómo firmar un expediente",
        content_markdown="Paso **uno**: <script>alert(1)</script>",
        tags=["gdi"],
        faq=[BlogFaqItem(question="¿Quién firma?", answer="Cada firmante, en orden.")],
    )
    created = blog_post_admin_posts.sync_detailed(client=client, body=new)
    assert created.status_code == 201, created
    post = created.parsed
    refused = blog_post_admin_posts.sync_detailed(client=client, body=BlogNewPost(title="", content_markdown="x"))
    assert isinstance(refused.parsed, Problem), refused
    read = blog_get_admin_posts_id.sync_detailed(id=str(post.id), client=client)
    published = blog_post_admin_posts_id_publish.sync_detailed(id=str(post.id), client=client, body=BlogPublishRequest())

with Client(base_url=base_url, timeout=timeout) as public:
    listed = blog_get_posts.sync_detailed(client=public)

print(json.dumps({
    "created": created.parsed.to_dict(),
    "refused": {"status": int(refused.status_code), "body": refused.parsed.to_dict()},
    "read": {"status": int(read.status_code), "model": type(read.parsed).__name__, "body": read.parsed.to_dict()},
    "published": int(published.status_code),
    "listed": {"status": int(listed.status_code), "model": type(listed.parsed).__name__, "body": listed.parsed.to_dict()},
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_the_tenant_document_creates_and_reads_a_post() {
    let Some((generator, python)) = tools() else {
        eprintln!("SKIPPED: set PLAZA_TEST_OPENAPI_PYTHON_CLIENT and PLAZA_TEST_PYTHON (cargo xtask test does)");
        return;
    };
    let s = TestServer::start_with(|c| c.modules_dir = modules_dir().display().to_string()).await;
    s.tenant_with("acme", &["blog"]).await;
    let key = s.api_key("acme", &["admin"]).await;
    let resp = s.anon(Method::GET, "/t/acme/openapi.json").header("x-api-key", &key).send().await.unwrap();
    let acme: Value = resp.json().await.unwrap();
    parse(&acme);

    let dir = tempfile::tempdir().unwrap();
    generate(&generator, &acme, dir.path()).await;
    // The generated client sends the API key as a bearer token: give it a user's token instead.
    let token = common::users::onboard(&s, None, "acme", "admin@acme.example", &["admin"]).await;
    let out = run_script(&python, dir.path(), "call_blog.py", BLOG_SCRIPT, &[&s.base, &token]).await;
    let calls = printed(&out);
    eprintln!("the Python client saw: {calls:#}");

    let created = &calls["created"];
    assert_eq!(created["slug"], "como-firmar-un-expediente", "{calls}");
    assert_eq!(created["status"], "draft", "{calls}");
    assert!(!created["content_html"].as_str().unwrap().contains("<script"), "{calls}");
    assert_eq!(calls["refused"]["status"], 422, "{calls}");
    assert_eq!(calls["read"]["status"], 200, "{calls}");
    assert_eq!(calls["read"]["model"], "BlogPost", "{calls}");
    assert_eq!(calls["read"]["body"]["title"], "Cómo firmar un expediente", "{calls}");
    assert_eq!(calls["read"]["body"]["faq"][0]["question"], "¿Quién firma?", "{calls}");
    assert_eq!(calls["published"], 200, "{calls}");
    assert_eq!(calls["listed"]["status"], 200, "{calls}");
    assert_eq!(calls["listed"]["body"]["total"], 1, "{calls}");
    assert_eq!(calls["listed"]["body"]["items"][0]["id"], created["id"], "{calls}");

    // The host agrees, over plain HTTP.
    let post = s.anon(Method::GET, "/t/acme/blog/posts/como-firmar-un-expediente").send().await.unwrap();
    assert_eq!(post.status(), 200);
    s.stop().await;
}
