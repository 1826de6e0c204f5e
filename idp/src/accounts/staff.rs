//! Staff accounts: office staff of a medical association who hold no HPKI card. An operator
//! invites one (`shikaku admin staff invite`, [`invite`]); the single-use link, valid for a
//! short while, opens `GET /staff/invite#TOKEN`, where the invitee registers a passkey
//! (`POST /staff/invite/options`, then `POST /staff/invite`, JSON from `passkey.js`) and is
//! signed in. The token travels in the URL's fragment, which browsers never send, so it shows
//! in no server or proxy log; the page's script posts it. Staff sign in with passkeys like
//! doctors and get their `roles`, never a doctor's claims (they have no card).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use web::csrf::CsrfToken;
use web::{ApiError, Lang, PageError};
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use crate::accounts::passkeys::{clean_name, store_new};
use crate::app::{App, AppState};
use crate::rate_limit::ClientIp;
use crate::session;
use crate::signin::passkey::{self, CEREMONY_TTL, refusal, user_handle};
use crate::store::accounts::{self, Account, AccountKind, AccountStatus};
use crate::store::passkeys as passkey_store;
use crate::store::staff::{self as store, Invitation};
use crate::{audit, ids, kv_keys};

/// Default lifetime of an invitation link.
pub const DEFAULT_TTL: Duration = Duration::from_secs(48 * 3600);
/// Longest lifetime an operator may give one (a longer one is cut to it).
pub const MAX_TTL: Duration = Duration::from_secs(7 * 86_400);

/// A new invitation: the account and the link's secret part.
#[derive(Debug, Clone)]
pub struct Invited {
    /// The staff account.
    pub account_id: String,
    /// The token the link carries (shown once).
    pub token: String,
    /// Unix seconds; the link stops working then.
    pub expires_at: i64,
}

/// The link of an invitation on the idp at `public_url`.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/staff/invite#{token}", public_url.trim_end_matches('/'))
}

fn invitation(account_id: &str, ttl: Duration, now: i64) -> (Invitation, String) {
    let token = ids::new_secret();
    let ttl = ttl.min(MAX_TTL);
    let expires_at = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    let i = Invitation {
        token_hash: ids::hash(&token),
        account_id: account_id.to_owned(),
        created_at: now,
        expires_at,
        used_at: None,
    };
    (i, token)
}

/// Creates a staff account named `name` with `roles` and its first invitation.
pub async fn invite(
    db: &storage::Db,
    name: &str,
    roles: &[String],
    ttl: Duration,
    now: i64,
) -> Result<Invited, sqlx::Error> {
    let account = Account {
        id: ids::random(16),
        kind: AccountKind::Staff,
        name: Some(name.to_owned()),
        romaji_name: None,
        status: AccountStatus::Active,
        created_at: now,
        updated_at: now,
    };
    let (i, token) = invitation(&account.id, ttl, now);
    store::create_staff(db, &account, roles, &i).await?;
    Ok(Invited { account_id: account.id, token, expires_at: i.expires_at })
}

/// Another invitation for an existing staff account (a further or a replaced passkey).
pub async fn reinvite(
    db: &storage::Db,
    account_id: &str,
    ttl: Duration,
    now: i64,
) -> Result<Invited, sqlx::Error> {
    let (i, token) = invitation(account_id, ttl, now);
    store::create_invitation(db, &i).await?;
    Ok(Invited { account_id: account_id.to_owned(), token, expires_at: i.expires_at })
}

/// `GET /staff/invite`: the invitation page (the token is in the fragment, read by the script).
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    let app = &state.0;
    let mut ctx = web::templates::Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("passkeys_enabled", &app.webauthn.is_some());
    app.templates.render("idp/staff_invite.html", lang, &ctx).map(Html).map_err(PageError::internal)
}

/// The usable invitation of `token` and its staff account, or the refusal.
async fn usable(app: &App, lang: Lang, token: &str, now: i64) -> Result<(Invitation, Account), Response> {
    let found = store::find_invitation(&app.db, &ids::hash(token))
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    let Some(i) = found.filter(|i| i.used_at.is_none() && i.expires_at > now) else {
        return Err(refusal(app, lang, StatusCode::GONE, "invitation_unusable"));
    };
    match accounts::find_account(&app.db, &i.account_id).await {
        Ok(Some(a)) if a.kind == AccountKind::Staff && a.status == AccountStatus::Active => Ok((i, a)),
        Ok(_) => Err(refusal(app, lang, StatusCode::GONE, "invitation_unusable")),
        Err(e) => Err(ApiError::internal(e).into_response()),
    }
}

/// Body of `POST /staff/invite/options`.
#[derive(Debug, Deserialize)]
pub struct OptionsBody {
    token: String,
}

/// `POST /staff/invite/options`: the invitee's name and roles and the creation options of their
/// passkey; the ceremony is kept under the invitation.
pub async fn options(
    State(state): State<AppState>,
    lang: Lang,
    client_ip: ClientIp,
    body: Result<Json<OptionsBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    if let Err(res) = crate::signin::limit_sign_in(app, &client_ip, lang).await {
        return res;
    }
    let Some(webauthn) = app.webauthn.as_ref() else {
        return passkey::unavailable(app, lang);
    };
    let Ok(Json(body)) = body else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "malformed");
    };
    let (i, account) = match usable(app, lang, &body.token, now).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let existing = match passkey_store::find_passkeys(&app.db, &account.id).await {
        Ok(p) => p.into_iter().map(|p| p.passkey.cred_id().clone()).collect(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let name = account.name.clone().unwrap_or_else(|| account.id.clone());
    let (options, ceremony) =
        match webauthn.start_passkey_registration(user_handle(&account.id), &name, &name, Some(existing)) {
            Ok(v) => v,
            Err(e) => return ApiError::internal(e).into_response(),
        };
    let raw = storage::kv::encode(&ceremony);
    if let Err(e) = app.kv.set(&kv_keys::staff_registration(&i.token_hash), &raw, CEREMONY_TTL).await {
        return ApiError::internal(e).into_response();
    }
    let roles = store::find_account_roles(&app.db, &account.id).await.unwrap_or_default();
    let mut options = crate::accounts::passkeys::discoverable(&options);
    if let Some(o) = options.as_object_mut() {
        o.insert("invitee".into(), serde_json::json!({ "name": name, "roles": roles }));
    }
    Json(options).into_response()
}

/// Body of `POST /staff/invite`.
#[derive(Debug, Deserialize)]
pub struct Registration {
    token: String,
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /staff/invite`: verifies the passkey, uses the invitation up, stores the passkey and
/// signs the staff member in.
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
    let Ok(Json(body)) = body else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "malformed");
    };
    let Some(name) = clean_name(&body.name) else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "name_invalid");
    };
    let (i, account) = match usable(app, lang, &body.token, now).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let ceremony = match app.kv.take(&kv_keys::staff_registration(&i.token_hash)).await {
        Ok(raw) => raw.and_then(|r| serde_json::from_slice::<PasskeyRegistration>(&r).ok()),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let Some(ceremony) = ceremony else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "challenge_unknown");
    };
    let passkey = match webauthn.finish_passkey_registration(&body.credential, &ceremony) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, "staff passkey registration refused");
            return refusal(app, lang, StatusCode::BAD_REQUEST, "registration_invalid");
        }
    };
    match store::update_invitation_used(&app.db, &i.token_hash, now).await {
        Ok(true) => {}
        Ok(false) => return refusal(app, lang, StatusCode::GONE, "invitation_unusable"),
        Err(e) => return ApiError::internal(e).into_response(),
    }
    let record = match store_new(app, lang, &account.id, name, passkey, None, Some(now), now).await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let auth = passkey::authentication(record.backup_eligible, None, now);
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
    let entry = audit::Entry {
        event: "staff.register".into(),
        outcome: "success".into(),
        actor: Some(account.id.clone()),
        ip: client_ip.audit(),
        detail: serde_json::json!({ "passkey": record.id, "sid_hash": ids::hash(&session.sid) }),
        ..audit::Entry::default()
    };
    app.audit.log(now, entry).await;
    let mut res = (StatusCode::CREATED, Json(serde_json::json!({ "next": "/account" }))).into_response();
    session::set_cookie(res.headers_mut(), cookie);
    res
}
