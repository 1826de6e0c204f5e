//! `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009), for authenticated clients and
//! only for tokens issued to the asking client. Clients authenticate as at `/token`, including
//! `tls_client_auth` on the mTLS listener or behind a trusted proxy.

use axum::Json;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use web::{OAuthError, OAuthErrorCode, OAuthForm};

use crate::app::{App, AppState};
use crate::clients::Client;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::mint;
use crate::rate_limit::ClientIp;
use crate::store::refresh as store;
use crate::{audit, ids};

/// Form of both endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct TokenParam {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
}

/// What a presented token is.
enum Found {
    Access { claims: Value },
    Refresh(Box<store::RefreshToken>),
    Nothing,
}

async fn find(app: &App, client: &Client, token: &str, now: i64) -> Result<Found, OAuthError> {
    if token.matches('.').count() == 2
        && let Ok(claims) = app.keys.verify_jws(token, "at+jwt", now).await
    {
        let record = match mint::record_key(&claims) {
            Some(key) => app.kv.get(&key).await.map_err(OAuthError::internal)?,
            None => None,
        };
        let live = match record {
            Some(r) => {
                let record = mint::AccessRecord::parse(&r).map_err(OAuthError::internal)?;
                mint::record_account_active(app, &record).await.map_err(OAuthError::internal)?
            }
            None => false,
        };
        if live && claims["client_id"] == json!(client.client_id) {
            return Ok(Found::Access { claims });
        }
        return Ok(Found::Nothing);
    }
    let stored = store::find_refresh_token(&app.db, &ids::hash(token)).await.map_err(OAuthError::internal)?;
    Ok(match stored {
        Some(t) if t.client_id == client.client_id => Found::Refresh(Box::new(t)),
        _ => Found::Nothing,
    })
}

async fn authenticated(
    app: &App,
    extensions: &Extensions,
    headers: &HeaderMap,
    p: &TokenParam,
) -> Result<Client, OAuthError> {
    let presented = Presented {
        client_id: p.client_id.clone(),
        client_secret: p.client_secret.clone(),
        client_assertion: p.client_assertion.clone(),
        client_assertion_type: p.client_assertion_type.clone(),
        tls_certificate: crate::oauth::client_tls::request_certificate(app, extensions, headers),
    };
    let client = client_auth::authenticate(app, headers, &presented).await?;
    if client.is_public() {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidClient,
            "public clients cannot use this endpoint",
        ));
    }
    Ok(client)
}

/// The authenticated client and the `token` parameter of an introspection or revocation request.
async fn authenticated_token<'a>(
    app: &App,
    extensions: &Extensions,
    headers: &HeaderMap,
    p: &'a TokenParam,
) -> Result<(Client, &'a str), OAuthError> {
    let client = authenticated(app, extensions, headers, p).await?;
    let token = p
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "token is required"))?;
    Ok((client, token))
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    OAuthForm(p): OAuthForm<TokenParam>,
) -> Response {
    let app = &state.0;
    let (client, token) = match authenticated_token(app, &extensions, &headers, &p).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let now = state.0.clock.now();
    let body = match find(app, &client, token, now).await {
        Ok(Found::Access { claims }) => json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims["scope"],
            "client_id": claims["client_id"],
            "sub": claims["sub"],
            "aud": claims["aud"],
            "iss": claims["iss"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "jti": claims["jti"],
        }),
        Ok(Found::Refresh(t)) if t.used_at.is_none() && t.revoked_at.is_none() && t.expires_at > now => {
            json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": t.scopes.join(" "),
                "client_id": t.client_id,
                "sub": mint::subject(&client, &t.account_id),
                "exp": t.expires_at,
                "iat": t.created_at,
            })
        }
        Ok(_) => json!({ "active": false }),
        Err(e) => return e.into_response(),
    };
    no_store(Json(body).into_response())
}

/// `POST /revoke`: always 200 for unknown tokens (RFC 7009 §2.2).
pub async fn revoke(
    State(state): State<AppState>,
    client_ip: ClientIp,
    extensions: Extensions,
    headers: HeaderMap,
    OAuthForm(p): OAuthForm<TokenParam>,
) -> Response {
    let app = &state.0;
    let (client, token) = match authenticated_token(app, &extensions, &headers, &p).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    if p.token_type_hint.as_deref().is_some_and(|h| h != "access_token" && h != "refresh_token") {
        return OAuthError::new(
            OAuthErrorCode::UnsupportedTokenType,
            "token_type_hint must be access_token or refresh_token",
        )
        .into_response();
    }
    let now = state.0.clock.now();
    let kind = match find(app, &client, token, now).await {
        Ok(Found::Access { claims }) => {
            if let Some(key) = mint::record_key(&claims)
                && let Err(e) = app.kv.delete(&key).await
            {
                // RFC 7009 §2.2: the answer stays 200; the token then lives until it expires.
                tracing::error!(error = %e, "cannot revoke an access token's record");
            }
            "access_token"
        }
        Ok(Found::Refresh(t)) => {
            if let Err(e) = store::update_family_revoked(&app.db, &t.family_id, now).await {
                return OAuthError::internal(e).into_response();
            }
            "refresh_token"
        }
        Ok(Found::Nothing) => return no_store(().into_response()),
        Err(e) => return e.into_response(),
    };
    app.audit
        .log(
            now,
            audit::Entry {
                event: "revoke".into(),
                outcome: "success".into(),
                client_id: Some(client.client_id.clone()),
                ip: client_ip.audit(),
                detail: json!({ "token_type": kind }),
                ..audit::Entry::default()
            },
        )
        .await;
    no_store(().into_response())
}
