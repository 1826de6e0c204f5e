//! Browser sessions at the idp: a random id in a `__Host-` cookie (plain name over HTTP), the
//! session itself in the key-value store with idle and absolute timeouts.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::ids;

/// Cookie name (prefixed `__Host-` over HTTPS).
const COOKIE: &str = "idp_session";

/// How the person proved who they are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Authentication {
    /// Unix seconds of the sign-in.
    pub auth_time: i64,
    /// Authentication context class (`phrh` for card + PIN).
    pub acr: String,
    /// Methods (RFC 8176).
    pub amr: Vec<String>,
    /// The card used: issuer and subscriber id.
    pub card: Option<(String, String)>,
}

/// A signed-in browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Session id (also the `sid` claim).
    pub sid: String,
    /// The account.
    pub account_id: String,
    /// How they signed in.
    pub auth: Authentication,
    /// Unix seconds; the absolute timeout counts from here.
    pub created_at: i64,
    /// Clients that received tokens in this session (for logout).
    pub clients: Vec<String>,
}

fn key(sid: &str) -> String {
    format!("session:{sid}")
}

/// The session of a request, if its cookie names a live one within the absolute timeout.
pub async fn current(app: &App, headers: &HeaderMap, now: i64) -> Option<Session> {
    let sid = web::cookies::get(headers, &app.site.cookie_name(COOKIE))?;
    let raw = match app.kv.get(&key(sid)).await {
        Ok(v) => v?,
        Err(e) => {
            tracing::warn!(error = %e, "session store unavailable");
            return None;
        }
    };
    let session: Session = serde_json::from_slice(&raw).ok()?;
    let absolute = i64::try_from(app.config.session_absolute.as_secs()).unwrap_or(i64::MAX);
    if now - session.created_at >= absolute {
        let _ = app.kv.delete(&key(sid)).await;
        return None;
    }
    // Sliding idle timeout.
    let _ = app.kv.set(&key(sid), &raw, app.config.session_idle).await;
    Some(session)
}

/// Starts a session; returns it and its `Set-Cookie` value.
pub async fn start(
    app: &App,
    account_id: &str,
    auth: Authentication,
    now: i64,
) -> Result<(Session, HeaderValue), storage::KvError> {
    let session = Session {
        sid: ids::new_secret(),
        account_id: account_id.to_owned(),
        auth,
        created_at: now,
        clients: vec![],
    };
    save(app, &session).await?;
    let cookie = web::cookies::set(
        &app.site,
        &app.site.cookie_name(COOKIE),
        &session.sid,
        app.config.session_absolute.as_secs(),
        true,
    );
    Ok((session, HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))))
}

/// Writes a changed session back.
pub async fn save(app: &App, session: &Session) -> Result<(), storage::KvError> {
    let raw = serde_json::to_vec(session).unwrap_or_default();
    app.kv.set(&key(&session.sid), &raw, app.config.session_idle).await
}

/// Ends a session; returns the `Set-Cookie` value that clears the cookie.
pub async fn end(app: &App, session: &Session) -> HeaderValue {
    let _ = app.kv.delete(&key(&session.sid)).await;
    let cookie = web::cookies::set(&app.site, &app.site.cookie_name(COOKIE), "", 0, true);
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// Revokes a session that ends other than by logout (a new sign-in in the same browser
/// replaces it): deletes it, audits `session_revoked` with `reason`, and tells its clients over
/// the back channel.
pub async fn revoke(app: &Arc<App>, session: &Session, reason: &str, now: i64) {
    let _ = app.kv.delete(&key(&session.sid)).await;
    crate::audit::log(
        &app.db,
        now,
        crate::audit::Entry {
            event: "session_revoked".into(),
            outcome: reason.into(),
            actor: Some(session.account_id.clone()),
            detail: serde_json::json!({ "sid_hash": ids::hash(&session.sid), "clients": session.clients }),
            ..crate::audit::Entry::default()
        },
    )
    .await;
    crate::backchannel::notify(app, session, now).await;
}

/// Appends a `Set-Cookie` header.
pub fn set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(header::SET_COOKIE, value);
}
