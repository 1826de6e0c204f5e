//! `GET /authorize` (RFC 6749 §4.1, OIDC Core §3.1.2) with PKCE S256, the resume after sign-in,
//! consent, and issuing the code.
//!
//! Until the client and its redirect URI are known to match, errors are shown as a page and
//! never redirected; after that they go back to the client as `error` parameters with `state`
//! and `iss` (RFC 9207).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use web::csrf::CsrfToken;
use web::{Lang, OAuthErrorCode, PageError};

use crate::app::{App, AppState};
use crate::clients::{Client, GrantType, SCOPES};
use crate::rate_limit::ClientIp;
use crate::session::{self, Authentication, Session};
use crate::store::accounts::AccountStatus;
use crate::store::{accounts, consents};
use crate::{audit, ids, kv_keys};

/// How long an authorization request waits for sign-in and consent.
const REQUEST_TTL: Duration = Duration::from_secs(600);
/// Authorization code lifetime.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// `acr` values this idp can satisfy, strongest first.
pub const ACR_VALUES: [&str; 3] = ["phrh", "phr", "emergency"];

/// Query parameters of `/authorize` (also the body of a pushed authorization request).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Params {
    response_type: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    acr_values: Option<String>,
    pub(crate) request: Option<String>,
    pub(crate) request_uri: Option<String>,
    response_mode: Option<String>,
}

/// A validated authorization request, kept while the person signs in and consents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    /// Id in the key-value store.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The (registered) redirect URI.
    pub redirect_uri: String,
    /// Requested scopes (allowed for the client).
    pub scopes: Vec<String>,
    /// Opaque client state.
    pub state: Option<String>,
    /// ID token nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// Maximum authentication age in seconds.
    pub max_age: Option<i64>,
    /// Requested `acr` values (known ones only).
    pub acr_values: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Hash of the [`BROWSER_COOKIE`] value of the browser that started the request: only that
    /// browser may resume it. `None` on requests stored before the binding existed.
    #[serde(default)]
    pub browser: Option<String>,
}

/// Cookie naming the browser that started authorization requests (random, HttpOnly).
pub const BROWSER_COOKIE: &str = "idp_authz";

/// The browser's [`BROWSER_COOKIE`] value, and whether it is new (to be set).
fn browser_binding(app: &App, headers: &HeaderMap) -> (String, bool) {
    match web::cookies::get(headers, &app.site.cookie_name(BROWSER_COOKIE)).filter(|v| v.len() == 43) {
        Some(v) => (v.to_owned(), false),
        None => (ids::new_secret(), true),
    }
}

/// Whether this browser started `req` (the constant-time comparison of the cookie's hash).
fn same_browser(app: &App, headers: &HeaderMap, req: &AuthRequest) -> bool {
    use subtle::ConstantTimeEq;
    let Some(expected) = &req.browser else { return true };
    web::cookies::get(headers, &app.site.cookie_name(BROWSER_COOKIE))
        .is_some_and(|v| ids::hash(v).as_bytes().ct_eq(expected.as_bytes()).into())
}

/// The page for a request resumed in a browser other than the one that started it.
fn other_browser() -> PageError {
    page(StatusCode::FORBIDDEN, "authorize_error_other_browser")
}

/// What the token endpoint needs from a code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client.
    pub client_id: String,
    /// Must match at the token endpoint.
    pub redirect_uri: String,
    /// The account.
    pub account_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// ID token nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// How the person signed in.
    pub auth: Authentication,
    /// Session id.
    pub sid: String,
}

/// An error that goes back to the client's redirect URI.
pub(crate) struct Redirected {
    redirect_uri: String,
    state: Option<String>,
    /// The OAuth error code.
    pub(crate) error: OAuthErrorCode,
    /// What is wrong.
    pub(crate) description: String,
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let mut res = Redirect::to(&format!("{redirect_uri}{sep}{query}")).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().unwrap_or(header::HeaderValue::from_static("no-store")),
    );
    res
}

impl Redirected {
    fn into_response(self, issuer: &str) -> Response {
        let mut params = vec![
            ("error", self.error.as_str()),
            ("error_description", self.description.as_str()),
            ("iss", issuer),
        ];
        if let Some(s) = &self.state {
            params.push(("state", s));
        }
        redirect_with(&self.redirect_uri, &params)
    }
}

pub(crate) fn page(status: StatusCode, key: &'static str) -> PageError {
    PageError::new(status, "authorize_error_title", key)
}

/// Handler of `GET /authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    let pushed = p.request_uri.is_some();
    let p = if pushed {
        match crate::oauth::par::take(app, &p).await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        }
    } else {
        p
    };
    let client = match validate_client(app, &p).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let redirect_uri = p.redirect_uri.clone().unwrap_or_default();
    if client.require_par && !pushed {
        return Redirected {
            redirect_uri,
            state: p.state.clone(),
            error: OAuthErrorCode::InvalidRequest,
            description: "this client must use pushed authorization requests (PAR)".into(),
        }
        .into_response(app.site.public_url());
    }
    let mut request = match validate(&client, &redirect_uri, p, now) {
        Ok(r) => r,
        Err(e) => return e.into_response(app.site.public_url()),
    };
    let (binding, fresh) = browser_binding(app, &headers);
    request.browser = Some(ids::hash(&binding));
    let raw = storage::kv::encode(&request);
    if let Err(e) = app.kv.set(&kv_keys::authorization_request(&request.id), &raw, REQUEST_TTL).await {
        return PageError::internal(e).into_response();
    }
    let mut res = proceed(app, &client, request, session::current(app, &headers, now).await, now).await;
    if fresh {
        let name = app.site.cookie_name(BROWSER_COOKIE);
        let cookie = web::cookies::set(&app.site, &name, &binding, 30 * 24 * 3600, true);
        if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

pub(crate) async fn validate_client(app: &App, p: &Params) -> Result<Client, PageError> {
    let client_id =
        p.client_id.as_deref().ok_or(page(StatusCode::BAD_REQUEST, "authorize_error_no_client"))?;
    let client = app
        .clients
        .find(&app.db, client_id)
        .await
        .map_err(PageError::internal)?
        .ok_or(page(StatusCode::BAD_REQUEST, "authorize_error_unknown_client"))?;
    let redirect_uri =
        p.redirect_uri.as_deref().ok_or(page(StatusCode::BAD_REQUEST, "authorize_error_no_redirect"))?;
    if !client.redirect_uri_allowed(redirect_uri) {
        return Err(page(StatusCode::BAD_REQUEST, "authorize_error_bad_redirect"));
    }
    Ok(client)
}

/// Checks an authorization request of a known client whose redirect URI is registered.
pub(crate) fn validate(
    client: &Client,
    redirect_uri: &str,
    p: Params,
    now: i64,
) -> Result<AuthRequest, Redirected> {
    let fail = |error: OAuthErrorCode, description: &str| Redirected {
        redirect_uri: redirect_uri.to_owned(),
        state: p.state.clone(),
        error,
        description: description.to_owned(),
    };
    if p.request.is_some() {
        return Err(fail(OAuthErrorCode::RequestNotSupported, "request objects are not supported; use PAR"));
    }
    if p.request_uri.is_some() {
        return Err(fail(OAuthErrorCode::RequestUriNotSupported, "request_uri is not supported here"));
    }
    if p.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(fail(OAuthErrorCode::InvalidRequest, "only response_mode=query is supported"));
    }
    match p.response_type.as_deref() {
        Some("code") => {}
        None => return Err(fail(OAuthErrorCode::InvalidRequest, "response_type is required")),
        Some(_) => {
            return Err(fail(
                OAuthErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(fail(
            OAuthErrorCode::UnauthorizedClient,
            "the client may not use the authorization code grant",
        ));
    }
    let scopes: Vec<String> =
        p.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(fail(OAuthErrorCode::InvalidScope, "scope must include openid"));
    }
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str()) || !client.scopes.contains(s)) {
        return Err(fail(
            OAuthErrorCode::InvalidScope,
            &format!("scope {bad} is not allowed for this client"),
        ));
    }
    let challenge = p
        .code_challenge
        .clone()
        .ok_or_else(|| fail(OAuthErrorCode::InvalidRequest, "code_challenge is required (PKCE S256)"))?;
    match p.code_challenge_method.as_deref() {
        Some("S256") => {}
        Some("plain") => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method plain is not allowed; use S256",
            ));
        }
        _ => return Err(fail(OAuthErrorCode::InvalidRequest, "code_challenge_method must be S256")),
    }
    if challenge.len() != 43
        || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    let prompt: Vec<String> =
        p.prompt.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Some(bad) =
        prompt.iter().find(|v| !["none", "login", "consent", "select_account"].contains(&v.as_str()))
    {
        return Err(fail(OAuthErrorCode::InvalidRequest, &format!("unknown prompt value {bad}")));
    }
    if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
        return Err(fail(OAuthErrorCode::InvalidRequest, "prompt=none cannot be combined with other values"));
    }
    let max_age =
        match p.max_age.as_deref() {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                fail(OAuthErrorCode::InvalidRequest, "max_age must be a non-negative integer")
            })?),
        };
    let requested_acr: Vec<String> = p
        .acr_values
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let acr_values: Vec<String> =
        requested_acr.iter().filter(|v| ACR_VALUES.contains(&v.as_str())).cloned().collect();
    if !requested_acr.is_empty() && acr_values.is_empty() {
        return Err(fail(
            OAuthErrorCode::UnmetAuthenticationRequirements,
            "none of the requested acr_values can be met (supported: phrh, phr, emergency)",
        ));
    }
    if p.nonce.as_deref().is_some_and(|n| n.len() > 512) {
        return Err(fail(OAuthErrorCode::InvalidRequest, "nonce is too long"));
    }
    Ok(AuthRequest {
        id: ids::new_secret(),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: p.state,
        nonce: p.nonce,
        code_challenge: challenge,
        prompt,
        max_age,
        acr_values,
        created_at: now,
        browser: None,
    })
}

/// Whether a session satisfies the request's freshness and assurance needs (the request's
/// `acr_values` and the client's minimum).
fn session_satisfies(req: &AuthRequest, client: &Client, s: &Session, now: i64) -> bool {
    if req.prompt.iter().any(|p| p == "login") && s.auth.auth_time < req.created_at {
        return false;
    }
    if req.max_age.is_some_and(|max| now - s.auth.auth_time > max) {
        return false;
    }
    weakest_accepted(req, Some(client)).is_none_or(|weakest| acr_rank(&s.auth.acr) <= weakest)
}

/// The weakest `acr` rank the request and its client accept (`None`: any).
fn weakest_accepted(req: &AuthRequest, client: Option<&Client>) -> Option<usize> {
    let requested = req.acr_values.iter().map(|a| acr_rank(a)).max();
    let minimum = client.and_then(|c| c.min_acr.as_deref()).map(acr_rank);
    match (requested, minimum) {
        (Some(r), Some(m)) => Some(r.min(m)),
        (r, m) => r.or(m),
    }
}

/// Whether only a card session can serve the request: the weakest `acr` it (or its client's
/// minimum) accepts is the card's, so a passkey session is sent to sign in with the card
/// (step-up).
pub(crate) fn needs_card(req: &AuthRequest, client: Option<&Client>) -> bool {
    weakest_accepted(req, client) == Some(0)
}

/// Lower is stronger.
fn acr_rank(acr: &str) -> usize {
    ACR_VALUES.iter().position(|a| *a == acr).unwrap_or(usize::MAX)
}

/// Continues a stored request: sign-in if needed, then consent, then the code.
async fn proceed(
    app: &App,
    client: &Client,
    req: AuthRequest,
    session: Option<Session>,
    now: i64,
) -> Response {
    let issuer = app.site.public_url().to_owned();
    let back = |error: OAuthErrorCode, description: &str| {
        Redirected {
            redirect_uri: req.redirect_uri.clone(),
            state: req.state.clone(),
            error,
            description: description.to_owned(),
        }
        .into_response(&issuer)
    };
    let session = match session.filter(|s| session_satisfies(&req, client, s, now)) {
        Some(s) => s,
        None if req.prompt.iter().any(|p| p == "none") => {
            return back(OAuthErrorCode::LoginRequired, "the user is not signed in");
        }
        None => return Redirect::to(&format!("/login?request={}", req.id)).into_response(),
    };
    // Accounts may be suspended; clients may restrict hcRoles.
    match accounts::find_account(&app.db, &session.account_id).await {
        Ok(Some(a)) if a.status == AccountStatus::Active => {}
        Ok(_) => return back(OAuthErrorCode::AccessDenied, "the account is suspended"),
        Err(e) => return PageError::internal(e).into_response(),
    }
    if !client.allowed_roles.is_empty() {
        let roles = match session_roles(app, &session).await {
            Ok(r) => r,
            Err(e) => return PageError::internal(e).into_response(),
        };
        if !roles.iter().any(|r| client.allowed_roles.contains(r)) {
            return back(OAuthErrorCode::AccessDenied, "the signed-in role is not allowed for this client");
        }
    }
    // A trusted first-party client (consent skip) never asks, so its grant is not even read.
    let needs_consent = !client.skip_consent
        && (req.prompt.iter().any(|p| p == "consent")
            || match consents::find_consent(&app.db, &session.account_id, &client.client_id).await {
                Ok(granted) => !granted.is_some_and(|g| req.scopes.iter().all(|s| g.contains(s))),
                Err(e) => return PageError::internal(e).into_response(),
            });
    if needs_consent {
        if req.prompt.iter().any(|p| p == "none") {
            return back(OAuthErrorCode::ConsentRequired, "consent is needed");
        }
        return Redirect::to(&format!("/authorize/consent?request={}", req.id)).into_response();
    }
    issue_code(app, client, &req, session).await
}

/// The hcRoles of the card the session signed in with.
pub async fn session_roles(app: &App, session: &Session) -> Result<Vec<String>, sqlx::Error> {
    let Some((issuer, subscriber)) = &session.auth.card else { return Ok(vec![]) };
    Ok(accounts::find_card(&app.db, issuer, subscriber).await?.map(|c| c.hc_roles).unwrap_or_default())
}

async fn issue_code(app: &App, client: &Client, req: &AuthRequest, mut session: Session) -> Response {
    let code = ids::new_secret();
    let grant = CodeGrant {
        client_id: client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        account_id: session.account_id.clone(),
        scopes: req.scopes.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        auth: session.auth.clone(),
        sid: session.sid.clone(),
    };
    let raw = storage::kv::encode(&grant);
    if let Err(e) = app.kv.set(&kv_keys::code(&ids::hash(&code)), &raw, CODE_TTL).await {
        return PageError::internal(e).into_response();
    }
    forget_request(app, &req.id).await;
    session::add_client(app, &mut session, &client.client_id).await;
    let issuer = app.site.public_url().to_owned();
    let mut params = vec![("code", code.as_str()), ("iss", issuer.as_str())];
    if let Some(s) = &req.state {
        params.push(("state", s));
    }
    redirect_with(&req.redirect_uri, &params)
}

/// Loads a stored request.
pub async fn load_request(app: &App, id: &str) -> Result<Option<AuthRequest>, PageError> {
    let raw = app.kv.get(&kv_keys::authorization_request(id)).await.map_err(PageError::internal)?;
    Ok(raw.and_then(|r| serde_json::from_slice(&r).ok()))
}

/// Query of the resume and consent pages.
#[derive(Debug, Deserialize)]
pub struct RequestRef {
    request: String,
}

/// `GET /authorize/resume?request=ID`: continues after sign-in.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(r): Query<RequestRef>,
) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    let req = match load_request(app, &r.request).await {
        Ok(Some(req)) => req,
        Ok(None) => return page(StatusCode::BAD_REQUEST, "authorize_error_expired").into_response(),
        Err(e) => return e.into_response(),
    };
    if !same_browser(app, &headers, &req) {
        return other_browser().into_response();
    }
    let client = match app.clients.find(&app.db, &req.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return page(StatusCode::BAD_REQUEST, "authorize_error_unknown_client").into_response(),
        Err(e) => return PageError::internal(e).into_response(),
    };
    let session = session::current(app, &headers, now).await;
    // After an explicit sign-in the prompt=login freshness is met by the new session.
    proceed(app, &client, req, session, now).await
}

/// `GET /authorize/consent?request=ID`: the consent page.
pub async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
    Query(r): Query<RequestRef>,
) -> Result<Html<String>, PageError> {
    let app = &state.0;
    let req = load_request(app, &r.request)
        .await?
        .ok_or(page(StatusCode::BAD_REQUEST, "authorize_error_expired"))?;
    if !same_browser(app, &headers, &req) {
        return Err(other_browser());
    }
    let client = app
        .clients
        .find(&app.db, &req.client_id)
        .await
        .map_err(PageError::internal)?
        .ok_or(page(StatusCode::BAD_REQUEST, "authorize_error_unknown_client"))?;
    let session = session::current(app, &headers, state.0.clock.now())
        .await
        .ok_or(page(StatusCode::UNAUTHORIZED, "authorize_error_expired"))?;
    let account = accounts::find_account(&app.db, &session.account_id).await.map_err(PageError::internal)?;
    let mut ctx = web::templates::Context::new();
    ctx.insert("client_name", &client.name);
    ctx.insert("scopes", &req.scopes.iter().filter(|s| *s != "openid").collect::<Vec<_>>());
    ctx.insert("request", &req.id);
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("account_name", &account.and_then(|a| a.name.or(a.romaji_name)));
    app.templates.render("idp/consent.html", lang, &ctx).map(Html).map_err(PageError::internal)
}

/// Form of the consent page.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    request: String,
    decision: String,
}

/// `POST /authorize/consent`.
pub async fn consent_submit(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<ConsentForm>,
) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    let req = match load_request(app, &f.request).await {
        Ok(Some(r)) => r,
        Ok(None) => return page(StatusCode::BAD_REQUEST, "authorize_error_expired").into_response(),
        Err(e) => return e.into_response(),
    };
    if !same_browser(app, &headers, &req) {
        return other_browser().into_response();
    }
    let Some(session) = session::current(app, &headers, now).await else {
        return Redirect::to(&format!("/login?request={}", req.id)).into_response();
    };
    let client = match app.clients.find(&app.db, &req.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return page(StatusCode::BAD_REQUEST, "authorize_error_unknown_client").into_response(),
        Err(e) => return PageError::internal(e).into_response(),
    };
    let entry = |outcome: &str| audit::Entry {
        event: "consent".into(),
        outcome: outcome.into(),
        actor: Some(session.account_id.clone()),
        client_id: Some(client.client_id.clone()),
        ip: client_ip.audit(),
        detail: serde_json::json!({ "scopes": req.scopes }),
    };
    if f.decision != "allow" {
        app.audit.log(now, entry("denied")).await;
        forget_request(app, &req.id).await;
        return Redirected {
            redirect_uri: req.redirect_uri.clone(),
            state: req.state.clone(),
            error: OAuthErrorCode::AccessDenied,
            description: "the user declined".into(),
        }
        .into_response(app.site.public_url());
    }
    if let Err(e) =
        consents::upsert_consent(&app.db, &session.account_id, &client.client_id, &req.scopes, now).await
    {
        return PageError::internal(e).into_response();
    }
    app.audit.log(now, entry("success")).await;
    issue_code(app, &client, &req, session).await
}

/// Deletes a finished authorization request. A failure is logged: the request then stays until
/// its TTL, and resuming it again needs the same signed-in session and issues a new single-use
/// code, no more.
async fn forget_request(app: &App, id: &str) {
    if let Err(e) = app.kv.delete(&kv_keys::authorization_request(id)).await {
        tracing::warn!(error = %e, "cannot delete a finished authorization request");
    }
}
