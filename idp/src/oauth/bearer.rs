//! Access tokens presented to the idp's own resources (`/userinfo`, `/api/v1/…`): the JWT
//! (RFC 9068) verified with the idp's keys and issuer, and its server-side record, which is gone
//! once the token is revoked. Errors per RFC 6750 §3 (`WWW-Authenticate: Bearer error=…`).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::App;
use crate::oauth::mint;

/// A verified access token.
#[derive(Debug)]
pub struct Bearer {
    /// The token's claims.
    pub claims: Value,
    /// Its record: the person (if any) and the client.
    pub record: mint::AccessRecord,
    /// Its scopes.
    pub scopes: Vec<String>,
}

impl Bearer {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The RFC 6750 error answer, with its `WWW-Authenticate` challenge.
pub fn error(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge =
        format!("Bearer realm=\"shikaku\", error=\"{error}\", error_description=\"{description}\"");
    let mut res = (status, Json(json!({ "error": error, "error_description": description }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// The bearer token of `headers`, verified; or the answer to send (401 without a token or with
/// an invalid, expired, foreign or revoked one).
pub async fn verify(app: &App, headers: &HeaderMap, now: i64) -> Result<Bearer, Response> {
    let Some(token) = web::surface::bearer_token(headers) else {
        let mut res = (StatusCode::UNAUTHORIZED, "").into_response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"shikaku\""));
        return Err(res);
    };
    let invalid = |description: &str| error(StatusCode::UNAUTHORIZED, "invalid_token", description);
    let Ok(claims) = app.keys.verify_jws(token, "at+jwt", now).await else {
        return Err(invalid("the access token is invalid or expired"));
    };
    if claims["iss"] != json!(app.site.public_url()) {
        return Err(invalid("the access token was issued by another issuer"));
    }
    let Some(record_key) = mint::record_key(&claims) else {
        return Err(invalid("the access token has no jti"));
    };
    let record = match app.kv.get(&record_key).await {
        Ok(Some(r)) => {
            mint::AccessRecord::parse(&r).map_err(|e| web::ApiError::internal(e).into_response())?
        }
        Ok(None) => return Err(invalid("the access token was revoked")),
        Err(e) => return Err(web::ApiError::internal(e).into_response()),
    };
    let scopes = claims["scope"].as_str().unwrap_or("").split(' ').map(str::to_owned).collect();
    Ok(Bearer { claims, record, scopes })
}
