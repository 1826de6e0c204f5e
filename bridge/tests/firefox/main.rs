//! The card bridge end to end in Firefox, with real parts only: a SoftHSM2 token holding a
//! test-PKI card is the card; the real `shikaku-bridge` host, registered for Firefox by
//! `shikaku-bridge install --browser firefox --user` in the test's `$HOME`
//! (`~/.mozilla/native-messaging-hosts/`), talks to it through PKCS#11; real headless Firefox
//! ESR (Debian `firefox-esr`, driven over WebDriver BiDi, no geckodriver) runs the Firefox
//! build of the extension (`bridge/extension/` with `manifest.firefox.json` as
//! `manifest.json`, installed as a temporary add-on) and opens the idp's real sign-in page.
//! The test types the PIN into the extension's PIN window as a person would. Without
//! `firefox-esr` the tests fail.

#[path = "../../../idp/tests/it/live.rs"]
#[expect(dead_code, reason = "the idp's test helpers, of which these tests use a part")]
mod live;

mod bidi;
#[path = "../shared.rs"]
#[expect(dead_code, reason = "the sign-in parts the tests share; the Firefox tests do not take the card out")]
mod shared;
#[path = "../system_host_lock.rs"]
mod system_host_lock;

use std::path::Path;
use std::process::Command;

use storage::testing::TestEnv;

use crate::bidi::Firefox;
use crate::live::Live;
use crate::shared::*;

/// The card button of the sign-in page.
const CARD_BUTTON: &str = "#card-login button[type=submit]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_signs_in_with_the_p256_card_in_firefox() {
    let live = live(TestEnv::sqlite_memory().await).await;
    let card = Card::new("doctor-auth-p256", "doctor-sign-p256");
    let (mut ff, _held) = firefox(&card, live.app.site.origin()).await;
    let claims = sign_in(&live, &mut ff, "資格　夏子").await;
    assert_eq!(claims["name"], "資格　夏子", "{claims}");
    assert_eq!(claims["hpki"]["subscriber_id"], "TESTM00003", "{claims}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pin_and_cancel_are_shown_on_the_sign_in_page_in_firefox() {
    let live = live(TestEnv::sqlite_memory().await).await;
    let card = Card::new("doctor-auth", "doctor-sign");
    let (mut ff, _held) = firefox(&card, live.app.site.origin()).await;
    let (url, _) = authorize_url(&live);
    let tab = ff.tab.clone();
    ff.goto(&tab, &url).await;

    // Wrong PIN: the page tells, with the code and the link to the bridge check.
    let prompt = press_card_button(&mut ff).await;
    enter_pin(&mut ff, &prompt, "9999").await;
    let text = final_status(&mut ff).await;
    assert!(text.contains("暗証番号が正しくありません。"), "{text}");
    assert!(text.contains("(ERR_WEBEID_PIN_INVALID)"), "{text}");
    assert!(text.contains("カード連携の状態を確認する"), "{text}");

    // The next PIN window warns that few tries are left; cancelling it is shown.
    let prompt = press_card_button(&mut ff).await;
    let shown = ff.eval(&prompt, "document.body.innerText").await;
    assert!(shown.as_str().unwrap().contains("残り試行回数が少なくなっています"), "{shown}");
    ff.click(&prompt, "#cancel").await;
    let text = final_status(&mut ff).await;
    assert!(text.contains("ログインを中止しました。 (ERR_WEBEID_USER_CANCELLED)"), "{text}");
}

/// What a test keeps until its end, beside the browser.
struct Held {
    _home: tempfile::TempDir,
    _extension: tempfile::TempDir,
    /// The shared system-host lock: while tests/deb.rs has the Debian package installed, its
    /// manifest in /usr/lib/mozilla/native-messaging-hosts/ is seen by every Firefox.
    _system_host: std::fs::File,
}

/// The Firefox build of the extension: `bridge/extension/` with `manifest.firefox.json` as
/// `manifest.json`, in a staging folder.
fn firefox_extension() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("extension");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name();
        if !name.to_string_lossy().starts_with("manifest") {
            std::fs::copy(src.join(&name), dir.path().join(&name)).unwrap();
        }
    }
    std::fs::copy(src.join("manifest.firefox.json"), dir.path().join("manifest.json")).unwrap();
    dir
}

/// Firefox with the host registered by `shikaku-bridge install` in its `$HOME` (with
/// `origin` allowed to read the certificate) and the extension installed.
async fn firefox(card: &Card, origin: &str) -> (Firefox, Held) {
    let system_host = tokio::task::spawn_blocking(|| system_host_lock::hold(false)).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("bridge.toml");
    let out = Command::new(HOST)
        .args(["install", "--browser", "firefox", "--user", "--config"])
        .arg(&config)
        .args(["--module", SOFTHSM, "--allow-origin", origin])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "install: {}", String::from_utf8_lossy(&out.stderr));
    let manifest = home.path().join(".mozilla/native-messaging-hosts/jp.shikaku.bridge.json");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(written["allowed_extensions"][0], "bridge@shikaku.jp", "{written}");

    let extension = firefox_extension();
    let env =
        [("SOFTHSM2_CONF", card.conf.to_str().unwrap()), ("SHIKAKU_BRIDGE_CONFIG", config.to_str().unwrap())];
    let mut ff = Firefox::launch(home.path(), &env).await;
    let id = ff.install_extension(extension.path()).await;
    assert_eq!(id, "bridge@shikaku.jp");
    (ff, Held { _home: home, _extension: extension, _system_host: system_host })
}

/// Clicks the sign-in page's card button; waits for the PIN window, filled in, and returns it.
async fn press_card_button(ff: &mut Firefox) -> String {
    let tab = ff.tab.clone();
    ff.wait_for(&tab, &format!("!!document.querySelector({CARD_BUTTON:?})")).await;
    ff.click(&tab, CARD_BUTTON).await;
    let prompt = ff.wait_for_context("moz-extension://").await;
    ff.wait_for(
        &prompt,
        "document.readyState === 'complete' && !!document.getElementById('title').textContent",
    )
    .await;
    prompt
}

/// Types the PIN into the PIN window and presses Enter.
async fn enter_pin(ff: &mut Firefox, prompt: &str, pin: &str) {
    ff.wait_for(prompt, "document.activeElement && document.activeElement.id === 'pin'").await;
    ff.type_and_enter(prompt, pin).await;
}

/// Waits until the sign-in page's status line shows a final text; returns the page's text.
async fn final_status(ff: &mut Firefox) -> String {
    let tab = ff.tab.clone();
    let working = ff.eval(&tab, "document.getElementById('card-login').dataset.msgWorking").await;
    let deadline = tokio::time::Instant::now() + bidi::HANG_GUARD;
    loop {
        let text = ff.eval(&tab, "document.getElementById('card-status').textContent").await;
        if text.as_str().is_some_and(|t| !t.is_empty()) && text != working {
            return ff.eval(&tab, "document.body.innerText").await.as_str().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no final status: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Signs in at the client's authorization request; checks what the PIN window shows; returns
/// the claims of the userinfo endpoint for the tokens the client gets.
async fn sign_in(live: &Live, ff: &mut Firefox, holder: &str) -> serde_json::Value {
    let (url, verifier) = authorize_url(live);
    let tab = ff.tab.clone();
    ff.goto(&tab, &url).await;
    let path = ff.eval(&tab, "location.pathname + location.search").await;
    assert!(path.as_str().unwrap().starts_with("/login?request="), "{path}");

    let prompt = press_card_button(ff).await;
    let shown = ff.eval(&prompt, "document.body.innerText").await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains(live.app.site.origin()), "the PIN window names the site: {shown}");
    assert!(shown.contains(holder), "the PIN window names the card holder: {shown}");
    assert!(shown.contains("本人確認"), "{shown}");
    enter_pin(ff, &prompt, PIN).await;

    ff.wait_for(&tab, "!!document.getElementById('callback')").await;
    let query = ff.eval(&tab, "document.getElementById('callback').textContent").await;
    let query = query.as_str().unwrap();
    let back = format!("/?{query}");
    assert_eq!(live::query_param(&back, "state").as_deref(), Some("st"), "{query}");
    let code = live::query_param(&back, "code").unwrap_or_else(|| panic!("no code: {query}"));
    let tokens = exchange_code(live, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    let res = reqwest::Client::new().get(live.url("/userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}
