//! The idp application: its state and router.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::Html;
use std::time::Duration;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use storage::{Db, Kv};
use web::ops::Probes;
use web::{Lang, PageError, Site, Templates};

use crate::accounts::page as account;
use crate::accounts::passkeys as account_passkeys;
use crate::logout;
use crate::oauth::{authorize, discovery, introspect, jwks, par, token, userinfo};
use crate::signin::certificate::CertLoginConfig;
use crate::signin::{card, certificate, passkey};
use crate::trust::Trust;
use crate::trust::crl_fetch::{CrlFetcher, FetchConfig};
use keys::{Clock, KeyError, KeyPolicy, Keys, MasterKey, OWNER_IDP, SigningAlg};

/// The idp's settings (the binary fills them from `shikaku.toml` and the environment).
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// Public base URL, the issuer (`https://id.example.jp`).
    pub public_url: String,
    /// Algorithms with a signing key series: the first signs access tokens; RS256, the OpenID
    /// Connect default, signs the ID tokens of clients that registered no other algorithm.
    pub signing_algs: Vec<SigningAlg>,
    /// Rotation timing.
    pub key_policy: KeyPolicy,
    /// A session ends after this long without use.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: Duration,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// ID token lifetime.
    pub id_token_ttl: Duration,
    /// Refresh token lifetime (offline access).
    pub refresh_token_ttl: Duration,
    /// How long past its nextUpdate a CRL is still used; beyond it sign-in fails closed.
    pub crl_grace: Duration,
    /// Demo mode: virtual cards offered on the sign-in page (empty otherwise).
    pub demo_cards: Vec<crate::signin::virtual_card::DemoCard>,
    /// Back-channel logout: deliveries tried per client before giving up.
    pub backchannel_attempts: u32,
    /// Back-channel logout: wait before the first retry (doubled for each further one).
    pub backchannel_retry_base: Duration,
    /// Back-channel logout: timeout of one delivery.
    pub backchannel_timeout: Duration,
    /// Rate limits of sign-in and the token endpoint.
    pub rate_limits: crate::rate_limit::RateLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Fetching CRLs from distribution points.
    pub crl_fetch: FetchConfig,
    /// Sign-in with a TLS client certificate.
    pub cert_login: CertLoginConfig,
    /// Which internal addresses outbound requests (`jwks_uri`, back-channel logout) may reach.
    pub outbound: crate::outbound::Guard,
    /// Resource servers a client may name as `resource` (RFC 8707) when it asks for a token of
    /// its own, which then carries that URL as `aud`: the portal's API.
    pub resource_servers: Vec<String>,
}

impl IdpConfig {
    /// Defaults for everything but the public URL.
    pub fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.to_owned(),
            signing_algs: vec![SigningAlg::ES256, SigningAlg::RS256],
            key_policy: KeyPolicy {
                publish_lead: Duration::from_secs(3600),
                retention: Duration::from_secs(86_400),
            },
            session_idle: Duration::from_secs(1800),
            session_absolute: Duration::from_secs(12 * 3600),
            access_token_ttl: Duration::from_secs(300),
            id_token_ttl: Duration::from_secs(300),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            crl_grace: Duration::from_secs(3600),
            demo_cards: Vec::new(),
            backchannel_attempts: 4,
            backchannel_retry_base: Duration::from_secs(2),
            backchannel_timeout: Duration::from_secs(5),
            rate_limits: crate::rate_limit::RateLimits::default(),
            trusted_proxies: Vec::new(),
            crl_fetch: FetchConfig::default(),
            cert_login: CertLoginConfig::default(),
            outbound: crate::outbound::Guard::default(),
            resource_servers: Vec::new(),
        }
    }
}

/// Errors at start.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// Signing keys could not be opened or created.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The HTTP client for CRL fetching could not be built.
    #[error("CRL fetch client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Everything a handler can reach.
#[derive(Debug)]
pub struct App {
    /// The database.
    pub db: Db,
    /// The key-value store.
    pub kv: Arc<dyn Kv>,
    /// Templates and texts.
    pub templates: Arc<Templates>,
    /// Public URL and cookie settings.
    pub site: Site,
    /// Token signing keys.
    pub keys: Keys,
    /// Trusted CAs and CRLs for card validation.
    pub trust: Trust,
    /// Fetches CRLs from distribution points.
    pub crl_fetcher: CrlFetcher,
    /// Settings.
    pub config: IdpConfig,
    /// Where every "now" of a request comes from.
    pub clock: Clock,
    /// The audit log (its writer task).
    pub audit: crate::audit::AuditLog,
    /// Client registrations read for requests.
    pub clients: crate::clients::ClientCache,
    /// The WebAuthn relying party of the public URL; `None` on an IP address, where browsers
    /// refuse passkeys.
    pub webauthn: Option<webauthn_rs::Webauthn>,
}

/// The shared state handed to handlers.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl FromRef<AppState> for Site {
    fn from_ref(s: &AppState) -> Site {
        s.0.site.clone()
    }
}

/// Opens the signing keys (creating the first ones) and returns the idp router with every
/// shared layer, plus the app for callers that need it (tests, admin commands). `clock` is the
/// process's one clock ([`Clock::system`] but in tests).
pub async fn build(
    config: IdpConfig,
    probes: Probes,
    templates: Arc<Templates>,
    master: MasterKey,
    clock: Clock,
) -> Result<(Router, Arc<App>), IdpError> {
    let keys = Keys::open(probes.db.clone(), OWNER_IDP, master, config.key_policy).await?;
    for created in keys.ensure(&config.signing_algs, clock.now()).await? {
        tracing::info!(kid = %created.kid, alg = %created.alg, "created idp signing key");
    }
    let site = Site::new("idp", &config.public_url);
    let site_url = config.public_url.clone();
    let app = Arc::new(App {
        db: probes.db.clone(),
        kv: probes.kv.clone(),
        templates: templates.clone(),
        site: site.clone(),
        keys,
        trust: Trust::new(probes.db.clone(), config.crl_grace),
        crl_fetcher: CrlFetcher::new(config.crl_fetch.clone())?,
        config,
        clock,
        audit: crate::audit::AuditLog::new(probes.db.clone()),
        clients: crate::clients::ClientCache::default(),
        webauthn: passkey::relying_party(&site_url),
    });
    let state = AppState(app.clone());
    let browser = Router::new()
        .route("/", get(home))
        .route("/authorize", get(authorize::authorize))
        .route("/authorize/resume", get(authorize::resume))
        .route("/authorize/consent", get(authorize::consent_page).post(authorize::consent_submit))
        .route("/login", get(card::page))
        .route("/bridge", get(crate::signin::bridge_check::page))
        .route("/login/card/challenge", get(card::challenge))
        .route("/login/card", post(card::submit))
        .route("/login/passkey/options", post(passkey::options))
        .route("/login/passkey", post(passkey::submit))
        .route("/login/emergency", get(crate::signin::emergency::page).post(crate::signin::emergency::submit))
        .route("/login/certificate", get(certificate::start))
        .route("/login/certificate/tls", get(certificate::proxied))
        .route("/login/certificate/complete", get(certificate::complete))
        .route("/logout", get(logout::get).post(logout::post))
        .route("/account", get(account::show))
        .route("/account/sessions/end", post(account::end_session))
        .route("/account/apps/revoke", post(account::revoke_app))
        .route("/account/passkeys/options", post(account_passkeys::options))
        .route("/account/passkeys", post(account_passkeys::register))
        .route("/account/passkeys/rename", post(account_passkeys::rename))
        .route("/account/passkeys/remove", post(account_passkeys::remove))
        .route("/staff/invite", get(crate::accounts::staff::page).post(crate::accounts::staff::register))
        .route("/staff/invite/options", post(crate::accounts::staff::options));
    let api = Router::new()
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route("/jwks", get(jwks::get))
        .route("/token", post(token::token))
        .route("/par", post(par::push))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(introspect::revoke))
        .route("/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .layer(axum::middleware::from_fn(web::surface::oauth))
        .merge(
            Router::new()
                .route("/api/v1/card-reads", post(crate::card_reads::read))
                .route("/api/v1/card-status", post(crate::card_reads::status))
                .route("/api/v1/card-proofs", post(crate::card_reads::proof))
                .layer(axum::middleware::from_fn(web::surface::api)),
        );
    let browser = if app.config.demo_cards.is_empty() {
        browser
    } else {
        tracing::warn!("demo mode: virtual cards are offered on the sign-in page");
        browser.route("/login/virtual-card", post(crate::signin::virtual_card::sign_in))
    };
    let browser = browser.layer(from_fn_with_state(site.clone(), web::csrf::protect));
    let routes = browser.merge(api).with_state(state);
    Ok((web::service::wrap(routes, site, templates, probes), app))
}

async fn home(State(state): State<AppState>, lang: Lang) -> Result<Html<String>, PageError> {
    state.0.templates.render("idp/home.html", lang, &tera_context()).map(Html).map_err(PageError::internal)
}

fn tera_context() -> web::templates::Context {
    web::templates::Context::new()
}
