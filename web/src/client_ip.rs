//! The true client address of a request, for the audit log, rate limits and the verification
//! log: the peer address, or, when the peer is a configured trusted proxy, the last
//! `X-Forwarded-For` address that is not one (a client cannot forge what the proxy appends).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The client address of `parts` behind the proxies in `trusted`; `None` when the peer is
/// unknown (a router called in-process, as in tests).
pub fn client_ip(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(forwarded.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(peer: &str, forwarded: &[&str]) -> Parts {
        let mut req = Request::builder();
        for f in forwarded {
            req = req.header("x-forwarded-for", *f);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        parts.extensions.insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn the_proxy_is_believed_only_when_trusted() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let ip = |p: &Parts, t: &[IpAddr]| client_ip(p, t).map(|i| i.to_string());
        let direct = parts("203.0.113.7:5000", &["198.51.100.1"]);
        assert_eq!(ip(&direct, &[proxy]).as_deref(), Some("203.0.113.7"), "a client's own header is ignored");
        let behind = parts("10.0.0.2:5000", &["198.51.100.1, 203.0.113.9"]);
        assert_eq!(ip(&behind, &[proxy]).as_deref(), Some("203.0.113.9"), "the address the proxy appended");
        assert_eq!(ip(&behind, &[]).as_deref(), Some("10.0.0.2"), "no proxy trusted: the peer");
        let chain = parts("10.0.0.2:5000", &["203.0.113.9", "10.0.0.3"]);
        let both = [proxy, "10.0.0.3".parse().unwrap()];
        assert_eq!(ip(&chain, &both).as_deref(), Some("203.0.113.9"), "two trusted hops");
        let none = parts("10.0.0.2:5000", &["not an address"]);
        assert_eq!(ip(&none, &[proxy]).as_deref(), Some("10.0.0.2"));
        let (unknown, ()) = Request::builder().body(()).unwrap().into_parts();
        assert_eq!(client_ip(&unknown, &[proxy]), None);
    }
}
