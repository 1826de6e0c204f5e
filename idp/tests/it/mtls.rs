//! The mTLS listener: a real TLS client presenting a test-PKI card certificate and key (TLS 1.3
//! with RSA-PSS, TLS 1.2 with ECDSA), the certificate validated by hpki after the handshake and
//! the session handed to the main origin.

use std::sync::Arc;

use hpki::testpki::{CertSpec, CrlSpec, KeyKind, TestKey, TestPki, issue, issue_crl, name, pem};
use idp::clients::AuthMethod;
use idp::serve::mtls::{self, PeerInfo};
use idp::signin::certificate::CertLoginConfig;
use idp::store::trust::{PURPOSE_CLIENT, TrustedCa};
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use storage::testing::TestEnv;
use time::macros::datetime;
use web::ops::Probes;

use crate::live::{self, Live, browser, location, pki};

storage::each_backend!(
    mtls_listener_signs_in_with_the_card_certificate,
    tls_client_auth_at_the_token_endpoint,
    tls_client_auth_at_introspection_revocation_and_par,
);

/// A self-signed P-256 server certificate for 127.0.0.1, as (certificate PEM, key PEM).
fn server_identity() -> (String, String) {
    let key = TestKey::generate(KeyKind::P256, 7, "mtls-server").unwrap();
    let spec = CertSpec {
        subject: name(&[("CN", "127.0.0.1")]),
        serial: 77,
        not_before: datetime!(2025-01-01 00:00 UTC),
        not_after: datetime!(2035-01-01 00:00 UTC),
        ca: None,
        key_usage: Some(vec![0]),
        eku: Some(vec!["1.3.6.1.5.5.7.3.1".into()]),
        policies: Vec::new(),
        policies_critical: false,
        hc_role: None,
        kanji: None,
        crl_uri: None,
        crl_directory_name: None,
        extra_extensions: Vec::new(),
    };
    let cert = issue(&spec, &key, None).unwrap();
    (cert.pem(), pem("PRIVATE KEY", &key.pkcs8_der().unwrap()))
}

/// A TLS client holding the named card's certificate and key. rustls' own client-identity
/// check parses the certificate with webpki, which refuses HPKI's critical certificatePolicies,
/// so the certificate is handed over by a resolver, as a card middleware would.
fn card_client(card: Option<&str>, tls12: bool) -> reqwest::Client {
    card_client_with(card.map(|c| (c, c)), tls12)
}

/// Like [`card_client`], with the certificate of one card and the key of another.
fn card_client_with(cert_and_key: Option<(&str, &str)>, tls12: bool) -> reqwest::Client {
    let identity = cert_and_key.map(|(card, key_of)| {
        (pki().card(card).unwrap().issued.der.clone(), pki().card(key_of).unwrap().issued.key.clone())
    });
    tls_client(identity, tls12)
}

/// A TLS client presenting `identity` (certificate DER and its key), if any.
fn tls_client(identity: Option<(Vec<u8>, TestKey)>, tls12: bool) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] =
        if tls12 { &[&rustls::version::TLS12] } else { &[&rustls::version::TLS13] };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider.clone())));
    let config = match identity {
        Some((der, key)) => {
            let key = PrivateKeyDer::try_from(key.pkcs8_der().unwrap()).unwrap();
            let signer = provider.key_provider.load_private_key(key).unwrap();
            let certified = CertifiedKey::new(vec![CertificateDer::from(der)], signer);
            builder.with_client_cert_resolver(Arc::new(Card(Arc::new(certified))))
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[derive(Debug)]
struct Card(Arc<CertifiedKey>);

impl ResolvesClientCert for Card {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Accepts the throwaway server certificate (what is under test is the client certificate).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

async fn mtls_listener_signs_in_with_the_card_certificate(env: TestEnv) {
    let (cert, key) = server_identity();
    let tls = mtls::server_config(cert.as_bytes(), key.as_bytes()).unwrap();
    let tls_listener = mtls::bind("127.0.0.1:0".parse().unwrap(), tls).await.unwrap();
    let mtls_base = format!("https://{}", axum::serve::Listener::local_addr(&tls_listener).unwrap());
    let cert_login =
        CertLoginConfig { listener: true, public_url: Some(mtls_base.clone()), ..CertLoginConfig::default() };
    let live = Live::start_with(env, |c| idp::IdpConfig { cert_login, ..c }).await;
    let probes =
        Probes { db: live.env.db.db.clone(), kv: live.env.kv.clone(), metrics: web::metrics::recorder() };
    let router =
        mtls::router(live.app.clone(), &mtls_base, Arc::new(web::Templates::load().unwrap()), probes);
    tokio::spawn(async move {
        axum::serve(tls_listener, router.into_make_service_with_connect_info::<PeerInfo>()).await.unwrap();
    });

    for (card, tls12) in [("doctor-auth", false), ("pharmacist-auth", true)] {
        let b = browser();
        let res = b.get(live.url("/login/certificate")).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let tls_url = location(&res);
        assert!(tls_url.starts_with(&format!("{mtls_base}/login/certificate/tls?state=")), "{tls_url}");

        let res = card_client(Some(card), tls12).get(&tls_url).send().await.unwrap();
        assert_eq!(res.status(), 303, "{card}: {}", res.text().await.unwrap());
        let complete = location(&res);
        assert!(complete.starts_with(&live.url("/login/certificate/complete?code=")), "{complete}");
        let res = b.get(&complete).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/");
    }
    let accounts = idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap();
    assert_eq!(accounts.len(), 2);
    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'sign_in' AND outcome = 'success'")
            .fetch_all(live.env.db.db.pool())
            .await
            .unwrap();
    assert_eq!(details.iter().filter(|d| d.contains("\"tls_listener\"")).count(), 2, "{details:?}");

    // No certificate in the handshake: a readable page, not a TLS failure.
    let res = card_client(None, false)
        .get(format!("{mtls_base}/login/certificate/tls?state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("certificate_missing"));

    // Someone else's certificate without its key: the handshake fails.
    let b = browser();
    let tls_url = location(&b.get(live.url("/login/certificate")).send().await.unwrap());
    for tls12 in [false, true] {
        let res =
            card_client_with(Some(("pharmacist-auth", "director-auth")), tls12).get(&tls_url).send().await;
        assert!(res.is_err(), "a signature by the wrong key is refused at the handshake: {res:?}");
    }

    // A revoked card completes the handshake but is refused by hpki.
    let b = browser();
    let tls_url = location(&b.get(live.url("/login/certificate")).send().await.unwrap());
    let res = card_client(Some("revoked-doctor-auth"), false).get(&tls_url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("<code>cert_revoked</code>"));
}

/// A relying party's certificate and the CA (trusted with purpose `client`) that issued it.
fn relying_party() -> (hpki::testpki::Issued, hpki::testpki::Issued) {
    let ca_key = TestKey::generate(KeyKind::P256, 7, "rp-ca").unwrap();
    let mut spec = CertSpec::ca(name(&[("C", "JP"), ("O", "Example RP CA")]), 600, Some(0), "1.2.3.4");
    spec.crl_uri = None;
    let ca = issue(&spec, &ca_key, None).unwrap();
    let key = TestKey::generate(KeyKind::P256, 7, "rp").unwrap();
    let spec = CertSpec {
        subject: name(&[("C", "JP"), ("O", "Example Network"), ("CN", "rp.example.jp")]),
        serial: 601,
        ca: None,
        key_usage: Some(vec![0]),
        eku: Some(vec!["1.3.6.1.5.5.7.3.2".into()]),
        policies: Vec::new(),
        crl_uri: None,
        ..CertSpec::ca(Vec::new(), 0, None, "1.2.3.4")
    };
    (issue(&spec, &key, Some(&ca)).unwrap(), ca)
}

fn escaped(pem: &str) -> String {
    pem.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A live idp with its mTLS listener (also trusting 127.0.0.1 as a proxy) and a registered
/// `tls_client_auth` client `mtls-rp`; returns the idp, the listener's base URL and the client's
/// certificate.
async fn mtls_relying_party(env: TestEnv) -> (Live, String, hpki::testpki::Issued) {
    let (cert, key) = server_identity();
    let tls = mtls::server_config(cert.as_bytes(), key.as_bytes()).unwrap();
    let tls_listener = mtls::bind("127.0.0.1:0".parse().unwrap(), tls).await.unwrap();
    let mtls_base = format!("https://{}", axum::serve::Listener::local_addr(&tls_listener).unwrap());
    let cert_login = CertLoginConfig {
        listener: true,
        public_url: Some(mtls_base.clone()),
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
    };
    let live = Live::start_with(env, |c| idp::IdpConfig { cert_login, ..c }).await;
    let probes =
        Probes { db: live.env.db.db.clone(), kv: live.env.kv.clone(), metrics: web::metrics::recorder() };
    let router =
        mtls::router(live.app.clone(), &mtls_base, Arc::new(web::Templates::load().unwrap()), probes);
    tokio::spawn(async move {
        axum::serve(tls_listener, router.into_make_service_with_connect_info::<PeerInfo>()).await.unwrap();
    });
    let db = &live.env.db.db;
    let (rp, rp_ca) = relying_party();
    let ca = hpki::HpkiCertificate::parse(&rp_ca.der).unwrap();
    let stored = TrustedCa {
        fingerprint: "rp-ca".into(),
        subject: ca.subject.clone(),
        der: rp_ca.der.clone(),
        added_at: 0,
        purpose: PURPOSE_CLIENT.into(),
    };
    idp::store::trust::create_ca(db, &stored).await.unwrap();
    let crl = CrlSpec {
        this_update: TestPki::CRL_THIS_UPDATE,
        next_update: Some(TestPki::CRL_NEXT_UPDATE),
        revoked: vec![],
        number: 1,
        delta: false,
    };
    let cas = idp::trust::crl_fetch::trusted_cas(db).await.unwrap();
    idp::trust::crl_fetch::store_verified(db, &cas, &issue_crl(&crl, &rp_ca, None).unwrap(), "test", 0)
        .await
        .unwrap();
    let subject = hpki::HpkiCertificate::parse(&rp.der).unwrap().subject;
    assert_eq!(subject, "C=JP, O=Example Network, CN=rp.example.jp");
    let mut client = live::client("mtls-rp", AuthMethod::TlsClientAuth);
    client.tls_subject_dn = Some(subject);
    live::register(db, client).await;
    (live, mtls_base, rp)
}

async fn tls_client_auth_at_the_token_endpoint(env: TestEnv) {
    let (live, mtls_base, rp) = mtls_relying_party(env).await;
    let db = &live.env.db.db;

    let meta: serde_json::Value =
        reqwest::get(live.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    let methods = meta["token_endpoint_auth_methods_supported"].as_array().unwrap();
    assert!(methods.contains(&"tls_client_auth".into()), "{meta}");
    assert_eq!(meta["mtls_endpoint_aliases"]["token_endpoint"], format!("{mtls_base}/token"));

    let form = [("grant_type", "client_credentials"), ("client_id", "mtls-rp"), ("scope", "hpki")];
    let token = |c: reqwest::Client, url: String| async move {
        let res = c.post(url).form(&form).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json::<serde_json::Value>().await.unwrap())
    };
    let rp_identity = || Some((rp.der.clone(), rp.key.clone()));
    // On the mTLS listener, TLS 1.3 and 1.2.
    for tls12 in [false, true] {
        let (status, body) = token(tls_client(rp_identity(), tls12), format!("{mtls_base}/token")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["access_token"].is_string());
    }
    // Behind the trusted proxy.
    let res = reqwest::Client::new()
        .post(live.url("/token"))
        .header("x-ssl-client-cert", escaped(&rp.pem()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // No certificate, a card certificate (another DN, another CA), or the main origin without
    // the proxy header: invalid_client.
    for (c, url) in [
        (tls_client(None, false), format!("{mtls_base}/token")),
        (card_client(Some("doctor-auth"), false), format!("{mtls_base}/token")),
        (reqwest::Client::new(), live.url("/token")),
    ] {
        let (status, body) = token(c, url).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    }
    // The right DN under a CA trusted for cards only is refused: purposes do not mix.
    sqlx::query("UPDATE trusted_cas SET purpose = 'card' WHERE fingerprint = 'rp-ca'")
        .execute(db.pool())
        .await
        .unwrap();
    live.app.trust.invalidate().await;
    let (status, _) = token(tls_client(rp_identity(), false), format!("{mtls_base}/token")).await;
    assert_eq!(status, 401);
}

async fn tls_client_auth_at_introspection_revocation_and_par(env: TestEnv) {
    let (live, mtls_base, rp) = mtls_relying_party(env).await;
    let meta: serde_json::Value =
        reqwest::get(live.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    for (endpoint, path) in [
        ("introspection_endpoint", "/introspect"),
        ("revocation_endpoint", "/revoke"),
        ("pushed_authorization_request_endpoint", "/par"),
    ] {
        assert_eq!(meta["mtls_endpoint_aliases"][endpoint], format!("{mtls_base}{path}"), "{meta}");
    }
    for key in ["introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"]
    {
        assert!(meta[key].as_array().unwrap().contains(&"tls_client_auth".into()), "{key}: {meta}");
    }

    let rp_client = || tls_client(Some((rp.der.clone(), rp.key.clone())), false);
    let wrong_client = || card_client(Some("doctor-auth"), false);
    let post = |c: reqwest::Client, path: &str, form: Vec<(&'static str, String)>| {
        let url = format!("{mtls_base}{path}");
        async move {
            let res = c.post(url).form(&form).send().await.unwrap();
            let status = res.status().as_u16();
            let www = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            (status, www, res.text().await.unwrap())
        }
    };
    let id = || ("client_id", "mtls-rp".to_owned());
    let (status, _, body) = post(
        rp_client(),
        "/token",
        vec![("grant_type", "client_credentials".into()), id(), ("scope", "hpki".into())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access: serde_json::Value = serde_json::from_str(&body).unwrap();
    let access = access["access_token"].as_str().unwrap().to_owned();

    // Introspection with the client's certificate, on the listener and behind the trusted proxy.
    let (status, _, body) = post(rp_client(), "/introspect", vec![id(), ("token", access.clone())]).await;
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((info["active"].as_bool(), info["client_id"].as_str()), (Some(true), Some("mtls-rp")));
    let res = reqwest::Client::new()
        .post(live.url("/introspect"))
        .header("x-ssl-client-cert", escaped(&rp.pem()))
        .form(&[("client_id", "mtls-rp"), ("token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["active"], true);

    // Another certificate, or none, at each endpoint: invalid_client, 401 with WWW-Authenticate.
    let par_form = || {
        vec![
            id(),
            ("response_type", "code".into()),
            ("redirect_uri", live::REDIRECT.into()),
            ("scope", "openid".into()),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            ("code_challenge_method", "S256".into()),
        ]
    };
    for path in ["/introspect", "/revoke", "/par"] {
        let form = if path == "/par" { par_form() } else { vec![id(), ("token", access.clone())] };
        for c in [wrong_client(), tls_client(None, false)] {
            let (status, www, body) = post(c, path, form.clone()).await;
            assert_eq!((status, www.as_deref()), (401, Some("Basic realm=\"shikaku\"")), "{path}");
            insta::allow_duplicates! {
                insta::assert_snapshot!(body, @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
            }
        }
    }

    // A pushed request with the certificate, then used at the main origin's /authorize.
    let (status, _, body) = post(rp_client(), "/par", par_form()).await;
    assert_eq!(status, 201, "{body}");
    let pushed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(idp::oauth::par::URN_PREFIX), "{pushed}");
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("client_id", "mtls-rp"), ("request_uri", request_uri)])
        .finish();
    let res = browser().get(live.url(&format!("/authorize?{query}"))).send().await.unwrap();
    assert_eq!(res.status(), 303, "to the sign-in page");
    assert!(location(&res).starts_with("/login"), "{}", location(&res));

    // Revocation with the certificate: the access token is no longer active.
    let (status, _, body) = post(rp_client(), "/revoke", vec![id(), ("token", access.clone())]).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, _, body) = post(rp_client(), "/introspect", vec![id(), ("token", access)]).await;
    assert_eq!(status, 200);
    insta::assert_snapshot!(body, @r#"{"active":false}"#);
}
