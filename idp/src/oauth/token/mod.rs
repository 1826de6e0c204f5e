//! `POST /token` (RFC 6749 §3.2): client authentication, rate limits and the audit entry, then
//! one module per grant: [`authorization_code`] (PKCE S256, single-use codes), [`refresh`]
//! (rotation, reuse detection) and [`client_credentials`]. Errors are RFC 6749 §5.2 JSON.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh;

pub use authorization_code::revoke_minted;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use web::{OAuthError, OAuthErrorCode, OAuthForm};

use crate::app::AppState;
use crate::audit;
use crate::oauth::client_auth::{self, Presented};
use crate::rate_limit::{self, ClientIp, Limited};

/// Form fields of a token request.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    /// RFC 8707 resource indicator (client credentials).
    resource: Option<String>,
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
    form: Result<OAuthForm<TokenForm>, OAuthError>,
) -> Response {
    let app = &state.0;
    let limits = app.config.rate_limits;
    if let Err(l) = rate_limit::hit(app, "token_ip", &ip.subject(), limits.token_per_ip).await {
        return slow_down(l).into_response();
    }
    let f = match form {
        Ok(OAuthForm(f)) => f,
        Err(e) => return e.into_response(),
    };
    let presented = Presented {
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone(),
        client_assertion: f.client_assertion.clone(),
        client_assertion_type: f.client_assertion_type.clone(),
        tls_certificate: crate::oauth::client_tls::request_certificate(app, &extensions, &headers),
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
            "authorization_code" => authorization_code::exchange(app, &client, &f, &ip, now).await?,
            "refresh_token" => refresh::exchange(app, &client, &f, &ip, now).await?,
            "client_credentials" => client_credentials::exchange(app, &client, &f, now).await?,
            _ => {
                return Err(OAuthError::new(
                    OAuthErrorCode::UnsupportedGrantType,
                    "grant_type must be authorization_code, refresh_token or client_credentials",
                ));
            }
        };
        app.audit
            .log(
                now,
                audit::Entry {
                    event: "token".into(),
                    outcome: "success".into(),
                    client_id: Some(client.client_id.clone()),
                    ip: ip.audit(),
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
