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

use crate::app::{App, AppState, now};
use crate::authorize::CodeGrant;
use crate::client_auth::{self, Presented};
use crate::clients::{Client, GrantType, SCOPES};
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
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
}

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidGrant, description)
}

/// Handler.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let app = &state.0;
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
    };
    let result = async {
        let client = client_auth::authenticate(app, &headers, &presented).await?;
        let now = now();
        let grant_type = f
            .grant_type
            .as_deref()
            .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "grant_type is required"))?;
        let response = match grant_type {
            "authorization_code" => authorization_code(app, &client, &f, now).await?,
            "client_credentials" => client_credentials(app, &client, &f, now).await?,
            _ => {
                return Err(OAuthError::new(
                    OAuthErrorCode::UnsupportedGrantType,
                    "grant_type must be authorization_code or client_credentials",
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
        if replay.is_some() {
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
    let _ = app.kv.set(&format!("code_used:{key}"), b"1", USED_CODE_TTL).await;
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
    };
    tokens::mint(app, client, &g, now).await
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
    let g = Grant { account_id: None, scopes: requested, nonce: None, auth: None, sid: None };
    tokens::mint(app, client, &g, now).await
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
