//! A real headless Chromium for page tests: loads a URL served on a real port, dumps the DOM
//! after load or saves a screenshot. Each run gets a fresh profile (`--user-data-dir`,
//! `XDG_CONFIG_HOME`), so no state leaks between runs. Server-rendered pages need no
//! DevTools protocol: `--dump-dom` returns the DOM once the page has loaded.
//!
//! Shared by the portal's and the idp's integration tests (the idp includes this file); each
//! uses part of it.
#![allow(dead_code)]

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

/// The DOM of `url` after load and `budget_ms` of virtual time (timers fire, fetches and
/// navigations complete): for pages whose scripts act after load.
pub async fn dump_dom_after(url: &str, budget_ms: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut c = command(profile.path(), (1200, 1600));
    c.arg(format!("--virtual-time-budget={budget_ms}")).arg("--dump-dom").arg(url);
    String::from_utf8(run(c).await.stdout).unwrap()
}
