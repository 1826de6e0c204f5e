//! What every card sign-in through the bridge shares, whatever the browser: the SoftHSM2
//! card, the idp with the test client whose callback page is on the idp's origin, the
//! authorization request and the client's token exchange. The Chromium tests
//! (`browser/signin.rs`), the Firefox tests and the sign-in bench declare it, beside `live`, at
//! their root.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::clients::AuthMethod;
use idp::signin::certificate::CertLoginConfig;
use sha2::Digest;
use storage::testing::TestEnv;

use crate::live::{self, Live, pki};

/// The host binary under test.
pub const HOST: &str = env!("CARGO_BIN_EXE_shikaku-bridge");
/// The PIN of the test cards.
pub const PIN: &str = "1234";
/// Debian's SoftHSM2 module.
pub const SOFTHSM: &str = bridge::softhsm::MODULE;
/// The client of these tests: its callback is a page on the idp's origin that shows its query.
pub const CLIENT_ID: &str = "bridge-rp";

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
        |_, idp| live::with_test_callback(idp),
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
