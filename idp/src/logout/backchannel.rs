//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when an idp session ends (logout,
//! revocation when a new sign-in replaces it, or suspension of the account), every client that
//! received tokens in it and registered a `backchannel_logout_uri` gets a signed logout token,
//! POSTed as `logout_token=…` from a background task.
//!
//! Only registered URIs are called (an operator sets them). A failed delivery (network error or
//! a non-2xx answer) is retried with exponential backoff; every attempt is audited
//! (`backchannel_logout` with outcome `success`, `error`, or `gave_up` after the last one).

use std::sync::Arc;

use serde_json::json;

use crate::app::App;
use crate::clients::Client;
use crate::oauth::mint;
use crate::session::Session;
use crate::store::clients as client_store;
use crate::{audit, ids, outbound};

/// The event member of a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Logout token lifetime, in seconds.
const TOKEN_TTL: i64 = 120;

/// Sends logout tokens for an ended session, each delivery in a task of its own.
pub async fn notify(app: &Arc<App>, session: &Session, now: i64) {
    let sid_hash = ids::hash(&session.sid);
    for (client_id, uri, token) in prepare(app, &session.account_id, &sid_hash, &session.clients, now).await {
        tokio::spawn(deliver(app.clone(), client_id, uri, token));
    }
}

/// Where a logout token went, for [`notify_and_wait`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// The client told.
    pub client_id: String,
    /// Whether it answered 2xx (false: every attempt failed).
    pub delivered: bool,
}

/// Sends logout tokens for a session of `account_id` ended elsewhere, known by the hash of its
/// id, and waits until each delivery succeeded or gave up (for a process that exits after, such
/// as an admin command). Retries and audit as for [`notify`].
pub async fn notify_and_wait(
    app: &Arc<App>,
    account_id: &str,
    sid_hash: &str,
    clients: &[String],
    now: i64,
) -> Vec<Delivery> {
    let mut tasks = tokio::task::JoinSet::new();
    for (client_id, uri, token) in prepare(app, account_id, sid_hash, clients, now).await {
        let app = app.clone();
        tasks.spawn(async move {
            let delivered = deliver(app, client_id.clone(), uri, token).await;
            Delivery { client_id, delivered }
        });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(d) => out.push(d),
            Err(e) => tracing::error!(error = %e, "back-channel logout task failed"),
        }
    }
    out.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    out
}

/// The clients of a session with a back-channel URI, each with its signed logout token.
async fn prepare(
    app: &App,
    account_id: &str,
    sid_hash: &str,
    clients: &[String],
    now: i64,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for client_id in clients {
        let client = match client_store::find_client(&app.db, client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(error = %e, client = %client_id, "back-channel logout: client lookup failed");
                continue;
            }
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else { continue };
        let token = match signed_token(app, &client, account_id, sid_hash, now).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, client = %client_id, "back-channel logout: signing failed");
                continue;
            }
        };
        out.push((client.client_id, uri, token));
    }
    out
}

/// A logout token (§2.4): `typ` `logout+jwt`, signed like the client's ID tokens, no `nonce`.
pub async fn logout_token(
    app: &App,
    client: &Client,
    session: &Session,
    now: i64,
) -> Result<String, keys::KeyError> {
    signed_token(app, client, &session.account_id, &ids::hash(&session.sid), now).await
}

async fn signed_token(
    app: &App,
    client: &Client,
    account_id: &str,
    sid_hash: &str,
    now: i64,
) -> Result<String, keys::KeyError> {
    let signer = app.keys.signer(client.id_token_alg, now).await?;
    let claims = json!({
        "iss": app.site.public_url(),
        "aud": client.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "jti": ids::new_secret(),
        "sub": mint::subject(client, account_id),
        "sid": sid_hash,
        "events": { EVENT: {} },
    });
    Ok(signer.sign_jws("logout+jwt", &claims)?)
}

/// Delivers one logout token with retries; true when the client accepted it.
async fn deliver(app: Arc<App>, client_id: String, uri: String, token: String) -> bool {
    let attempts = app.config.backchannel_attempts.max(1);
    if let Err(e) = app.config.outbound.check_url(&uri) {
        tracing::warn!(client = %client_id, error = %e, "back-channel logout: URI refused");
        let entry = audit::Entry {
            event: "backchannel_logout".into(),
            outcome: "refused".into(),
            client_id: Some(client_id.clone()),
            detail: json!({ "error": e }),
            ..audit::Entry::default()
        };
        app.audit.log(app.clock.now(), entry).await;
        return false;
    }
    let http = match outbound::client(app.config.backchannel_timeout, &app.config.outbound) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout: no HTTP client");
            return false;
        }
    };
    let mut delay = app.config.backchannel_retry_base;
    for attempt in 1..=attempts {
        let sent = http.post(&uri).form(&[("logout_token", token.as_str())]).send().await;
        let (outcome, detail) = match sent {
            Ok(res) if res.status().is_success() => {
                ("success", json!({ "attempt": attempt, "status": res.status().as_u16() }))
            }
            Ok(res) => ("error", json!({ "attempt": attempt, "status": res.status().as_u16() })),
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                ("error", json!({ "attempt": attempt, "error": kind }))
            }
        };
        let entry = |outcome: &str, detail| audit::Entry {
            event: "backchannel_logout".into(),
            outcome: outcome.into(),
            client_id: Some(client_id.clone()),
            detail,
            ..audit::Entry::default()
        };
        app.audit.log(app.clock.now(), entry(outcome, detail)).await;
        if outcome == "success" {
            return true;
        }
        if attempt == attempts {
            tracing::warn!(client = %client_id, attempts, "back-channel logout not delivered");
            app.audit.log(app.clock.now(), entry("gave_up", json!({ "attempts": attempts }))).await;
            return false;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
    false
}
