//! The client certificate a TLS-terminating proxy forwards: RFC 9440 `Client-Cert`
//! (`:BASE64-DER:`) or nginx's `X-SSL-Client-Cert` (`$ssl_client_escaped_cert`, URL-escaped PEM).

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// `Client-Cert` (RFC 9440).
pub const CLIENT_CERT: &str = "client-cert";
/// `X-SSL-Client-Cert` (nginx `$ssl_client_escaped_cert`).
pub const X_SSL_CLIENT_CERT: &str = "x-ssl-client-cert";

/// The forwarded certificate as DER: `Ok(None)` when neither header is present (or empty),
/// `Err` when one is present but unreadable.
pub fn certificate(headers: &HeaderMap) -> Result<Option<Vec<u8>>, String> {
    let value = |name| {
        headers.get(name).map(|v| v.to_str().map(str::trim).map_err(|_| format!("{name} is not text")))
    };
    if let Some(v) = value(CLIENT_CERT) {
        let v = v?;
        if !v.is_empty() {
            let inner = v
                .strip_prefix(':')
                .and_then(|s| s.strip_suffix(':'))
                .ok_or_else(|| "Client-Cert is not an sf-binary (:…:)".to_owned())?;
            return STANDARD.decode(inner).map(Some).map_err(|_| "Client-Cert is not base64".to_owned());
        }
    }
    if let Some(v) = value(X_SSL_CLIENT_CERT) {
        let v = v?;
        if !v.is_empty() {
            let pem = percent_decode(v).ok_or_else(|| "X-SSL-Client-Cert is badly escaped".to_owned())?;
            return hpki::profile::pem_or_der(&pem).map(Some);
        }
    }
    Ok(None)
}

/// `%XX` decoding (nginx escapes with `%XX` only; `+` is literal).
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_and_refuses_truncation() {
        assert_eq!(percent_decode("a%20b+c%0A").unwrap(), b"a b+c\n");
        assert!(percent_decode("a%2").is_none());
        assert!(percent_decode("%zz").is_none());
    }

    #[test]
    fn missing_or_empty_headers_mean_no_certificate() {
        let mut h = HeaderMap::new();
        assert_eq!(certificate(&h), Ok(None));
        h.insert(X_SSL_CLIENT_CERT, "".parse().unwrap());
        assert_eq!(certificate(&h), Ok(None));
        h.insert(CLIENT_CERT, "no-colons".parse().unwrap());
        assert!(certificate(&h).is_err());
    }
}
