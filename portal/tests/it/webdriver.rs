//! A small W3C WebDriver client driving headless Chromium through chromedriver, for tests in
//! which the browser itself acts: clicks submit buttons, types into fields, picks files, follows
//! redirects, sends the cookies and `Origin`/`Sec-Fetch-*` headers a real browser sends.
//!
//! [`WebDriver::start`] runs Debian's `chromedriver` on a free port with a fresh profile (temp
//! `--user-data-dir`, `HOME`, `XDG_CONFIG_HOME`, `XDG_CACHE_HOME`), so nothing leaks between
//! runs, and opens one session. Dropping the [`WebDriver`] ends the session (Chromium quits) and
//! kills chromedriver, also when a test panics.
//!
//! Methods cover what page tests need ([`WebDriver::goto`], [`WebDriver::find`],
//! [`WebDriver::click`], [`WebDriver::fill`], [`WebDriver::submit`],
//! [`WebDriver::click_to_next_page`], [`WebDriver::wait_for`],
//! [`WebDriver::page`]…); [`WebDriver::command`] sends any other WebDriver command (the
//! WebAuthn virtual authenticator endpoints, for instance), and [`WebDriver::start_with`] takes
//! extra Chromium arguments (e.g. `--load-extension=…`).
//!
//! Every failure message says which page the browser is on ([`Page`]'s `Display`: URL, title
//! and the start of its text), so a refused form (403 page) is obvious. Waiting is bounded
//! polling ([`HANG_GUARD`]): a guard against a hung page, not a timing assertion.
//!
//! Shared by the portal's and the idp's integration tests (the idp includes this file); each
//! uses part of it.
#![allow(dead_code)]

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The driver binary (Debian's `chromium-driver` package).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The browser chromedriver starts: Debian's launcher script, or the binary behind it.
const CHROMIUM_BINARIES: [&str; 2] = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"];
/// Guard against a hung driver, browser or page (a healthy step takes well under a second).
pub const HANG_GUARD: Duration = Duration::from_secs(60);
/// How often [`WebDriver::wait_for`] and friends look again.
const POLL: Duration = Duration::from_millis(50);
/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How much of the page's text [`Page`] shows in messages.
const EXCERPT_CHARS: usize = 400;

/// The browser flags, as in `browser.rs` (plus `/dev/shm` for small containers).
const CHROMIUM_ARGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1200,1600",
];

/// A chromedriver process with one browser session.
pub struct WebDriver {
    http: reqwest::Client,
    port: u16,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    session_id: String,
    driver: Child,
    profile: tempfile::TempDir,
    /// `host:port` of the browser's DevTools endpoint (chromedriver starts it).
    debugger: Option<String>,
}

impl fmt::Debug for WebDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebDriver").field("session", &self.session).finish_non_exhaustive()
    }
}

/// A reference to an element of the current page (stale once the page is left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    id: String,
    /// The selector it was found with, for messages.
    pub css: String,
}

/// An error answer of the driver (`no such element`, `stale element reference`…).
#[derive(Debug, Clone)]
pub struct DriverError {
    pub error: String,
    pub message: String,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// What the person sees at one moment: the address, the title and the text.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub title: String,
    /// The body's rendered text (`innerText`).
    pub text: String,
    /// The DOM, serialized.
    pub source: String,
}

impl Page {
    /// Whether this is one of our error pages (`<section class="error">`: 403 for a refused
    /// form, 404, 500…).
    pub fn is_error_page(&self) -> bool {
        self.source.contains("<section class=\"error\"")
    }

    /// Panics (showing the page) when this is an error page.
    #[track_caller]
    pub fn assert_not_error(&self) {
        assert!(!self.is_error_page(), "the browser reached an error page: {self}");
    }

    /// Panics (showing the page) unless its text contains `needle`.
    #[track_caller]
    pub fn assert_text(&self, needle: &str) {
        assert!(self.text.contains(needle), "expected the text {needle:?} on the page: {self}");
    }

    /// The page's path and query (the URL without scheme and host).
    pub fn path(&self) -> &str {
        let rest = self.url.split_once("://").map_or(self.url.as_str(), |(_, r)| r);
        rest.find('/').map_or("/", |i| &rest[i..])
    }
}

impl fmt::Display for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
        let more = if text.chars().count() > EXCERPT_CHARS { "…" } else { "" };
        write!(f, "\n  url:   {}\n  title: {}\n  text:  {excerpt}{more}", self.url, self.title)
    }
}

/// The browser binary to use: the first of [`CHROMIUM_BINARIES`] that exists.
fn chromium() -> &'static str {
    CHROMIUM_BINARIES
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("no Chromium at {CHROMIUM_BINARIES:?} (apt-get install chromium)"))
}

impl WebDriver {
    /// Starts chromedriver and a headless Chromium session with the usual flags.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`Self::start`] with extra Chromium arguments.
    pub async fn start_with(extra_args: &[&str]) -> Self {
        Self::launch(extra_args, &[], |_| {}).await
    }

    /// [`Self::start_with`], plus environment variables for chromedriver (the browser and the
    /// processes it starts, such as a native-messaging host, inherit them), and `prepare`
    /// called with the browser's `--user-data-dir` before the browser starts (to put files
    /// into the profile, e.g. `NativeMessagingHosts/`).
    pub async fn launch(extra_args: &[&str], env: &[(&str, &str)], prepare: impl FnOnce(&Path)) -> Self {
        assert!(Path::new(CHROMEDRIVER).exists(), "no {CHROMEDRIVER} (apt-get install chromium-driver)");
        let profile = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", profile.path().join("chromedriver.log").display()))
            .env("HOME", profile.path())
            .env("XDG_CONFIG_HOME", profile.path().join("config"))
            .env("XDG_CACHE_HOME", profile.path().join("cache"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {CHROMEDRIVER}: {e}"));
        let http = reqwest::Client::builder().timeout(HANG_GUARD).build().unwrap();
        let base = format!("http://127.0.0.1:{port}");

        // Ready when `GET /status` says so.
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(res) => res.json::<Value>().await.ok().is_some_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{CHROMEDRIVER} not ready within {HANG_GUARD:?}");
            tokio::time::sleep(POLL).await;
        }

        let user_data = profile.path().join("chromium");
        std::fs::create_dir_all(&user_data).unwrap();
        prepare(&user_data);
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": { "binary": chromium(), "args": args },
                }
            }
        });
        let res = http.post(format!("{base}/session")).json(&capabilities).send().await;
        let body: Value = match res {
            Ok(r) => r.json().await.unwrap(),
            Err(e) => panic!("POST /session: {e}"),
        };
        let Some(session_id) = body["value"]["sessionId"].as_str().map(str::to_owned) else {
            let log = std::fs::read_to_string(profile.path().join("chromedriver.log")).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            panic!("no WebDriver session: {body}\nchromedriver log (end):\n{tail}");
        };
        let debugger = body["value"]["capabilities"]["goog:chromeOptions"]["debuggerAddress"]
            .as_str()
            .map(str::to_owned);
        let session = format!("{base}/session/{session_id}");
        let wd = Self { http, port, session, session_id, driver, profile, debugger };
        let ms = HANG_GUARD.as_millis() as u64;
        wd.command("POST", "/timeouts", json!({ "pageLoad": ms, "script": ms, "implicit": 0 })).await;
        wd
    }

    /// Sends a command of this session (`path` after `/session/ID`, e.g. `/url`; `""` for the
    /// session itself) and returns its `value`, or the driver's error.
    pub async fn try_command(&self, method: &str, path: &str, body: Value) -> Result<Value, DriverError> {
        let url = format!("{}{path}", self.session);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            "POST" => self.http.post(&url).json(&body),
            other => panic!("unsupported method {other}"),
        };
        let res = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let ok = res.status().is_success();
        let answer: Value = res.json().await.unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(DriverError {
                error: value["error"].as_str().unwrap_or("unknown error").to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            })
        }
    }

    /// [`Self::try_command`], panicking (with the page reached) on an error answer.
    pub async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        match self.try_command(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {method} {path} failed: {e}; page: {}", self.describe().await),
        }
    }

    /// Proves the page's Content-Security-Policy in the browser: an inline script and an
    /// inline event handler put into the page (as markup that got past escaping would be) do
    /// not run, and the browser reports each as a `securitypolicyviolation` of `script-src`.
    pub async fn assert_csp_blocks_inline_scripts(&self) {
        let inject = "window.__csp = []; window.__ran = [];
            document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));
            const s = document.createElement('script');
            s.textContent = \"window.__ran.push('script')\";
            document.body.appendChild(s);
            const d = document.createElement('div');
            d.innerHTML = '<img src=\"/__csp_probe_missing.png\" onerror=\"window.__ran.push(\\'handler\\')\">';
            document.body.appendChild(d);";
        self.execute(inject, vec![]).await;
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            let seen = self.execute("return [window.__csp, window.__ran];", vec![]).await;
            let violations: Vec<String> = seen[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(seen[1], json!([]), "an inline script ran despite the CSP: {seen}");
            if violations.len() >= 2 {
                assert!(violations.iter().all(|v| v.starts_with("script-src")), "{violations:?}");
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "no CSP violation reported: {seen}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Page {
        self.command("POST", "/url", json!({ "url": url })).await;
        self.page().await
    }

    /// The address of the current page.
    pub async fn current_url(&self) -> String {
        self.command("GET", "/url", Value::Null).await.as_str().unwrap_or_default().to_owned()
    }

    /// The current DOM, serialized.
    pub async fn source(&self) -> String {
        self.command("GET", "/source", Value::Null).await.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page; returns what it
    /// returns. Elements in `args` are passed as [`Element::json`].
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.command("POST", "/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// The current page (address, title, text, DOM).
    pub async fn page(&self) -> Page {
        let url = self.current_url().await;
        let title = self.command("GET", "/title", Value::Null).await.as_str().unwrap_or_default().to_owned();
        let text = self
            .execute("return document.body ? document.body.innerText : '';", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Page { url, title, text, source: self.source().await }
    }

    /// The current page for a failure message, without panicking itself.
    async fn describe(&self) -> String {
        let url = match self.try_command("GET", "/url", Value::Null).await {
            Ok(u) => u.as_str().unwrap_or_default().to_owned(),
            Err(e) => return format!("(unknown: {e})"),
        };
        let title = self.try_command("GET", "/title", Value::Null).await.ok();
        let text = self
            .try_command(
                "POST",
                "/execute/sync",
                json!({ "script": "return document.body ? document.body.innerText : '';", "args": [] }),
            )
            .await
            .ok();
        let page = Page {
            url,
            title: title.and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default(),
            text: text.and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default(),
            source: String::new(),
        };
        page.to_string()
    }

    /// The first element matching `css`, if there is one now.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let found =
            self.try_command("POST", "/element", json!({ "using": "css selector", "value": css })).await;
        match found {
            Ok(v) => Some(Element { id: element_id(&v), css: css.to_owned() }),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("finding {css:?}: {e}; page: {}", self.describe().await),
        }
    }

    /// The first element matching `css`; panics (showing the page) when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(e) => e,
            None => panic!("no element {css:?} on the page: {}", self.describe().await),
        }
    }

    /// All elements matching `css` (maybe none).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.command("POST", "/elements", json!({ "using": "css selector", "value": css })).await;
        v.as_array()
            .map(|a| a.iter().map(|e| Element { id: element_id(e), css: css.to_owned() }).collect())
            .unwrap_or_default()
    }

    /// Waits (bounded by [`HANG_GUARD`]) until an element matches `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("no element {css:?} within {HANG_GUARD:?}; page: {}", self.describe().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks `element` as the person would (scrolled into view, at its centre).
    pub async fn click(&self, element: &Element) {
        self.command("POST", &format!("/element/{}/click", element.id), json!({})).await;
    }

    /// Types `text` into `element` (focused first; for `<input type=file>` a file path).
    pub async fn send_keys(&self, element: &Element, text: &str) {
        self.command("POST", &format!("/element/{}/value", element.id), json!({ "text": text })).await;
    }

    /// Clears the field `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        self.command("POST", &format!("/element/{}/clear", field.id), json!({})).await;
        self.send_keys(&field, text).await;
    }

    /// Chooses the file at `path` in the file input `css` (the browser uploads it on submit).
    pub async fn choose_file(&self, css: &str, path: &Path) {
        let input = self.find(css).await;
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.send_keys(&input, &absolute.display().to_string()).await;
    }

    /// A property of `element` (`value`, `checked`…), as JSON.
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        self.command("GET", &format!("/element/{}/property/{name}", element.id), Value::Null).await
    }

    /// The rendered text of `element`.
    pub async fn text_of(&self, element: &Element) -> String {
        let v = self.command("GET", &format!("/element/{}/text", element.id), Value::Null).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Submits a form by clicking its button `button_css` (the browser sends the form itself),
    /// then waits for the next page to load and returns it. Panics when no new page comes.
    pub async fn submit(&self, button_css: &str) -> Page {
        self.click_to_next_page(button_css).await
    }

    /// Clicks the element `css` (a link, a button) and returns the page it leads to, once
    /// loaded (after any redirects). Panics when no new page comes.
    pub async fn click_to_next_page(&self, css: &str) -> Page {
        let target = self.find(css).await;
        let old = self.find("html").await;
        self.click(&target).await;
        self.wait_until_left(&old).await;
        self.page().await
    }

    /// Waits until `old` (an element of the previous page) is gone and the new document loaded.
    async fn wait_until_left(&self, old: &Element) {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            let path = format!("/element/{}/name", old.id);
            let left = match self.try_command("GET", &path, Value::Null).await {
                Ok(_) => false,
                Err(e) => e.error == "stale element reference" || e.error == "no such element",
            };
            if left {
                let state = self.execute("return document.readyState;", vec![]).await;
                if state == "complete" {
                    return;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("no new page within {HANG_GUARD:?} after the click; page: {}", self.describe().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sets a cookie for the current page's origin (navigate there first).
    pub async fn add_cookie(&self, name: &str, value: &str) {
        let cookie = json!({ "cookie": { "name": name, "value": value, "path": "/", "httpOnly": true } });
        self.command("POST", "/cookie", cookie).await;
    }

    /// The session's id (for commands built by hand).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// `host:port` of the browser's DevTools endpoint, for targets WebDriver does not list
    /// as windows (an extension's popup window, for instance).
    pub fn debugger_address(&self) -> &str {
        self.debugger.as_deref().expect("chromedriver reported no debuggerAddress")
    }

    /// The temporary profile folder (removed on drop), e.g. for files to upload.
    pub fn profile_dir(&self) -> &Path {
        self.profile.path()
    }
}

impl Element {
    /// The element as a script argument of [`WebDriver::execute`].
    pub fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

fn element_id(v: &Value) -> String {
    v[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("not an element reference: {v}")).to_owned()
}

impl Drop for WebDriver {
    /// Ends the session (chromedriver quits Chromium) with a plain blocking request (Drop cannot
    /// await, and a panicking test may have no runtime to spare), then kills chromedriver.
    fn drop(&mut self) {
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session_id, self.port
        );
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.start_kill();
    }
}
