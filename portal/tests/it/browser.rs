//! A real headless Chromium for page tests: loads a URL served on a real port, dumps the DOM
//! after load or saves a screenshot. Each run gets a fresh profile (`--user-data-dir`,
//! `XDG_CONFIG_HOME`), so no state leaks between runs. Server-rendered pages need no
//! DevTools protocol: `--dump-dom` returns the DOM once the page has loaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

/// The browser binary (Debian's `chromium` package).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Guard against a hung browser (not a timing assertion: a healthy run takes seconds).
const HANG_GUARD: Duration = Duration::from_secs(120);

/// Where screenshots go: `target/screenshots/` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("screenshots")
}

fn command(profile: &Path, window: (u32, u32)) -> Command {
    let mut c = Command::new(CHROMIUM);
    c.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={},{}", window.0, window.1))
    .env("XDG_CONFIG_HOME", profile.join("config"))
    .env("XDG_CACHE_HOME", profile.join("cache"))
    .env("HOME", profile)
    .kill_on_drop(true);
    c
}

async fn run(mut c: Command) -> std::process::Output {
    let out = tokio::time::timeout(HANG_GUARD, c.output())
        .await
        .unwrap_or_else(|_| panic!("{CHROMIUM} did not finish within {HANG_GUARD:?}"))
        .unwrap_or_else(|e| panic!("cannot run {CHROMIUM}: {e}"));
    assert!(out.status.success(), "{CHROMIUM} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The DOM of `url` after load, serialized.
pub async fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut c = command(profile.path(), (1200, 1600));
    c.arg("--dump-dom").arg(url);
    String::from_utf8(run(c).await.stdout).unwrap()
}

/// Saves a PNG screenshot of `url` at `window` size to `path` (folders created).
pub async fn screenshot(url: &str, path: &Path, window: (u32, u32)) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let _ = std::fs::remove_file(path);
    let profile = tempfile::tempdir().unwrap();
    let mut c = command(profile.path(), window);
    c.arg(format!("--screenshot={}", path.display())).arg(url);
    run(c).await;
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG: {}", path.display());
}

/// A router served on a real port for the browser, with one extra test-only route:
/// `/__test/sign-in?to=PATH` sets the portal session cookie `sid` and redirects to `PATH`
/// (Chromium takes no cookie on its command line). Dropping it stops the server.
pub struct Served {
    base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Serves `app` with the sign-in route for the session `sid`.
    pub async fn signed_in(app: axum::Router, sid: &str) -> Self {
        use axum::extract::Query;
        use axum::http::header;
        use axum::response::{IntoResponse, Redirect};

        #[derive(serde::Deserialize)]
        struct To {
            to: String,
        }
        let site = web::Site::new("portal", crate::PUBLIC_URL);
        let sid = sid.to_owned();
        let routes = axum::Router::new()
            .route(
                "/__test/sign-in",
                axum::routing::get(move |Query(q): Query<To>| async move {
                    let mut res = Redirect::to(&q.to).into_response();
                    res.headers_mut()
                        .append(header::SET_COOKIE, portal::signin::set_session_cookie(&site, &sid));
                    res
                }),
            )
            .fallback_service(app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
        Self { base, server }
    }

    /// The URL that signs the browser in and opens `path`.
    pub fn url(&self, path: &str) -> String {
        let to: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        format!("{}/__test/sign-in?to={to}", self.base)
    }

    /// Dumps `path`'s DOM and saves its screenshot as `name` (suffixed with the backend
    /// unless SQLite) in [`screenshot_dir`]; returns the DOM.
    pub async fn capture(&self, path: &str, name: &str, backend: &str) -> String {
        let url = self.url(path);
        let dom = dump_dom(&url).await;
        let file = if backend == "sqlite" { format!("{name}.png") } else { format!("{name}-{backend}.png") };
        let shot = screenshot_dir().join(file);
        screenshot(&url, &shot, (1200, 1600)).await;
        assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a page, not a blank image: {path}");
        dom
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}
