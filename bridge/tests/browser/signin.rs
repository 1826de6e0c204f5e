//! What the browser tests and the whole-browser sign-in bench (`benches/signin.rs`) share:
//! the SoftHSM2 card, headless Chromium with the extension and the host registered in its
//! profile, the idp with the test client, the authorization request, the card button, the PIN
//! window and the token exchange. Both crates declare `live`, `webdriver`, `cdp` and
//! `system_host_lock` at their root.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::clients::AuthMethod;
use idp::signin::certificate::CertLoginConfig;
use sha2::Digest;
use storage::testing::TestEnv;

use crate::live::{self, Live, pki};
use crate::webdriver::{self, Page, WebDriver};
use crate::{cdp, system_host_lock};

/// The host binary under test.
pub const HOST: &str = env!("CARGO_BIN_EXE_shikaku-bridge");
/// The extension's fixed id (manifest `key`).
pub const EXTENSION_ID: &str = "fagohgkpphfndknmajceahcohidaebje";
/// The PIN of the test cards.
pub const PIN: &str = "1234";
/// Debian's SoftHSM2 module.
pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The client of these tests: its callback is a page on the idp's origin that shows its query.
pub const CLIENT_ID: &str = "bridge-rp";

pub fn extension_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("extension")
}

pub fn prompt_url() -> String {
    format!("chrome-extension://{EXTENSION_ID}/prompt.html")
}

/// A card: a SoftHSM2 token with the authentication and signature keys and certificates of
/// two test-PKI end entities, in its own folder.
pub struct Card {
    dir: tempfile::TempDir,
    pub conf: PathBuf,
}

impl Card {
    pub fn new(auth: &str, sign: &str) -> Card {
        let dir = tempfile::tempdir().unwrap();
        let auth = pki().card(auth).unwrap();
        let sign = pki().card(sign).unwrap();
        let conf = bridge::softhsm::provision(
            dir.path(),
            "HPKI TEST CARD",
            PIN,
            &[(&auth.issued.der, &auth.issued.key), (&sign.issued.der, &sign.issued.key)],
        )
        .unwrap_or_else(|e| panic!("SoftHSM token: {e}"));
        Card { dir, conf }
    }

    /// Takes the card out of the reader: the token's files are removed.
    pub fn remove(&self) {
        for entry in std::fs::read_dir(self.dir.path().join("tokens")).unwrap() {
            std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
        }
    }
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
    let system_host = tokio::task::spawn_blocking(|| system_host_lock::hold(false)).await.unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("config.toml");
    let ext = extension_dir();
    let args = [
        format!("--load-extension={}", ext.display()),
        format!("--disable-extensions-except={}", ext.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env =
        [("SOFTHSM2_CONF", card.conf.to_str().unwrap()), ("SHIKAKU_BRIDGE_CONFIG", config.to_str().unwrap())];
    let wd = WebDriver::launch(&args, &env, |user_data| {
        if !install {
            return;
        }
        let out = Command::new(HOST)
            .args(["install", "--browser", "chromium", "--user-data-dir"])
            .arg(user_data)
            .arg("--config")
            .arg(&config)
            .args(["--module", SOFTHSM, "--allow-origin", origin])
            .output()
            .unwrap();
        assert!(out.status.success(), "install: {}", String::from_utf8_lossy(&out.stderr));
        let manifest = user_data.join("NativeMessagingHosts/jp.shikaku.bridge.json");
        assert!(manifest.exists(), "install wrote no {}", manifest.display());
    })
    .await;
    (wd, Held { _config_dir: config_dir, _system_host: system_host })
}

/// The idp with certificate sign-in behind a proxy at 127.0.0.1 allowed, and the test
/// client whose callback page is served on the idp's origin.
pub async fn live(env: TestEnv) -> Live {
    live_with(env, idp::rate_limit::RateLimits::default()).await
}

/// [`live`] with the given rate limits (the bench signs the same card in far more often than
/// the per-card limit allows).
pub async fn live_with(env: TestEnv, rate_limits: idp::rate_limit::RateLimits) -> Live {
    let cert_login = CertLoginConfig {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..CertLoginConfig::default()
    };
    let live = Live::start_routed(
        env,
        true,
        |c| idp::IdpConfig { cert_login, rate_limits, ..c },
        |_, idp| {
            idp.route(
                "/__test/callback",
                axum::routing::get(|uri: axum::http::Uri| async move {
                    let query = uri.query().unwrap_or_default().to_owned();
                    axum::response::Html(format!(
                        "<!doctype html><title>callback</title><p id=\"callback\">{query}</p>"
                    ))
                }),
            )
        },
    )
    .await;
    let mut client = live::client(CLIENT_ID, AuthMethod::ClientSecretBasic);
    client.redirect_uris = vec![live.url("/__test/callback")];
    client.skip_consent = true;
    live::register(&live.env.db.db, client).await;
    live
}

/// An authorization request of [`CLIENT_ID`]; returns the URL and the PKCE verifier.
pub fn authorize_url(live: &Live) -> (String, String) {
    let verifier = idp::ids::random(32);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let callback = live.url("/__test/callback");
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", &callback),
            ("scope", "openid profile hpki"),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("lang", "ja"),
        ])
        .finish();
    (live.url(&format!("/authorize?{query}")), verifier)
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

/// The client's token request for `code`; returns the tokens (checked: 200, an ID token).
pub async fn exchange_code(live: &Live, code: &str, verifier: &str) -> serde_json::Value {
    let callback = live.url("/__test/callback");
    let (status, tokens) = live::post_as(
        live,
        "/token",
        CLIENT_ID,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &callback),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string(), "no ID token: {tokens}");
    tokens
}
