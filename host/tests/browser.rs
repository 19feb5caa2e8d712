//! Swagger UI rendered by a real browser (Debian's Chromium, headless) with
//! the network cut off: every asset must come from Plaza itself.
//!
//! `cargo xtask test` installs Chromium and sets `PLAZA_TEST_CHROMIUM`; a
//! plain `cargo test` uses `/usr/bin/chromium` when present and says so when not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::TestServer;

fn chromium() -> Option<PathBuf> {
    match std::env::var_os("PLAZA_TEST_CHROMIUM") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.exists()),
    }
}

/// Runs headless Chromium on `url` with every host name unresolvable except
/// loopback, so a page that needs a CDN cannot render.
fn headless(browser: &PathBuf, profile: &std::path::Path, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_renders_offline_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: no Chromium (install Debian's chromium or set PLAZA_TEST_CHROMIUM)");
        return;
    };
    let s = TestServer::start().await;
    let url = s.url("/docs");
    let profile = tempfile::tempdir().unwrap();

    let dump = {
        let (browser, profile, url) = (browser.clone(), profile.path().to_owned(), url.clone());
        tokio::task::spawn_blocking(move || headless(&browser, &profile, &["--dump-dom"], &url)).await.unwrap()
    };
    let dom = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.status.success(), "chromium failed: {}", String::from_utf8_lossy(&dump.stderr));
    // Swagger UI built the page from /openapi.json: the title and operations are there.
    assert!(dom.contains("swagger-ui"), "Swagger UI did not load:\n{dom}");
    assert!(dom.contains("opblock"), "no operations rendered:\n{dom}");
    for text in ["Plaza", "Create a tenant", "Upload a file (raw body)", "Liveness probe", "Authorize"] {
        assert!(dom.contains(text), "{text:?} missing from the rendered page");
    }

    // Keep a screenshot with the test output for people to look at.
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let shot = out_dir.join("docs.png");
    let arg = format!("--screenshot={}", shot.display());
    let (profile, url2) = (profile.path().to_owned(), url.clone());
    let out = tokio::task::spawn_blocking(move || headless(&browser, &profile, &[&arg], &url2)).await.unwrap();
    assert!(out.status.success(), "screenshot failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "empty screenshot");
    eprintln!("screenshot of {url}: {}", shot.display());
    s.stop().await;
}
