//! Just enough of the Chrome DevTools protocol to act in a page WebDriver does not list as a
//! window: the extension's PIN window. The test finds it among the browser's targets,
//! reads what it shows and types into it with real input events (`Input.insertText`, the
//! Enter key), as a person at the keyboard would.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Guard against a hung browser (a healthy step takes well under a second).
const HANG_GUARD: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// Why a call has no result.
#[derive(Debug)]
pub enum CallError {
    /// The page (and its WebSocket) went away, e.g. the window closed itself.
    Closed(String),
    /// The browser answered with an error, or not at all.
    Protocol(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Closed(m) | CallError::Protocol(m) => f.write_str(m),
        }
    }
}

/// One DevTools target (a page), over its own WebSocket.
pub struct Target {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// The page's address when it was found.
    pub url: String,
}

/// The page targets of the browser at `debugger` (`host:port`): `(id, url, websocket url)`.
async fn pages(debugger: &str) -> Vec<(String, String, String)> {
    let Ok(res) = reqwest::get(format!("http://{debugger}/json/list")).await else { return Vec::new() };
    let list: Value = res.json().await.unwrap_or(Value::Null);
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "page")
        .filter_map(|t| {
            Some((
                t["id"].as_str()?.to_owned(),
                t["url"].as_str()?.to_owned(),
                t["webSocketDebuggerUrl"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// Whether a page whose address starts with `prefix` is open.
pub async fn is_open(debugger: &str, prefix: &str) -> bool {
    pages(debugger).await.iter().any(|(_, url, _)| url.starts_with(prefix))
}

/// Waits for a page whose address starts with `prefix` and attaches to it.
pub async fn wait_for_page(debugger: &str, prefix: &str) -> Target {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    loop {
        if let Some((_, url, ws)) =
            pages(debugger).await.into_iter().find(|(_, url, _)| url.starts_with(prefix))
        {
            let (ws, _) = tokio_tungstenite::connect_async(ws.as_str())
                .await
                .unwrap_or_else(|e| panic!("cannot attach to {url}: {e}"));
            let mut target = Target { ws, next_id: 1, url };
            // Wait until its script has filled it in (the prompt asks the service worker first).
            target
                .wait_for(
                    "document.readyState === 'complete' && !!document.getElementById('title').textContent",
                )
                .await;
            return target;
        }
        assert!(tokio::time::Instant::now() < deadline, "no page {prefix}… within {HANG_GUARD:?}");
        tokio::time::sleep(POLL).await;
    }
}

impl Target {
    /// Calls `method`; returns its `result`, or why there is none.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, CallError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "id": id, "method": method, "params": params }).to_string();
        let closed = |e: String| CallError::Closed(format!("{method}: {e}"));
        self.ws.send(Message::text(request)).await.map_err(|e| closed(e.to_string()))?;
        let answer = tokio::time::timeout(HANG_GUARD, async {
            while let Some(message) = self.ws.next().await {
                let message = message.map_err(|e| closed(e.to_string()))?;
                let Message::Text(text) = message else { continue };
                let value: Value = serde_json::from_str(text.as_str())
                    .map_err(|e| CallError::Protocol(format!("{method}: {e}")))?;
                if value["id"] == id {
                    return Ok(value);
                }
            }
            Err(closed("the page closed".to_owned()))
        })
        .await
        .map_err(|_| CallError::Protocol(format!("{method}: no answer within {HANG_GUARD:?}")))??;
        match answer.get("error") {
            Some(e) => Err(CallError::Protocol(format!("{method}: {e}"))),
            None => Ok(answer["result"].clone()),
        }
    }

    /// The value of a JavaScript expression in the page.
    pub async fn evaluate(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }))
            .await
            .unwrap_or_else(|e| panic!("in {}: {e}", self.url));
        result["result"]["value"].clone()
    }

    /// Waits until `condition` (a JavaScript expression) is true in the page.
    pub async fn wait_for(&mut self, condition: &str) {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        while self.evaluate(condition).await != Value::Bool(true) {
            assert!(tokio::time::Instant::now() < deadline, "{condition} not true within {HANG_GUARD:?}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// The page's visible text.
    pub async fn text(&mut self) -> String {
        self.evaluate("document.body.innerText").await.as_str().unwrap_or_default().to_owned()
    }

    /// Types `text` into the focused field.
    pub async fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// Presses a key (`Enter`, `Escape`…) on the focused element. The page may close on it,
    /// so the key-up's answer may never come.
    pub async fn press(&mut self, key: &str, code: u32) {
        let down = json!({ "type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": code,
                           "text": if key == "Enter" { "\r" } else { "" } });
        match self.call("Input.dispatchKeyEvent", down).await {
            Ok(_) | Err(CallError::Closed(_)) => {}
            Err(e) => panic!("{e}"),
        }
        let up = json!({ "type": "keyUp", "key": key, "code": key, "windowsVirtualKeyCode": code });
        let _ = self.call("Input.dispatchKeyEvent", up).await;
    }

    /// Clicks the element `css` where it is drawn (mouse pressed and released there).
    pub async fn click(&mut self, css: &str) {
        let rect = self
            .evaluate(&format!(
                "(() => {{ const r = document.querySelector({css:?}).getBoundingClientRect(); \
                 return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            let event = json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 });
            let _ = self.call("Input.dispatchMouseEvent", event).await;
        }
    }
}
