//! Sign-in with a TLS client certificate behind a trusted proxy: the proxy's header is believed
//! only from `mtls_trusted_proxies`, the certificate is always validated, the session is handed
//! to the main origin with a one-time code bound to the browser.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idp::signin::certificate::CertLoginConfig;
use storage::testing::TestEnv;

use crate::live::{CLIENT_ID, Live, REDIRECT, browser, location, pki, query_param};

storage::each_backend!(
    proxied_certificate_signs_in_and_continues_the_authorization,
    proxied_certificate_failures_are_pages_with_the_code,
    headers_from_other_addresses_are_refused,
    certificate_sign_in_is_off_by_default,
);

/// nginx `$ssl_client_escaped_cert`: the PEM, URL-escaped.
pub fn escaped_pem(card: &str) -> String {
    let pem = pki().card(card).unwrap().issued.pem();
    pem.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// RFC 9440 `Client-Cert`.
fn client_cert(card: &str) -> String {
    format!(":{}:", STANDARD.encode(&pki().card(card).unwrap().issued.der))
}

async fn start_trusting(env: TestEnv, proxies: &[&str]) -> Live {
    let cert_login = CertLoginConfig {
        trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
        ..CertLoginConfig::default()
    };
    Live::start_with(env, |c| idp::IdpConfig { cert_login, ..c }).await
}

/// Step 1: from the sign-in page's link to the certificate URL.
async fn begin(live: &Live, b: &reqwest::Client, request: Option<&str>) -> String {
    let path = match request {
        Some(r) => format!("/login/certificate?request={r}"),
        None => "/login/certificate".to_owned(),
    };
    let res = b.get(live.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.starts_with(&live.url("/login/certificate/tls?state=")), "{to}");
    to
}

async fn proxied_certificate_signs_in_and_continues_the_authorization(env: TestEnv) {
    let live = start_trusting(env, &["127.0.0.1/32"]).await;
    let b = browser();
    let verifier = idp::ids::random(32);
    let challenge = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let res = b.get(live.url(&format!("/authorize?{query}"))).send().await.unwrap();
    let login = location(&res);
    let request = query_param(&login, "request").unwrap();
    let page = b.get(live.url(&login)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("/login/certificate?request={request}")), "the sign-in page links to it");

    let tls = begin(&live, &b, Some(&request)).await;
    let res = b.get(&tls).header("x-ssl-client-cert", escaped_pem("doctor-auth")).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let complete = location(&res);
    assert!(complete.starts_with(&live.url("/login/certificate/complete?code=")), "{complete}");

    // The code is bound to the browser that started: another browser cannot use it.
    let other = browser().get(&complete).send().await.unwrap();
    assert_eq!(other.status(), 400);
    assert!(other.text().await.unwrap().contains("browser_mismatch"));
    // …and that attempt used it up.
    let res = b.get(&complete).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("code_unknown"));

    // Again, with the RFC 9440 header this time.
    let tls = begin(&live, &b, Some(&request)).await;
    let res = b.get(&tls).header("client-cert", client_cert("doctor-auth")).send().await.unwrap();
    let complete = location(&res);
    let res = b.get(&complete).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/authorize/resume?request={request}"));
    let res = b.get(live.url(&location(&res))).send().await.unwrap();
    assert!(location(&res).starts_with("/authorize/consent"), "the authorization continues");

    let accounts = idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].name.as_deref(), Some("日本　太郎"));
    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'sign_in' AND outcome = 'success'")
            .fetch_all(live.env.db.db.pool())
            .await
            .unwrap();
    assert!(details.iter().any(|d| d.contains("\"tls_proxy\"")), "{details:?}");
}

async fn refused(live: &Live, header: (&str, String)) -> (u16, String) {
    let b = browser();
    let tls = begin(live, &b, None).await;
    let res = b.get(&tls).header(header.0, header.1).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn proxied_certificate_failures_are_pages_with_the_code(env: TestEnv) {
    let live = start_trusting(env, &["10.0.0.0/8", "127.0.0.1"]).await;
    let cases = [("revoked-doctor-auth", 401, "cert_revoked"), ("doctor-sign", 401, "wrong_purpose")];
    for (card, status, code) in cases {
        let (s, page) = refused(&live, ("x-ssl-client-cert", escaped_pem(card))).await;
        assert_eq!((s, page.contains(&format!("<code>{code}</code>"))), (status, true), "{card}: {page}");
        assert!(page.contains("証明書によるログインに失敗しました"), "Japanese first");
    }
    let (s, page) = refused(&live, ("client-cert", ":AAAA:".into())).await;
    assert_eq!((s, page.contains("cert_malformed")), (401, true), "{page}");
    let (s, page) = refused(&live, ("x-other", "x".into())).await;
    assert_eq!((s, page.contains("certificate_missing")), (400, true), "{page}");
    // Without the step-1 state.
    let res = browser()
        .get(live.url("/login/certificate/tls?state=nope"))
        .header("x-ssl-client-cert", escaped_pem("doctor-auth"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("state_unknown"));
    // English on request.
    let b = browser();
    let tls = begin(&live, &b, None).await;
    let res = b
        .get(format!("{tls}&lang=en"))
        .header("x-ssl-client-cert", escaped_pem("revoked-doctor-auth"))
        .send()
        .await
        .unwrap();
    let page = res.text().await.unwrap();
    assert!(page.contains("Certificate sign-in failed") && page.contains("cert_revoked"), "{page}");
    assert!(idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap().is_empty());
}

async fn headers_from_other_addresses_are_refused(env: TestEnv) {
    let live = start_trusting(env, &["10.0.0.0/8"]).await;
    let (s, page) = refused(&live, ("x-ssl-client-cert", escaped_pem("doctor-auth"))).await;
    assert_eq!(s, 403);
    assert!(page.contains("proxy_not_trusted"), "{page}");
    assert!(idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap().is_empty());
}

async fn certificate_sign_in_is_off_by_default(env: TestEnv) {
    let live = Live::start(env).await;
    let b = browser();
    for path in ["/login/certificate", "/login/certificate/tls?state=x"] {
        let res = b.get(live.url(path)).header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let page = b.get(live.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("/login/certificate"));
}
