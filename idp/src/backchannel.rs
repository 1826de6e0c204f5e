//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when an idp session ends (logout,
//! or revocation when a new sign-in replaces it), every client that received tokens in it and registered a `backchannel_logout_uri` gets a signed
//! logout token, POSTed as `logout_token=…` from a background task.
//!
//! Only registered URIs are called (an operator sets them). A failed delivery (network error or
//! a non-2xx answer) is retried with exponential backoff; every attempt is audited
//! (`backchannel_logout` with outcome `success`, `error`, or `gave_up` after the last one).

use std::sync::Arc;

use serde_json::json;

use crate::app::App;
use crate::clients::Client;
use crate::session::Session;
use crate::store::clients as client_store;
use crate::{audit, ids, outbound, tokens};

/// The event member of a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Logout token lifetime, in seconds.
const TOKEN_TTL: i64 = 120;

/// Sends logout tokens for an ended session, each delivery in a task of its own.
pub async fn notify(app: &Arc<App>, session: &Session, now: i64) {
    for client_id in &session.clients {
        let client = match client_store::find_client(&app.db, client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(error = %e, client = %client_id, "back-channel logout: client lookup failed");
                continue;
            }
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else { continue };
        let token = match logout_token(app, &client, session, now).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, client = %client_id, "back-channel logout: signing failed");
                continue;
            }
        };
        tokio::spawn(deliver(app.clone(), client.client_id.clone(), uri, token));
    }
}

/// A logout token (§2.4): `typ` `logout+jwt`, signed like the client's ID tokens, no `nonce`.
pub async fn logout_token(
    app: &App,
    client: &Client,
    session: &Session,
    now: i64,
) -> Result<String, crate::keys::KeyError> {
    let signer = app.keys.signer(client.id_token_alg, now).await?;
    let claims = json!({
        "iss": app.site.public_url(),
        "aud": client.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "jti": ids::new_secret(),
        "sub": tokens::subject(client, &session.account_id),
        "sid": ids::hash(&session.sid),
        "events": { EVENT: {} },
    });
    Ok(signer.sign_jws("logout+jwt", &claims))
}

async fn deliver(app: Arc<App>, client_id: String, uri: String, token: String) {
    let attempts = app.config.backchannel_attempts.max(1);
    let http = match outbound::client(app.config.backchannel_timeout) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout: no HTTP client");
            return;
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
        audit::log(&app.db, crate::app::now(), entry(outcome, detail)).await;
        if outcome == "success" {
            return;
        }
        if attempt == attempts {
            tracing::warn!(client = %client_id, attempts, "back-channel logout not delivered");
            audit::log(&app.db, crate::app::now(), entry("gave_up", json!({ "attempts": attempts }))).await;
            return;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
}
