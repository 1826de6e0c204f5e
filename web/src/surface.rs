//! Every request refused before its handler runs gets the error format of its surface.
//!
//! axum's extractors (`Query`, `Path`, `Form`, `Json`, body limits) refuse bad input with a
//! `text/plain` body such as "Failed to deserialize query string: duplicate field `client_id`".
//! People must get the localized page, OAuth clients RFC 6749 JSON and API clients
//! problem+json. The [`pages`] and [`oauth`] middlewares turn such a refusal into the surface's
//! format, keeping its status (`400`, `413`, `415`, `422`; OAuth errors are `400` but for `413`);
//! everything else passes untouched.
//!
//! A refusal is recognised by its status and its `text/plain` content type with no
//! [`PageError`] attached: no handler of ours answers those statuses in plain text.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::wants_html;
use crate::{ApiError, OAuthError, OAuthErrorCode, PageError};

/// Largest rejection text read back (axum's are a line).
const MAX_REJECTION_TEXT: usize = 4096;

/// Middleware for browser routes: a refusal becomes the localized error page when the request
/// came from a page (it accepts HTML or posts a form), problem+json otherwise (scripts' JSON).
pub async fn pages(req: Request, next: Next) -> Response {
    let html = from_a_page(req.headers());
    match rejection(next.run(req).await).await {
        Ok((status, _)) if html => page(status).into_response(),
        Ok((status, text)) => problem(status, text).into_response(),
        Err(res) => res,
    }
}

/// Middleware for OAuth endpoints (`/token`, `/par`, `/introspect`, `/revoke`, `/userinfo`): a
/// refusal becomes `invalid_request` JSON (RFC 6749 §5.2) with the refusal's status.
pub async fn oauth(req: Request, next: Next) -> Response {
    match rejection(next.run(req).await).await {
        Ok((status, text)) => oauth_error(status, text).into_response(),
        Err(res) => res,
    }
}

/// Middleware for APIs called by programs (`/api/v1/…`): a refusal becomes problem+json
/// (RFC 9457) with the refusal's status.
pub async fn api(req: Request, next: Next) -> Response {
    match rejection(next.run(req).await).await {
        Ok((status, text)) => problem(status, text).into_response(),
        Err(res) => res,
    }
}

/// A JSON body that a handler reads itself, so as to answer malformed input with its own code:
/// `Ok(Some(value))`, `Ok(None)` when the body is not the JSON expected, or `Err` with the 413
/// problem when it is larger than the route accepts (which no handler code should turn into a
/// "malformed" answer).
pub fn json_body<T>(
    body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<Option<T>, ApiError> {
    match body {
        Ok(axum::Json(value)) => Ok(Some(value)),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large_problem()),
        Err(_) => Ok(None),
    }
}

/// The token of an `Authorization: Bearer …` header (RFC 6750 §2.1; the scheme is
/// case-insensitive), trimmed.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Whether the request comes from a person's page: it accepts HTML or is a form post.
fn from_a_page(headers: &HeaderMap) -> bool {
    let form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.starts_with("application/x-www-form-urlencoded") || v.starts_with("multipart/form-data")
    });
    form || wants_html(headers)
}

/// `Ok((status, text))` for a refusal, or `Err(response)` to pass on untouched.
async fn rejection(res: Response) -> Result<(StatusCode, String), Response> {
    let status = res.status();
    let refusal_status = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
    );
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !refusal_status || !plain || res.extensions().get::<PageError>().is_some() {
        return Err(res);
    }
    let text = to_bytes(res.into_body(), MAX_REJECTION_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    tracing::info!(status = status.as_u16(), refusal = %text, "request refused before its handler");
    Ok((status, text))
}

/// The localized page for a refusal.
pub fn page(status: StatusCode) -> PageError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large_page(),
        _ => PageError::new(status, "error_bad_request_title", "error_bad_request_message"),
    }
}

/// The 413 page.
pub fn too_large_page() -> PageError {
    PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "error_too_large_title", "error_too_large_message")
}

/// problem+json for a refusal, with the refusal's text as the detail.
pub fn problem(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large_problem(),
        _ => ApiError::typed(status, "bad-request", "The request could not be read", text),
    }
}

/// The 413 problem.
pub fn too_large_problem() -> ApiError {
    ApiError::typed(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "Request body too large",
        "the request body is larger than this endpoint accepts",
    )
}

/// RFC 6749 JSON for a refusal: `invalid_request`, with status 400 (§5.2) or 413 for an
/// oversized body.
pub fn oauth_error(status: StatusCode, text: String) -> OAuthError {
    let error = |d: String| OAuthError::new(OAuthErrorCode::InvalidRequest, d);
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            error("the request body is larger than this endpoint accepts".into())
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        }
        _ if text.is_empty() => error("the request could not be read".into()),
        _ => error(text),
    }
}
