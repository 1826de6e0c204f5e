//! `GET|POST /userinfo` (OIDC Core §5.3): claims about the person, for a valid access token
//! with the `openid` scope. Errors per RFC 6750 §3 (`WWW-Authenticate: Bearer error=…`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::AppState;
use crate::oauth::bearer::{self, error as bearer_error};
use crate::oauth::mint;

/// Handler.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    let bearer = match bearer::verify(app, &headers, now).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    if !bearer.has_scope("openid") {
        return bearer_error(StatusCode::FORBIDDEN, "insufficient_scope", "the openid scope is required");
    }
    let (claims, record, scopes) = (bearer.claims, bearer.record, bearer.scopes);
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
