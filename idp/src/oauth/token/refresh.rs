//! The refresh token grant (RFC 6749 §6): rotation on every use, reuse detection that revokes
//! the family, and no new tokens for a suspended account.

use web::{OAuthError, OAuthErrorCode};

use super::{TokenForm, invalid_grant};
use crate::app::App;
use crate::clients::{Client, GrantType};
use crate::oauth::mint::{self, Grant};
use crate::rate_limit::ClientIp;
use crate::store::accounts::AccountStatus;
use crate::{audit, ids};

/// Exchanges a refresh token for new tokens; the used token is rotated, and a reused one
/// revokes its whole family.
pub(super) async fn exchange(
    app: &App,
    client: &Client,
    f: &TokenForm,
    ip: &ClientIp,
    now: i64,
) -> Result<mint::TokenResponse, OAuthError> {
    use crate::store::refresh as store;
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client may not use the refresh token grant",
        ));
    }
    let presented = f
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "refresh_token is required"))?;
    let hash = ids::hash(presented);
    let stored = store::find_refresh_token(&app.db, &hash).await.map_err(OAuthError::internal)?;
    let Some(stored) = stored.filter(|t| t.client_id == client.client_id) else {
        return Err(invalid_grant("refresh token is invalid"));
    };
    if stored.revoked_at.is_some() {
        return Err(invalid_grant("refresh token was revoked"));
    }
    if stored.expires_at <= now {
        return Err(invalid_grant("refresh token expired"));
    }
    if stored.used_at.is_some()
        || !store::update_refresh_used(&app.db, &hash, now).await.map_err(OAuthError::internal)?
    {
        // A used token presented again: someone holds a copy. End the whole grant.
        let revoked = store::update_family_revoked(&app.db, &stored.family_id, now)
            .await
            .map_err(OAuthError::internal)?;
        tracing::warn!(client = %client.client_id, revoked, "refresh token replayed; family revoked");
        app.audit
            .log(
                now,
                audit::Entry {
                    event: "token".into(),
                    outcome: "refresh_replayed".into(),
                    actor: Some(stored.account_id.clone()),
                    client_id: Some(client.client_id.clone()),
                    ip: ip.audit(),
                    detail: serde_json::json!({ "family_revoked": revoked }),
                },
            )
            .await;
        return Err(invalid_grant("refresh token already used; every token of this grant is revoked"));
    }
    match crate::store::accounts::find_account(&app.db, &stored.account_id)
        .await
        .map_err(OAuthError::internal)?
    {
        Some(a) if a.status == AccountStatus::Active => {}
        _ => return Err(invalid_grant("the account is suspended")),
    }
    let scopes = match f.scope.as_deref() {
        None => stored.scopes.clone(),
        Some(requested) => {
            let requested: Vec<String> =
                requested.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
            if let Some(bad) = requested.iter().find(|s| !stored.scopes.contains(s)) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    format!("scope {bad} was not granted"),
                ));
            }
            requested
        }
    };
    let g = Grant {
        account_id: Some(stored.account_id.clone()),
        scopes,
        nonce: None,
        auth: stored.grant_info.auth.clone(),
        sid: stored.grant_info.sid.clone(),
        family_id: Some(stored.family_id.clone()),
        resource: None,
    };
    Ok(mint::mint(app, client, &g, now).await?.0)
}
