//! What the Chromium tests and the whole-browser sign-in bench (`benches/signin.rs`) share:
//! headless Chromium with the extension and the host registered in its profile, the card
//! button, the PIN window, and (re-exported) the browser-independent parts of `shared.rs`.
//! Both crates declare `live`, `shared`, `webdriver`, `cdp` and `system_host_lock` at their
//! root.

use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::shared::*;
use crate::webdriver::{self, Page, WebDriver};
use crate::{cdp, system_host_lock};

/// The extension's fixed id (manifest `key`).
pub const EXTENSION_ID: &str = "fagohgkpphfndknmajceahcohidaebje";

pub fn extension_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("extension")
}

pub fn prompt_url() -> String {
    format!("chrome-extension://{EXTENSION_ID}/prompt.html")
}

/// What a browser test keeps until its end, beside the browser.
pub struct Held {
    /// The host's configuration folder.
    _config_dir: tempfile::TempDir,
    /// The shared system-host lock: while tests/deb.rs has the Debian package installed, its
    /// manifest in /etc/chromium/native-messaging-hosts/ is seen by every Chromium, so a
    /// browser without the host in its profile would still find one (see system_host_lock.rs).
    _system_host: std::fs::File,
}

/// The browser with the extension loaded; the host is registered in its profile by
/// `shikaku-bridge install` when `install` is set (with `origin` allowed to read the
/// certificate).
pub async fn browser(card: &Card, origin: &str, install: bool) -> (WebDriver, Held) {
    browser_with(card, origin, install, SOFTHSM, &[]).await
}

/// [`browser`] with the host given the PKCS#11 `module` at install and `extra_env` (through
/// the browser, which starts the host).
pub async fn browser_with(
    card: &Card,
    origin: &str,
    install: bool,
    module: &str,
    extra_env: &[(&str, &str)],
) -> (WebDriver, Held) {
    let system_host = tokio::task::spawn_blocking(|| system_host_lock::hold(false)).await.unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("config.toml");
    let ext = extension_dir();
    let args = [
        format!("--load-extension={}", ext.display()),
        format!("--disable-extensions-except={}", ext.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut env = vec![
        ("SOFTHSM2_CONF", card.conf.to_str().unwrap()),
        ("SHIKAKU_BRIDGE_CONFIG", config.to_str().unwrap()),
    ];
    env.extend_from_slice(extra_env);
    let wd = WebDriver::launch(&args, &env, |user_data| {
        if !install {
            return;
        }
        let out = Command::new(HOST)
            .args(["install", "--browser", "chromium", "--user-data-dir"])
            .arg(user_data)
            .arg("--config")
            .arg(&config)
            .args(["--module", module, "--allow-origin", origin])
            .output()
            .unwrap();
        assert!(out.status.success(), "install: {}", String::from_utf8_lossy(&out.stderr));
        let manifest = user_data.join("NativeMessagingHosts/jp.shikaku.bridge.json");
        assert!(manifest.exists(), "install wrote no {}", manifest.display());
    })
    .await;
    (wd, Held { _config_dir: config_dir, _system_host: system_host })
}

/// Presses the sign-in page's card button and waits for the PIN window.
pub async fn press_card_button(wd: &WebDriver) -> cdp::Target {
    let button = wd.find("#card-login button[type=submit]").await;
    wd.click(&button).await;
    cdp::wait_for_page(wd.debugger_address(), &prompt_url()).await
}

/// Types the PIN into the PIN window and presses Enter.
pub async fn enter_pin(prompt: &mut cdp::Target, pin: &str) {
    prompt.wait_for("document.activeElement && document.activeElement.id === 'pin'").await;
    prompt.type_text(pin).await;
    prompt.press("Enter", 13).await;
}

/// Waits until the sign-in page's status line shows a final text; returns the page.
pub async fn final_status(wd: &WebDriver) -> Page {
    let working =
        wd.execute("return document.getElementById('card-login').dataset.msgWorking;", vec![]).await;
    let deadline = tokio::time::Instant::now() + webdriver::HANG_GUARD;
    loop {
        let text = wd.execute("return document.getElementById('card-status').textContent;", vec![]).await;
        if text.as_str().is_some_and(|t| !t.is_empty()) && text != working {
            return wd.page().await;
        }
        assert!(tokio::time::Instant::now() < deadline, "no final status: {}", wd.page().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
