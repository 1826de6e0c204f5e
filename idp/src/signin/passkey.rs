//! Passkey sign-in (WebAuthn, discoverable credentials): `POST /login/passkey/options` and
//! `POST /login/passkey`, and what passkey registration at `/account` shares with them.
//!
//! A passkey is registered only from a session opened with the card a short while before
//! ([`BIND_WINDOW`]), so every doctor's passkey traces back to a card sign-in; the card it was
//! bound with travels in the passkey session (its claims), and a revoked or expired card, or a
//! suspended account, stops the passkey. The ceremony state lives in the key-value store for
//! [`CEREMONY_TTL`] and is taken once, so an assertion is good for one sign-in.
//!
//! Passkey sessions have `acr` [`PASSKEY_ACR`] and `amr` `hwk` (device-bound) or `swk`
//! (synced, backup-eligible), `user` and `mfa` (user verification is required), RFC 8176.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use web::{ApiError, Lang};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::app::{App, AppState};
use crate::rate_limit::ClientIp;
use crate::session::{self, Authentication};
use crate::signin::audit_failure;
use crate::signin::card::{LOGIN_COOKIE, login_id, next_after_sign_in, with_login_cookie};
use crate::store::accounts::{self, AccountStatus};
use crate::store::passkeys;
use crate::{audit, ids, kv_keys};

/// How long after a card sign-in its session may register a passkey.
pub const BIND_WINDOW: i64 = 600;
/// Lifetime of a ceremony's state (registration or sign-in).
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);
/// The `acr` of a passkey session.
pub const PASSKEY_ACR: &str = "phr";
/// The `acr` of a card session.
pub const CARD_ACR: &str = "phrh";

/// The relying party of the idp's public URL, or `None` when passkeys cannot work there:
/// browsers refuse an IP address as the relying-party id, so the host must be a domain name
/// (`localhost` included).
pub fn relying_party(public_url: &str) -> Option<Webauthn> {
    let url = Url::parse(public_url).ok()?;
    let host = url.host_str()?.to_owned();
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(&host, &origin).ok()?.rp_name("Shikaku").timeout(CEREMONY_TTL).build().ok()
}

/// The WebAuthn user handle of an account: the first 16 bytes of SHA-256 of its id, so that
/// the authenticator never holds the account id itself.
pub fn user_handle(account_id: &str) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(account_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// How a passkey session signed in: `acr` [`PASSKEY_ACR`], `amr` `swk` for a synced passkey
/// (else `hwk`), `user`, `mfa`; with the card the passkey was bound with, if any.
pub(crate) fn authentication(synced: bool, card: Option<(String, String)>, now: i64) -> Authentication {
    Authentication {
        auth_time: now,
        acr: PASSKEY_ACR.into(),
        amr: vec![if synced { "swk" } else { "hwk" }.into(), "user".into(), "mfa".into()],
        card,
    }
}

/// Whether a passkey may be synced between devices (its backup-eligible flag). webauthn-rs
/// keeps the flag inside the credential, which it lets out only as the passkey's JSON.
pub fn backup_eligible(passkey: &Passkey) -> bool {
    serde_json::to_value(passkey)
        .ok()
        .and_then(|v| v.pointer("/cred/backup_eligible").and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

/// A problem+json refusal with a localized detail.
pub(crate) fn refusal(app: &App, lang: Lang, status: StatusCode, code: &'static str) -> Response {
    let detail = app.templates.text(lang, &format!("passkey_error_{code}")).to_owned();
    ApiError::typed(status, "passkey", "Passkey refused", detail).with_code(code).into_response()
}

/// The refusal that passkeys are off on this address (an IP address).
pub(crate) fn unavailable(app: &App, lang: Lang) -> Response {
    refusal(app, lang, StatusCode::NOT_FOUND, "unavailable")
}

/// Whether the card a passkey was bound with still stands at `now`: not expired, and a fresh
/// CRL of its issuer does not list its serial. `Err` carries the refusal code.
pub(crate) async fn card_stands(
    app: &App,
    card: &(String, String),
    now: i64,
) -> Result<Result<(), &'static str>, Response> {
    let Some(row) = accounts::find_card(&app.db, &card.0, &card.1)
        .await
        .map_err(|e| ApiError::internal(e).into_response())?
    else {
        return Ok(Err("card_revoked"));
    };
    if row.not_after <= now {
        return Ok(Err("card_expired"));
    }
    let trust = app.trust.load().await.map_err(|e| ApiError::internal(e).into_response())?;
    let at = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let grace = time::Duration::try_from(app.config.crl_grace).unwrap_or(time::Duration::ZERO);
    let fresh: Vec<_> =
        trust.crls.iter().filter(|c| c.issuer == row.issuer && c.check_fresh(at, grace).is_ok()).collect();
    if fresh.is_empty() {
        return Ok(Err("revocation_unavailable"));
    }
    let serial = unhex(&row.serial).unwrap_or_default();
    if fresh.iter().any(|c| c.lookup(&serial).is_some()) {
        return Ok(Err("card_revoked"));
    }
    Ok(Ok(()))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = if s.len() % 2 == 1 { format!("0{s}") } else { s.to_owned() };
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// `POST /login/passkey/options`: the request options of a discoverable passkey sign-in; the
/// ceremony state is kept for this browser's sign-in page (its login cookie).
pub async fn options(State(state): State<AppState>, headers: HeaderMap, lang: Lang) -> Response {
    let app = &state.0;
    let Some(webauthn) = app.webauthn.as_ref() else {
        return unavailable(app, lang);
    };
    let (options, ceremony) = match webauthn.start_discoverable_authentication() {
        Ok(v) => v,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let (login_id, cookie) = login_id(app, &headers);
    let raw = storage::kv::encode(&ceremony);
    if let Err(e) = app.kv.set(&kv_keys::passkey_authentication(&login_id), &raw, CEREMONY_TTL).await {
        return ApiError::internal(e).into_response();
    }
    with_login_cookie(Json(options).into_response(), cookie)
}

/// Body of `POST /login/passkey`.
#[derive(Debug, Deserialize)]
pub struct PasskeyLogin {
    /// The assertion (`navigator.credentials.get` result, binary fields base64url).
    credential: PublicKeyCredential,
    /// The authorization request to continue, if any.
    request: Option<String>,
}

/// Whether the pending authorization request `id` asks for the card (its `acr_values`, or its
/// client's minimum): a passkey session cannot serve it, so the page asks for the card.
pub(crate) async fn request_needs_card(app: &App, id: Option<&str>) -> bool {
    let Some(id) = id else { return false };
    match crate::oauth::authorize::load_request(app, id).await {
        Ok(Some(req)) => {
            let client = app.clients.find(&app.db, &req.client_id).await.ok().flatten();
            crate::oauth::authorize::needs_card(&req, client.as_ref())
        }
        _ => false,
    }
}

/// `POST /login/passkey`: verifies the assertion against the stored ceremony and the passkey,
/// and starts a passkey session.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    client_ip: ClientIp,
    body: Result<Json<PasskeyLogin>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    let ip = client_ip.audit();
    if let Err(res) = crate::signin::limit_sign_in(app, &client_ip, lang).await {
        return res;
    }
    let Some(webauthn) = app.webauthn.as_ref() else {
        return unavailable(app, lang);
    };
    let Ok(Json(body)) = body else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "malformed");
    };
    if request_needs_card(app, body.request.as_deref()).await {
        audit_failure(app, now, ip, "passkey", "card_required").await;
        return refusal(app, lang, StatusCode::FORBIDDEN, "card_required");
    }
    let ceremony = match web::cookies::get(&headers, &app.site.cookie_name(LOGIN_COOKIE)) {
        Some(login_id) => match app.kv.take(&kv_keys::passkey_authentication(login_id)).await {
            Ok(raw) => raw.and_then(|r| serde_json::from_slice::<DiscoverableAuthentication>(&r).ok()),
            Err(e) => return ApiError::internal(e).into_response(),
        },
        None => None,
    };
    let Some(ceremony) = ceremony else {
        audit_failure(app, now, ip, "passkey", "challenge_unknown").await;
        return refusal(app, lang, StatusCode::BAD_REQUEST, "challenge_unknown");
    };
    let Ok((handle, credential_id)) = webauthn.identify_discoverable_authentication(&body.credential) else {
        audit_failure(app, now, ip, "passkey", "malformed").await;
        return refusal(app, lang, StatusCode::BAD_REQUEST, "malformed");
    };
    let stored =
        match passkeys::find_passkey_by_credential(&app.db, &URL_SAFE_NO_PAD.encode(credential_id)).await {
            Ok(p) => p,
            Err(e) => return ApiError::internal(e).into_response(),
        };
    let Some(mut stored) = stored.filter(|p| p.user_handle == handle.to_string()) else {
        audit_failure(app, now, ip, "passkey", "passkey_unknown").await;
        return refusal(app, lang, StatusCode::UNAUTHORIZED, "passkey_unknown");
    };
    let result =
        match webauthn.finish_discoverable_authentication_v2(&body.credential, ceremony, &stored.passkey) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "passkey sign-in refused");
                audit_failure(app, now, ip, "passkey", "assertion_invalid").await;
                return refusal(app, lang, StatusCode::UNAUTHORIZED, "assertion_invalid");
            }
        };
    let account = match accounts::find_account(&app.db, &stored.account_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return refusal(app, lang, StatusCode::UNAUTHORIZED, "passkey_unknown"),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    if account.status != AccountStatus::Active {
        audit_failure(app, now, ip, "passkey", "account_suspended").await;
        return refusal(app, lang, StatusCode::FORBIDDEN, "account_suspended");
    }
    if let Some(card) = &stored.card {
        match card_stands(app, card, now).await {
            Ok(Ok(())) => {}
            Ok(Err(code)) => {
                audit_failure(app, now, ip, "passkey", code).await;
                let status = if code == "revocation_unavailable" {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::FORBIDDEN
                };
                return refusal(app, lang, status, code);
            }
            Err(res) => return res,
        }
    }
    stored.passkey.update_credential(&result);
    let synced = result.backup_eligible() || backup_eligible(&stored.passkey);
    if let Err(e) = passkeys::update_passkey_use(&app.db, &stored.id, &stored.passkey, synced, now).await {
        return ApiError::internal(e).into_response();
    }
    let auth = authentication(synced, stored.card.clone(), now);
    let (session, cookie) = match crate::signin::replace_session(
        app,
        &headers,
        &account.id,
        auth,
        client_ip.audit(),
        now,
    )
    .await
    {
        Ok(v) => v,
        Err(res) => return res,
    };
    app.audit
        .log(
            now,
            audit::Entry {
                event: "sign_in".into(),
                outcome: "success".into(),
                actor: Some(account.id.clone()),
                ip,
                client_id: crate::signin::request_client(app, body.request.as_deref()).await,
                detail: serde_json::json!({ "method": "passkey", "passkey": stored.id, "sid_hash": ids::hash(&session.sid) }),
            },
        )
        .await;
    let mut res =
        Json(serde_json::json!({ "next": next_after_sign_in(body.request.as_deref()) })).into_response();
    session::set_cookie(res.headers_mut(), cookie);
    res
}
