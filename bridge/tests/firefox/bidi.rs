//! Just enough WebDriver BiDi to drive Firefox without geckodriver: `firefox-esr --headless
//! --remote-debugging-port PORT` serves BiDi at `ws://127.0.0.1:PORT/session`. The test opens
//! a session, installs the unpacked extension (`webExtension.install`, a temporary add-on),
//! navigates, evaluates scripts and acts with real input (`input.performActions`: pointer
//! clicks on elements, key presses) in any top-level browsing context — the extension's PIN
//! window is one, listed by `browsingContext.getTree`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Guard against a hung browser (a healthy step takes well under a second).
pub const HANG_GUARD: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// Preferences of the test profile: no first-run pages, no updates or telemetry, unsigned
/// temporary add-ons allowed (Firefox ESR honours `xpinstall.signatures.required`).
const USER_JS: &str = r#"
user_pref("xpinstall.signatures.required", false);
user_pref("extensions.autoDisableScopes", 0);
user_pref("extensions.enabledScopes", 5);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("remote.active-protocols", 1);
"#;

/// A running headless Firefox and a BiDi session with it. Dropping it ends the browser.
pub struct Firefox {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// The first tab's browsing context.
    pub tab: String,
    _profile: tempfile::TempDir,
}

impl Drop for Firefox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free local port (bound then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Firefox {
    /// Starts `firefox-esr` with `home` as `$HOME` (where it looks for native-messaging host
    /// manifests: `~/.mozilla/native-messaging-hosts/`) and `env` added, opens a BiDi session.
    pub async fn launch(home: &Path, env: &[(&str, &str)]) -> Firefox {
        let profile = tempfile::tempdir().unwrap();
        std::fs::write(profile.path().join("user.js"), USER_JS).unwrap();
        let port = free_port();
        let child = Command::new("firefox-esr")
            .arg("--headless")
            .arg("--no-remote")
            .arg("--remote-debugging-port")
            .arg(port.to_string())
            .arg("--profile")
            .arg(profile.path())
            .env("HOME", home)
            .env("MOZ_HEADLESS", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("firefox-esr cannot start (Debian: apt install firefox-esr): {e}"));
        let url = format!("ws://127.0.0.1:{port}/session");
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        let ws = loop {
            match tokio_tungstenite::connect_async(url.as_str()).await {
                Ok((ws, _)) => break ws,
                Err(e) => {
                    assert!(tokio::time::Instant::now() < deadline, "no BiDi at {url}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let mut ff = Firefox { child, ws, next_id: 1, tab: String::new(), _profile: profile };
        ff.call("session.new", json!({ "capabilities": {} })).await.unwrap();
        let tree = ff.call("browsingContext.getTree", json!({})).await.unwrap();
        ff.tab = tree["contexts"][0]["context"].as_str().unwrap().to_owned();
        ff
    }

    /// Calls `method`; returns its `result`, or the error.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws.send(Message::text(request)).await.map_err(|e| format!("{method}: {e}"))?;
        let answer = tokio::time::timeout(HANG_GUARD, async {
            while let Some(message) = self.ws.next().await {
                let Ok(Message::Text(text)) = message else { continue };
                let value: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                if value["id"] == id {
                    return Ok(value);
                }
            }
            Err(format!("{method}: the browser closed the connection"))
        })
        .await
        .map_err(|_| format!("{method}: no answer within {HANG_GUARD:?}"))??;
        if answer["type"] == "error" {
            return Err(format!("{method}: {} {}", answer["error"], answer["message"]));
        }
        Ok(answer["result"].clone())
    }

    /// Installs the unpacked extension in `dir` as a temporary add-on; returns its id.
    pub async fn install_extension(&mut self, dir: &Path) -> String {
        let result = self
            .call("webExtension.install", json!({ "extensionData": { "type": "path", "path": dir } }))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        result["extension"].as_str().unwrap().to_owned()
    }

    /// Loads `url` in `context` and waits for it to be complete.
    pub async fn goto(&mut self, context: &str, url: &str) {
        self.call("browsingContext.navigate", json!({ "context": context, "url": url, "wait": "complete" }))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The value of `expression` in `context`, as JSON (the expression's value goes through
    /// `JSON.stringify`); `Err` when the script throws or the context is gone.
    pub async fn try_eval(&mut self, context: &str, expression: &str) -> Result<Value, String> {
        let result = self
            .call(
                "script.evaluate",
                json!({ "expression": format!("JSON.stringify(({expression}) ?? null)"),
                        "target": { "context": context }, "awaitPromise": true }),
            )
            .await?;
        if result["type"] != "success" {
            return Err(format!("{expression}: {}", result["exceptionDetails"]));
        }
        Ok(serde_json::from_str(result["result"]["value"].as_str().unwrap_or("null")).unwrap_or(Value::Null))
    }

    pub async fn eval(&mut self, context: &str, expression: &str) -> Value {
        self.try_eval(context, expression).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits until `condition` is true in `context`.
    pub async fn wait_for(&mut self, context: &str, condition: &str) {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        while self.try_eval(context, condition).await != Ok(Value::Bool(true)) {
            assert!(tokio::time::Instant::now() < deadline, "{condition} not true within {HANG_GUARD:?}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// The top-level browsing contexts: `(context, url)`.
    pub async fn top_level(&mut self) -> Vec<(String, String)> {
        let tree = self.call("browsingContext.getTree", json!({ "maxDepth": 0 })).await.unwrap();
        tree["contexts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["context"].as_str()?.to_owned(), c["url"].as_str()?.to_owned())))
            .collect()
    }

    /// Waits for a top-level context whose address starts with `prefix`; returns it.
    pub async fn wait_for_context(&mut self, prefix: &str) -> String {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            if let Some((context, _)) =
                self.top_level().await.into_iter().find(|(_, url)| url.starts_with(prefix))
            {
                return context;
            }
            let open = self.top_level().await;
            assert!(
                tokio::time::Instant::now() < deadline,
                "no window {prefix}… within {HANG_GUARD:?}: {open:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the element `css` of `context` with the mouse (moved to its centre, pressed,
    /// released).
    pub async fn click(&mut self, context: &str, css: &str) {
        let node = self
            .call(
                "script.evaluate",
                json!({ "expression": format!("document.querySelector({css:?})"),
                        "target": { "context": context }, "awaitPromise": false }),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let shared =
            node["result"]["sharedId"].as_str().unwrap_or_else(|| panic!("no {css}: {node}")).to_owned();
        let actions = json!([{ "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [
                { "type": "pointerMove", "x": 0, "y": 0,
                  "origin": { "type": "element", "element": { "sharedId": shared } } },
                { "type": "pointerDown", "button": 0 },
                { "type": "pointerUp", "button": 0 }
            ] }]);
        // The window may close on the click (the PIN window's cancel button).
        let _ = self.call("input.performActions", json!({ "context": context, "actions": actions })).await;
    }

    /// Types `text` and then Enter into the focused element of `context`. The window may
    /// close on Enter, so the answer is not awaited for errors.
    pub async fn type_and_enter(&mut self, context: &str, text: &str) {
        let mut keys = Vec::new();
        for c in text.chars().chain(std::iter::once('\u{E007}')) {
            keys.push(json!({ "type": "keyDown", "value": c.to_string() }));
            keys.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        let actions = json!([{ "type": "key", "id": "keyboard", "actions": keys }]);
        let _ = self.call("input.performActions", json!({ "context": context, "actions": actions })).await;
    }
}
