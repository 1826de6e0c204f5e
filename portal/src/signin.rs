//! Signing in through the idp with OpenID Connect (code flow + PKCE, ID token verified, nonce),
//! the portal's own session, and signing out through the idp's end-session endpoint.
//!
//! The portal never reads idp tables: it is an ordinary relying party using the `openidconnect`
//! crate, so it also proves that the idp works for a real client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreClient, CoreGenderClaim, CoreIdToken, CoreJwsSigningAlgorithm};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use web::PageError;

use crate::AppState;

/// How long discovered provider metadata is reused.
pub const METADATA_TTL: Duration = Duration::from_secs(300);
/// How long a sign-in may take at the idp.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Session cookie name (prefixed `__Host-` over HTTPS).
const SESSION_COOKIE: &str = "portal_session";
/// Cookie binding a sign-in's `state` to the browser that started it.
const LOGIN_COOKIE: &str = "portal_login";

/// The idp's metadata, discovered on first use and refreshed after [`METADATA_TTL`].
#[derive(Debug, Default)]
pub struct Provider {
    cached: RwLock<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
}

/// HPKI claims the idp releases with the `hpki` scope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HpkiClaims {
    /// hcRole values of the card.
    #[serde(default)]
    pub hc_roles: Vec<String>,
    /// Staff roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// 医籍登録番号, released with the `license` scope when the registry has it.
    #[serde(default)]
    pub medical_registration_number: Option<String>,
    /// The card signed in with (`hpki` scope).
    #[serde(default)]
    pub hpki: Option<CardKey>,
}
impl AdditionalClaims for HpkiClaims {}

/// A card as the idp's `hpki` claim names it: issuing CA and subscriber id (the key kiosk taps
/// are recorded under).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardKey {
    /// Issuing CA (DN).
    pub issuer: String,
    /// Subscriber id.
    pub subscriber_id: String,
}

/// A signed-in person, as the portal keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortalSession {
    /// Session id.
    pub sid: String,
    /// The idp's subject for the portal.
    pub sub: String,
    /// Name (kanji) if released.
    pub name: Option<String>,
    /// hcRoles from the card.
    pub hc_roles: Vec<String>,
    /// Staff roles.
    pub roles: Vec<String>,
    /// The registration number the idp released (`license` scope), as given.
    #[serde(default)]
    pub medical_registration_number: Option<String>,
    /// The card signed in with, when the idp released it.
    #[serde(default)]
    pub card: Option<CardKey>,
    /// The ID token, as the hint for signing out at the idp.
    pub id_token: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct PendingLogin {
    verifier: String,
    nonce: String,
    /// Where to go after the sign-in (a path of the portal), `/` by default.
    #[serde(default)]
    next: Option<String>,
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// A path of the portal to return to after the sign-in (`/attend/E1?s=…`).
    next: Option<String>,
}

/// Whether `next` is a path of this site: one leading `/`, no scheme or host, no backslash.
pub fn local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 2048
        && next.bytes().all(|b| b.is_ascii_graphic())
}

fn http() -> Result<reqwest::Client, PageError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(PageError::internal)
}

fn unavailable() -> PageError {
    PageError::new(StatusCode::SERVICE_UNAVAILABLE, "signin_error_title", "signin_error_idp_unavailable")
}

impl Provider {
    pub(crate) async fn metadata(&self, issuer: &str) -> Result<Arc<ProviderMetadataWithLogout>, PageError> {
        if let Some((at, m)) = self.cached.read().await.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(issuer.to_owned()).map_err(PageError::internal)?;
        let discovered = ProviderMetadataWithLogout::discover_async(issuer, &http()?).await.map_err(|e| {
            tracing::error!(error = %e, "idp discovery failed");
            unavailable()
        })?;
        let m = Arc::new(discovered);
        *self.cached.write().await = Some((Instant::now(), m.clone()));
        Ok(m)
    }
}

fn cookie(site: &web::Site, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let c = web::cookies::set(site, &site.cookie_name(name), value, max_age, true);
    HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static(""))
}

/// How long a portal session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Stores a session in the KV for [`SESSION_TTL`]; the browser then sends its `sid` in the
/// session cookie (see [`session_cookie`]).
pub async fn save_session(kv: &dyn storage::Kv, session: &PortalSession) -> Result<(), storage::KvError> {
    kv.set(&crate::kv_keys::session(&session.sid), &storage::kv::encode(session), SESSION_TTL).await
}

/// The `Cookie` header value that carries session `sid` on `site`.
pub fn session_cookie(site: &web::Site, sid: &str) -> String {
    format!("{}={sid}", site.cookie_name(SESSION_COOKIE))
}

/// The `Set-Cookie` header value that gives a browser session `sid` on `site`.
pub fn set_session_cookie(site: &web::Site, sid: &str) -> HeaderValue {
    cookie(site, SESSION_COOKIE, sid, SESSION_TTL.as_secs())
}

/// The session of a request, if any.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Option<PortalSession> {
    let app = &state.0;
    let sid = web::cookies::get(headers, &app.site.cookie_name(SESSION_COOKIE))?;
    let raw = app.probes.kv.get(&crate::kv_keys::session(sid)).await.ok()??;
    serde_json::from_slice(&raw).ok()
}

/// The client as built from discovery: authorization endpoint set, token and userinfo
/// endpoints as discovered.
type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

async fn client(state: &AppState) -> Result<(Rp, Arc<ProviderMetadataWithLogout>), PageError> {
    let app = &state.0;
    let metadata = app.provider.metadata(&app.config.idp_url).await?;
    let redirect =
        RedirectUrl::new(format!("{}/callback", app.site.public_url())).map_err(PageError::internal)?;
    let client = CoreClient::from_provider_metadata(
        (*metadata).clone(),
        ClientId::new(app.config.client_id.clone()),
        app.config.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect);
    Ok((client, metadata))
}

/// `GET /login`: off to the idp.
pub async fn login(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let (client, _) = client(&state).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            openidconnect::core::CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("hpki".into()))
        .add_scope(Scope::new("license".into()))
        .add_scope(Scope::new("roles".into()))
        .set_pkce_challenge(challenge)
        .url();
    let next = q.next.filter(|n| local_path(n));
    let pending = PendingLogin { verifier: verifier.secret().clone(), nonce: nonce.secret().clone(), next };
    let app = &state.0;
    app.probes
        .kv
        .set(&format!("plogin:{}", csrf.secret()), &storage::kv::encode(&pending), LOGIN_TTL)
        .await
        .map_err(PageError::internal)?;
    let mut res = Redirect::to(url.as_str()).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, cookie(&app.site, LOGIN_COOKIE, csrf.secret(), LOGIN_TTL.as_secs()));
    Ok(res)
}

/// Query of `/callback`.
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn refused(key: &'static str) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, "signin_error_title", key)
}

/// `GET /callback`: the code back from the idp.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Result<Response, PageError> {
    let app = &state.0;
    if let Some(error) = &q.error {
        tracing::info!(%error, "idp returned an error to the portal");
        return Err(refused(if error == "access_denied" {
            "signin_error_denied"
        } else {
            "signin_error_failed"
        }));
    }
    let (Some(code), Some(returned_state)) = (q.code, q.state) else {
        return Err(refused("signin_error_failed"));
    };
    let bound = web::cookies::get(&headers, &app.site.cookie_name(LOGIN_COOKIE));
    if bound != Some(returned_state.as_str()) {
        return Err(refused("signin_error_expired"));
    }
    let raw = app.probes.kv.take(&format!("plogin:{returned_state}")).await.map_err(PageError::internal)?;
    let pending: PendingLogin =
        raw.and_then(|r| serde_json::from_slice(&r).ok()).ok_or_else(|| refused("signin_error_expired"))?;
    let (client, _) = client(&state).await?;
    let http = http()?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(PageError::internal)?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
        .request_async(&http)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "code exchange failed");
            refused("signin_error_failed")
        })?;
    let id_token = tokens.id_token().ok_or_else(|| refused("signin_error_failed"))?;
    let verifier = client.id_token_verifier().set_allowed_algs(vec![
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    ]);
    let claims = id_token.claims(&verifier, &Nonce::new(pending.nonce)).map_err(|e| {
        tracing::error!(error = %e, "ID token verification failed");
        refused("signin_error_failed")
    })?;
    let info: UserInfoClaims<HpkiClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .map_err(PageError::internal)?
        .request_async(&http)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "userinfo failed");
            refused("signin_error_failed")
        })?;
    let session = PortalSession {
        sid: random_id(),
        sub: claims.subject().to_string(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
        hc_roles: info.additional_claims().hc_roles.clone(),
        roles: info.additional_claims().roles.clone(),
        medical_registration_number: info.additional_claims().medical_registration_number.clone(),
        card: info.additional_claims().hpki.clone(),
        id_token: id_token.to_string(),
    };
    let ttl = SESSION_TTL;
    if let Some(card) = &session.card {
        // The card's holder: whose verification log its in-person checks go to.
        crate::store::shares::record_card_owner(
            &app.probes.db,
            &card.issuer,
            &card.subscriber_id,
            &session.sub,
            app.clock.now(),
        )
        .await
        .map_err(PageError::internal)?;
    }
    save_session(app.probes.kv.as_ref(), &session).await.map_err(PageError::internal)?;
    if (session.medical_registration_number.is_some() || session.card.is_some())
        && let Err(e) = crate::linking::resolve(&app.probes.db, &session, app.clock.now()).await
    {
        tracing::warn!(error = %e, "linking from the registration number claim failed; retried on the next page");
    }
    let mut res = Redirect::to(pending.next.as_deref().unwrap_or("/")).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, cookie(&app.site, SESSION_COOKIE, &session.sid, ttl.as_secs()));
    res.headers_mut().append(header::SET_COOKIE, cookie(&app.site, LOGIN_COOKIE, "", 0));
    Ok(res)
}

/// `POST /logout`: ends the portal session and signs out at the idp.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let app = &state.0;
    let session = current(&state, &headers).await;
    if let Some(s) = &session
        && let Err(e) = app.probes.kv.delete(&crate::kv_keys::session(&s.sid)).await
    {
        tracing::error!(error = %e, "cannot delete the portal session at sign-out");
    }
    let mut target = "/".to_owned();
    if let Some(s) = session {
        let metadata = app.provider.metadata(&app.config.idp_url).await?;
        if let (Some(end), Ok(hint)) =
            (metadata.additional_metadata().end_session_endpoint.clone(), s.id_token.parse::<CoreIdToken>())
        {
            let back = PostLogoutRedirectUrl::new(format!("{}/", app.site.public_url()))
                .map_err(PageError::internal)?;
            target = LogoutRequest::from(end)
                .set_id_token_hint(&hint)
                .set_client_id(ClientId::new(app.config.client_id.clone()))
                .set_post_logout_redirect_uri(back)
                .http_get_url()
                .to_string();
        }
    }
    let mut res = Redirect::to(&target).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie(&app.site, SESSION_COOKIE, "", 0));
    Ok(res)
}

fn random_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}
