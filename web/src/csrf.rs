//! CSRF protection for browser routes (forms and JSON POSTs), by double submit.
//!
//! Each browser gets a random token in an HttpOnly cookie (`__Host-SERVICE_csrf` over HTTPS). Pages put
//! the same token in forms (`<input type="hidden" name="csrf_token">`) or in a
//! `<meta name="csrf-token">` that scripts send back as `X-CSRF-Token`. An unsafe request
//! (POST, PUT, PATCH, DELETE) passes only when both checks pass:
//!
//! 1. **Origin.** `Sec-Fetch-Site` is the first signal: `same-origin` and `none` (the person
//!    typed the address) pass, `same-site` (a sibling subdomain) and `cross-site` are refused.
//!    Only when a browser sends no `Sec-Fetch-Site` does `Origin` decide: absent passes on to the
//!    token check, the site's own origin passes, anything else is refused, `null` included.
//!    `Origin: null` alone proves nothing (sandboxed frames, `data:` pages and privacy referrer
//!    policies all send it), so it is accepted only when `Sec-Fetch-Site` vouches for the request.
//!    Pages send `Referrer-Policy: same-origin` ([`crate::headers`]), under which browsers also
//!    send the real `Origin` on same-origin form posts; with `no-referrer` Chromium sends
//!    `Origin: null` on them.
//! 2. **Token.** The token the request carries (`X-CSRF-Token`, or `csrf_token` in the form or
//!    the multipart body — never the query string, which ends up in logs and referrers) equals
//!    the cookie's, compared in constant time.
//!
//! Bodies are read for the token up to [`MAX_UPLOAD_BYTES`]; a larger one is `413` in the
//! request's format (page or problem+json), never a missing token. The route's own extractor
//! then applies the route's limit (axum's 2 MB unless the route sets `DefaultBodyLimit`).
//!
//! Apply the layer to browser routes only: OAuth back-channel endpoints (`/token`,
//! `/introspect`…) authenticate clients instead.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use tower::{Layer, ServiceExt};

use crate::errors::wants_html;
use crate::{ApiError, PageError, Site, cookies};

/// Form field carrying the token.
pub const FORM_FIELD: &str = "csrf_token";
/// Request header carrying the token (JSON POSTs from scripts).
pub const HEADER: &str = "x-csrf-token";
/// Largest form or `multipart/form-data` body (file uploads, pasted CSV) read for the token; a
/// route that takes uploads sets the same limit with `DefaultBodyLimit`.
pub const MAX_UPLOAD_BYTES: usize = 32 << 20;

/// The CSRF token of the current browser, for templates.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfFailure {
    /// The browser says the request comes from another site.
    CrossSite,
    /// No token in the request or no cookie.
    Missing,
    /// The token does not match the cookie.
    Mismatch,
    /// The body is larger than the layer reads ([`MAX_UPLOAD_BYTES`] for uploads).
    TooLarge,
}

impl CsrfFailure {
    fn detail(self) -> &'static str {
        match self {
            Self::CrossSite => "cross-site request refused",
            Self::Missing => "CSRF token missing: send the csrf_token form field or X-CSRF-Token header",
            Self::Mismatch => "CSRF token does not match: reload the page and try again",
            Self::TooLarge => "request body too large",
        }
    }
}

fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn valid_format(t: &str) -> bool {
    t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Middleware: checks unsafe requests and hands every request its [`CsrfToken`].
pub async fn protect(State(site): State<Site>, req: Request, next: Next) -> Response {
    let cookie_name = site.cookie_name(&format!("{}_csrf", site.service()));
    let existing = cookies::get(req.headers(), &cookie_name).filter(|t| valid_format(t)).map(str::to_owned);
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    let mut req = req;
    if !safe {
        let html = wants_html(req.headers()) || is_form(req.headers()) || is_multipart(req.headers());
        match check(&site, existing.as_deref(), req).await {
            Ok(checked) => req = checked,
            Err(CsrfFailure::TooLarge) => {
                return if html {
                    crate::surface::too_large_page().into_response()
                } else {
                    crate::surface::too_large_problem().into_response()
                };
            }
            Err(failure) => {
                tracing::warn!(reason = failure.detail(), "CSRF check failed");
                return if html {
                    PageError::csrf().into_response()
                } else {
                    ApiError::typed(StatusCode::FORBIDDEN, "csrf", "CSRF check failed", failure.detail())
                        .into_response()
                };
            }
        }
    }
    let (token, fresh) = match existing {
        Some(t) => (t, false),
        None => (new_token(), true),
    };
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut res = next.run(req).await;
    if fresh {
        let cookie = cookies::set(&site, &cookie_name, &token, 12 * 3600, true);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(mime))
}

fn is_form(headers: &HeaderMap) -> bool {
    content_type_is(headers, "application/x-www-form-urlencoded")
}

fn is_multipart(headers: &HeaderMap) -> bool {
    content_type_is(headers, "multipart/form-data")
}

/// Checks one unsafe request; returns it (with its body restored) when it passes.
async fn check(site: &Site, cookie: Option<&str>, req: Request) -> Result<Request, CsrfFailure> {
    let headers = req.headers();
    if !same_origin(site, headers) {
        return Err(CsrfFailure::CrossSite);
    }
    let from_header = headers.get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (presented, req) = match from_header {
        Some(t) => (Some(t), req),
        None if is_form(req.headers()) => {
            let (parts, body) = req.into_parts();
            let bytes = to_bytes(body, MAX_UPLOAD_BYTES).await.map_err(|_| CsrfFailure::TooLarge)?;
            let token = form_value(&bytes, FORM_FIELD);
            (token, Request::from_parts(parts, Body::from(bytes)))
        }
        None if is_multipart(req.headers()) => {
            let (parts, body) = req.into_parts();
            let bytes = to_bytes(body, MAX_UPLOAD_BYTES).await.map_err(|_| CsrfFailure::TooLarge)?;
            let token = multipart_value(&parts.headers, bytes.clone(), FORM_FIELD).await;
            (token, Request::from_parts(parts, Body::from(bytes)))
        }
        None => (None, req),
    };
    let (Some(presented), Some(cookie)) = (presented, cookie) else { return Err(CsrfFailure::Missing) };
    if presented.as_bytes().ct_eq(cookie.as_bytes()).into() { Ok(req) } else { Err(CsrfFailure::Mismatch) }
}

/// Whether the browser says the request comes from our own origin (or from the person: a typed
/// address, a bookmark). `Sec-Fetch-Site` first: `same-origin` and `none` pass, anything else
/// (`same-site`, `cross-site`, unknown values) is refused. Without it (older browsers, non-browser
/// clients) `Origin` decides: absent passes (the token check still applies), our own origin
/// passes, anything else, `null` included, is refused.
fn same_origin(site: &Site, headers: &HeaderMap) -> bool {
    if let Some(fetch_site) = headers.get("sec-fetch-site") {
        return matches!(fetch_site.as_bytes(), b"same-origin" | b"none");
    }
    headers.get(header::ORIGIN).is_none_or(|o| o.as_bytes() == site.origin().as_bytes())
}

/// The text of the first part named `name` of a multipart body (parts before it are skipped).
async fn multipart_value(headers: &HeaderMap, body: Bytes, name: &str) -> Option<String> {
    let mut req = Request::new(Body::from(body));
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        req.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    }
    let name = name.to_owned();
    // The body was read within MAX_UPLOAD_BYTES already; `Multipart` applies the default body
    // limit (2 MB) unless a `DefaultBodyLimit` layer says otherwise.
    let find = tower::service_fn(move |req: Request| {
        let name = name.clone();
        async move {
            let Ok(mut form) = Multipart::from_request(req, &()).await else { return Ok(None) };
            while let Ok(Some(field)) = form.next_field().await {
                if field.name() == Some(name.as_str()) {
                    return Ok::<_, std::convert::Infallible>(field.text().await.ok());
                }
            }
            Ok(None)
        }
    });
    DefaultBodyLimit::max(MAX_UPLOAD_BYTES).layer(find).oneshot(req).await.ok().flatten()
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or_else(|| PageError::internal("CsrfToken extracted on a route without the CSRF layer"))
    }
}
