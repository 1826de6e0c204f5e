//! Browser sessions at the idp: a random id in a `__Host-` cookie (plain name over HTTP), the
//! session itself in the key-value store with idle and absolute timeouts, under the id's hash
//! (the same hash names its row in SQL `sessions`, which lists a person's sessions).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::ids;
use crate::kv_keys;
use crate::store::sessions;

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
    key_of_id(&ids::hash(sid))
}

/// KV key of the session whose id hashes to `id`.
fn key_of_id(id: &str) -> String {
    kv_keys::session(id)
}

/// Whether sessions live in this process's memory (no Redis): another process (an admin command)
/// then cannot reach them and marks them ended in SQL only, and their clients are copied to SQL.
fn kv_is_local(app: &App) -> bool {
    app.kv.backend() == storage::kv::KvBackend::Memory
}

/// The session of a request, if its cookie names a live one within the absolute timeout (and,
/// with sessions in memory, not marked ended in SQL by another process).
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
        // Expired either way; a failed delete leaves it to its idle TTL.
        delete_logged(app, sid).await;
        return None;
    }
    if kv_is_local(app) {
        match sessions::find_session_ended(&app.db, &ids::hash(sid)).await {
            Ok(true) => {
                delete_logged(app, sid).await;
                return None;
            }
            Ok(false) => {}
            // The database is down: what needs it (accounts, codes) fails on its own.
            Err(e) => tracing::warn!(error = %e, "cannot check whether the session ended"),
        }
    }
    // Sliding idle timeout; when the store fails to extend it the session still ends at the
    // time it had, so this request goes on.
    if let Err(e) = app.kv.set(&key(sid), &raw, app.config.session_idle).await {
        tracing::warn!(error = %e, "cannot extend the session's idle timeout");
    }
    Some(session)
}

/// Deletes session `sid` from the store, logging a failure (the session then lives until its
/// idle timeout, as the store keeps it).
async fn delete_logged(app: &App, sid: &str) {
    if let Err(e) = app.kv.delete(&key(sid)).await {
        tracing::error!(error = %e, "cannot delete a session");
    }
}

/// Ends a session in the store and in the SQL list of sessions, logging failures.
async fn forget(app: &App, session: &Session, now: i64) {
    delete_logged(app, &session.sid).await;
    if let Err(e) =
        sessions::update_session_ended(&app.db, &session.account_id, &ids::hash(&session.sid), now).await
    {
        tracing::error!(error = %e, "cannot mark a session ended in the database");
    }
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
    let record = sessions::SessionRecord {
        id: ids::hash(&session.sid),
        account_id: account_id.to_owned(),
        amr: session.auth.amr.clone(),
        created_at: now,
        expires_at: now
            .saturating_add(i64::try_from(app.config.session_absolute.as_secs()).unwrap_or(i64::MAX)),
    };
    if let Err(e) = sessions::create_session(&app.db, &record).await {
        // The session works without its listing; the account page just will not show it.
        tracing::warn!(error = %e, "cannot record the session");
    }
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
    let raw = storage::kv::encode(session);
    app.kv.set(&key(&session.sid), &raw, app.config.session_idle).await
}

/// Adds a client that received tokens in the session (for back-channel logout) and saves it.
pub async fn add_client(app: &App, session: &mut Session, client_id: &str) {
    if session.clients.iter().any(|c| c == client_id) {
        return;
    }
    session.clients.push(client_id.to_owned());
    if let Err(e) = save(app, session).await {
        tracing::warn!(error = %e, "cannot save the session");
    }
    if kv_is_local(app)
        && let Err(e) =
            sessions::update_session_clients(&app.db, &ids::hash(&session.sid), &session.clients).await
    {
        tracing::warn!(error = %e, "cannot record the session's clients");
    }
}

/// A session ended by [`end_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// SHA-256 of the session id (the `sid` claim).
    pub sid_hash: String,
    /// Clients that received tokens in it.
    pub clients: Vec<String>,
}

/// Ends every open session of an account, from any process: marks them ended in SQL and deletes
/// them from the key-value store (a serving process with sessions in memory drops its copy at
/// their next use). The caller tells their clients over the back channel.
pub async fn end_all(app: &App, account_id: &str, now: i64) -> Result<Vec<Ended>, sqlx::Error> {
    let mut ended = Vec::new();
    for (id, mut clients) in sessions::find_open_session_clients(&app.db, account_id, now).await? {
        if !sessions::update_session_ended(&app.db, account_id, &id, now).await? {
            continue;
        }
        let live = app.kv.take(&key_of_id(&id)).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot delete the session");
            None
        });
        if let Some(session) = live.and_then(|raw| serde_json::from_slice::<Session>(&raw).ok()) {
            for c in session.clients {
                if !clients.contains(&c) {
                    clients.push(c);
                }
            }
        }
        ended.push(Ended { sid_hash: id, clients });
    }
    Ok(ended)
}

/// Ends a session; returns the `Set-Cookie` value that clears the cookie.
pub async fn end(app: &App, session: &Session) -> HeaderValue {
    forget(app, session, app.clock.now()).await;
    let cookie = web::cookies::set(&app.site, &app.site.cookie_name(COOKIE), "", 0, true);
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

/// Ends a session of `account_id` by its listed id (from the account page); false when it was
/// not theirs or already over.
/// Its clients are told over the back channel.
pub async fn end_by_id(app: &Arc<App>, account_id: &str, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let ended = sessions::update_session_ended(&app.db, account_id, id, now).await?;
    if ended {
        let live = app.kv.get(&key_of_id(id)).await.ok().flatten();
        if let Err(e) = app.kv.delete(&key_of_id(id)).await {
            tracing::warn!(error = %e, "cannot delete the session");
        }
        if let Some(session) = live.and_then(|raw| serde_json::from_slice::<Session>(&raw).ok()) {
            crate::logout::backchannel::notify(app, &session, now).await;
        }
    }
    Ok(ended)
}

/// The listed sessions of an account that are still alive (a session past its idle timeout is
/// gone from the key-value store and is marked ended here).
pub async fn list(
    app: &App,
    account_id: &str,
    now: i64,
) -> Result<Vec<sessions::SessionRecord>, sqlx::Error> {
    let mut alive = Vec::new();
    for s in sessions::find_sessions(&app.db, account_id, now).await? {
        match app.kv.get(&key_of_id(&s.id)).await {
            Ok(Some(_)) => alive.push(s),
            Ok(None) => {
                sessions::update_session_ended(&app.db, account_id, &s.id, now).await?;
            }
            // The store is down: show what SQL knows.
            Err(_) => alive.push(s),
        }
    }
    Ok(alive)
}

/// Revokes a session that ends other than by logout (a new sign-in in the same browser
/// replaces it): deletes it, audits `session_revoked` with `reason`, and tells its clients over
/// the back channel. `ip` is the address of the request that replaced it.
pub async fn revoke(app: &Arc<App>, session: &Session, reason: &str, ip: Option<String>, now: i64) {
    forget(app, session, now).await;
    app.audit.log(now,
        crate::audit::Entry {
            event: "session_revoked".into(),
            outcome: reason.into(),
            actor: Some(session.account_id.clone()),
            ip,
            detail: serde_json::json!({ "sid_hash": ids::hash(&session.sid), "clients": session.clients }),
            ..crate::audit::Entry::default()
        },
    )
    .await;
    crate::logout::backchannel::notify(app, session, now).await;
}

/// Appends a `Set-Cookie` header.
pub fn set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(header::SET_COOKIE, value);
}
