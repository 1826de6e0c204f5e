//! Outbound HTTP of the idp (client `jwks_uri`, back-channel logout, CRL distribution points):
//! only `http`/`https` to URIs an operator registered or a certificate names, with a timeout, no
//! redirects followed, a cap on the response size, and through a [`Guard`]: no loopback,
//! private, link-local (cloud metadata at 169.254.169.254 included), shared-address or
//! unspecified address unless the operator allows it (`outbound_allow_addresses`). The guard
//! is the client's DNS resolver, so the address checked is the address connected to (a name
//! that resolves to a public address at one moment and an internal one the next gets no
//! second chance); an IP-literal URL is checked before the request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::signin::certificate::cidr::Cidr;

/// Which internal addresses outbound requests may reach.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: Arc<[Cidr]>,
}

/// Whether `ip` is an address of this host or of an internal network.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

impl Guard {
    /// A guard allowing the internal networks in `allow` (e.g. `127.0.0.1` for tests).
    pub fn new(allow: Vec<Cidr>) -> Self {
        Self { allow: allow.into() }
    }

    /// Whether a request may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allow.iter().any(|c| c.contains(ip))
    }

    /// Checks what can be checked of `url` before resolving: an `http`/`https` URL whose host,
    /// when it is an IP address, is permitted.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| format!("{url:?} is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{url:?}: only http and https are fetched"));
        }
        let host = parsed.host_str().ok_or_else(|| format!("{url:?} has no host"))?;
        let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        match ip {
            Some(ip) if !self.permits(ip) => {
                Err(format!("{url:?}: {ip} is an internal address (allow it with outbound_allow_addresses)"))
            }
            _ => Ok(()),
        }
    }
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> =
                found.iter().copied().filter(|a| guard.permits(a.ip())).collect();
            if permitted.is_empty() {
                let why: Box<dyn std::error::Error + Send + Sync> = if found.is_empty() {
                    format!("{host} has no address").into()
                } else {
                    format!("{host} resolves only to internal addresses (allow them with outbound_allow_addresses)")
                        .into()
                };
                return Err(why);
            }
            let addrs: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

/// An HTTP client for calls to registered endpoints, through `guard`.
pub fn client(timeout: Duration, guard: &Guard) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(guard.clone()))
        .user_agent(concat!("shikaku-idp/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// GETs `url` and returns its body, refusing a URL the guard refuses, a non-2xx answer or a
/// body over `max_bytes`.
pub async fn get_limited(
    url: &str,
    timeout: Duration,
    max_bytes: usize,
    guard: &Guard,
) -> Result<Vec<u8>, String> {
    guard.check_url(url)?;
    let http = client(timeout, guard).map_err(|e| e.to_string())?;
    let mut res = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("status {}", res.status().as_u16()));
    }
    if res.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err("response too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max_bytes {
            return Err("response too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["203.0.113.7", "8.8.8.8", "2001:db8::1", "100.128.0.1"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_checked_before_resolving() {
        let strict = Guard::default();
        assert!(strict.check_url("https://rp.example.jp/jwks").is_ok());
        let e = strict.check_url("http://169.254.169.254/latest/meta-data/").unwrap_err();
        assert!(e.contains("169.254.169.254 is an internal address"), "{e}");
        assert!(strict.check_url("http://[::1]:8080/x").is_err());
        assert!(strict.check_url("file:///etc/passwd").unwrap_err().contains("only http and https"));
        let tests = Guard::new(vec!["127.0.0.1".parse().unwrap()]);
        assert!(tests.check_url("http://127.0.0.1:9/x").is_ok());
        assert!(tests.check_url("http://127.0.0.2:9/x").is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_to_an_internal_address_is_refused_at_connect() {
        let strict = Guard::default();
        let e = get_limited("http://localhost:9/x", Duration::from_secs(5), 10, &strict).await.unwrap_err();
        assert!(e.contains("error") || e.contains("internal"), "{e}");
        let http = client(Duration::from_secs(5), &strict).unwrap();
        let err = http.get("http://localhost:9/x").send().await.unwrap_err();
        let chain = format!("{:?}", err);
        assert!(chain.contains("resolves only to internal addresses"), "{chain}");
    }
}
