//! Passkeys in a real headless Chromium: the DevTools protocol's WebAuthn domain gives the tab
//! a virtual CTAP2 authenticator (resident keys, user verification), which the page's real
//! `navigator.credentials` calls use; the real pages, `static/passkey.js` and webauthn-rs do
//! the ceremonies. The idp runs on `http://localhost:PORT` (browsers refuse passkeys on an IP
//! address) in demo mode, so the card sign-in that binds a passkey is the virtual card's
//! button, whose token goes through the card validation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::clients::AuthMethod;
use serde_json::{Value, json};
use sha2::Digest;
use storage::testing::TestEnv;

use crate::live::{self, Live, pki};
use crate::webdriver::{Page, WebDriver};

const CLIENT_ID: &str = "passkey-rp";

storage::each_backend!(
    a_doctor_binds_a_passkey_with_the_card_and_signs_in_with_it,
    a_client_asking_for_the_card_steps_a_passkey_session_up,
    removed_replayed_and_late_passkeys_are_refused,
    a_suspended_account_or_a_revoked_card_stops_its_passkeys,
    staff_invited_by_an_operator_sign_in_with_a_passkey_and_get_roles_only,
    an_emergency_sign_in_works_once_at_the_lowest_level_and_is_shown,
);

/// The idp on `localhost` in demo mode (one virtual card) with `/__test/callback` in front and
/// a client (no consent step) whose redirect URI is that callback.
async fn live(env: TestEnv) -> Live {
    let live = Live::start_named(
        env,
        "localhost",
        true,
        |c| idp::IdpConfig { demo_cards: live::demo_cards(), ..c },
        |_, idp| live::with_test_callback(idp),
    )
    .await;
    let mut client = live::client(CLIENT_ID, AuthMethod::ClientSecretBasic);
    client.redirect_uris = vec![live.url("/__test/callback")];
    client.skip_consent = true;
    live::register(&live.env.db.db, client).await;
    live
}

/// A DevTools command in the browser's current tab (through chromedriver).
async fn cdp(wd: &WebDriver, cmd: &str, params: Value) -> Value {
    wd.command("POST", "/goog/cdp/execute", json!({ "cmd": cmd, "params": params })).await
}

/// Chromium with a virtual platform authenticator in its tab: CTAP2, resident keys, user
/// verification that succeeds, presence simulated. With `autofill` off the browser offers no
/// conditional mediation (as browsers without passkey autofill), so only the sign-in page's
/// button asks for a passkey; with it on, the virtual authenticator answers the page's
/// conditional request at once, as a person picking the passkey the browser's autofill offers.
/// `synced`: the authenticator's credentials are backup-eligible (a synced passkey).
/// Returns the browser and the authenticator.
async fn browser(autofill: bool, synced: bool) -> (WebDriver, String) {
    let wd = WebDriver::start().await;
    if !autofill {
        let source = "if (window.PublicKeyCredential) \
                      PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);";
        cdp(&wd, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": source })).await;
    }
    cdp(&wd, "WebAuthn.enable", json!({})).await;
    let added = cdp(
        &wd,
        "WebAuthn.addVirtualAuthenticator",
        json!({ "options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
            "defaultBackupEligibility": synced, "defaultBackupState": synced,
        }}),
    )
    .await;
    let id = added["authenticatorId"].as_str().unwrap().to_owned();
    (wd, id)
}

async fn credentials(wd: &WebDriver, authenticator: &str) -> Vec<Value> {
    let got = cdp(wd, "WebAuthn.getCredentials", json!({ "authenticatorId": authenticator })).await;
    got["credentials"].as_array().cloned().unwrap_or_default()
}

/// Signs in with the virtual card from the plain sign-in page.
async fn card_sign_in(wd: &WebDriver, live: &Live) {
    let page = wd.goto(&live.url("/login?lang=ja")).await;
    page.assert_not_error();
    let page = wd.submit("form[action='/login/virtual-card'] button[type=submit]").await;
    page.assert_not_error();
    assert_eq!(page.path(), "/", "{page}");
}

/// Registers a passkey named `name` on `/account`; returns the account page that follows.
async fn register_passkey(wd: &WebDriver, live: &Live, name: &str) -> Page {
    let page = wd.goto(&live.url("/account?lang=ja")).await;
    page.assert_not_error();
    page.assert_text("登録されたパスキーはありません。");
    wd.fill("#passkey-name", name).await;
    let page = wd.click_to_next_page("#passkey-register button[type=submit]").await;
    page.assert_not_error();
    page
}

/// Signs out of this browser's session from `/account`.
async fn sign_out(wd: &WebDriver, live: &Live) {
    wd.goto(&live.url("/account?lang=ja")).await.assert_not_error();
    let page = wd.submit("form[action='/account/sessions/end'] button[type=submit]").await;
    assert_eq!(page.path(), "/", "{page}");
}

/// An authorization request of the client with `extra` parameters (a `scope` among them
/// replaces `openid profile hpki`); URL and PKCE verifier.
fn authorize_url(live: &Live, extra: &[(&str, &str)]) -> (String, String) {
    authorize_url_of(live, CLIENT_ID, extra)
}

/// [`authorize_url`] of another client.
fn authorize_url_of(live: &Live, client_id: &str, extra: &[(&str, &str)]) -> (String, String) {
    let verifier = idp::ids::random(32);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let callback = live.url("/__test/callback");
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", &callback),
        ("scope", extra.iter().find(|(k, _)| *k == "scope").map_or("openid profile hpki", |(_, v)| *v)),
        ("state", "st"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("lang", "ja"),
    ]);
    query.extend_pairs(extra.iter().filter(|(k, _)| *k != "scope").copied());
    (live.url(&format!("/authorize?{}", query.finish())), verifier)
}

/// The code on the callback page, exchanged: the ID token's claims (the signature is checked
/// by the RP-library tests; here the claims matter).
async fn id_token_claims(wd: &WebDriver, live: &Live, page: &Page, verifier: &str) -> Value {
    id_token_claims_of(wd, live, CLIENT_ID, page, verifier).await
}

/// [`id_token_claims`] for another client.
async fn id_token_claims_of(
    wd: &WebDriver,
    live: &Live,
    client_id: &str,
    page: &Page,
    verifier: &str,
) -> Value {
    assert!(page.path().starts_with("/__test/callback?"), "{page}");
    let query = wd.text_of(&wd.find("#callback").await).await;
    let code = live::query_param(&format!("/?{query}"), "code").unwrap_or_else(|| panic!("no code: {query}"));
    let callback = live.url("/__test/callback");
    let (status, tokens) = live::post_as(
        live,
        "/token",
        client_id,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &callback),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let jwt = tokens["id_token"].as_str().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The sign-in page's passkey button, pressed; returns the page it leads to.
async fn passkey_button(wd: &WebDriver) -> Page {
    wd.wait_for("#passkey-login:not([hidden]) button[type=submit]").await;
    wd.click_to_next_page("#passkey-login button[type=submit]").await
}

/// The text the sign-in page's passkey status line ends with.
async fn passkey_status(wd: &WebDriver) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let working = "パスキーを確認しています…";
    loop {
        let text = wd.execute("return document.getElementById('passkey-status').textContent;", vec![]).await;
        let text = text.as_str().unwrap_or_default().to_owned();
        if !text.is_empty() && text != working {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "no passkey status: {}", wd.page().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn a_doctor_binds_a_passkey_with_the_card_and_signs_in_with_it(env: TestEnv) {
    let live = live(env).await;
    let (wd, authenticator) = browser(true, true).await;
    card_sign_in(&wd, &live).await;
    let page = register_passkey(&wd, &live, "診察室のPC").await;
    assert_eq!(page.path(), "/account", "{page}");
    page.assert_text("診察室のPC");
    page.assert_text("未使用");
    page.assert_text("同期型（複数の端末で使用可）");
    let held = credentials(&wd, &authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["isResidentCredential"], true, "a discoverable credential: {held:?}");
    let stored = idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap();
    let rows = idp::store::passkeys::find_passkeys(&live.env.db.db, &stored[0].id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].card.as_ref().map(|c| c.1.as_str()), Some("TESTJ00001"), "bound to the card");

    sign_out(&wd, &live).await;
    let (url, verifier) = authorize_url(&live, &[]);
    // The sign-in page's autofill offers the passkey; picked, the page signs in by itself.
    wd.goto(&url).await;
    wd.wait_for("#callback").await;
    let page = wd.page().await;
    let claims = id_token_claims(&wd, &live, &page, &verifier).await;
    assert_eq!(claims["acr"], "phr", "{claims}");
    let amr: Vec<&str> = claims["amr"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(amr, ["swk", "user", "mfa"], "a synced passkey, user verified, no card");
    assert_eq!(claims["sub"], stored[0].id, "the same account as the card: {claims}");
    assert_eq!(claims["hpki"]["subscriber_id"], "TESTJ00001", "the binding card's claims: {claims}");

    // The account page: the passkey was used, the session is a passkey one, and a passkey
    // session cannot bind another passkey.
    let page = wd.goto(&live.url("/account?lang=ja")).await;
    page.assert_not_error();
    assert!(!page.text.contains("未使用"), "{page}");
    page.assert_text("パスキー");
    page.assert_text("もう一度医師資格証でログインしてください");
    assert!(wd.try_find("#passkey-register").await.is_none(), "{page}");
    // The card, and the latest sign-ins: newest first, with method, address and service.
    let serial = format!("{:x}", pki().card("doctor-auth").unwrap().issued.serial);
    let card = wd.text_of(&wd.find("#cards tbody tr").await).await;
    assert!(card.contains(&serial), "{card}");
    let rows = wd.find_all("#sign-ins tbody tr").await;
    assert_eq!(rows.len(), 2, "{page}");
    let newest = wd.text_of(&rows[0]).await;
    assert!(newest.contains("パスキー") && newest.contains("127.0.0.1"), "{newest}");
    assert!(newest.contains("地域医療連携ネットワーク"), "the client it was for: {newest}");
    let first = wd.text_of(&rows[1]).await;
    assert!(first.contains("医師資格証（カード＋PIN）") && first.contains("このサイト"), "{first}");
    let audit = idp::store::audit::find_entries(&live.env.db.db).await.unwrap();
    let events: Vec<&str> = audit.iter().map(|e| e.entry.event.as_str()).collect();
    assert!(events.contains(&"passkey.register"), "{events:?}");
    assert!(
        audit.iter().any(|e| e.entry.event == "sign_in" && e.detail_text.contains("\"passkey\"")),
        "{events:?}"
    );

    // Renamed on the account page.
    wd.fill("form[action='/account/passkeys/rename'] input[name=name]", "往診用").await;
    let page = wd.submit("form[action='/account/passkeys/rename'] button[type=submit]").await;
    page.assert_text("往診用");
    assert!(!page.text.contains("診察室のPC"), "{page}");
}

async fn a_client_asking_for_the_card_steps_a_passkey_session_up(env: TestEnv) {
    let live = live(env).await;
    let (wd, _) = browser(false, false).await;
    card_sign_in(&wd, &live).await;
    register_passkey(&wd, &live, "スマートフォン").await.assert_text("スマートフォン");
    sign_out(&wd, &live).await;
    let (url, _) = authorize_url(&live, &[]);
    wd.goto(&url).await;
    passkey_button(&wd).await;

    // A passkey session meets a request for the card: the sign-in page asks for the card and
    // offers no passkey; the card then gives a card session.
    let (url, verifier) = authorize_url(&live, &[("acr_values", "phrh")]);
    let page = wd.goto(&url).await;
    assert!(page.path().starts_with("/login?request="), "step-up, not a code: {page}");
    page.assert_text("このサービスでは医師資格証でのログインが必要です");
    assert!(wd.try_find("#passkey-login").await.is_none(), "{page}");
    let page = wd.submit("form[action='/login/virtual-card'] button[type=submit]").await;
    let claims = id_token_claims(&wd, &live, &page, &verifier).await;
    assert_eq!(claims["acr"], "phrh", "{claims}");

    // prompt=none cannot step up: the client hears login_required.
    sign_out(&wd, &live).await;
    let (url, _) = authorize_url(&live, &[]);
    wd.goto(&url).await;
    passkey_button(&wd).await;
    let (url, _) = authorize_url(&live, &[("acr_values", "phrh"), ("prompt", "none")]);
    let page = wd.goto(&url).await;
    assert!(page.url.contains("error=login_required"), "{page}");

    // A client registered with the card as its minimum (`--min-acr phrh`): the same step-up
    // without acr_values, and login_required with prompt=none.
    let mut card_only = live::client("card-only-rp", AuthMethod::ClientSecretBasic);
    card_only.redirect_uris = vec![live.url("/__test/callback")];
    card_only.skip_consent = true;
    card_only.min_acr = Some("phrh".into());
    live::register(&live.env.db.db, card_only).await;
    let (url, _) = authorize_url_of(&live, "card-only-rp", &[("prompt", "none")]);
    let page = wd.goto(&url).await;
    assert!(page.url.contains("error=login_required"), "{page}");
    let (url, _) = authorize_url_of(&live, "card-only-rp", &[]);
    let page = wd.goto(&url).await;
    assert!(page.path().starts_with("/login?request="), "step-up, not a code: {page}");
    page.assert_text("このサービスでは医師資格証でのログインが必要です");
    assert!(wd.try_find("#passkey-login").await.is_none(), "{page}");
    // The same passkey session still serves the client without a minimum.
    let (url, _) = authorize_url(&live, &[]);
    let page = wd.goto(&url).await;
    assert!(page.path().starts_with("/__test/callback?"), "{page}");

    // Nor can a script post a passkey assertion for a request that needs the card.
    let request = {
        let (url, _) = authorize_url(&live, &[("acr_values", "phrh")]);
        let page = wd.goto(&url).await;
        live::query_param(&page.url, "request").unwrap()
    };
    let answer = wd
        .execute(
            "return fetch('/login/passkey', {method: 'POST', headers: {'Content-Type': 'application/json', \
             'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}, \
             body: JSON.stringify({credential: {id: 'x', rawId: 'eA', type: 'public-key', response: \
             {authenticatorData: 'eA', clientDataJSON: 'eA', signature: 'eA'}}, request: arguments[0]})}) \
             .then(r => r.json().then(b => [r.status, b.code, b.detail]));",
            vec![json!(request)],
        )
        .await;
    assert_eq!(answer[0], 403, "{answer}");
    assert_eq!(answer[1], "card_required", "{answer}");
    assert!(answer[2].as_str().unwrap().contains("医師資格証"), "{answer}");
}

/// Posts `body` to `path` from the page (same origin, its CSRF token); [status, code, detail].
async fn post_from_page(wd: &WebDriver, path: &str, body: Value) -> Value {
    wd.execute(
        "return fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/json', \
         'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}, \
         body: JSON.stringify(arguments[1])}).then(r => r.json().then(b => [r.status, b.code, b.detail]));",
        vec![json!(path), body],
    )
    .await
}

async fn removed_replayed_and_late_passkeys_are_refused(env: TestEnv) {
    let live = live(env).await;
    let (wd, _) = browser(false, false).await;

    // Late: more than ten minutes after the card sign-in, registration is refused.
    card_sign_in(&wd, &live).await;
    live.app.clock.advance(std::time::Duration::from_secs(601));
    let page = wd.goto(&live.url("/account?lang=ja")).await;
    page.assert_text("もう一度医師資格証でログインしてください");
    let answer = post_from_page(&wd, "/account/passkeys/options", json!({})).await;
    assert_eq!(answer[0], 403, "{answer}");
    assert_eq!(answer[1], "card_sign_in_first", "{answer}");
    assert!(answer[2].as_str().unwrap().contains("10分以内"), "{answer}");

    // A fresh card sign-in binds one.
    card_sign_in(&wd, &live).await;
    let page = register_passkey(&wd, &live, "タブレット").await;
    page.assert_text("タブレット");
    page.assert_text("この端末のみ");
    sign_out(&wd, &live).await;

    // Replayed: the page's assertion is kept (sessionStorage) as it is posted, and posted
    // again after the sign-in (its ceremony is used up), then with a fresh ceremony of the
    // same browser (another challenge).
    let (url, _) = authorize_url(&live, &[]);
    wd.goto(&url).await;
    wd.execute(
        "const original = window.fetch; \
         window.fetch = function (url, init) { \
           if (url === '/login/passkey') sessionStorage.setItem('posted', init.body); \
           return original.apply(this, arguments); };",
        vec![],
    )
    .await;
    let page = passkey_button(&wd).await;
    assert!(page.path().starts_with("/__test/callback?"), "{page}");
    // From the account page (same origin, a CSRF token, no passkey script of its own).
    wd.goto(&live.url("/account?lang=ja")).await.assert_not_error();
    let posted = wd.execute("return sessionStorage.getItem('posted');", vec![]).await;
    let posted: Value = serde_json::from_str(posted.as_str().expect("the assertion was recorded")).unwrap();
    let again = post_from_page(&wd, "/login/passkey", posted.clone()).await;
    assert_eq!(again[0], 400, "{again}");
    assert_eq!(again[1], "challenge_unknown", "the ceremony was used up: {again}");
    post_from_page(&wd, "/login/passkey/options", json!({})).await;
    let again = post_from_page(&wd, "/login/passkey", posted).await;
    assert_eq!(again[0], 401, "{again}");
    assert_eq!(again[1], "assertion_invalid", "another challenge: {again}");

    // Removed: the authenticator still offers the passkey; the idp no longer knows it.
    let page = wd.goto(&live.url("/account?lang=ja")).await;
    page.assert_text("タブレット");
    let page = wd.submit("form[action='/account/passkeys/remove'] button[type=submit]").await;
    page.assert_text("登録されたパスキーはありません。");
    sign_out(&wd, &live).await;
    let (url, _) = authorize_url(&live, &[]);
    wd.goto(&url).await;
    wd.wait_for("#passkey-login:not([hidden]) button[type=submit]").await;
    let button = wd.find("#passkey-login button[type=submit]").await;
    wd.click(&button).await;
    let status = passkey_status(&wd).await;
    assert!(status.contains("このパスキーは登録されていません"), "{status}");
    assert!(status.contains("passkey_unknown"), "{status}");
}

/// On an IP address browsers refuse passkeys: the sign-in page offers none, and the passkey
/// endpoints say why (problem+json, localized).
#[tokio::test]
async fn on_an_ip_address_passkeys_are_off() {
    let live = Live::start(TestEnv::sqlite_memory().await).await;
    let b = live::browser();
    let html = b.get(live.url("/login?lang=ja")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("passkey-login"), "{html}");
    let csrf = live::csrf_of(&html);
    for path in ["/login/passkey/options", "/account/passkeys/options"] {
        let res = b
            .post(live.url(path))
            .header("x-csrf-token", &csrf)
            .header("origin", live.app.site.origin())
            .header("accept-language", "ja")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unavailable", "{body}");
        assert!(body["detail"].as_str().unwrap().contains("ドメイン名"), "{body}");
    }
}

/// Presses the sign-in page's passkey button where the idp will refuse; the status line.
async fn refused_passkey_sign_in(wd: &WebDriver, live: &Live) -> String {
    let (url, _) = authorize_url(live, &[]);
    wd.goto(&url).await;
    wd.wait_for("#passkey-login:not([hidden]) button[type=submit]").await;
    let button = wd.find("#passkey-login button[type=submit]").await;
    wd.click(&button).await;
    passkey_status(wd).await
}

async fn a_suspended_account_or_a_revoked_card_stops_its_passkeys(env: TestEnv) {
    let live = live(env).await;
    let db = &live.env.db.db;
    let (wd, _) = browser(false, false).await;
    card_sign_in(&wd, &live).await;
    register_passkey(&wd, &live, "ノートPC").await.assert_text("ノートPC");
    sign_out(&wd, &live).await;
    let account = idp::store::accounts::find_accounts(db).await.unwrap().remove(0);

    use idp::store::accounts::{AccountStatus, update_account_status};
    let now = live.app.clock.now();
    update_account_status(db, &account.id, AccountStatus::Suspended, now).await.unwrap();
    let status = refused_passkey_sign_in(&wd, &live).await;
    assert!(status.contains("このアカウントは停止されています。"), "{status}");
    assert!(status.contains("account_suspended"), "{status}");
    update_account_status(db, &account.id, AccountStatus::Active, now).await.unwrap();

    // The JMA authentication CA revokes the card the passkey was bound with.
    let serial = pki().card("doctor-auth").unwrap().issued.serial;
    let spec = hpki::testpki::CrlSpec {
        this_update: hpki::testpki::TestPki::CRL_THIS_UPDATE + time::Duration::days(1),
        next_update: Some(hpki::testpki::TestPki::CRL_NEXT_UPDATE),
        revoked: vec![(serial, hpki::testpki::TestPki::CRL_THIS_UPDATE)],
        number: 5,
        delta: false,
    };
    let crl = hpki::testpki::issue_crl(&spec, &pki().jma_auth, None).unwrap();
    let cas = idp::trust::crl_fetch::trusted_cas(db).await.unwrap();
    idp::trust::crl_fetch::store_verified(db, &cas, &crl, "test", now).await.unwrap();
    live.app.trust.invalidate().await;
    let status = refused_passkey_sign_in(&wd, &live).await;
    assert!(status.contains("このパスキーを登録した医師資格証は失効しています。"), "{status}");
    assert!(status.contains("card_revoked"), "{status}");

    let outcomes: Vec<String> = idp::store::audit::find_entries(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.event == "sign_in" && e.detail_text.contains("\"passkey\""))
        .map(|e| e.entry.outcome)
        .collect();
    assert_eq!(outcomes, ["account_suspended", "card_revoked"], "each refusal audited");
}

async fn staff_invited_by_an_operator_sign_in_with_a_passkey_and_get_roles_only(env: TestEnv) {
    use idp::accounts::staff;
    let live = live(env).await;
    let db = &live.env.db.db;
    let mut rp = live::client("staff-rp", AuthMethod::ClientSecretBasic);
    rp.redirect_uris = vec![live.url("/__test/callback")];
    rp.skip_consent = true;
    rp.scopes = ["openid", "profile", "hpki", "license", "roles"].map(String::from).to_vec();
    live::register(db, rp).await;
    let now = live.app.clock.now();
    let invited =
        staff::invite(db, "事務局 花子", &["organizer".to_owned()], staff::DEFAULT_TTL, now).await.unwrap();
    let link = staff::link(&live.base, &invited.token);
    assert!(link.ends_with(&format!("/staff/invite#{}", invited.token)), "{link}");

    let (wd, _) = browser(false, false).await;
    // Without the fragment the page says the link is incomplete (`?lang=ja` is kept in a
    // cookie for the pages after it).
    wd.goto(&live.url("/staff/invite?lang=ja")).await.assert_not_error();
    let status = passkey_status(&wd).await;
    assert!(status.contains("招待リンクが正しくありません"), "{status}");

    wd.goto(&link).await;
    wd.wait_for("#staff-register:not([hidden])").await;
    let shown = wd.text_of(&wd.find("#staff-invitee").await).await;
    assert!(shown.contains("事務局 花子") && shown.contains("organizer"), "{shown}");
    wd.fill("#passkey-name", "事務局のPC").await;
    let page = wd.click_to_next_page("#staff-register button[type=submit]").await;
    assert_eq!(page.path(), "/account", "{page}");
    page.assert_text("事務局のPC");
    page.assert_text("運営者に新しい招待リンクを依頼してください");
    page.assert_text("このアカウントに結び付いた医師資格証はありません。");

    // Signed out, the staff member signs in with the passkey: roles, never a doctor's claims.
    sign_out(&wd, &live).await;
    let (url, verifier) =
        authorize_url_of(&live, "staff-rp", &[("scope", "openid profile hpki license roles")]);
    wd.goto(&url).await;
    let page = passkey_button(&wd).await;
    let claims = id_token_claims_of(&wd, &live, "staff-rp", &page, &verifier).await;
    assert_eq!(claims["acr"], "phr", "{claims}");
    assert_eq!(claims["sub"], invited.account_id, "{claims}");
    assert_eq!(claims["name"], "事務局 花子", "{claims}");
    assert_eq!(claims["roles"], json!(["organizer"]), "{claims}");
    for doctor_only in ["hpki", "hc_roles", "medical_registration_number", "birthdate"] {
        assert!(claims.get(doctor_only).is_none(), "no {doctor_only} for staff: {claims}");
    }

    // The link works once; a later one expires.
    sign_out(&wd, &live).await;
    wd.goto(&link).await;
    let status = passkey_status(&wd).await;
    assert!(status.contains("使用済みか、有効期限が切れています"), "{status}");
    assert!(status.contains("invitation_unusable"), "{status}");
    let later =
        staff::reinvite(db, &invited.account_id, std::time::Duration::from_secs(60), now).await.unwrap();
    live.app.clock.advance(std::time::Duration::from_secs(61));
    wd.goto(&staff::link(&live.base, &later.token)).await;
    let status = passkey_status(&wd).await;
    assert!(status.contains("invitation_unusable"), "expired: {status}");
    let events: Vec<String> =
        idp::store::audit::find_entries(db).await.unwrap().into_iter().map(|e| e.entry.event).collect();
    assert!(events.contains(&"staff.register".to_owned()), "{events:?}");
}

/// Waits for a status line (`#id`) to end with a final text (not `working`).
async fn status_of(wd: &WebDriver, id: &str, working: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = wd.execute(&format!("return document.getElementById('{id}').textContent;"), vec![]).await;
        let text = text.as_str().unwrap_or_default().to_owned();
        if !text.is_empty() && text != working {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "no status in #{id}: {}", wd.page().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn an_emergency_sign_in_works_once_at_the_lowest_level_and_is_shown(env: TestEnv) {
    use idp::signin::emergency;
    let live = live(env).await;
    let db = &live.env.db.db;
    let (wd, _) = browser(false, false).await;
    card_sign_in(&wd, &live).await;
    sign_out(&wd, &live).await;
    let account = idp::store::accounts::find_accounts(db).await.unwrap().remove(0);
    let now = live.app.clock.now();
    let issued = emergency::issue(
        db,
        &account.id,
        "カード紛失（再発行待ち）",
        "operator-suzuki",
        emergency::DEFAULT_TTL,
        now,
    )
    .await
    .unwrap();
    let link = emergency::link(&live.base, &issued.token);

    wd.goto(&link).await.assert_text("緊急ログイン");
    let page = wd.click_to_next_page("#emergency-login button[type=submit]").await;
    assert_eq!(page.path(), "/account", "{page}");
    let shown = wd.text_of(&wd.find("#emergency tbody tr").await).await;
    assert!(shown.contains("カード紛失（再発行待ち）") && shown.contains("operator-suzuki"), "{shown}");
    assert!(!shown.contains("未使用"), "used: {shown}");
    let newest = wd.text_of(&wd.find("#sign-ins tbody tr").await).await;
    assert!(newest.contains("緊急ログイン"), "{newest}");

    // A client without a minimum gets the lowest acr; the card's claims still describe the
    // doctor.
    let (url, verifier) = authorize_url(&live, &[]);
    let page = wd.goto(&url).await;
    let claims = id_token_claims(&wd, &live, &page, &verifier).await;
    assert_eq!(claims["acr"], "emergency", "{claims}");
    assert_eq!(claims["amr"], json!(["otp"]), "{claims}");
    assert_eq!(claims["hpki"]["subscriber_id"], "TESTJ00001", "{claims}");
    // Clients that ask for more refuse it: a passkey minimum sends the doctor to sign in
    // again; with prompt=none, login_required.
    let mut passkey_min = live::client("passkey-min-rp", AuthMethod::ClientSecretBasic);
    passkey_min.redirect_uris = vec![live.url("/__test/callback")];
    passkey_min.skip_consent = true;
    passkey_min.min_acr = Some("phr".into());
    live::register(db, passkey_min).await;
    let (url, _) = authorize_url_of(&live, "passkey-min-rp", &[]);
    let page = wd.goto(&url).await;
    assert!(page.path().starts_with("/login?request="), "{page}");
    let (url, _) = authorize_url(&live, &[("acr_values", "phrh phr"), ("prompt", "none")]);
    let page = wd.goto(&url).await;
    assert!(page.url.contains("error=login_required"), "{page}");

    // Once only.
    sign_out(&wd, &live).await;
    wd.goto(&link).await;
    let button = wd.find("#emergency-login button[type=submit]").await;
    wd.click(&button).await;
    let status = status_of(&wd, "emergency-status", "確認しています…").await;
    assert!(
        status.contains("使用済みか、有効期限が切れています") && status.contains("grant_unusable"),
        "{status}"
    );
    let outcomes: Vec<String> = idp::store::audit::find_entries(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.event == "sign_in" && e.detail_text.contains("\"emergency\""))
        .map(|e| e.entry.outcome)
        .collect();
    assert_eq!(outcomes, ["success", "grant_unusable"]);

    // Staff and unknown accounts get none.
    assert!(emergency::issue(db, "nobody", "x", "op", emergency::DEFAULT_TTL, now).await.is_err());
    let e = emergency::issue(db, &account.id, "  ", "op", emergency::DEFAULT_TTL, now).await.unwrap_err();
    assert_eq!(e.to_string(), "the reason must be 1 to 500 characters");
}
