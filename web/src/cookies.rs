//! Reading and writing cookies without a cookie jar.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

use crate::Site;

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn get<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure over HTTPS.
pub fn set(site: &Site, name: &str, value: &str, max_age_secs: u64, http_only: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age_secs}; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if site.https() {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn finds_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1; lang=en"));
        h.append("cookie", HeaderValue::from_static("csrf=xyz"));
        assert_eq!(super::get(&h, "lang"), Some("en"));
        assert_eq!(super::get(&h, "csrf"), Some("xyz"));
        assert_eq!(super::get(&h, "missing"), None);
    }
}
