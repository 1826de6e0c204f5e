//! `POST /api/v1/card-reads` (idp::card_reads): a service with a `card:read` token asks about a
//! certificate read from a card without its PIN; the answer names the holder or refuses the
//! card with the validator's code, on both storage backends.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idp::store::clients as client_store;
use idp::store::identities::{Identity, upsert_identities};
use serde_json::{Value, json};
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_ID, Live, pki};

storage::each_backend!(
    a_card_read_names_the_holder_or_refuses_the_card,
    without_a_current_crl_a_card_read_is_unavailable,
    a_card_status_checks_the_card_of_its_last_sign_in_again,
    a_card_proof_checks_the_signature_the_origin_and_the_card,
);

/// The test client allowed `scopes` for its own tokens; returns a token of `scope`.
async fn service_token(live: &Live, allowed: &[&str], scope: &str) -> String {
    let db = &live.env.db.db;
    let mut client = client_store::find_client(db, CLIENT_ID).await.unwrap().unwrap();
    client.scopes.extend(allowed.iter().map(|s| (*s).to_owned()));
    live.app.clients.update(db, &client).await.unwrap();
    let (status, tokens) =
        live::post_as(live, "/token", CLIENT_ID, &[("grant_type", "client_credentials"), ("scope", scope)])
            .await;
    assert_eq!(status, 200, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn read(live: &Live, token: Option<&str>, body: Value) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().post(live.url("/api/v1/card-reads")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (status, kind, res.json().await.unwrap_or(Value::Null))
}

async fn card_status(live: &Live, token: &str, body: Value) -> (u16, Option<String>, Value) {
    let res = reqwest::Client::new()
        .post(live.url("/api/v1/card-status"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (status, kind, res.json().await.unwrap_or(Value::Null))
}

async fn a_card_status_checks_the_card_of_its_last_sign_in_again(env: TestEnv) {
    let live = Live::start(env).await;
    let db = &live.env.db.db;
    let cert = hpki::HpkiCertificate::parse(&pki().card("doctor-auth").unwrap().issued.der).unwrap();
    let asked = json!({ "issuer": cert.issuer, "subscriber_id": "TESTJ00001" });
    let token = service_token(&live, &["card:read"], "card:read").await;

    // Before the card signs in here, the idp has no certificate of it.
    let (status, kind, body) = card_status(&live, &token, asked.clone()).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("card_unknown")), "{body}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));

    let (status, body) = live::card_sign_in(&live, &live::browser(), "/login", "doctor-auth").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, holder) = card_status(&live, &token, asked.clone()).await;
    assert_eq!(status, 200, "{holder}");
    assert_eq!(
        (holder["name"].as_str(), holder["serial"].as_str()),
        (Some("日本　太郎"), Some(cert.serial.as_str()))
    );
    assert_eq!(holder["hc_roles"], json!(["Medical Doctor"]));
    assert_eq!(holder["not_after"], cert.not_after.unix_timestamp());
    assert!(holder["checked_at"].as_i64().is_some(), "{holder}");

    // Later the CA revokes the card: the same question gets the refusal, without the card.
    let now = live.app.clock.now();
    let spec = hpki::testpki::CrlSpec {
        this_update: hpki::testpki::TestPki::CRL_THIS_UPDATE + time::Duration::days(1),
        next_update: Some(hpki::testpki::TestPki::CRL_NEXT_UPDATE),
        revoked: vec![(
            pki().card("doctor-auth").unwrap().issued.serial,
            hpki::testpki::TestPki::CRL_THIS_UPDATE,
        )],
        number: 5,
        delta: false,
    };
    let crl = hpki::testpki::issue_crl(&spec, &pki().jma_auth, None).unwrap();
    let cas = idp::trust::crl_fetch::trusted_cas(db).await.unwrap();
    idp::trust::crl_fetch::store_verified(db, &cas, &crl, "test", now).await.unwrap();
    live.app.trust.invalidate().await;
    let (status, _, body) = card_status(&live, &token, asked.clone()).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("cert_revoked")), "{body}");

    // Wrong requests, and a token without card:read.
    let (status, _, body) = card_status(&live, &token, json!({ "issuer": cert.issuer })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("request_malformed")), "{body}");
    let (status, _, body) =
        card_status(&live, &token, json!({ "issuer": "x".repeat(501), "subscriber_id": "TESTJ00001" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("request_malformed")), "{body}");
    let plain = service_token(&live, &[], "").await;
    let (status, _, body) = card_status(&live, &plain, asked).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("insufficient_scope")), "{body}");

    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT outcome FROM audit_log WHERE event = 'card_status' ORDER BY seq")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(outcomes, ["card_unknown", "success", "cert_revoked"]);
}

fn certificate(card: &str) -> Value {
    json!({ "certificate": STANDARD.encode(&pki().card(card).unwrap().issued.der) })
}

async fn a_card_read_names_the_holder_or_refuses_the_card(env: TestEnv) {
    let live = Live::start(env).await;
    let db = &live.env.db.db;

    // Without a token, or with one lacking card:read: refused (RFC 6750).
    let (status, _, _) = read(&live, None, certificate("doctor-auth")).await;
    assert_eq!(status, 401);
    let plain = service_token(&live, &[], "").await;
    let (status, _, body) = read(&live, Some(&plain), certificate("doctor-auth")).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("insufficient_scope")), "{body}");
    // A person's authorization request cannot ask for a service scope.
    let (status, body) = live::post_as(
        &live,
        "/token",
        CLIENT_ID,
        &[("grant_type", "client_credentials"), ("scope", "attendance:write")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{body}");

    let token = service_token(&live, &["card:read"], "card:read").await;
    let (status, kind, holder) = read(&live, Some(&token), certificate("doctor-auth")).await;
    assert_eq!(status, 200, "{holder}");
    assert_eq!(kind.as_deref(), Some("application/json"));
    let cert = hpki::HpkiCertificate::parse(&pki().card("doctor-auth").unwrap().issued.der).unwrap();
    assert_eq!(holder["issuer"], cert.issuer.as_str());
    assert_eq!(holder["subscriber_id"], "TESTJ00001");
    assert_eq!(holder["name"], "日本　太郎");
    assert_eq!(holder["name#ja-Latn"], "Taro Nihon");
    assert_eq!(holder["hc_roles"], json!(["Medical Doctor"]));
    assert!(holder.get("medical_registration_number").is_none(), "no license scope: {holder}");

    // With license and a registry entry: the registration number too.
    upsert_identities(
        db,
        &[Identity {
            issuer: cert.issuer.clone(),
            subscriber_id: "TESTJ00001".into(),
            registration_number: "512345".into(),
            birth_date: "1978-04-12".into(),
            kana_name: "ニホン　タロウ".into(),
        }],
        0,
    )
    .await
    .unwrap();
    let licensed = service_token(&live, &["license"], "card:read license").await;
    let (status, _, holder) = read(&live, Some(&licensed), certificate("doctor-auth")).await;
    assert_eq!((status, holder["medical_registration_number"].as_str()), (200, Some("512345")), "{holder}");

    // Refusals: problem+json with the validator's code.
    let (status, kind, body) = read(&live, Some(&token), certificate("revoked-doctor-auth")).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("cert_revoked")), "{body}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));
    let (status, _, body) = read(&live, Some(&token), certificate("doctor-sign")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("wrong_purpose")),
        "a signature certificate: {body}"
    );
    let (status, _, body) = read(&live, Some(&token), json!({ "certificate": "not base64!" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("cert_malformed")), "{body}");
    let (status, _, body) =
        read(&live, Some(&token), json!({ "certificate": STANDARD.encode(b"not DER") })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("cert_malformed")), "{body}");
    let (status, _, body) = read(&live, Some(&token), json!({ "cert": 1 })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("cert_malformed")), "{body}");
    let big = json!({ "certificate": "A".repeat(3 * 1024 * 1024) });
    let (status, kind, _) = read(&live, Some(&token), big).await;
    assert_eq!((status, kind.as_deref()), (413, Some("application/problem+json")));

    // Each read is audited, with the client and the outcome, never the certificate.
    let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT outcome, client_id, detail FROM audit_log WHERE event = 'card_read' ORDER BY seq",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "success",
            "success",
            "cert_revoked",
            "wrong_purpose",
            "cert_malformed",
            "cert_malformed",
            "cert_malformed"
        ]
    );
    assert!(rows.iter().all(|r| r.1.as_deref() == Some(CLIENT_ID)));
    assert!(rows[0].2.contains("TESTJ00001") && !rows[0].2.contains("MII"), "{}", rows[0].2);
}

async fn without_a_current_crl_a_card_read_is_unavailable(env: TestEnv) {
    let live = Live::start_opts(env, false, |c| c).await;
    let token = service_token(&live, &["card:read"], "card:read").await;
    let (status, _, body) = read(&live, Some(&token), certificate("doctor-auth")).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("revocation_unavailable")), "{body}");
}

async fn card_proof(live: &Live, token: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(live.url("/api/v1/card-proofs"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// An in-person check: the service's page (on an origin of the client's redirect URIs) had the
/// card sign the service's nonce with the PIN; the idp checks the signature, the origin and the
/// card, and names the holder.
async fn a_card_proof_checks_the_signature_the_origin_and_the_card(env: TestEnv) {
    let live = Live::start(env).await;
    let db = &live.env.db.db;
    let token = service_token(&live, &["card:read"], "card:read").await;
    let origin = "https://rp.example.jp";
    let redirect = client_store::find_client(db, CLIENT_ID).await.unwrap().unwrap().redirect_uris[0].clone();
    assert!(redirect.starts_with(&format!("{origin}/")), "{redirect}");
    let nonce = STANDARD.encode([7u8; 32]);
    let signed = |card: &str, origin: &str, nonce: &str| {
        let card = pki().card(card).unwrap().virtual_card();
        serde_json::from_str::<Value>(&card.token(origin, nonce, card.default_algorithm()).unwrap()).unwrap()
    };

    let (status, holder) = card_proof(
        &live,
        &token,
        json!({ "auth_token": signed("doctor-auth", origin, &nonce), "origin": origin, "nonce": nonce }),
    )
    .await;
    assert_eq!(status, 200, "{holder}");
    assert_eq!(holder["name"], "日本　太郎");
    assert_eq!(holder["hc_roles"], json!(["Medical Doctor"]));
    assert!(holder["not_after"].as_i64().is_some() && holder["checked_at"].as_i64().is_some());

    // Signed for another nonce, or on another page's origin; an origin the client does not have.
    let other = STANDARD.encode([8u8; 32]);
    let (status, body) = card_proof(
        &live,
        &token,
        json!({ "auth_token": signed("doctor-auth", origin, &other), "origin": origin, "nonce": nonce }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "signature_invalid", "{body}");
    let (status, body) = card_proof(
        &live,
        &token,
        json!({ "auth_token": signed("doctor-auth", "https://evil.example", &nonce), "origin": origin, "nonce": nonce }),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("signature_invalid")), "{body}");
    let evil = "https://evil.example";
    let (status, body) = card_proof(
        &live,
        &token,
        json!({ "auth_token": signed("doctor-auth", evil, &nonce), "origin": evil, "nonce": nonce }),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("origin_not_allowed")), "{body}");
    // A revoked card, with a valid signature.
    let (status, body) = card_proof(
        &live,
        &token,
        json!({ "auth_token": signed("revoked-doctor-auth", origin, &nonce), "origin": origin, "nonce": nonce }),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("cert_revoked")), "{body}");
    let (status, body) = card_proof(&live, &token, json!({ "origin": origin, "nonce": nonce })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("request_malformed")), "{body}");

    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT outcome FROM audit_log WHERE event = 'card_proof' ORDER BY seq")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(
        outcomes,
        ["success", "signature_invalid", "signature_invalid", "origin_not_allowed", "cert_revoked"]
    );
}
