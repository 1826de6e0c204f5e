//! What a listener knows about where it is published: its public URL.

use std::sync::Arc;

/// The public face of one service (idp or portal): its name and public base URL.
#[derive(Debug, Clone)]
pub struct Site(Arc<SiteInner>);

#[derive(Debug)]
struct SiteInner {
    service: &'static str,
    public_url: String,
    origin: String,
    https: bool,
}

impl Site {
    /// `public_url` is an absolute `http(s)://host[:port][/path]` URL (checked by the config).
    pub fn new(service: &'static str, public_url: &str) -> Self {
        let public_url = public_url.trim_end_matches('/').to_owned();
        let https = public_url.starts_with("https://");
        let after_scheme = public_url.split_once("://").map_or("", |(_, rest)| rest);
        let host = after_scheme.split('/').next().unwrap_or("");
        let scheme = if https { "https" } else { "http" };
        let origin = format!("{scheme}://{host}");
        Self(Arc::new(SiteInner { service, public_url, origin, https }))
    }

    /// Service name (`idp`, `portal`), used in metrics and logs.
    pub fn service(&self) -> &'static str {
        self.0.service
    }

    /// Public base URL without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.0.public_url
    }

    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    /// Whether the service is published over HTTPS (secure cookies, HSTS).
    pub fn https(&self) -> bool {
        self.0.https
    }

    /// A cookie name: `__Host-NAME` over HTTPS (Secure, host-only, path `/`), plain otherwise.
    pub fn cookie_name(&self, name: &str) -> String {
        if self.https() { format!("__Host-{name}") } else { name.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::Site;

    #[test]
    fn origin_and_cookies() {
        let s = Site::new("idp", "https://id.example.jp/base/");
        assert_eq!(s.public_url(), "https://id.example.jp/base");
        assert_eq!(s.origin(), "https://id.example.jp");
        assert_eq!(s.cookie_name("csrf"), "__Host-csrf");
        let s = Site::new("portal", "http://127.0.0.1:8081");
        assert_eq!(s.origin(), "http://127.0.0.1:8081");
        assert!(!s.https());
        assert_eq!(s.cookie_name("csrf"), "csrf");
    }
}
