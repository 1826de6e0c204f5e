//! RFC 8705 §2.1 `tls_client_auth`: a relying party authenticates (token, introspection,
//! revocation and PAR endpoints) with a TLS client certificate whose subject DN equals the
//! registered `tls_subject_dn` exactly and which chains to a CA added with
//! `admin ca add --purpose client` (generic profile: keyUsage digitalSignature, clientAuth if an
//! EKU is present, validity, chain, CRL).

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use hpki::{HpkiCertificate, Profile, Purpose};
use web::{OAuthError, OAuthErrorCode};

use crate::app::App;
use crate::serve::mtls::PeerInfo;

/// The client certificate of a request: from the mTLS listener's handshake, or from the header
/// of a trusted proxy (`mtls_trusted_proxies`); `None` otherwise.
pub fn request_certificate(app: &App, extensions: &Extensions, headers: &HeaderMap) -> Option<Vec<u8>> {
    if let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<PeerInfo>>() {
        return peer.certificate.as_ref().map(|c| c.to_vec());
    }
    let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
    if !app.config.cert_login.is_trusted_proxy(peer.ip()) {
        return None;
    }
    crate::signin::certificate::header::certificate(headers).ok().flatten()
}

/// Checks a `tls_client_auth` client's certificate against its registration.
pub async fn check(
    app: &App,
    subject_dn: Option<&str>,
    der: Option<&[u8]>,
    now: i64,
) -> Result<(), OAuthError> {
    let refuse = |why: &str| {
        tracing::info!(reason = why, "tls_client_auth refused");
        OAuthError::new(OAuthErrorCode::InvalidClient, "client authentication failed")
    };
    let der = der.ok_or_else(|| refuse("no client certificate"))?;
    let expected = subject_dn.ok_or_else(|| refuse("no tls_client_auth_subject_dn registered"))?;
    let cert = HpkiCertificate::from_der(der).map_err(|_| refuse("certificate does not parse"))?;
    if cert.subject != expected {
        return Err(refuse("subject DN differs"));
    }
    let trust = app.trust.load().await.map_err(OAuthError::internal)?;
    let at = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    hpki::verify_certificate(
        &cert,
        &trust.client_cas,
        &trust.crls,
        at,
        Purpose::Authentication,
        &Profile::generic(),
        &trust.validator.options,
    )
    .map_err(|e| refuse(e.code()))?;
    Ok(())
}
