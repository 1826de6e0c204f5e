//! A live idp on a real port with the test PKI trusted, a registered client, and a browser
//! (cookie jar, no automatic redirects) that signs in with a virtual card.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hpki::testpki::TestPki;
use idp::clients::{AuthMethod, Client, GrantType};
use idp::store::trust::{StoredCrl, TrustedCa};
use idp::{App, IdpConfig};
use keys::{Clock, MasterKey, SigningAlg};
use reqwest::redirect::Policy;
use sha2::Digest;
use storage::testing::TestEnv;
use web::ops::Probes;

/// The test PKI, generated once per test binary (RSA key generation is slow).
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate(20261125).expect("test PKI"))
}

#[derive(Debug)]
pub struct Live {
    pub base: String,
    pub app: Arc<App>,
    pub env: TestEnv,
    /// The master key of its signing keys (another process on the same database needs it).
    pub master: MasterKey,
}

pub const CLIENT_ID: &str = "regional-network";
pub const CLIENT_SECRET: &str = "V2hhdCBhIGxvbmcgc2VjcmV0IGZvciBhIHRlc3QgY2xpZW50IQ";
pub const REDIRECT: &str = "https://rp.example.jp/callback";

impl Live {
    pub async fn start(env: TestEnv) -> Live {
        Self::start_with(env, |c| c).await
    }

    pub async fn start_with(env: TestEnv, config: impl FnOnce(IdpConfig) -> IdpConfig) -> Live {
        Self::start_opts(env, true, config).await
    }

    /// A live idp; with `crls` false, the test PKI's CRLs are not loaded.
    pub async fn start_opts(env: TestEnv, crls: bool, config: impl FnOnce(IdpConfig) -> IdpConfig) -> Live {
        Self::start_routed(env, crls, config, |_, idp| idp).await
    }

    /// [`Self::start_opts`] serving what `serve` makes of the idp's router (test-only routes in
    /// front of it, on its origin).
    pub async fn start_routed(
        env: TestEnv,
        crls: bool,
        config: impl FnOnce(IdpConfig) -> IdpConfig,
        serve: impl FnOnce(&Arc<App>, axum::Router) -> axum::Router,
    ) -> Live {
        Self::start_named(env, "127.0.0.1", crls, config, serve).await
    }

    /// [`Self::start_routed`] with the public URL `http://HOST:PORT` (the listener is on
    /// 127.0.0.1): `localhost` for passkeys, which browsers refuse on an IP address.
    pub async fn start_named(
        env: TestEnv,
        host: &str,
        crls: bool,
        config: impl FnOnce(IdpConfig) -> IdpConfig,
        serve: impl FnOnce(&Arc<App>, axum::Router) -> axum::Router,
    ) -> Live {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{host}:{}", listener.local_addr().unwrap().port());
        let probes = Probes { db: env.db.db.clone(), kv: env.kv.clone(), metrics: web::metrics::recorder() };
        let templates = Arc::new(web::Templates::load().unwrap());
        // The tests' relying parties, jwks_uri and CRL servers listen on loopback, which outbound
        // requests may reach only when allowed.
        let loopback = idp::outbound::Guard::new(vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]);
        let config = config(IdpConfig {
            signing_algs: vec![SigningAlg::ES256, SigningAlg::RS256],
            outbound: loopback.clone(),
            crl_fetch: idp::trust::crl_fetch::FetchConfig { outbound: loopback, ..Default::default() },
            ..IdpConfig::new(&base)
        });
        let master = MasterKey::generate().0;
        let (router, app) =
            idp::build(config, probes, templates, master.clone(), Clock::manual_now()).await.unwrap();
        let db = &env.db.db;
        for der in pki().ca_certificates() {
            let cert = hpki::HpkiCertificate::parse(der).unwrap();
            let ca = TrustedCa {
                fingerprint: hpki::hex(&sha2::Sha256::digest(der)),
                subject: cert.subject.clone(),
                der: der.to_vec(),
                added_at: 0,
                purpose: idp::store::trust::PURPOSE_CARD.into(),
            };
            idp::store::trust::create_ca(db, &ca).await.unwrap();
        }
        for der in pki().crl_ders().into_iter().filter(|_| crls) {
            let crl = hpki::Crl::parse(der).unwrap();
            let stored = StoredCrl {
                issuer: crl.issuer.clone(),
                der: der.to_vec(),
                this_update: crl.this_update.unix_timestamp(),
                next_update: crl.next_update.map(|t| t.unix_timestamp()),
                source: "test".into(),
                fetched_at: 0,
            };
            idp::store::trust::upsert_crl(db, &stored).await.unwrap();
        }
        register(db, client(CLIENT_ID, AuthMethod::ClientSecretBasic)).await;
        let router = serve(&app, router);
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        Live { base, app, env, master }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Demo mode's one virtual card of the browser tests: 日本 太郎 (`doctor-auth`), id `taro`.
pub fn demo_cards() -> Vec<idp::signin::virtual_card::DemoCard> {
    vec![idp::signin::virtual_card::DemoCard {
        id: "taro".into(),
        label: "日本 太郎".into(),
        label_en: "Taro Nihon".into(),
        card: pki().card("doctor-auth").unwrap().virtual_card(),
    }]
}

/// `/__test/callback` in front of the idp's router: a page on the idp's origin that shows the
/// query it was called with, as a client's callback would receive it (a browser test's last
/// hop is then a page it can read).
pub fn with_test_callback(idp: axum::Router) -> axum::Router {
    idp.route(
        "/__test/callback",
        axum::routing::get(|uri: axum::http::Uri| async move {
            let query = uri.query().unwrap_or_default().to_owned();
            axum::response::Html(format!(
                "<!doctype html><title>callback</title><p id=\"callback\">{query}</p>"
            ))
        }),
    )
}

/// A client registration with test defaults.
pub fn client(id: &str, auth: AuthMethod) -> Client {
    Client {
        name: "地域医療連携ネットワーク".into(),
        secret_hash: auth.uses_secret().then(|| idp::ids::hash(CLIENT_SECRET)),
        auth_method: auth,
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::ClientCredentials],
        ..Client::new(id, SigningAlg::ES256, 0)
    }
}

pub async fn register(db: &storage::Db, c: Client) {
    idp::store::clients::create_client(db, &c).await.unwrap();
}

/// A browser: cookies kept, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of `name` in a URL's query.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The CSRF token a page carries.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf-token\" content=\"").expect("csrf meta") + 27;
    html[start..start + 43].to_owned()
}

/// Signs in with the named test card on the sign-in page a redirect led to; returns the JSON
/// answer of `POST /login/card` and its status.
pub async fn card_sign_in(
    live: &Live,
    b: &reqwest::Client,
    login_path: &str,
    card: &str,
) -> (u16, serde_json::Value) {
    card_sign_in_edited(live, b, login_path, card, |_| {}).await
}

/// [`card_sign_in`] with the card's token edited by `edit` before it is sent.
pub async fn card_sign_in_edited(
    live: &Live,
    b: &reqwest::Client,
    login_path: &str,
    card: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> (u16, serde_json::Value) {
    let page = b.get(live.url(login_path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = csrf_of(&html);
    let challenge: serde_json::Value =
        b.get(live.url("/login/card/challenge")).send().await.unwrap().json().await.unwrap();
    let nonce = challenge["nonce"].as_str().unwrap();
    assert_eq!(nonce.len(), 44);
    let card = pki().card(card).unwrap().virtual_card();
    let token = card.token(live.app.site.origin(), nonce, card.default_algorithm()).unwrap();
    let mut token: serde_json::Value = serde_json::from_str(&token).unwrap();
    edit(&mut token);
    let request = query_param(login_path, "request");
    let res = b
        .post(live.url("/login/card"))
        .header("x-csrf-token", csrf)
        .header("origin", live.app.site.origin())
        .json(&serde_json::json!({ "auth_token": token, "request": request }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// From an authorization URL to the redirect back to the client: card sign-in and consent.
pub async fn authorize(live: &Live, b: &reqwest::Client, authorize_url: &str, card: &str) -> String {
    let res = b.get(authorize_url).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let mut next = location(&res);
    if next.starts_with("/login") {
        let (status, body) = card_sign_in(live, b, &next, card).await;
        assert_eq!(status, 200, "{body}");
        next = body["next"].as_str().unwrap().to_owned();
        let res = b.get(live.url(&next)).send().await.unwrap();
        assert_eq!(res.status(), 303);
        next = location(&res);
    }
    if next.starts_with("/authorize/consent") {
        let page = b.get(live.url(&next)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("地域医療連携ネットワーク"), "{page}");
        let res = b
            .post(live.url("/authorize/consent"))
            .header("origin", live.app.site.origin())
            .form(&[
                ("csrf_token", csrf_of(&page)),
                ("request", query_param(&next, "request").unwrap()),
                ("decision", "allow".into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        next = location(&res);
    }
    next
}

/// Signs in through a fresh browser for `client_id`; returns the code and its PKCE verifier.
pub async fn code(live: &Live, client_id: &str, scope: &str, extra: &[(&str, &str)]) -> (String, String) {
    code_in(live, &browser(), client_id, scope, extra).await
}

/// Like [`code`], in the browser `b` (which keeps its idp session).
pub async fn code_in(
    live: &Live,
    b: &reqwest::Client,
    client_id: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let verifier = idp::ids::random(32);
    let challenge = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "st"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let back = authorize(live, b, &format!("{}?{query}", live.url("/authorize")), "doctor-auth").await;
    (query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}")), verifier)
}

/// POSTs a form to `path` with the client's Basic credentials.
pub async fn post_as(
    live: &Live,
    path: &str,
    client_id: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(live.url(path))
        .basic_auth(client_id, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).unwrap() })
}
