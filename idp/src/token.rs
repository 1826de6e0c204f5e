//! `POST /token` (RFC 6749 §3.2): the authorization code grant with PKCE S256 (single-use codes)
//! and the client credentials grant. Errors are RFC 6749 §5.2 JSON.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use web::{OAuthError, OAuthErrorCode};

use crate::app::{App, AppState};
use crate::authorize::CodeGrant;
use crate::client_auth::{self, Presented};
use crate::clients::{Client, GrantType, SCOPES};
use crate::rate_limit::{self, ClientIp, Limited};
use crate::tokens::{self, Grant};
use crate::{audit, ids};

/// How long a used code is remembered, to refuse its replay.
const USED_CODE_TTL: Duration = Duration::from_secs(600);

/// Form fields of a token request.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
}

/// 429 `slow_down` with `Retry-After`.
fn slow_down(l: Limited) -> OAuthError {
    let mut e =
        OAuthError::new(OAuthErrorCode::SlowDown, "too many token requests; retry after Retry-After seconds");
    e.retry_after = Some(l.retry_after);
    e
}

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidGrant, description)
}

/// Handler.
pub async fn token(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    ip: ClientIp,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let app = &state.0;
    let limits = app.config.rate_limits;
    if let Err(l) = rate_limit::hit(app, "token_ip", &ip.subject(), limits.token_per_ip).await {
        return slow_down(l).into_response();
    }
    let Ok(Form(f)) = form else {
        return OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        )
        .into_response();
    };
    let presented = Presented {
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone(),
        client_assertion: f.client_assertion.clone(),
        client_assertion_type: f.client_assertion_type.clone(),
        tls_certificate: crate::cert_login::client::request_certificate(app, &extensions, &headers),
    };
    let result = async {
        let client = client_auth::authenticate(app, &headers, &presented).await?;
        rate_limit::hit(app, "token_client", &client.client_id, limits.token_per_client)
            .await
            .map_err(slow_down)?;
        let now = state.0.clock.now();
        let grant_type = f
            .grant_type
            .as_deref()
            .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "grant_type is required"))?;
        let response = match grant_type {
            "authorization_code" => authorization_code(app, &client, &f, now).await?,
            "refresh_token" => refresh(app, &client, &f, now).await?,
            "client_credentials" => client_credentials(app, &client, &f, now).await?,
            _ => {
                return Err(OAuthError::new(
                    OAuthErrorCode::UnsupportedGrantType,
                    "grant_type must be authorization_code, refresh_token or client_credentials",
                ));
            }
        };
        audit::log(
            &app.db,
            now,
            audit::Entry {
                event: "token".into(),
                outcome: "success".into(),
                client_id: Some(client.client_id.clone()),
                detail: serde_json::json!({ "grant_type": grant_type, "scope": response.scope }),
                ..audit::Entry::default()
            },
        )
        .await;
        Ok::<_, OAuthError>(response)
    }
    .await;
    match result {
        Ok(body) => {
            let mut res = Json(body).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => e.into_response(),
    }
}

fn verify_pkce(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && ids::ct_eq(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), challenge)
}

async fn authorization_code(
    app: &App,
    client: &Client,
    f: &TokenForm,
    now: i64,
) -> Result<tokens::TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client may not use the authorization code grant",
        ));
    }
    let code = f
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "code is required"))?;
    let key = ids::hash(code);
    let taken = app
        .kv
        .take(&format!("code:{key}"))
        .await
        .map_err(|e| OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, e.to_string()))?;
    let Some(raw) = taken else {
        let replay = app.kv.get(&format!("code_used:{key}")).await.ok().flatten();
        if let Some(minted) = replay {
            // RFC 6749 §4.1.2: tokens issued from a replayed code are revoked.
            if let Ok(minted) = serde_json::from_slice::<tokens::Minted>(&minted) {
                revoke_minted(app, &minted, now).await;
            }
            tracing::warn!(client = %client.client_id, "authorization code replayed");
            audit::log(
                &app.db,
                now,
                audit::Entry {
                    event: "token".into(),
                    outcome: "code_replayed".into(),
                    client_id: Some(client.client_id.clone()),
                    ..audit::Entry::default()
                },
            )
            .await;
            return Err(invalid_grant("authorization code already used"));
        }
        return Err(invalid_grant("authorization code is invalid or expired"));
    };
    let placeholder =
        serde_json::to_vec(&tokens::Minted { jti: String::new(), family_id: None }).unwrap_or_default();
    let _ = app.kv.set(&format!("code_used:{key}"), &placeholder, USED_CODE_TTL).await;
    let grant: CodeGrant = serde_json::from_slice(&raw).map_err(OAuthError::internal)?;
    if grant.client_id != client.client_id {
        return Err(invalid_grant("authorization code was issued to another client"));
    }
    if f.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri does not match the authorization request"));
    }
    let verifier = f
        .code_verifier
        .as_deref()
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "code_verifier is required (PKCE)"))?;
    if !verify_pkce(verifier, &grant.code_challenge) {
        return Err(invalid_grant("PKCE verification failed"));
    }
    let g = Grant {
        account_id: Some(grant.account_id),
        scopes: grant.scopes,
        nonce: grant.nonce,
        auth: Some(grant.auth),
        sid: Some(grant.sid),
        family_id: None,
    };
    let (response, minted) = tokens::mint(app, client, &g, now).await?;
    let record = serde_json::to_vec(&minted).unwrap_or_default();
    let _ = app.kv.set(&format!("code_used:{key}"), &record, USED_CODE_TTL).await;
    Ok(response)
}

/// Revokes what one grant minted: its access token record and its refresh-token family.
pub async fn revoke_minted(app: &App, minted: &tokens::Minted, now: i64) {
    if !minted.jti.is_empty() {
        let _ = app.kv.delete(&tokens::access_key(&minted.jti)).await;
    }
    if let Some(family) = &minted.family_id
        && let Err(e) = crate::store::refresh::update_family_revoked(&app.db, family, now).await
    {
        tracing::error!(error = %e, "revoking a refresh-token family failed");
    }
}

async fn refresh(
    app: &App,
    client: &Client,
    f: &TokenForm,
    now: i64,
) -> Result<tokens::TokenResponse, OAuthError> {
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
        audit::log(
            &app.db,
            now,
            audit::Entry {
                event: "token".into(),
                outcome: "refresh_replayed".into(),
                actor: Some(stored.account_id.clone()),
                client_id: Some(client.client_id.clone()),
                detail: serde_json::json!({ "family_revoked": revoked }),
                ..audit::Entry::default()
            },
        )
        .await;
        return Err(invalid_grant("refresh token already used; every token of this grant is revoked"));
    }
    match crate::store::accounts::find_account(&app.db, &stored.account_id)
        .await
        .map_err(OAuthError::internal)?
    {
        Some(a) if a.status == "active" => {}
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
        auth: serde_json::from_value(stored.grant_info["auth"].clone()).ok(),
        sid: stored.grant_info["sid"].as_str().map(str::to_owned),
        family_id: Some(stored.family_id.clone()),
    };
    Ok(tokens::mint(app, client, &g, now).await?.0)
}

async fn client_credentials(
    app: &App,
    client: &Client,
    f: &TokenForm,
    now: i64,
) -> Result<tokens::TokenResponse, OAuthError> {
    if client.is_public() || !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client may not use the client credentials grant",
        ));
    }
    let requested: Vec<String> =
        f.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Some(bad) = requested
        .iter()
        .find(|s| *s == "openid" || !SCOPES.contains(&s.as_str()) || !client.scopes.contains(s))
    {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidScope,
            format!("scope {bad} is not allowed for this client"),
        ));
    }
    let g =
        Grant { account_id: None, scopes: requested, nonce: None, auth: None, sid: None, family_id: None };
    Ok(tokens::mint(app, client, &g, now).await?.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pkce_s256() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(super::verify_pkce(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!super::verify_pkce(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!super::verify_pkce("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }
}
