//! The mTLS listener (`mtls_listen`): TLS on its own host name that asks for a client
//! certificate in the handshake and serves step 2 of certificate sign-in.
//!
//! The handshake only proves possession: a custom verifier accepts any client certificate's
//! chain (webpki refuses HPKI certificates with critical certificatePolicies) but checks the
//! CertificateVerify signature with `hpki`. The certificate is then validated by `hpki` like a
//! card certificate, after the handshake. No certificate is required at the handshake, so a
//! browser without one reaches a readable page.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use axum::serve::{IncomingStream, Listener};
use hpki::HpkiCertificate;
use hpki::verify::{HashAlg, Scheme};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use web::ops::Probes;
use web::{Site, Templates};

use crate::app::{App, AppState};

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors building the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The certificate or key PEM does not parse.
    #[error("{0}")]
    Pem(String),
    /// rustls refused the configuration.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// A server configuration from PEM bytes: the server's certificate chain and PKCS#8/SEC1/PKCS#1
/// key; TLS 1.2 and 1.3; client certificates requested, not required.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Pem(format!("server certificate: {e}")))?;
    if certs.is_empty() {
        return Err(TlsConfigError::Pem("server certificate: no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsConfigError::Pem(format!("server key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(PossessionOnly))
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any client certificate at the handshake; checks only its CertificateVerify signature.
#[derive(Debug)]
struct PossessionOnly;

const SCHEMES: [SignatureScheme; 9] = [
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

fn hpki_scheme(s: SignatureScheme) -> Option<Scheme> {
    Some(match s {
        SignatureScheme::ECDSA_NISTP256_SHA256 => Scheme::Ecdsa(HashAlg::Sha256),
        SignatureScheme::ECDSA_NISTP384_SHA384 => Scheme::Ecdsa(HashAlg::Sha384),
        SignatureScheme::ECDSA_NISTP521_SHA512 => Scheme::Ecdsa(HashAlg::Sha512),
        SignatureScheme::RSA_PSS_SHA256 => Scheme::RsaPss(HashAlg::Sha256, 32),
        SignatureScheme::RSA_PSS_SHA384 => Scheme::RsaPss(HashAlg::Sha384, 48),
        SignatureScheme::RSA_PSS_SHA512 => Scheme::RsaPss(HashAlg::Sha512, 64),
        SignatureScheme::RSA_PKCS1_SHA256 => Scheme::RsaPkcs1(HashAlg::Sha256),
        SignatureScheme::RSA_PKCS1_SHA384 => Scheme::RsaPkcs1(HashAlg::Sha384),
        SignatureScheme::RSA_PKCS1_SHA512 => Scheme::RsaPkcs1(HashAlg::Sha512),
        _ => return None,
    })
}

fn verify_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    let scheme = hpki_scheme(dss.scheme).ok_or_else(bad)?;
    let cert = HpkiCertificate::from_der(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
    cert.verify_handshake_signature(scheme, message, dss.signature()).map_err(|_| bad())?;
    Ok(HandshakeSignatureValid::assertion())
}

impl ClientCertVerifier for PossessionOnly {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Validated by hpki after the handshake (profile, chain, revocation).
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 forbids PKCS#1 v1.5 in CertificateVerify (RFC 8446 §4.4.3).
        if matches!(
            dss.scheme,
            SignatureScheme::RSA_PKCS1_SHA256
                | SignatureScheme::RSA_PKCS1_SHA384
                | SignatureScheme::RSA_PKCS1_SHA512
        ) {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SCHEMES.to_vec()
    }
}

/// A TCP listener that completes TLS handshakes in the background (a slow client never holds
/// up others) and yields finished connections.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

/// Binds `addr` for TLS with `config`.
pub async fn bind(addr: SocketAddr, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    let local = tcp.local_addr()?;
    let (tx, ready) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while !tx.is_closed() {
            let (stream, peer) = match tcp.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "mTLS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        // Fails only when the listener is gone (shutdown): the connection closes.
                        let _closed = tx.send((tls, peer)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    Ok(TlsListener { ready, local })
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task ended (it only does when this listener is gone).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// What a handler learns about an mTLS connection.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The TCP peer.
    pub addr: SocketAddr,
    /// The client certificate (DER) presented in the handshake, if any.
    pub certificate: Option<Arc<Vec<u8>>>,
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, TlsListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        let certificate =
            stream.io().get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| Arc::new(c.to_vec()));
        PeerInfo { addr: *stream.remote_addr(), certificate }
    }
}

/// The router of the mTLS listener: certificate sign-in and the endpoints with client
/// authentication (token, introspection, revocation, PAR) for `tls_client_auth` clients (the
/// `mtls_endpoint_aliases` of discovery). Serve it with
/// `into_make_service_with_connect_info::<PeerInfo>()`.
pub fn router(app: Arc<App>, public_url: &str, templates: Arc<Templates>, probes: Probes) -> Router {
    let site = Site::new("idp-mtls", public_url);
    let routes = Router::new()
        .route("/login/certificate/tls", get(crate::signin::certificate::from_handshake))
        .route("/token", post(crate::oauth::token::token))
        .route("/introspect", post(crate::oauth::introspect::introspect))
        .route("/revoke", post(crate::oauth::introspect::revoke))
        .route("/par", post(crate::oauth::par::push))
        .with_state(AppState(app));
    web::service::wrap(routes, site, templates, probes)
}
