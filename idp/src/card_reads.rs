//! `POST /api/v1/card-reads`: a trusted service (the portal's venue kiosk, an in-person check)
//! asks whether a certificate read from a card without its PIN is a genuine, current HPKI
//! authentication certificate, and whose it is. The idp holds the trust set and the CRLs, so it
//! decides, with the checks of a TLS-certificate sign-in (docs/design.md §5, steps 4–8 and 10):
//! a card read proves which card was presented, not that its holder knows the PIN, so it opens
//! no session and makes no account.
//!
//! The caller presents an access token of this idp (client credentials) with the scope
//! `card:read`; with `license` as well, the answer carries the holder's medical registration
//! number when the registry names the card. Answers: 200 with the holder; problem+json `400`
//! (`cert_malformed`: not JSON, not base64), `422` with the validator's code (`cert_revoked`,
//! `cert_expired`, `cert_untrusted`, …), `503` `revocation_unavailable`. Each read is an audit
//! entry `card_read` (the certificate's issuer, serial and subscriber id, never the
//! certificate).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hpki::ErrorCode;
use serde::Deserialize;
use serde_json::{Value, json};
use web::ApiError;

use crate::app::{App, AppState};
use crate::audit;
use crate::oauth::bearer;
use crate::rate_limit::ClientIp;
use crate::store::{accounts, identities};

/// Largest certificate accepted, as base64 (real HPKI certificates are about 2 KB of DER).
pub const MAX_CERTIFICATE_CHARS: usize = 16 * 1024;

/// The request body.
#[derive(Debug, Deserialize)]
pub struct CardRead {
    /// The authentication certificate, base64 DER (the bridge's `get-certificate` answer).
    certificate: String,
}

fn refused(code: ErrorCode) -> ApiError {
    let status = match code {
        ErrorCode::CertMalformed => StatusCode::BAD_REQUEST,
        ErrorCode::RevocationUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::status(status, code.message_en()).with_code(code.code())
}

/// Handler.
pub async fn read(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    body: Result<Json<CardRead>, JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    let token = match bearer::verify(app, &headers, now).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    if !token.has_scope("card:read") {
        return bearer::error(StatusCode::FORBIDDEN, "insufficient_scope", "the card:read scope is required");
    }
    let client_id = token.record.client_id.clone();
    let der = match web::surface::json_body(body) {
        Ok(Some(b)) if b.certificate.len() <= MAX_CERTIFICATE_CHARS => {
            STANDARD.decode(b.certificate.trim()).ok()
        }
        Err(too_large) => return too_large.into_response(),
        _ => None,
    };
    let Some(der) = der else {
        audit_entry(
            app,
            now,
            &client_ip,
            &client_id,
            "card_read",
            ErrorCode::CertMalformed.code(),
            json!({}),
        )
        .await;
        return ApiError::status(
            StatusCode::BAD_REQUEST,
            "the body must be JSON {\"certificate\": \"<base64 DER>\"} of at most 16 KiB",
        )
        .with_code(ErrorCode::CertMalformed.code())
        .into_response();
    };
    checked(app, &token, &der, now, &client_ip, "card_read").await
}

/// The request body of `POST /api/v1/card-status`.
#[derive(Debug, Deserialize)]
pub struct CardStatus {
    /// Issuing CA of the card, as the idp's claims name it (`hpki.issuer`).
    issuer: String,
    /// The card's subscriber id (`hpki.subscriber_id`).
    subscriber_id: String,
}

/// `POST /api/v1/card-status`: the card named by issuer and subscriber id, as of now. The idp
/// checks the card's latest authentication certificate (recorded at its last card sign-in)
/// again, with the checks of a card read: a share a doctor made last week says whether the card
/// is still valid and unrevoked today. Same scope, answers and audit as a card read (event
/// `card_status`), plus `404` `card_unknown` when no certificate of the card is recorded.
pub async fn status(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    body: Result<Json<CardStatus>, JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    let token = match bearer::verify(app, &headers, now).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    if !token.has_scope("card:read") {
        return bearer::error(StatusCode::FORBIDDEN, "insufficient_scope", "the card:read scope is required");
    }
    let client_id = token.record.client_id.clone();
    let asked = match web::surface::json_body(body) {
        Ok(Some(b)) if (1..=500).contains(&b.issuer.len()) && (1..=100).contains(&b.subscriber_id.len()) => b,
        Err(too_large) => return too_large.into_response(),
        _ => {
            return ApiError::status(
                StatusCode::BAD_REQUEST,
                "the body must be JSON {\"issuer\": \"…\", \"subscriber_id\": \"…\"}",
            )
            .with_code("request_malformed")
            .into_response();
        }
    };
    let stored = match accounts::find_card_certificate(&app.db, &asked.issuer, &asked.subscriber_id).await {
        Ok(c) => c.and_then(|b64| STANDARD.decode(b64).ok()),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let Some(der) = stored else {
        let detail = json!({ "issuer": asked.issuer, "subscriber_id": asked.subscriber_id });
        audit_entry(app, now, &client_ip, &client_id, "card_status", "card_unknown", detail).await;
        return ApiError::status(
            StatusCode::NOT_FOUND,
            "no certificate of this card is recorded: it has not signed in here",
        )
        .with_code("card_unknown")
        .into_response();
    };
    checked(app, &token, &der, now, &client_ip, "card_status").await
}

/// The request body of `POST /api/v1/card-proofs`.
#[derive(Debug, Deserialize)]
pub struct CardProof {
    /// The Web eID authentication token the card made (`web-eid:authenticate`).
    auth_token: Value,
    /// The origin of the page that asked the card (the token's signature covers it).
    origin: String,
    /// The challenge nonce the caller gave the card, used once by the caller.
    nonce: String,
}

/// Largest authentication token accepted, as JSON text.
pub const MAX_TOKEN_CHARS: usize = 32 * 1024;

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let rest = url.find("://")? + 3;
    let end = url[rest..].find(['/', '?', '#']).map_or(url.len(), |i| rest + i);
    Some(&url[..end])
}

/// `POST /api/v1/card-proofs`: a trusted service whose page asked the card holder to sign a
/// fresh challenge with the card and PIN (an in-person check at a verifier's computer) has the
/// idp validate the token — signature over the page's origin and the nonce, then the checks of a
/// card read — proving that the card is at hand and its holder knows the PIN. The origin must
/// be one of the calling client's redirect URIs' origins (`403` `origin_not_allowed`); the
/// caller keeps the nonce and uses it once. Same scope and answer as a card read; refusals:
/// `400` `request_malformed`, `422` with the validator's code (`signature_invalid`,
/// `nonce_mismatch`, `cert_revoked`, …), `503` `revocation_unavailable`. Audit event
/// `card_proof`.
pub async fn proof(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    body: Result<Json<CardProof>, JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    let token = match bearer::verify(app, &headers, now).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    if !token.has_scope("card:read") {
        return bearer::error(StatusCode::FORBIDDEN, "insufficient_scope", "the card:read scope is required");
    }
    let client_id = token.record.client_id.clone();
    let asked = match web::surface::json_body(body) {
        Ok(Some(b)) if b.auth_token.is_object() && !b.origin.is_empty() && !b.nonce.is_empty() => b,
        Err(too_large) => return too_large.into_response(),
        _ => {
            return ApiError::status(
                StatusCode::BAD_REQUEST,
                "the body must be JSON {\"auth_token\": {…}, \"origin\": \"https://…\", \"nonce\": \"…\"}",
            )
            .with_code("request_malformed")
            .into_response();
        }
    };
    let token_json = asked.auth_token.to_string();
    if token_json.len() > MAX_TOKEN_CHARS {
        return ApiError::status(StatusCode::BAD_REQUEST, "the authentication token is larger than 32 KiB")
            .with_code("request_malformed")
            .into_response();
    }
    let client = match crate::store::clients::find_client(&app.db, &client_id).await {
        Ok(c) => c,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let allowed = client
        .is_some_and(|c| c.redirect_uris.iter().filter_map(|u| origin_of(u)).any(|o| o == asked.origin));
    if !allowed {
        let detail = json!({ "origin": asked.origin });
        audit_entry(app, now, &client_ip, &client_id, "card_proof", "origin_not_allowed", detail).await;
        return ApiError::status(
            StatusCode::FORBIDDEN,
            "the origin is not one of this client's redirect URIs' origins",
        )
        .with_code("origin_not_allowed")
        .into_response();
    }
    let trust = match app.trust.load().await {
        Ok(t) => t,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let at = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    match trust.validator.validate(&token_json, &asked.origin, &asked.nonce, &trust.crls, at) {
        Ok(identity) => answer(app, &token, &identity.certificate, now, &client_ip, "card_proof").await,
        Err(e) => {
            tracing::info!(code = e.code(), detail = %e.detail, "card proof refused");
            audit_entry(app, now, &client_ip, &client_id, "card_proof", e.code(), json!({})).await;
            refused(e.code).into_response()
        }
    }
}

/// Checks `der` and answers with its holder (or the refusal), audited as `event`.
async fn checked(
    app: &App,
    token: &bearer::Bearer,
    der: &[u8],
    now: i64,
    client_ip: &ClientIp,
    event: &str,
) -> Response {
    let client_id = token.record.client_id.as_str();
    let cert = match crate::trust::check_certificate(app, der, now).await {
        Ok(Ok(cert)) => cert,
        Ok(Err(code)) => {
            audit_entry(app, now, client_ip, client_id, event, code.code(), json!({})).await;
            return refused(code).into_response();
        }
        Err(e) => return ApiError::internal(e).into_response(),
    };
    answer(app, token, &cert, now, client_ip, event).await
}

/// The holder of the checked certificate `cert`, audited as `event`.
async fn answer(
    app: &App,
    token: &bearer::Bearer,
    cert: &hpki::HpkiCertificate,
    now: i64,
    client_ip: &ClientIp,
    event: &str,
) -> Response {
    let client_id = token.record.client_id.as_str();
    let facts = json!({ "issuer": cert.issuer, "serial": cert.serial, "subscriber_id": cert.subscriber_id });
    let mut holder = json!({
        "issuer": cert.issuer,
        "subscriber_id": cert.subscriber_id.as_deref().unwrap_or(&cert.serial),
        "serial": cert.serial,
        "not_after": cert.not_after.unix_timestamp(),
        "hc_roles": cert.hc_roles,
        "name": cert.kanji_name,
        "name#ja-Latn": cert.romaji_name,
        "checked_at": now,
    });
    if token.has_scope("license")
        && let Some(id) = match registry_number(app, cert).await {
            Ok(n) => n,
            Err(e) => return ApiError::internal(e).into_response(),
        }
    {
        holder["medical_registration_number"] = Value::String(id);
    }
    audit_entry(app, now, client_ip, client_id, event, "success", facts).await;
    let mut res = Json(holder).into_response();
    res.headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    res
}

async fn registry_number(app: &App, cert: &hpki::HpkiCertificate) -> Result<Option<String>, sqlx::Error> {
    let Some(subscriber) = cert.subscriber_id.as_deref() else { return Ok(None) };
    Ok(identities::find_identity(&app.db, &cert.issuer, subscriber).await?.map(|i| i.registration_number))
}

async fn audit_entry(
    app: &App,
    now: i64,
    ip: &ClientIp,
    client_id: &str,
    event: &str,
    outcome: &str,
    detail: Value,
) {
    let entry = audit::Entry {
        event: event.into(),
        outcome: outcome.into(),
        client_id: Some(client_id.to_owned()),
        ip: ip.audit(),
        detail,
        ..audit::Entry::default()
    };
    app.audit.log(now, entry).await;
}
