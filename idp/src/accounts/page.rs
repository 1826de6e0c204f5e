//! The person's own page at the idp, `GET /account`: their cards, passkeys (registered, renamed
//! and removed in [`super::passkeys`]), live sessions (each can be ended), latest sign-ins (from
//! the audit log: time, method, address, service) and the applications they granted access
//! (each grant can be withdrawn, which also revokes the refresh tokens issued under it).

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use web::csrf::CsrfToken;
use web::{Lang, PageError};

use crate::app::{App, AppState};
use crate::rate_limit::ClientIp;
use crate::session::{self, Session};
use crate::store::{
    accounts, audit as audit_store, clients as client_store, consents, emergency as emergency_store,
    passkeys as passkey_store, refresh,
};
use crate::{audit, ids};

/// A row of the sessions table.
#[derive(Debug, Serialize)]
struct SessionRow {
    id: String,
    started: String,
    expires: String,
    method: &'static str,
    current: bool,
}

/// A row of the passkeys table.
#[derive(Debug, Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    created: String,
    last_used: Option<String>,
    synced: bool,
}

/// A row of the cards table.
#[derive(Debug, Serialize)]
struct CardRow {
    issuer: String,
    serial: String,
    not_after: String,
    expired: bool,
    last_used: String,
}

/// A row of the latest sign-ins.
#[derive(Debug, Serialize)]
struct SignInRow {
    at: String,
    method: &'static str,
    ip: Option<String>,
    client: Option<String>,
}

/// A row of the emergency sign-ins issued for the account.
#[derive(Debug, Serialize)]
struct EmergencyRow {
    issued: String,
    reason: String,
    issued_by: String,
    used: Option<String>,
    expired: bool,
}

/// How many sign-ins the page lists.
const SIGN_INS_SHOWN: i64 = 10;

/// The locale key naming a sign-in method of the audit log.
fn sign_in_method_key(detail: &str) -> &'static str {
    let method = serde_json::from_str::<serde_json::Value>(detail).ok();
    match method.as_ref().and_then(|d| d["method"].as_str()) {
        Some("card") => "account_method_card",
        Some("passkey") => "account_method_passkey",
        Some("emergency") => "account_method_emergency",
        Some("tls_listener" | "tls_proxy") => "account_method_certificate",
        _ => "account_method_other",
    }
}

/// A row of the applications table.
#[derive(Debug, Serialize)]
struct AppRow {
    client_id: String,
    name: String,
    scopes: Vec<String>,
    granted: String,
}

/// `2026-11-30 21:05` in Japan time.
fn jst(at: i64) -> String {
    let offset = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(at) else { return String::new() };
    let t = t.to_offset(offset);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// The locale key naming how a session was opened.
fn method_key(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "sc") {
        "account_method_card"
    } else if amr.iter().any(|m| m == "user") {
        "account_method_passkey"
    } else if amr.iter().any(|m| m == "otp") {
        "account_method_emergency"
    } else {
        "account_method_other"
    }
}

fn unauthorized() -> PageError {
    PageError::new(StatusCode::UNAUTHORIZED, "account_title", "account_sign_in_first")
}

async fn page(app: &App, s: &Session, lang: Lang, csrf: &str, now: i64) -> Result<Html<String>, PageError> {
    let current = ids::hash(&s.sid);
    let sessions: Vec<SessionRow> = session::list(app, &s.account_id, now)
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .map(|r| SessionRow {
            current: r.id == current,
            started: jst(r.created_at),
            expires: jst(r.expires_at),
            method: method_key(&r.amr),
            id: r.id,
        })
        .collect();
    let mut apps = Vec::new();
    for (client_id, scopes, granted_at) in
        consents::find_consents(&app.db, &s.account_id).await.map_err(PageError::internal)?
    {
        let name = client_store::find_client(&app.db, &client_id)
            .await
            .map_err(PageError::internal)?
            .map_or_else(|| client_id.clone(), |c| c.name);
        apps.push(AppRow { client_id, name, scopes, granted: jst(granted_at) });
    }
    let passkeys: Vec<PasskeyRow> = passkey_store::find_passkeys(&app.db, &s.account_id)
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            created: jst(p.created_at),
            last_used: p.last_used_at.map(jst),
            synced: p.backup_eligible,
        })
        .collect();
    let cards: Vec<CardRow> = accounts::find_cards(&app.db, &s.account_id)
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .map(|c| CardRow {
            issuer: c.issuer,
            serial: c.serial,
            not_after: jst(c.not_after),
            expired: c.not_after <= now,
            last_used: jst(c.last_used_at),
        })
        .collect();
    let mut sign_ins = Vec::new();
    for e in audit_store::find_sign_ins(&app.db, &s.account_id, SIGN_INS_SHOWN)
        .await
        .map_err(PageError::internal)?
    {
        let client = match &e.entry.client_id {
            Some(id) => Some(
                app.clients
                    .find(&app.db, id)
                    .await
                    .map_err(PageError::internal)?
                    .map_or_else(|| id.clone(), |c| c.name),
            ),
            None => None,
        };
        sign_ins.push(SignInRow {
            at: jst(e.at),
            method: sign_in_method_key(&e.detail_text),
            ip: e.entry.ip,
            client,
        });
    }
    let emergency: Vec<EmergencyRow> = emergency_store::find_grants(&app.db, &s.account_id)
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .map(|g| EmergencyRow {
            issued: jst(g.created_at),
            reason: g.reason,
            issued_by: g.issued_by,
            used: g.used_at.map(jst),
            expired: g.used_at.is_none() && g.expires_at <= now,
        })
        .collect();
    let account = accounts::find_account(&app.db, &s.account_id).await.map_err(PageError::internal)?;
    let mut ctx = web::templates::Context::new();
    ctx.insert("emergency", &emergency);
    ctx.insert("cards", &cards);
    ctx.insert("sign_ins", &sign_ins);
    ctx.insert("passkeys_enabled", &app.webauthn.is_some());
    ctx.insert("passkeys", &passkeys);
    ctx.insert("may_register_passkey", &super::passkeys::may_bind(s, now));
    ctx.insert("is_staff", &account.as_ref().is_some_and(|a| a.kind == accounts::AccountKind::Staff));
    ctx.insert("account_name", &account.and_then(|a| a.name.or(a.romaji_name)));
    ctx.insert("sessions", &sessions);
    ctx.insert("apps", &apps);
    ctx.insert("csrf_token", csrf);
    app.templates.render("idp/account.html", lang, &ctx).map(Html).map_err(PageError::internal)
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    let app = &state.0;
    let now = state.0.clock.now();
    let s = session::current(app, &headers, now).await.ok_or_else(unauthorized)?;
    page(app, &s, lang, &csrf.0, now).await
}

/// Form of `POST /account/sessions/end`.
#[derive(Debug, Deserialize)]
pub struct EndForm {
    id: String,
}

/// `POST /account/sessions/end`: ends one of the person's sessions (this one signs them out).
pub async fn end_session(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<EndForm>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let now = state.0.clock.now();
    let s = session::current(app, &headers, now).await.ok_or_else(unauthorized)?;
    if f.id == ids::hash(&s.sid) {
        let cookie = session::end(app, &s).await;
        crate::logout::backchannel::notify(app, &s, now).await;
        audit_end(app, &s.account_id, &f.id, &client_ip, now).await;
        let mut res = Redirect::to("/").into_response();
        res.headers_mut().append(header::SET_COOKIE, cookie);
        return Ok(res);
    }
    if !session::end_by_id(app, &s.account_id, &f.id, now).await.map_err(PageError::internal)? {
        return Err(PageError::new(StatusCode::NOT_FOUND, "account_title", "account_no_such_session"));
    }
    audit_end(app, &s.account_id, &f.id, &client_ip, now).await;
    Ok(Redirect::to("/account").into_response())
}

async fn audit_end(app: &App, account_id: &str, id: &str, ip: &ClientIp, now: i64) {
    let entry = audit::Entry {
        event: "session.end".into(),
        outcome: "success".into(),
        actor: Some(account_id.to_owned()),
        ip: ip.audit(),
        detail: serde_json::json!({ "sid_hash": id }),
        ..audit::Entry::default()
    };
    app.audit.log(now, entry).await;
}

/// Form of `POST /account/apps/revoke`.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    client_id: String,
}

/// `POST /account/apps/revoke`: withdraws the consent given to a client and revokes its refresh
/// tokens; the next sign-in there asks for consent again.
pub async fn revoke_app(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<RevokeForm>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let now = state.0.clock.now();
    let s = session::current(app, &headers, now).await.ok_or_else(unauthorized)?;
    if !consents::delete_consent(&app.db, &s.account_id, &f.client_id).await.map_err(PageError::internal)? {
        return Err(PageError::new(StatusCode::NOT_FOUND, "account_title", "account_no_such_app"));
    }
    let revoked = refresh::update_client_revoked(&app.db, &s.account_id, &f.client_id, now)
        .await
        .map_err(PageError::internal)?;
    let entry = audit::Entry {
        event: "consent.revoke".into(),
        outcome: "success".into(),
        actor: Some(s.account_id.clone()),
        client_id: Some(f.client_id.clone()),
        ip: client_ip.audit(),
        detail: serde_json::json!({ "refresh_tokens_revoked": revoked }),
    };
    app.audit.log(now, entry).await;
    Ok(Redirect::to("/account").into_response())
}
