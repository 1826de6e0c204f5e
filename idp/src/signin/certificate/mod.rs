//! Sign-in with a TLS client certificate (the HPKI card's authentication certificate presented
//! in the TLS handshake), by the built-in mTLS listener or behind a TLS-terminating proxy.
//!
//! 1. `GET /login/certificate?request=ID` (main origin) binds the attempt to this browser's
//!    login cookie and redirects to where the certificate is asked for.
//! 2. `GET /login/certificate/tls?state=S` (the mTLS listener, or this origin behind a trusted
//!    proxy) validates the certificate with `hpki` — authentication profile, chain, revocation;
//!    no signature step, the handshake proved possession — finds or creates the account and
//!    redirects back with a one-time code (60 s).
//! 3. `GET /login/certificate/complete?code=C` (main origin) checks the code belongs to this
//!    browser's login cookie and starts the session, then continues the authorization request.
//!
//! `acr` is `phrh` and `amr` `["sc","pin","hwk","mfa"]`, as for the card: the key is the HPKI
//! card's authentication key, which the card uses only after its PIN, and the handshake
//! signature is bound to the TLS session (phishing-resistant). The audit log says which method.

pub mod cidr;
pub mod header;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header as http_header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use hpki::{ErrorCode, HpkiCertificate};
use serde::{Deserialize, Serialize};
use web::{Lang, PageError};

use crate::app::{App, AppState};
use crate::rate_limit::ClientIp;
use crate::serve::mtls::PeerInfo;
use crate::session::{self, Authentication};
use crate::signin::card::{CARD_AMR, LOGIN_COOKIE, next_after_sign_in};
use crate::signin::{account_for, audit_failure};
use crate::store::accounts::AccountStatus;
use crate::{audit, ids, kv_keys};

pub use cidr::Cidr;

/// How long the redirect to the certificate host may take.
const STATE_TTL: Duration = Duration::from_secs(300);
/// Lifetime of the code that hands the sign-in back to the main origin.
const CODE_TTL: Duration = Duration::from_secs(60);

/// Certificate sign-in settings.
#[derive(Debug, Clone, Default)]
pub struct CertLoginConfig {
    /// Proxies whose `Client-Cert` / `X-SSL-Client-Cert` headers are believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Base URL where the certificate is asked for (the mTLS listener's public URL, or the
    /// proxy's certificate host); absent: this origin (a proxy in front of it).
    pub public_url: Option<String>,
    /// Whether the built-in mTLS listener runs.
    pub listener: bool,
}

impl CertLoginConfig {
    /// Whether certificate sign-in is offered.
    pub fn enabled(&self) -> bool {
        self.listener || !self.trusted_proxies.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }
}

/// Attempt state between steps 1 and 2.
#[derive(Debug, Serialize, Deserialize)]
struct Attempt {
    login_id: String,
    request: Option<String>,
}

/// A validated certificate waiting for step 3.
#[derive(Debug, Serialize, Deserialize)]
struct Handoff {
    login_id: String,
    request: Option<String>,
    account_id: String,
    issuer: String,
    subscriber_id: Option<String>,
    serial: String,
    method: String,
}

/// A refusal shown as a page: a locale key or an `hpki` error code.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A refusal of ours, with its locale message key and code.
    Local(StatusCode, &'static str, &'static str),
    /// The certificate failed validation.
    Hpki(ErrorCode),
    /// Something broke.
    Internal(PageError),
}

impl Refusal {
    fn into_page(self, app: &App, lang: Lang) -> Response {
        let (status, message, code) = match self {
            Refusal::Internal(e) => return e.into_response(),
            Refusal::Local(status, key, code) => (status, app.templates.text(lang, key).to_owned(), code),
            Refusal::Hpki(code) => {
                let status = if code == ErrorCode::RevocationUnavailable {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::UNAUTHORIZED
                };
                let message = match lang {
                    Lang::Ja => code.message_ja(),
                    Lang::En => code.message_en(),
                };
                (status, message.to_owned(), code.code())
            }
        };
        let mut ctx = web::templates::Context::new();
        ctx.insert("message", &message);
        ctx.insert("code", code);
        match app.templates.render("idp/certificate_error.html", lang, &ctx) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => PageError::internal(e).into_response(),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    Refusal::Internal(PageError::internal(e))
}

/// Query of step 1.
#[derive(Debug, Deserialize)]
pub struct StartQuery {
    request: Option<String>,
}

/// `GET /login/certificate` (step 1).
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let app = &state.0;
    let Some(base) = certificate_base(app) else { return PageError::not_found().into_response() };
    let cookie_name = app.site.cookie_name(LOGIN_COOKIE);
    let existing = web::cookies::get(&headers, &cookie_name).map(str::to_owned);
    let login_id = existing.clone().filter(|v| v.len() == 43).unwrap_or_else(ids::new_secret);
    let state_id = ids::new_secret();
    let attempt = Attempt { login_id: login_id.clone(), request: q.request.filter(|r| !r.is_empty()) };
    let body = storage::kv::encode(&attempt);
    if let Err(e) = app.kv.set(&kv_keys::certificate_state(&state_id), &body, STATE_TTL).await {
        return PageError::internal(e).into_response();
    }
    let mut res = Redirect::to(&format!("{base}/login/certificate/tls?state={state_id}")).into_response();
    if existing.as_deref() != Some(login_id.as_str()) {
        let cookie = web::cookies::set(&app.site, &cookie_name, &login_id, 3600, true);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(http_header::SET_COOKIE, v);
        }
    }
    res
}

/// Where step 2 happens, or `None` when certificate sign-in is off.
fn certificate_base(app: &App) -> Option<String> {
    let c = &app.config.cert_login;
    c.enabled().then(|| c.public_url.clone().unwrap_or_else(|| app.site.origin().to_owned()))
}

/// Query of step 2.
#[derive(Debug, Deserialize)]
pub struct TlsQuery {
    state: Option<String>,
}

/// `GET /login/certificate/tls` on the main origin (step 2 behind a trusted proxy): the
/// certificate comes from the proxy's header, believed only from `mtls_trusted_proxies`.
pub async fn proxied(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    lang: Lang,
    Query(q): Query<TlsQuery>,
) -> Response {
    let app = &state.0;
    if !app.config.cert_login.enabled() {
        return PageError::not_found().into_response();
    }
    let outcome = if !app.config.cert_login.is_trusted_proxy(peer.ip()) {
        tracing::warn!(peer = %peer.ip(), "certificate header from an untrusted address ignored");
        Err(Refusal::Local(StatusCode::FORBIDDEN, "cert_proxy_untrusted", "proxy_not_trusted"))
    } else {
        match header::certificate(&headers) {
            Ok(Some(der)) => Ok(der),
            Ok(None) => Err(Refusal::Local(StatusCode::BAD_REQUEST, "cert_missing", "certificate_missing")),
            Err(detail) => {
                tracing::info!(%detail, "unreadable certificate header");
                Err(Refusal::Hpki(ErrorCode::CertMalformed))
            }
        }
    };
    let ip = client_address(app, peer.ip(), &headers);
    match outcome {
        Ok(der) => validate_and_hand_off(app, &der, q.state.as_deref(), ip, "tls_proxy", lang).await,
        Err(refusal) => refusal.into_page(app, lang),
    }
}

/// The client's address behind the certificate proxy: when the peer is a trusted proxy, the
/// last `X-Forwarded-For` address that is not one; otherwise the peer itself (a header from
/// anyone else is not believed).
fn client_address(app: &App, peer: std::net::IpAddr, headers: &HeaderMap) -> String {
    let trusted = |ip: std::net::IpAddr| {
        app.config.cert_login.is_trusted_proxy(ip) || app.config.trusted_proxies.contains(&ip)
    };
    if !trusted(peer) {
        return peer.to_string();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<std::net::IpAddr>().ok())
        .rev()
        .find(|ip| !trusted(*ip))
        .unwrap_or(peer)
        .to_string()
}

/// `GET /login/certificate/tls` on the mTLS listener (step 2, certificate from the handshake).
pub async fn from_handshake(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<PeerInfo>,
    lang: Lang,
    Query(q): Query<TlsQuery>,
) -> Response {
    let app = &state.0;
    match &peer.certificate {
        Some(der) => {
            validate_and_hand_off(
                app,
                der,
                q.state.as_deref(),
                peer.addr.ip().to_string(),
                "tls_listener",
                lang,
            )
            .await
        }
        None => Refusal::Local(StatusCode::BAD_REQUEST, "cert_missing", "certificate_missing")
            .into_page(app, lang)
            .into_response(),
    }
}

/// Step 2 with a certificate in hand: validate, find the account, redirect with a code.
async fn validate_and_hand_off(
    app: &App,
    der: &[u8],
    state_id: Option<&str>,
    ip: String,
    method: &str,
    lang: Lang,
) -> Response {
    match hand_off(app, der, state_id, ip, method).await {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(refusal) => refusal.into_page(app, lang),
    }
}

async fn hand_off(
    app: &App,
    der: &[u8],
    state_id: Option<&str>,
    ip: String,
    method: &str,
) -> Result<String, Refusal> {
    let now = app.clock.now();
    let unknown = || Refusal::Local(StatusCode::BAD_REQUEST, "cert_state_unknown", "state_unknown");
    let state_id = state_id.filter(|s| s.len() == 43).ok_or_else(unknown)?;
    let raw =
        app.kv.take(&kv_keys::certificate_state(state_id)).await.map_err(internal)?.ok_or_else(unknown)?;
    let attempt: Attempt = serde_json::from_slice(&raw).map_err(internal)?;
    let cert = match validate(app, der, now).await? {
        Ok(cert) => cert,
        Err(code) => {
            audit_failure(app, now, Some(ip.clone()), method, code.code()).await;
            return Err(Refusal::Hpki(code));
        }
    };
    crate::trust::crl_fetch::record_points(app, &cert, now).await;
    let account = account_for(app, &cert, now).await.map_err(internal)?;
    if account.status != AccountStatus::Active {
        audit_failure(app, now, Some(ip.clone()), method, "account_suspended").await;
        return Err(Refusal::Local(StatusCode::FORBIDDEN, "cert_account_suspended", "account_suspended"));
    }
    let code = ids::new_secret();
    let handoff = Handoff {
        login_id: attempt.login_id,
        request: attempt.request,
        account_id: account.id,
        issuer: cert.issuer.clone(),
        subscriber_id: cert.subscriber_id.clone(),
        serial: cert.serial.clone(),
        method: method.to_owned(),
    };
    let body = serde_json::to_vec(&handoff).map_err(internal)?;
    app.kv.set(&kv_keys::certificate_code(&code), &body, CODE_TTL).await.map_err(internal)?;
    Ok(format!("{}/login/certificate/complete?code={code}", app.site.origin()))
}

/// Validates a client certificate for sign-in ([`crate::trust::check_certificate`]). The outer
/// error is internal; the inner one the refusal.
async fn validate(app: &App, der: &[u8], now: i64) -> Result<Result<HpkiCertificate, ErrorCode>, Refusal> {
    crate::trust::check_certificate(app, der, now).await.map_err(internal)
}

/// Query of step 3.
#[derive(Debug, Deserialize)]
pub struct CompleteQuery {
    code: Option<String>,
}

/// `GET /login/certificate/complete` (step 3).
pub async fn complete(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    lang: Lang,
    Query(q): Query<CompleteQuery>,
) -> Response {
    let app = &state.0;
    match finish(app, &headers, client_ip.audit(), q.code.as_deref()).await {
        Ok(res) => res,
        Err(refusal) => refusal.into_page(app, lang),
    }
}

async fn finish(
    app: &App,
    headers: &HeaderMap,
    ip: Option<String>,
    code: Option<&str>,
) -> Result<Response, Refusal> {
    let now = app.clock.now();
    let unknown = || Refusal::Local(StatusCode::BAD_REQUEST, "cert_code_unknown", "code_unknown");
    let code = code.filter(|c| c.len() == 43).ok_or_else(unknown)?;
    let raw = app.kv.take(&kv_keys::certificate_code(code)).await.map_err(internal)?.ok_or_else(unknown)?;
    let handoff: Handoff = serde_json::from_slice(&raw).map_err(internal)?;
    let cookie = web::cookies::get(headers, &app.site.cookie_name(LOGIN_COOKIE)).unwrap_or("");
    if !bool::from(subtle::ConstantTimeEq::ct_eq(cookie.as_bytes(), handoff.login_id.as_bytes())) {
        // A code from another browser (login CSRF): refuse.
        return Err(Refusal::Local(StatusCode::BAD_REQUEST, "cert_other_browser", "browser_mismatch"));
    }
    let auth = Authentication {
        auth_time: now,
        acr: "phrh".into(),
        amr: CARD_AMR.iter().map(|s| s.to_string()).collect(),
        card: handoff.subscriber_id.clone().map(|s| (handoff.issuer.clone(), s)),
    };
    let (session, cookie) = session::start(app, &handoff.account_id, auth, now).await.map_err(internal)?;
    app.audit.log(now,
        audit::Entry {
            event: "sign_in".into(),
            outcome: "success".into(),
            actor: Some(handoff.account_id.clone()),
            ip,
            client_id: crate::signin::request_client(app, handoff.request.as_deref()).await,
            detail: serde_json::json!({ "method": handoff.method, "issuer": handoff.issuer, "serial": handoff.serial, "sid_hash": ids::hash(&session.sid) }),
        },
    )
    .await;
    let mut res = Redirect::to(&next_after_sign_in(handoff.request.as_deref())).into_response();
    session::set_cookie(res.headers_mut(), cookie);
    Ok(res)
}
