//! The idp's HTML forms submitted by a real headless Chromium (through chromedriver): the
//! browser itself clicks the buttons, so it sends its own `Origin`, `Sec-Fetch-Site` and
//! cookies. Demo virtual-card sign-in, consent for a client without consent skip, the account
//! page's "revoke consent" and the logout confirmation; each test checks what the person sees
//! next, and that it is not an error page (the 403 of a refused CSRF check, for instance).

use idp::clients::AuthMethod;
use sha2::Digest;
use storage::testing::TestEnv;

use crate::live::{self, Live};
use crate::webdriver::{Page, WebDriver};

storage::each_backend!(
    virtual_card_sign_in_and_consent_in_chromium,
    account_and_logout_forms_in_chromium,
    stored_markup_is_text_and_inline_scripts_are_blocked_in_chromium,
);

/// A client name holding markup (an operator's typo or an attack) shows as text on the sign-in
/// and consent pages and runs nothing; an inline script that did get in is blocked by the CSP.
async fn stored_markup_is_text_and_inline_scripts_are_blocked_in_chromium(env: TestEnv) {
    let live = live(env).await;
    let name = "<script>window.__stored = true</script><img src=/x onerror=\"window.__stored = true\">";
    let mut client = live::client("markup-rp", AuthMethod::ClientSecretBasic);
    client.name = name.into();
    client.redirect_uris = vec![live.url("/__test/callback")];
    live::register(&live.env.db.db, client).await;
    let wd = WebDriver::start().await;
    let url = authorize_url(&live).replace(&format!("client_id={CLIENT_ID}"), "client_id=markup-rp");
    let page = wd.goto(&url).await;
    assert!(page.path().starts_with("/login?request="), "{page}");
    page.assert_text(name);
    let page = wd.submit("form[action='/login/virtual-card'] button[type=submit]").await;
    assert!(page.path().starts_with("/authorize/consent"), "{page}");
    page.assert_text(name);
    assert_eq!(wd.execute("return window.__stored === undefined;", vec![]).await, true, "{page}");
    wd.assert_csp_blocks_inline_scripts().await;
}

/// A client of this test whose redirect URI is [`callback`] on the idp's own origin, so that
/// the browser's last hop is a page the test can read.
const CLIENT_ID: &str = "forms-rp";

/// The idp in demo mode (one virtual card) with `/__test/callback` in front: it shows the
/// query it was called with, as a client's callback would receive it.
async fn live(env: TestEnv) -> Live {
    let live = Live::start_routed(
        env,
        true,
        |c| idp::IdpConfig { demo_cards: live::demo_cards(), ..c },
        |_, idp| live::with_test_callback(idp),
    )
    .await;
    let mut client = live::client(CLIENT_ID, AuthMethod::ClientSecretBasic);
    client.redirect_uris = vec![live.url("/__test/callback")];
    live::register(&live.env.db.db, client).await;
    live
}

/// An authorization request of [`CLIENT_ID`] (PKCE, state `st`), in Japanese.
fn authorize_url(live: &Live) -> String {
    let verifier = idp::ids::random(32);
    let challenge = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let callback = live.url("/__test/callback");
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", &callback),
            ("scope", "openid profile"),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("lang", "ja"),
        ])
        .finish();
    live.url(&format!("/authorize?{query}"))
}

/// From the authorization request to the client's callback: the virtual card's button on the
/// sign-in page, then "allow" on the consent page. Returns the callback page.
async fn sign_in_and_allow(wd: &WebDriver, live: &Live) -> Page {
    let page = wd.goto(&authorize_url(live)).await;
    page.assert_not_error();
    assert!(page.path().starts_with("/login?request="), "{page}");
    page.assert_text("デモ用の仮想カード");
    let page = wd.submit("form[action='/login/virtual-card'] button[type=submit]").await;
    page.assert_not_error();
    assert!(page.path().starts_with("/authorize/consent"), "{page}");
    page.assert_text("情報提供の確認");
    page.assert_text("地域医療連携ネットワーク");
    let page = wd.submit("form[action='/authorize/consent'] button[name=decision][value=allow]").await;
    page.assert_not_error();
    page
}

async fn virtual_card_sign_in_and_consent_in_chromium(env: TestEnv) {
    let live = live(env).await;
    let wd = WebDriver::start().await;
    let page = sign_in_and_allow(&wd, &live).await;
    assert!(page.path().starts_with("/__test/callback?"), "{page}");
    let query = wd.text_of(&wd.find("#callback").await).await;
    let url = format!("/?{query}");
    assert_eq!(live::query_param(&url, "state").as_deref(), Some("st"), "{page}");
    let code = live::query_param(&url, "code").unwrap_or_else(|| panic!("no code: {page}"));
    assert!(!code.is_empty(), "{page}");

    // Signed in: the account page lists this browser's session and the client.
    let page = wd.goto(&live.url("/account")).await;
    page.assert_not_error();
    page.assert_text("（このブラウザ）");
    page.assert_text("地域医療連携ネットワーク");
}

async fn account_and_logout_forms_in_chromium(env: TestEnv) {
    let live = live(env).await;
    let wd = WebDriver::start().await;
    sign_in_and_allow(&wd, &live).await;

    // The account page: take the consent back.
    let page = wd.goto(&live.url("/account?lang=ja")).await;
    page.assert_not_error();
    page.assert_text("地域医療連携ネットワーク");
    let page = wd.submit("form[action='/account/apps/revoke'] button[type=submit]").await;
    page.assert_not_error();
    assert_eq!(page.path(), "/account", "{page}");
    page.assert_text("連携しているサービスはありません。");

    // Logout without an id_token_hint asks first; confirming ends the session.
    let page = wd.goto(&live.url("/logout")).await;
    page.assert_not_error();
    let page = wd.submit("form[action='/logout'] button[name=confirm][value=yes]").await;
    page.assert_not_error();
    page.assert_text("ログアウトしました");
    let page = wd.goto(&live.url("/account")).await;
    assert!(!page.text.contains("（このブラウザ）"), "signed out: {page}");
    page.assert_text("このページを見るには、医師資格証でログインしてください。");
}
