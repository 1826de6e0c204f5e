//! The person's passkeys at `/account`: registration (`POST /account/passkeys/options`, then
//! `POST /account/passkeys`, JSON from `passkey.js`), rename and remove (forms). A passkey is
//! registered only from a session opened with the card within
//! [`BIND_WINDOW`]; it carries that card.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use web::{ApiError, Lang, PageError};
use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, Passkey, PasskeyRegistration, RegisterPublicKeyCredential,
};

use crate::app::{App, AppState};
use crate::rate_limit::ClientIp;
use crate::session::{self, Session};
use crate::signin::passkey::{
    self, BIND_WINDOW, CARD_ACR, CEREMONY_TTL, backup_eligible, refusal, user_handle,
};
use crate::store::accounts;
use crate::store::passkeys::{self as store, PasskeyRecord};
use crate::{audit, ids, kv_keys};

/// Most passkeys an account may hold.
pub const MAX_PASSKEYS: usize = 20;
/// Longest passkey name, in characters.
pub const MAX_NAME_CHARS: usize = 60;

/// The name as stored: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn clean_name(name: &str) -> Option<String> {
    let name = name.trim();
    let ok =
        !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned())
}

/// Creation options asking for a discoverable credential, so that the sign-in page needs no
/// user name (a phone signs in with a passkey it syncs or finds itself). webauthn-rs asks for
/// none; its options are JSON.
pub(crate) fn discoverable(options: &CreationChallengeResponse) -> serde_json::Value {
    let mut options = serde_json::to_value(options).unwrap_or_default();
    if let Some(selection) =
        options.pointer_mut("/publicKey/authenticatorSelection").and_then(|v| v.as_object_mut())
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    options
}

/// Whether `s` may register a passkey now: a card session, opened within the bind window.
pub(crate) fn may_bind(s: &Session, now: i64) -> bool {
    s.auth.acr == CARD_ACR && s.auth.card.is_some() && now - s.auth.auth_time <= BIND_WINDOW
}

async fn session_or_refusal(
    app: &App,
    headers: &HeaderMap,
    lang: Lang,
    now: i64,
) -> Result<Session, Response> {
    session::current(app, headers, now)
        .await
        .ok_or_else(|| refusal(app, lang, StatusCode::UNAUTHORIZED, "signed_out"))
}

/// `POST /account/passkeys/options`: the creation options of a new passkey for the signed-in
/// doctor (their other passkeys excluded); the ceremony state is kept for this session.
pub async fn options(State(state): State<AppState>, headers: HeaderMap, lang: Lang) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    let Some(webauthn) = app.webauthn.as_ref() else {
        return passkey::unavailable(app, lang);
    };
    let s = match session_or_refusal(app, &headers, lang, now).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if !may_bind(&s, now) {
        return refusal(app, lang, StatusCode::FORBIDDEN, "card_sign_in_first");
    }
    let existing = match store::find_passkeys(&app.db, &s.account_id).await {
        Ok(p) => p,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    if existing.len() >= MAX_PASSKEYS {
        return refusal(app, lang, StatusCode::CONFLICT, "too_many");
    }
    let account = match accounts::find_account(&app.db, &s.account_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return refusal(app, lang, StatusCode::UNAUTHORIZED, "signed_out"),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let display = account.name.clone().or(account.romaji_name.clone()).unwrap_or_else(|| account.id.clone());
    let user_name =
        s.auth.card.as_ref().map_or_else(|| display.clone(), |(_, subscriber)| subscriber.clone());
    let exclude: Vec<CredentialID> = existing.iter().map(|p| p.passkey.cred_id().clone()).collect();
    let (options, ceremony) = match webauthn.start_passkey_registration(
        user_handle(&account.id),
        &user_name,
        &display,
        Some(exclude),
    ) {
        Ok(v) => v,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let options = discoverable(&options);
    let raw = storage::kv::encode(&ceremony);
    if let Err(e) = app.kv.set(&kv_keys::passkey_registration(&ids::hash(&s.sid)), &raw, CEREMONY_TTL).await {
        return ApiError::internal(e).into_response();
    }
    Json(options).into_response()
}

/// Body of `POST /account/passkeys`.
#[derive(Debug, Deserialize)]
pub struct Registration {
    /// The name the doctor gives the passkey.
    name: String,
    /// The `navigator.credentials.create` result, binary fields base64url.
    credential: RegisterPublicKeyCredential,
}

/// `POST /account/passkeys`: verifies the new credential against the session's ceremony and
/// stores it with its name and the card of the session.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    client_ip: ClientIp,
    body: Result<Json<Registration>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    let Some(webauthn) = app.webauthn.as_ref() else {
        return passkey::unavailable(app, lang);
    };
    let s = match session_or_refusal(app, &headers, lang, now).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let Ok(Json(body)) = body else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "malformed");
    };
    let Some(name) = clean_name(&body.name) else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "name_invalid");
    };
    if !may_bind(&s, now) {
        return refusal(app, lang, StatusCode::FORBIDDEN, "card_sign_in_first");
    }
    let ceremony = match app.kv.take(&kv_keys::passkey_registration(&ids::hash(&s.sid))).await {
        Ok(raw) => raw.and_then(|r| serde_json::from_slice::<PasskeyRegistration>(&r).ok()),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let Some(ceremony) = ceremony else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "challenge_unknown");
    };
    let passkey = match webauthn.finish_passkey_registration(&body.credential, &ceremony) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            return refusal(app, lang, StatusCode::BAD_REQUEST, "registration_invalid");
        }
    };
    let record =
        match store_new(app, lang, &s.account_id, name, passkey, s.auth.card.clone(), None, now).await {
            Ok(r) => r,
            Err(res) => return res,
        };
    audit_passkey(app, &s, "passkey.register", &record.id, &client_ip, now).await;
    (StatusCode::CREATED, Json(serde_json::json!({ "next": "/account", "id": record.id }))).into_response()
}

/// Stores a passkey just registered for `account_id` (with the card that bound it, if any);
/// `last_used_at` is set when the registration also signs in. A credential id registered
/// before is refused (409 `already_registered`).
#[expect(clippy::too_many_arguments, reason = "the columns of a new passkey, each given once")]
pub(crate) async fn store_new(
    app: &App,
    lang: Lang,
    account_id: &str,
    name: String,
    passkey: Passkey,
    card: Option<(String, String)>,
    last_used_at: Option<i64>,
    now: i64,
) -> Result<PasskeyRecord, Response> {
    let record = PasskeyRecord {
        id: ids::random(16),
        account_id: account_id.to_owned(),
        credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        user_handle: user_handle(account_id).to_string(),
        name,
        backup_eligible: backup_eligible(&passkey),
        passkey,
        card,
        created_at: now,
        last_used_at,
    };
    match store::create_passkey(&app.db, &record).await {
        Ok(true) => Ok(record),
        Ok(false) => Err(refusal(app, lang, StatusCode::CONFLICT, "already_registered")),
        Err(e) => Err(ApiError::internal(e).into_response()),
    }
}

async fn audit_passkey(app: &App, s: &Session, event: &str, id: &str, ip: &ClientIp, now: i64) {
    let entry = audit::Entry {
        event: event.into(),
        outcome: "success".into(),
        actor: Some(s.account_id.clone()),
        ip: ip.audit(),
        detail: serde_json::json!({ "passkey": id }),
        ..audit::Entry::default()
    };
    app.audit.log(now, entry).await;
}

fn unauthorized() -> PageError {
    PageError::new(StatusCode::UNAUTHORIZED, "account_title", "account_sign_in_first")
}

/// Form of `POST /account/passkeys/rename`.
#[derive(Debug, Deserialize)]
pub struct RenameForm {
    id: String,
    name: String,
}

/// `POST /account/passkeys/rename`.
pub async fn rename(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<RenameForm>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let now = app.clock.now();
    let s = session::current(app, &headers, now).await.ok_or_else(unauthorized)?;
    let name = clean_name(&f.name).ok_or_else(|| {
        PageError::new(StatusCode::BAD_REQUEST, "account_title", "passkey_error_name_invalid")
    })?;
    if !store::update_passkey_name(&app.db, &s.account_id, &f.id, &name).await.map_err(PageError::internal)? {
        return Err(PageError::new(StatusCode::NOT_FOUND, "account_title", "account_no_such_passkey"));
    }
    audit_passkey(app, &s, "passkey.rename", &f.id, &client_ip, now).await;
    Ok(Redirect::to("/account").into_response())
}

/// Form of `POST /account/passkeys/remove`.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    id: String,
}

/// `POST /account/passkeys/remove`: the passkey stops working at once.
pub async fn remove(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<RemoveForm>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let now = app.clock.now();
    let s = session::current(app, &headers, now).await.ok_or_else(unauthorized)?;
    if !store::delete_passkey(&app.db, &s.account_id, &f.id).await.map_err(PageError::internal)? {
        return Err(PageError::new(StatusCode::NOT_FOUND, "account_title", "account_no_such_passkey"));
    }
    audit_passkey(app, &s, "passkey.remove", &f.id, &client_ip, now).await;
    Ok(Redirect::to("/account").into_response())
}
