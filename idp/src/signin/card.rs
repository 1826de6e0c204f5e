//! Card sign-in (docs/design.md §5): the sign-in page, `GET /login/card/challenge` and
//! `POST /login/card`.
//!
//! The challenge nonce is bound to this browser's login cookie and used once (`take`). The
//! origin and nonce checked in the token come only from server state.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hpki::{ErrorCode, HpkiCertificate};
use serde::Deserialize;
use web::csrf::CsrfToken;
use web::{ApiError, Lang, PageError};

use crate::app::{App, AppState};
use crate::rate_limit::{self, ClientIp, Limited};
use crate::session::{self, Authentication};
use crate::signin::{account_for, audit_failure};
use crate::store::accounts::AccountStatus;
use crate::{audit, ids, kv_keys};

/// Challenge lifetime.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Cookie binding challenges to a browser.
pub(crate) const LOGIN_COOKIE: &str = "idp_login";
/// Authentication methods of a card sign-in (RFC 8176).
pub const CARD_AMR: [&str; 4] = ["sc", "pin", "hwk", "mfa"];

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    request: Option<String>,
}

/// `GET /login`.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    csrf: CsrfToken,
    Query(q): Query<LoginQuery>,
) -> Result<Html<String>, PageError> {
    let app = &state.0;
    let mut ctx = web::templates::Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("request", &q.request);
    let label = |c: &crate::signin::virtual_card::DemoCard| {
        if lang == Lang::En { c.label_en.clone() } else { c.label.clone() }
    };
    let demo: Vec<_> =
        app.config.demo_cards.iter().map(|c| serde_json::json!({ "id": c.id, "label": label(c) })).collect();
    ctx.insert("demo_cards", &demo);
    ctx.insert("certificate_login", &app.config.cert_login.enabled());
    let mut card_required = false;
    if let Some(id) = &q.request
        && let Some(req) = crate::oauth::authorize::load_request(app, id).await?
    {
        let client = app.clients.find(&app.db, &req.client_id).await.ok().flatten();
        card_required = crate::oauth::authorize::needs_card(&req, client.as_ref());
        if let Some(c) = client {
            ctx.insert("client_name", &c.name);
        }
    }
    ctx.insert("card_required", &card_required);
    ctx.insert("passkey_login", &(app.webauthn.is_some() && !card_required));
    app.templates.render("idp/login.html", lang, &ctx).map(Html).map_err(PageError::internal)
}

/// `GET /login/card/challenge`: a fresh nonce for the card to sign.
pub async fn challenge(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let app = &state.0;
    let (login_id, cookie) = login_id(app, &headers);
    let nonce = STANDARD.encode(rand::random::<[u8; 32]>());
    if let Err(e) = app.kv.set(&kv_keys::challenge(&login_id), nonce.as_bytes(), CHALLENGE_TTL).await {
        return ApiError::internal(e).into_response();
    }
    with_login_cookie(Json(serde_json::json!({ "nonce": nonce })).into_response(), cookie)
}

/// The sign-in page's login id (its `idp_login` cookie), and the `Set-Cookie` value when the
/// browser has none yet. Challenges of the page's sign-in methods are kept under it.
pub(crate) fn login_id(app: &App, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let existing = web::cookies::get(headers, &app.site.cookie_name(LOGIN_COOKIE)).filter(|v| v.len() == 43);
    match existing {
        Some(id) => (id.to_owned(), None),
        None => {
            let id = ids::new_secret();
            let cookie = web::cookies::set(&app.site, &app.site.cookie_name(LOGIN_COOKIE), &id, 3600, true);
            (id, HeaderValue::from_str(&cookie).ok())
        }
    }
}

/// A challenge answer: not stored by caches, with the login cookie when it is new.
pub(crate) fn with_login_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = cookie {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Body of `POST /login/card`.
#[derive(Debug, Deserialize)]
pub struct CardLogin {
    /// The Web eID token object.
    auth_token: serde_json::Value,
    /// The authorization request to continue, if any.
    request: Option<String>,
}

fn card_error(lang: Lang, code: ErrorCode, status: StatusCode) -> Response {
    let message = match lang {
        Lang::Ja => code.message_ja(),
        Lang::En => code.message_en(),
    };
    ApiError::typed(status, "card-sign-in", "Card sign-in failed", message)
        .with_code(code.code())
        .into_response()
}

/// `POST /login/card`: validates the card token and starts a session.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    client_ip: ClientIp,
    body: Result<Json<CardLogin>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    if let Err(res) = crate::signin::limit_sign_in(app, &client_ip, lang).await {
        return res;
    }
    let ip = client_ip.audit();
    let Ok(Json(body)) = body else {
        return card_error(lang, ErrorCode::TokenMalformed, StatusCode::BAD_REQUEST);
    };
    let nonce = match web::cookies::get(&headers, &app.site.cookie_name(LOGIN_COOKIE)) {
        Some(login_id) => match app.kv.take(&kv_keys::challenge(login_id)).await {
            Ok(n) => n.and_then(|n| String::from_utf8(n).ok()),
            Err(e) => return ApiError::internal(e).into_response(),
        },
        None => None,
    };
    let Some(nonce) = nonce else {
        audit_failure(app, now, ip, "card", "nonce_unknown").await;
        return card_error(lang, ErrorCode::NonceUnknown, StatusCode::BAD_REQUEST);
    };
    let previous = session::current(app, &headers, now).await;
    match complete(app, &body.auth_token.to_string(), &nonce, body.request.as_deref(), ip, lang, now).await {
        Ok((next, cookie)) => {
            if let Some(old) = previous {
                session::revoke(app, &old, "replaced_by_sign_in", client_ip.audit(), now).await;
            }
            let mut res = Json(serde_json::json!({ "next": next })).into_response();
            session::set_cookie(res.headers_mut(), cookie);
            res
        }
        Err(res) => res,
    }
}

/// Validates a card token against server-held `nonce`, finds or creates the account, starts a
/// session; returns where to go next and the session cookie, or the error response.
pub(crate) async fn complete(
    app: &App,
    token_json: &str,
    nonce: &str,
    request: Option<&str>,
    ip: Option<String>,
    lang: Lang,
    now: i64,
) -> Result<(String, HeaderValue), Response> {
    let trust = app.trust.load().await.map_err(|e| ApiError::internal(e).into_response())?;
    let at = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let identity = match trust.validator.validate(token_json, app.site.origin(), nonce, &trust.crls, at) {
        Ok(id) => id,
        Err(e) => {
            if e.code == ErrorCode::RevocationUnavailable
                && let Some(cert) = token_certificate(token_json)
            {
                // The chain and the card's signature held: remember where its CRL lives.
                crate::trust::crl_fetch::record_points(app, &cert, now).await;
            }
            tracing::info!(code = e.code(), detail = %e.detail, "card sign-in refused");
            audit_failure(app, now, ip, "card", e.code()).await;
            let status = if e.code == ErrorCode::RevocationUnavailable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNAUTHORIZED
            };
            return Err(card_error(lang, e.code, status));
        }
    };
    let card_subject =
        format!("{}|{}", identity.issuer, identity.subscriber_id.as_deref().unwrap_or(&identity.serial));
    if let Err(l) =
        rate_limit::hit(app, "sign_in_account", &card_subject, app.config.rate_limits.sign_in_per_account)
            .await
    {
        audit_failure(app, now, ip, "card", "rate_limited").await;
        return Err(rate_limited(app, lang, l));
    }
    crate::trust::crl_fetch::record_points(app, &identity.certificate, now).await;
    let account = account_for(app, &identity.certificate, now)
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    if account.status != AccountStatus::Active {
        audit_failure(app, now, ip, "card", "account_suspended").await;
        return Err(ApiError::typed(
            StatusCode::FORBIDDEN,
            "account-suspended",
            "Account suspended",
            "this account is suspended",
        )
        .with_code("account_suspended")
        .into_response());
    }
    let auth = Authentication {
        auth_time: now,
        acr: "phrh".into(),
        amr: CARD_AMR.iter().map(|s| s.to_string()).collect(),
        card: identity.subscriber_id.clone().map(|s| (identity.issuer.clone(), s)),
    };
    let (session, cookie) = session::start(app, &account.id, auth, now)
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    app.audit.log(now,
        audit::Entry {
            event: "sign_in".into(),
            outcome: "success".into(),
            actor: Some(account.id.clone()),
            ip,
            client_id: crate::signin::request_client(app, request).await,
            detail: serde_json::json!({ "method": "card", "issuer": identity.issuer, "serial": identity.serial, "sid_hash": ids::hash(&session.sid) }),
        },
    )
    .await;
    let next = next_after_sign_in(request);
    Ok((next, cookie))
}

/// Where a browser goes after signing in: the pending authorization request, or home.
pub(crate) fn next_after_sign_in(request: Option<&str>) -> String {
    match request {
        Some(id)
            if id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            format!("/authorize/resume?request={id}")
        }
        _ => "/".to_owned(),
    }
}

/// The certificate inside a Web eID token, unverified.
fn token_certificate(token_json: &str) -> Option<HpkiCertificate> {
    let token: serde_json::Value = serde_json::from_str(token_json).ok()?;
    let der = STANDARD.decode(token.get("unverifiedCertificate")?.as_str()?).ok()?;
    HpkiCertificate::from_der(&der).ok()
}

/// 429 problem+json (`rate_limited`) with `Retry-After`, for the sign-in API.
pub(crate) fn rate_limited(app: &App, lang: Lang, l: Limited) -> Response {
    let detail = app.templates.text(lang, "rate_limited_message").to_owned();
    let mut res = ApiError::typed(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests", detail)
        .with_code("rate_limited")
        .into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(l.retry_after));
    res
}
