//! Pushed authorization requests (RFC 9126): `POST /par` takes an authenticated client's
//! authorization request, checks it as `/authorize` would, and keeps it for 60 s under a
//! one-time `request_uri` that `/authorize?client_id=…&request_uri=…` then uses.
//!
//! The stored request is keyed by client and reference, so another client's `client_id` never
//! finds (nor spends) it; an unknown, used or expired `request_uri` is shown as a page and never
//! redirected, since no redirect URI has been validated for it.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use web::{OAuthError, OAuthErrorCode, PageError};

use crate::app::{App, AppState};
use crate::ids;
use crate::kv_keys;
use crate::oauth::authorize::{self, Params};
use crate::oauth::client_auth::{self, Presented};

/// How long a pushed request can be used.
pub const REQUEST_URI_TTL: Duration = Duration::from_secs(60);
/// Prefix of every `request_uri` (RFC 9126 §2.2).
pub const URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

fn key(client_id: &str, reference: &str) -> String {
    kv_keys::pushed_request(&ids::hash(client_id), reference)
}

fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRequest, description)
}

/// The code a pushed request's failure is answered with: what `/authorize` would redirect with,
/// except that request objects and `request_uri` are plain invalid requests here.
fn code_of(error: OAuthErrorCode) -> OAuthErrorCode {
    match error {
        OAuthErrorCode::UnsupportedResponseType
        | OAuthErrorCode::UnauthorizedClient
        | OAuthErrorCode::InvalidScope
        | OAuthErrorCode::UnmetAuthenticationRequirements => error,
        _ => OAuthErrorCode::InvalidRequest,
    }
}

/// `POST /par`.
pub async fn push(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state.0, &extensions, &headers, &body).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &App,
    extensions: &Extensions,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let form_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return Err(invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if fields.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(invalid_request("a parameter was repeated"));
        }
    }
    let presented = Presented {
        client_id: fields.get("client_id").cloned(),
        client_secret: fields.remove("client_secret"),
        client_assertion: fields.remove("client_assertion"),
        client_assertion_type: fields.remove("client_assertion_type"),
        tls_certificate: crate::oauth::client_tls::request_certificate(app, extensions, headers),
    };
    let client = client_auth::authenticate(app, headers, &presented).await?;
    let params: Params = serde_json::from_value(json!(fields))
        .map_err(|_| invalid_request("the authorization request is malformed"))?;
    if params.client_id.as_deref().is_some_and(|c| c != client.client_id) {
        return Err(invalid_request("client_id does not match the authenticated client"));
    }
    if params.request_uri.is_some() {
        return Err(invalid_request("request_uri is not allowed in a pushed authorization request"));
    }
    if params.request.is_some() {
        return Err(invalid_request("request objects are not supported"));
    }
    let redirect_uri =
        params.redirect_uri.clone().ok_or_else(|| invalid_request("redirect_uri is required"))?;
    if !client.redirect_uri_allowed(&redirect_uri) {
        return Err(invalid_request("redirect_uri is not registered for this client"));
    }
    if let Err(e) = authorize::validate(&client, &redirect_uri, params.clone(), app.clock.now()) {
        return Err(OAuthError::new(code_of(e.error), e.description));
    }
    let mut stored = params;
    stored.client_id = Some(client.client_id.clone());
    let reference = ids::new_secret();
    let raw = serde_json::to_vec(&stored).map_err(OAuthError::internal)?;
    app.kv
        .set(&key(&client.client_id, &reference), &raw, REQUEST_URI_TTL)
        .await
        .map_err(OAuthError::unavailable)?;
    let body = json!({
        "request_uri": format!("{URN_PREFIX}{reference}"),
        "expires_in": REQUEST_URI_TTL.as_secs(),
    });
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// At `/authorize`: replaces the query by the pushed request it names (used once). Errors are
/// pages: nothing pushed is known yet, so there is no redirect URI to trust.
pub async fn take(app: &App, query: &Params) -> Result<Params, PageError> {
    let client_id = query
        .client_id
        .as_deref()
        .ok_or(authorize::page(StatusCode::BAD_REQUEST, "authorize_error_no_client"))?;
    let unknown = || authorize::page(StatusCode::BAD_REQUEST, "authorize_error_bad_request_uri");
    let reference = query
        .request_uri
        .as_deref()
        .and_then(|u| u.strip_prefix(URN_PREFIX))
        .filter(|r| r.len() == 43)
        .ok_or_else(unknown)?;
    let raw =
        app.kv.take(&key(client_id, reference)).await.map_err(PageError::internal)?.ok_or_else(unknown)?;
    let pushed: Params = serde_json::from_slice(&raw).map_err(PageError::internal)?;
    if pushed.client_id.as_deref() != Some(client_id) {
        return Err(unknown());
    }
    Ok(pushed)
}
