//! `GET|POST /userinfo` (OIDC Core §5.3): claims about the person, for a valid access token
//! with the `openid` scope. Errors per RFC 6750 §3 (`WWW-Authenticate: Bearer error=…`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::oauth::mint;

fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge =
        format!("Bearer realm=\"shikaku\", error=\"{error}\", error_description=\"{description}\"");
    let mut res = (status, Json(json!({ "error": error, "error_description": description }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// Handler.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        let mut res = (StatusCode::UNAUTHORIZED, "").into_response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"shikaku\""));
        return res;
    };
    let claims = match app.keys.verify_jws(token.trim(), "at+jwt", now).await {
        Ok(c) => c,
        Err(_) => {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid or expired",
            );
        }
    };
    if claims["iss"] != json!(app.site.public_url()) {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token was issued by another issuer",
        );
    }
    let scopes: Vec<String> = claims["scope"].as_str().unwrap_or("").split(' ').map(str::to_owned).collect();
    if !scopes.iter().any(|s| s == "openid") {
        return bearer_error(StatusCode::FORBIDDEN, "insufficient_scope", "the openid scope is required");
    }
    // The token's server-side record: gone when revoked; it names the account behind a
    // (possibly pairwise) subject.
    let Some(record_key) = mint::record_key(&claims) else {
        return bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", "the access token has no jti");
    };
    let record = match app.kv.get(&record_key).await {
        Ok(Some(r)) => match mint::AccessRecord::parse(&r) {
            Ok(record) => record,
            Err(e) => return web::ApiError::internal(e).into_response(),
        },
        Ok(None) => {
            return bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", "the access token was revoked");
        }
        Err(e) => return web::ApiError::internal(e).into_response(),
    };
    let Some(account_id) = record.account_id else {
        return bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", "the access token names no person");
    };
    match mint::account_active(app, &account_id).await {
        Ok(true) => {}
        Ok(false) => {
            return bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", "the account is suspended");
        }
        Err(e) => return web::ApiError::internal(e).into_response(),
    }
    let extra = match mint::scope_claims(app, &account_id, None, &scopes).await {
        Ok(c) => c,
        Err(e) => return web::ApiError::internal(e).into_response(),
    };
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), claims["sub"].clone());
    body.extend(extra);
    let mut res = Json(Value::Object(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
