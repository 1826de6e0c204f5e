//! The card bridge end to end, with real parts only: a SoftHSM2 token holding a test-PKI card
//! (keys and certificates of the authentication and the signature application) is the card;
//! the real `shikaku-bridge` host, registered by `shikaku-bridge install` in the browser's
//! profile, talks to it through PKCS#11; real headless Chromium loads the unpacked extension
//! (`bridge/extension/`) and opens the idp's real pages. The test types the PIN into the
//! extension's PIN window (reached over the DevTools protocol, which lists it; WebDriver does
//! not), as a person would.

#[path = "../../../idp/tests/it/live.rs"]
#[expect(dead_code, reason = "the idp's test helpers, of which these tests use a part")]
mod live;
#[path = "../../../portal/tests/it/webdriver.rs"]
mod webdriver;

mod cdp;
#[path = "../pinpad_module.rs"]
mod pinpad_module;
#[path = "../shared.rs"]
mod shared;
mod signin;
#[path = "../system_host_lock.rs"]
mod system_host_lock;

use storage::testing::TestEnv;

use crate::live::{Live, pki};
use crate::signin::*;
use crate::webdriver::WebDriver;

storage::each_backend!(
    doctor_signs_in_with_the_rsa_card_and_reaches_the_account_of_the_tls_certificate,
    doctor_signs_in_with_the_p256_card,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_pad_reader_signs_in_without_a_typed_pin() {
    pin_pad(TestEnv::sqlite_memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_states_are_shown_on_the_sign_in_page() {
    failure_states(TestEnv::sqlite_memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_host_the_page_shows_the_install_guidance() {
    host_not_installed(TestEnv::sqlite_memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_for_another_origin_is_refused() {
    other_origin(TestEnv::sqlite_memory().await).await;
}

/// Signs in at the client's authorization request with `card`; checks what the PIN window
/// shows; returns the claims of the userinfo endpoint for the tokens the client gets.
async fn sign_in(live: &Live, wd: &WebDriver, holder: &str) -> serde_json::Value {
    let (url, verifier) = authorize_url(live);
    let page = wd.goto(&url).await;
    page.assert_not_error();
    assert!(page.path().starts_with("/login?request="), "{page}");

    let mut prompt = press_card_button(wd).await;
    let shown = prompt.text().await;
    assert!(shown.contains(live.app.site.origin()), "the PIN window names the site: {shown}");
    assert!(shown.contains(holder), "the PIN window names the card holder: {shown}");
    assert!(shown.contains("本人確認"), "{shown}");
    enter_pin(&mut prompt, PIN).await;

    let page = wd.wait_for("#callback").await;
    let query = wd.text_of(&page).await;
    let back = format!("/?{query}");
    assert_eq!(live::query_param(&back, "state").as_deref(), Some("st"), "{query}");
    let code = live::query_param(&back, "code").unwrap_or_else(|| panic!("no code: {query}"));
    let tokens = exchange_code(live, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    let res = reqwest::Client::new().get(live.url("/userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn doctor_signs_in_with_the_rsa_card_and_reaches_the_account_of_the_tls_certificate(env: TestEnv) {
    let live = live(env).await;
    let card = Card::new("doctor-auth", "doctor-sign");
    let (wd, _config) = browser(&card, live.app.site.origin(), true).await;
    let claims = sign_in(&live, &wd, "日本　太郎").await;
    assert_eq!(claims["name"], "日本　太郎", "{claims}");
    assert_eq!(claims["hpki"]["subscriber_id"], "TESTJ00001", "{claims}");
    let serial = pki().card("doctor-auth").unwrap().issued.serial;
    assert_eq!(claims["hpki"]["serial"], format!("{serial:x}"), "the authentication certificate: {claims}");

    // The same card's certificate through a TLS-terminating proxy lands in the same account.
    let b = live::browser();
    let res = b.get(live.url("/login/certificate")).send().await.unwrap();
    let tls = live::location(&res);
    let pem = pki().card("doctor-auth").unwrap().issued.pem();
    let escaped: String = pem
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let res = b.get(&tls).header("x-ssl-client-cert", escaped).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let res = b.get(live::location(&res)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let accounts = idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap();
    assert_eq!(accounts.len(), 1, "one account for both ways in: {accounts:?}");
    let methods: Vec<String> = idp::store::audit::find_entries(&live.env.db.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.event == "sign_in" && e.entry.outcome == "success")
        .map(|e| e.detail_text)
        .collect();
    assert_eq!(methods.len(), 2, "{methods:?}");
    assert!(methods[0].contains("\"card\""), "{methods:?}");
    assert!(methods[1].contains("\"tls_proxy\""), "{methods:?}");
}

async fn doctor_signs_in_with_the_p256_card(env: TestEnv) {
    let live = live(env).await;
    let card = Card::new("doctor-auth-p256", "doctor-sign-p256");
    let (wd, _config) = browser(&card, live.app.site.origin(), true).await;
    let claims = sign_in(&live, &wd, "資格　夏子").await;
    assert_eq!(claims["name"], "資格　夏子", "{claims}");
    assert_eq!(claims["hpki"]["subscriber_id"], "TESTM00003", "{claims}");
}

/// A reader with a PIN pad: the PIN window has no PIN field and says to use the reader's
/// keypad; OK there, the PIN typed on the (simulated) pad, and the client gets its code.
async fn pin_pad(env: TestEnv) {
    let live = live(env).await;
    let card = Card::new("doctor-auth", "doctor-sign");
    let pad = [(pinpad_module::PAD_PIN_ENV, PIN)];
    let (wd, _config) =
        browser_with(&card, live.app.site.origin(), true, pinpad_module::module(), &pad).await;
    let (url, verifier) = authorize_url(&live);
    wd.goto(&url).await.assert_not_error();
    let mut prompt = press_card_button(&wd).await;
    prompt.wait_for("document.activeElement && document.activeElement.id === 'ok'").await;
    let shown = prompt.text().await;
    assert!(shown.contains("カードリーダーのキーパッドで PIN を入力してください。"), "{shown}");
    let pin_field_hidden = prompt.evaluate("document.getElementById('pin-row').hidden").await;
    assert_eq!(pin_field_hidden, serde_json::json!(true), "no PIN field for a PIN pad");
    prompt.click("#ok").await;

    let page = wd.wait_for("#callback").await;
    let query = wd.text_of(&page).await;
    let code = live::query_param(&format!("/?{query}"), "code").unwrap_or_else(|| panic!("no code: {query}"));
    let tokens = exchange_code(&live, &code, &verifier).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
}

/// Wrong PIN, cancelled, card removed: each a clear text on the sign-in page with the link to
/// the bridge check, which then shows the card's state.
async fn failure_states(env: TestEnv) {
    let live = live(env).await;
    let card = Card::new("doctor-auth", "doctor-sign");
    let (wd, _config) = browser(&card, live.app.site.origin(), true).await;
    let (url, _) = authorize_url(&live);
    wd.goto(&url).await.assert_not_error();

    // Wrong PIN: the card says so; the page tells, with the tries the card reports.
    let mut prompt = press_card_button(&wd).await;
    enter_pin(&mut prompt, "9999").await;
    let page = final_status(&wd).await;
    page.assert_text("暗証番号が正しくありません。");
    page.assert_text("(ERR_WEBEID_PIN_INVALID)");
    page.assert_text("カード連携の状態を確認する");

    // The next PIN window warns that few tries are left (the card's flag).
    let mut prompt = press_card_button(&wd).await;
    let shown = prompt.text().await;
    assert!(shown.contains("残り試行回数が少なくなっています"), "{shown}");
    // Cancel.
    prompt.click("#cancel").await;
    let page = final_status(&wd).await;
    page.assert_text("ログインを中止しました。 (ERR_WEBEID_USER_CANCELLED)");
    assert!(!cdp::is_open(wd.debugger_address(), &prompt_url()).await, "the PIN window closed");

    // Closing the PIN window is cancelling too; the right PIN afterwards still works.
    let mut prompt = press_card_button(&wd).await;
    let _ = prompt.call("Page.close", serde_json::json!({})).await;
    let page = final_status(&wd).await;
    page.assert_text("(ERR_WEBEID_USER_CANCELLED)");

    // The card taken out: no card, and the bridge check says so.
    card.remove();
    let button = wd.find("#card-login button[type=submit]").await;
    wd.click(&button).await;
    let page = final_status(&wd).await;
    page.assert_text("カードが読み取れません。医師資格証をリーダーに置いてください。 (ERR_WEBEID_NO_CARD)");
    let page = wd.click_to_next_page("#card-help a").await;
    assert_eq!(page.path(), "/bridge", "{page}");
    let card_state = wd.wait_for("#bridge-card.missing").await;
    assert_eq!(wd.text_of(&card_state).await, "カードがありません（リーダーに医師資格証を置いてください）");
    let page = wd.page().await;
    page.assert_text(&format!("見つかりました ({})", env!("CARGO_PKG_VERSION")));
}

/// The extension without the host: the sign-in page says the bridge program is missing and
/// links to `/bridge`, which shows the extension found, the host not, and the steps.
async fn host_not_installed(env: TestEnv) {
    let live = live(env).await;
    let card = Card::new("doctor-auth", "doctor-sign");
    let (wd, _config) = browser(&card, live.app.site.origin(), false).await;
    let (url, _) = authorize_url(&live);
    wd.goto(&url).await.assert_not_error();
    let button = wd.find("#card-login button[type=submit]").await;
    wd.click(&button).await;
    let page = final_status(&wd).await;
    page.assert_text("医師資格証ブリッジ（shikaku-bridge）がインストールされていない");
    page.assert_text("(ERR_WEBEID_NATIVE_UNAVAILABLE)");
    let page = wd.click_to_next_page("#card-help a").await;
    assert_eq!(page.path(), "/bridge", "{page}");
    let host = wd.wait_for("#bridge-host.missing").await;
    assert_eq!(wd.text_of(&host).await, "見つかりません (ERR_WEBEID_NATIVE_UNAVAILABLE)");
    let page = wd.page().await;
    page.assert_text(&format!("見つかりました ({})", env!("CARGO_PKG_VERSION")));
    let step = wd.find("#step-host").await;
    assert_eq!(wd.property(&step, "className").await, "todo", "{page}");
    page.assert_text("shikaku-bridge install --user");
}

/// A page on another origin gets the user to sign the idp's nonce: the PIN window names that
/// origin, and the token it gets is refused by the idp (the signed origin is not the idp's).
async fn other_origin(env: TestEnv) {
    let live = live(env).await;
    let card = Card::new("doctor-auth", "doctor-sign");
    // A second site, on localhost (another origin than the idp's 127.0.0.1).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let page = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::response::Html(
                "<!doctype html><title>other</title><button id=\"go\">go</button><pre id=\"out\"></pre>\
                 <script>\
                 addEventListener('message', e => { if (e.source === window && /-(success|failure)$/.test(e.data.action))\
                   document.getElementById('out').textContent = JSON.stringify(e.data); });\
                 document.getElementById('go').onclick = () => postMessage({action: 'web-eid:authenticate',\
                   challengeNonce: location.hash.slice(1), origin: 'http://127.0.0.1'}, location.origin);\
                 </script>",
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, page).await.unwrap() });

    // The victim's idp login: a challenge bound to this (test) browser's cookie.
    let b = live::browser();
    let html = b.get(live.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = live::csrf_of(&html);
    let challenge: serde_json::Value =
        b.get(live.url("/login/card/challenge")).send().await.unwrap().json().await.unwrap();
    let nonce = challenge["nonce"].as_str().unwrap();

    let (wd, _config) = browser(&card, live.app.site.origin(), true).await;
    wd.goto(&format!("{other}/#{nonce}")).await;
    let go = wd.find("#go").await;
    wd.click(&go).await;
    let mut prompt = cdp::wait_for_page(wd.debugger_address(), &prompt_url()).await;
    let shown = prompt.text().await;
    assert!(shown.contains(&other), "the PIN window names the asking site, not the idp: {shown}");
    enter_pin(&mut prompt, PIN).await;
    let out = wd.wait_for("#out:not(:empty)").await;
    let reply: serde_json::Value = serde_json::from_str(&wd.text_of(&out).await).unwrap();
    assert_eq!(reply["action"], "web-eid:authenticate-success", "{reply}");

    let token = serde_json::json!({
        "format": reply["format"], "unverifiedCertificate": reply["unverifiedCertificate"],
        "algorithm": reply["algorithm"], "signature": reply["signature"], "appVersion": reply["appVersion"],
    });
    let res = b
        .post(live.url("/login/card"))
        .header("x-csrf-token", csrf)
        .header("origin", live.app.site.origin())
        .json(&serde_json::json!({ "auth_token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "signature_invalid", "{body}");
}
