//! The client credentials grant (RFC 6749 §4.4): tokens for a confidential client itself.

use web::{OAuthError, OAuthErrorCode};

use super::TokenForm;
use crate::app::App;
use crate::clients::{self, Client, GrantType};
use crate::oauth::mint::{self, Grant};

/// Tokens for the client itself (no person): only scopes the client is allowed, never `openid`.
pub(super) async fn exchange(
    app: &App,
    client: &Client,
    f: &TokenForm,
    now: i64,
) -> Result<mint::TokenResponse, OAuthError> {
    if client.is_public() || !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client may not use the client credentials grant",
        ));
    }
    let requested: Vec<String> =
        f.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Some(bad) =
        requested.iter().find(|s| *s == "openid" || !clients::known_scope(s) || !client.scopes.contains(s))
    {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            format!("scope {bad} is not allowed for this client"),
        ));
    }
    // RFC 8707: a token for one of our resource servers (the portal's API) names it as `aud`.
    let resource = match f.resource.as_deref().map(|r| r.trim_end_matches('/')) {
        None => None,
        Some(r) if app.config.resource_servers.iter().any(|s| s.trim_end_matches('/') == r) => {
            Some(r.to_owned())
        }
        Some(r) => {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                format!("resource {r} is not a resource server of this idp"),
            ));
        }
    };
    let g = Grant {
        account_id: None,
        scopes: requested,
        nonce: None,
        auth: None,
        sid: None,
        family_id: None,
        resource,
    };
    Ok(mint::mint(app, client, &g, now).await?.0)
}
