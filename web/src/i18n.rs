//! Languages: Japanese by default, English on request.
//!
//! The language of a request is, in order: the `lang` query parameter (which also sets the
//! `lang` cookie, so a language switch link sticks), the `lang` cookie, `Accept-Language`,
//! then Japanese. An explicit choice wins over the browser's header.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::{Site, cookies};

/// A language the UI is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 日本語 (the default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Every supported language, default first.
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// BCP 47 code (`ja`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses a language tag, matching on its primary subtag (`en-GB` → English).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` header (highest q wins).
    pub fn from_accept_language(value: &str) -> Option<Self> {
        let mut best: Option<(f32, Lang)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else { continue };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    /// Negotiates the language of a request (see the module note for the order).
    pub fn negotiate(query: Option<&str>, headers: &HeaderMap) -> Self {
        query_lang(query)
            .or_else(|| cookies::get(headers, "lang").and_then(Lang::from_tag))
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::from_accept_language)
            })
            .unwrap_or_default()
    }
}

fn query_lang(query: Option<&str>) -> Option<Lang> {
    query?.split('&').find_map(|kv| kv.strip_prefix("lang=")).and_then(Lang::from_tag)
}

/// Middleware: decides the request's language, stores it for [`Lang`] extraction, and
/// remembers an explicit `?lang=` choice in a cookie.
pub async fn negotiate(State(site): State<Site>, mut req: Request, next: Next) -> Response {
    let explicit = query_lang(req.uri().query());
    let lang = Lang::negotiate(req.uri().query(), req.headers());
    req.extensions_mut().insert(lang);
    let mut res = next.run(req).await;
    if let Some(lang) = explicit {
        let cookie = cookies::set(&site, "lang", lang.code(), 365 * 24 * 3600, false);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res.headers_mut().entry(header::CONTENT_LANGUAGE).or_insert(HeaderValue::from_static(lang.code()));
    res
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(match parts.extensions.get::<Lang>() {
            Some(lang) => *lang,
            None => Lang::negotiate(parts.uri.query(), &parts.headers),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn accept_language_by_quality() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9,ja;q=0.8"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("fr, ja;q=0.5, en;q=0.4"), Some(Lang::Ja));
        assert_eq!(Lang::from_accept_language("fr, de"), None);
        assert_eq!(Lang::from_accept_language("en;q=0, ja;q=0.1"), Some(Lang::Ja));
    }

    #[test]
    fn explicit_choice_wins() {
        let mut h = HeaderMap::new();
        h.insert("accept-language", HeaderValue::from_static("en"));
        assert_eq!(Lang::negotiate(None, &h), Lang::En);
        h.insert("cookie", HeaderValue::from_static("lang=ja"));
        assert_eq!(Lang::negotiate(None, &h), Lang::Ja);
        assert_eq!(Lang::negotiate(Some("x=1&lang=en"), &h), Lang::En);
        assert_eq!(Lang::negotiate(Some("lang=xx"), &HeaderMap::new()), Lang::Ja);
    }
}
