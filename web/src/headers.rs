//! Security headers on every response, and `Cache-Control: no-store` on every page.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

use crate::Site;

/// The content security policy: our own scripts, styles and images only; never framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Response mapper adding CSP, frame, sniffing, referrer and (over HTTPS) HSTS headers, and
/// `Cache-Control: no-store` on HTML, unless a handler set its own.
pub async fn add(State(site): State<Site>, mut res: Response) -> Response {
    let h = res.headers_mut();
    let html = h.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let mut put = |name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    put(header::CONTENT_SECURITY_POLICY, CSP);
    put(header::X_FRAME_OPTIONS, "DENY");
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Referrers (paths with codes, ids) go to our own origin only; `no-referrer` would also make
    // Chromium send `Origin: null` on same-origin form posts (see `crate::csrf`).
    put(header::REFERRER_POLICY, "same-origin");
    put(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    // Pages carry this browser's CSRF token and, signed in, personal data: no cache (a shared
    // one above all) may keep them. Handlers that mean otherwise set their own.
    if html {
        put(header::CACHE_CONTROL, "no-store");
    }
    if site.https() {
        put(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    res
}
