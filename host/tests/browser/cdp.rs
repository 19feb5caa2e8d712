//! Just enough of the Chrome DevTools Protocol to drive a page from a test:
//! headless Chromium started with a debugging port, one page target spoken
//! to over its WebSocket, scripts evaluated in the page, text typed as a
//! user would, screenshots.
//!
//! A full CDP client crate (chromiumoxide, headless_chrome) generates the
//! whole protocol and costs minutes of build; a test needs five methods.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The Chromium to drive: `PLAZA_TEST_CHROMIUM` (`cargo xtask test` installs
/// Debian's and sets it), else `/usr/bin/chromium` when present.
pub fn chromium() -> Option<std::path::PathBuf> {
    match std::env::var_os("PLAZA_TEST_CHROMIUM") {
        Some(p) if !p.is_empty() => Some(std::path::PathBuf::from(p)),
        _ => Some(std::path::PathBuf::from("/usr/bin/chromium")).filter(|p| p.exists()),
    }
}

/// The Chromium to drive, or `None` after saying the test is skipped.
pub fn chromium_or_skip() -> Option<std::path::PathBuf> {
    let found = chromium();
    if found.is_none() {
        eprintln!("SKIPPED: no Chromium (install Debian's chromium or set PLAZA_TEST_CHROMIUM)");
    }
    found
}

/// Any single protocol call taking longer than this fails the test.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Headless, quiet, and with every host name unresolvable except loopback,
/// so that a page needing anything from the network cannot render.
pub const OFFLINE_HEADLESS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

/// A headless Chromium and one of its pages. Dropping it kills the browser.
pub struct Page {
    _browser: Child,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Page {
    /// Starts `chromium` with [`OFFLINE_HEADLESS`] and attaches to its first page.
    pub async fn launch(chromium: &Path, profile: &Path) -> Self {
        let mut browser = Command::new(chromium)
            .args(OFFLINE_HEADLESS)
            .args(["--window-size=1280,2000", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");

        // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID".
        let stderr = browser.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let endpoint = tokio::time::timeout(CALL_LIMIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    return url.trim().to_owned();
                }
            }
            panic!("chromium exited without a DevTools endpoint")
        })
        .await
        .expect("chromium printed its DevTools endpoint in time");
        // Keep draining stderr so the browser never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let port = endpoint.trim_start_matches("ws://127.0.0.1:").split('/').next().expect("a port").to_owned();
        let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .expect("the DevTools target list")
            .json()
            .await
            .expect("JSON");
        let page = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page target in {targets}"))
            .to_owned();
        let (socket, _) = tokio_tungstenite::connect_async(page).await.expect("the page's DevTools socket");
        let mut page = Self { _browser: browser, socket, next_id: 0 };
        page.call("Page.enable", json!({})).await;
        page
    }

    /// Calls a protocol method and returns its result (events are skipped).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket.send(Message::Text(text.into())).await.expect("send to chromium");
        let reply = tokio::time::timeout(CALL_LIMIT, async {
            loop {
                let msg = self.socket.next().await.expect("chromium's socket is open").expect("a message");
                let Message::Text(text) = msg else { continue };
                let value: Value = serde_json::from_str(&text).expect("JSON from chromium");
                if value["id"] == id {
                    return value;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{method} did not answer within {CALL_LIMIT:?}"));
        assert!(reply.get("error").is_none(), "{method} failed: {}", reply["error"]);
        reply["result"].clone()
    }

    /// Opens `url` and waits until its `load` event.
    pub async fn navigate(&mut self, url: &str) {
        let result = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(result.get("errorText").is_none(), "cannot open {url}: {result}");
        self.eval(
            "new Promise(r => document.readyState === 'complete' ? r(true) : addEventListener('load', () => r(true)))",
        )
        .await;
    }

    /// Evaluates `script` in the page (awaiting a promise) and returns its
    /// value; an exception thrown by the script fails the test with its text.
    pub async fn eval(&mut self, script: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": script, "awaitPromise": true, "returnByValue": true, "userGesture": true }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("the page script failed: {}", exception["exception"]["description"].as_str().unwrap_or("?"));
        }
        result["result"]["value"].clone()
    }

    /// Clicks with the mouse at the centre of the element `find` (a script
    /// expression giving the element or null) once it exists, scrolled into
    /// view: a real click, as a person's, not a synthetic DOM event.
    pub async fn click(&mut self, find: &str, what: &str) {
        let script = format!(
            "plazaWait(() => ({find}), {what:?}).then(el => {{
               el.scrollIntoView({{ block: 'center' }});
               const r = el.getBoundingClientRect();
               return [r.x + r.width / 2, r.y + r.height / 2];
             }})"
        );
        let at = self.eval(&script).await;
        let (x, y) = (at[0].as_f64().expect("x"), at[1].as_f64().expect("y"));
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )
            .await;
        }
    }

    /// Types `text` into the focused element, as keyboard input.
    pub async fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Saves a PNG of the whole page to `path` and returns its size in bytes.
    pub async fn screenshot(&mut self, path: &Path) -> usize {
        let result =
            self.call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true })).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(result["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        std::fs::write(path, &png).expect("write the screenshot");
        png.len()
    }
}
