//! The three kinds of error response, one per surface:
//!
//! - [`OAuthError`] — OAuth 2.0 / OpenID Connect endpoints (`/token`, `/par`, `/introspect`…):
//!   RFC 6749 §5.2 JSON `{"error": "...", "error_description": "..."}`, `Cache-Control: no-store`.
//! - [`ApiError`] — JSON APIs: RFC 9457 `application/problem+json`.
//! - [`PageError`] — pages people read: a rendered, localized HTML page with the right status.
//!
//! Internal details (database errors, I/O) are logged with an id and never sent; the response
//! carries only the id.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::{Lang, Templates};

/// Error codes of RFC 6749, RFC 7009, RFC 9126 and OpenID Connect Core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// Malformed or missing parameter.
    InvalidRequest,
    /// Client authentication failed (401).
    InvalidClient,
    /// Code, refresh token or credentials invalid, expired, revoked or replayed.
    InvalidGrant,
    /// The client may not use this grant.
    UnauthorizedClient,
    /// Unknown grant type.
    UnsupportedGrantType,
    /// Unknown or not allowed scope.
    InvalidScope,
    /// The user or server refused.
    AccessDenied,
    /// Unknown response type.
    UnsupportedResponseType,
    /// Internal error (500).
    ServerError,
    /// Overloaded or a dependency is down (503).
    TemporarilyUnavailable,
    /// RFC 7009: the token type cannot be revoked.
    UnsupportedTokenType,
    /// OIDC: the user must sign in but `prompt=none` was asked.
    LoginRequired,
    /// OIDC: consent needed but `prompt=none` was asked.
    ConsentRequired,
    /// OIDC: some interaction needed but `prompt=none` was asked.
    InteractionRequired,
    /// OIDC: `request_uri` unknown or expired (PAR).
    InvalidRequestUri,
    /// `acr_values`/`max_age` cannot be met (OpenID Connect Core errata / RFC 9470).
    UnmetAuthenticationRequirements,
    /// Too many requests (429), with `Retry-After`.
    SlowDown,
    /// OIDC: the `request` parameter (request objects) is not supported.
    RequestNotSupported,
    /// OIDC: the `request_uri` parameter is not supported for this client.
    RequestUriNotSupported,
    /// RFC 8707: the `resource` is not one this server issues tokens for.
    InvalidTarget,
}

impl OAuthErrorCode {
    /// The code as sent (`error=` of a redirect, `"error"` of a JSON body).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::SlowDown => "slow_down",
            Self::InvalidTarget => "invalid_target",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
        }
    }

    /// The HTTP status this code is sent with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::SlowDown => StatusCode::TOO_MANY_REQUESTS,
            Self::AccessDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An OAuth error response (RFC 6749 §5.2).
#[derive(Debug, Clone, Serialize)]
pub struct OAuthError {
    /// The error code.
    pub error: OAuthErrorCode,
    /// Human-readable detail for the client developer (never secrets, never internals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<Cow<'static, str>>,
    /// Seconds until a retry may succeed (429).
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// The HTTP status when it is not the code's own ([`OAuthErrorCode::status`]): `413` for an
    /// oversized body, say.
    #[serde(skip)]
    pub status: Option<StatusCode>,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(error: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { error, error_description: Some(description.into()), retry_after: None, status: None }
    }

    /// The same error sent with `status` instead of the code's own.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// `server_error`, logging the cause with an id that is also sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = log_internal(&cause);
        Self::new(OAuthErrorCode::ServerError, format!("internal error (id {id})"))
    }

    /// `temporarily_unavailable` (503) for a storage outage: the cause is logged with an id; the
    /// client gets only the id and the advice to retry.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let id = log_internal(&cause);
        Self::new(
            OAuthErrorCode::TemporarilyUnavailable,
            format!("the service is temporarily unavailable; retry later (id {id})"),
        )
    }
}

/// Extractor: an `application/x-www-form-urlencoded` body of an OAuth endpoint. A body that is
/// not such a form, or lacks what `T` needs, is refused with RFC 6749 `invalid_request` JSON
/// (with `Cache-Control: no-store`, as every [`OAuthError`]). Take `Result<OAuthForm<T>,
/// OAuthError>` to decide when to answer the refusal (after a rate limit, say).
#[derive(Debug, Clone)]
pub struct OAuthForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for OAuthForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        use axum::extract::rejection::FormRejection;
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(form)) => Ok(Self(form)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(crate::surface::oauth_error(e.status(), String::new()))
            }
            Err(FormRejection::FailedToDeserializeForm(e)) => {
                Err(OAuthError::new(OAuthErrorCode::InvalidRequest, e.body_text()))
            }
            Err(_) => Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "the body must be application/x-www-form-urlencoded",
            )),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or(self.error.status());
        let mut res = (status, Json(&self)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.error == OAuthErrorCode::InvalidClient {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"shikaku\""));
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// An API error as RFC 9457 problem details.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    /// A URI naming the problem type (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub problem_type: Cow<'static, str>,
    /// Short summary of the problem type.
    pub title: Cow<'static, str>,
    /// The HTTP status.
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Cow<'static, str>>,
    /// Extension member: a stable machine-readable code (e.g. `cert_revoked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Cow<'static, str>>,
}

fn serialize_status<S: serde::Serializer>(s: &StatusCode, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u16(s.as_u16())
}

impl ApiError {
    /// A problem whose type is `about:blank` and whose title is the status reason.
    pub fn status(status: StatusCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            problem_type: Cow::Borrowed("about:blank"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status,
            detail: Some(detail.into()),
            code: None,
        }
    }

    /// Adds the `code` extension member.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// A problem of a named type (`/problems/<slug>` relative to the service).
    pub fn typed(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            problem_type: Cow::Owned(format!("/problems/{slug}")),
            title: Cow::Borrowed(title),
            status,
            detail: Some(detail.into()),
            code: None,
        }
    }

    /// 404 for an unknown route.
    pub fn not_found(path: &str) -> Self {
        Self::status(StatusCode::NOT_FOUND, format!("no resource at {path}"))
    }

    /// 500, logging the cause with an id that is also sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = log_internal(&cause);
        Self::status(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error (id {id})"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(&self)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        res
    }
}

/// An error shown to a person as a page.
///
/// The response carries a plain-text body; the [`render_pages`] middleware replaces it with the
/// localized `shared/error.html` page.
#[derive(Debug, Clone)]
pub struct PageError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Locale key of the heading.
    pub title_key: &'static str,
    /// Locale key of the explanation.
    pub message_key: &'static str,
    /// An error id to quote to support (internal errors).
    pub error_id: Option<String>,
    /// Where the page's way back leads (the sign-in page after a refused card); `None`: the
    /// home page.
    pub back: Option<String>,
}

impl PageError {
    /// A page error with its texts given by locale keys.
    pub fn new(status: StatusCode, title_key: &'static str, message_key: &'static str) -> Self {
        Self { status, title_key, message_key, error_id: None, back: None }
    }

    /// The page's way back leads to `href` (a local path) instead of the home page.
    pub fn with_back(mut self, href: impl Into<String>) -> Self {
        self.back = Some(href.into());
        self
    }

    /// 404 page.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "error_not_found_title", "error_not_found_message")
    }

    /// 403 page for a failed CSRF check.
    pub fn csrf() -> Self {
        Self::new(StatusCode::FORBIDDEN, "error_csrf_title", "error_csrf_message")
    }

    /// 500 page, logging the cause with an id that the page shows.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = log_internal(&cause);
        Self {
            error_id: Some(id),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "error_internal_title", "error_internal_message")
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!("{} {}", self.status.as_u16(), self.status.canonical_reason().unwrap_or("Error"));
        let mut res = (self.status, body).into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// Middleware: renders every [`PageError`] response as the localized error page.
pub async fn render_pages(
    State(templates): State<std::sync::Arc<Templates>>,
    lang: Lang,
    req: Request,
    next: Next,
) -> Response {
    let res = next.run(req).await;
    let Some(err) = res.extensions().get::<PageError>().cloned() else { return res };
    let mut ctx = tera::Context::new();
    ctx.insert("status", &err.status.as_u16());
    ctx.insert("title", templates.text(lang, err.title_key));
    ctx.insert("message", templates.text(lang, err.message_key));
    ctx.insert("error_id", &err.error_id);
    ctx.insert("back", &err.back);
    match templates.render("shared/error.html", lang, &ctx) {
        Ok(html) => {
            let (mut parts, _) = res.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            Response::from_parts(parts, Html(html).into_response().into_body())
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            res
        }
    }
}

/// Whether the client prefers HTML (a browser) over JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("text/html")
}

/// Fallback for unknown routes: the 404 page for browsers, problem+json for everything else.
pub async fn not_found(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    if wants_html(&headers) {
        PageError::not_found().into_response()
    } else {
        ApiError::not_found(uri.path()).into_response()
    }
}

/// Logs an internal error with a fresh id and returns the id (for a page or report to quote).
pub fn log_internal(cause: &dyn std::fmt::Display) -> String {
    let id = format!("{:08x}", rand::random::<u32>());
    tracing::error!(error_id = %id, error = %cause, "internal error");
    id
}
