//! `private_key_jwt` client authentication (RFC 7523, OIDC Core §9): keys by value and by
//! `jwks_uri`, and every refusal as `invalid_client`.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::clients::{AuthMethod, GrantType};
use p256::ecdsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use storage::testing::TestEnv;

use crate::live::{self, Live};

storage::each_backend!(
    valid_assertion_is_accepted_once,
    bad_assertions_are_invalid_client,
    keys_from_jwks_uri_rs256_and_ps256,
);

const ID: &str = "jwt-rp";
const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

enum Key {
    Ec(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

impl Key {
    fn public_jwk(&self, kid: &str) -> Value {
        match self {
            Key::Ec(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-256", "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap()), "kid": kid, "use": "sig"})
            }
            Key::Rsa(k) => {
                json!({"kty": "RSA", "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be()), "kid": kid})
            }
        }
    }

    fn sign(&self, alg: &str, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let sig = match (self, alg) {
            (Key::Ec(k), _) => {
                let s: p256::ecdsa::Signature = k.sign(input.as_bytes());
                s.to_bytes().to_vec()
            }
            (Key::Rsa(k), "PS256") => rsa::pss::BlindedSigningKey::<sha2::Sha256>::new((**k).clone())
                .sign_with_rng(&mut OsRng, input.as_bytes())
                .to_vec(),
            (Key::Rsa(k), _) => {
                rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone()).sign(input.as_bytes()).to_vec()
            }
        };
        format!("{input}.{}", b64(&sig))
    }
}

fn claims(live: &Live) -> Value {
    let now = crate::now();
    json!({"iss": ID, "sub": ID, "aud": live.url("/token"), "iat": now, "exp": now + 60, "jti": idp::ids::new_secret()})
}

async fn with_client(live: &Live, jwks: Option<Value>, jwks_uri: Option<String>) {
    let mut c = live::client(ID, AuthMethod::PrivateKeyJwt);
    c.grant_types = vec![GrantType::ClientCredentials];
    c.jwks = jwks;
    c.jwks_uri = jwks_uri;
    live::register(&live.env.db.db, c).await;
}

async fn token(live: &Live, form: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("grant_type", "client_credentials"), ("scope", "hpki")];
    all.extend_from_slice(form);
    let res = reqwest::Client::new().post(live.url("/token")).form(&all).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn with_assertion(live: &Live, assertion: &str) -> (u16, Value) {
    token(live, &[("client_assertion_type", TYPE), ("client_assertion", assertion)]).await
}

async fn valid_assertion_is_accepted_once(env: TestEnv) {
    let live = Live::start(env).await;
    let key = Key::Ec(p256::ecdsa::SigningKey::random(&mut OsRng));
    with_client(&live, Some(json!({"keys": [key.public_jwk("k1")]})), None).await;

    let assertion = key.sign("ES256", "k1", &claims(&live));
    let (status, body) = with_assertion(&live, &assertion).await;
    assert_eq!(status, 200, "{body}");
    let at = live
        .app
        .keys
        .verify_jws(body["access_token"].as_str().unwrap(), "at+jwt", crate::now())
        .await
        .unwrap();
    assert_eq!(at["client_id"], ID);

    // The same assertion again: its jti was used.
    let (status, body) = with_assertion(&live, &assertion).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: jti already used"}"#);

    // With client_id in the form, and the issuer as audience; at the introspection endpoint too.
    let mut c = claims(&live);
    c["aud"] = json!(live.base);
    let (status, body) = token(
        &live,
        &[
            ("client_id", ID),
            ("client_assertion_type", TYPE),
            ("client_assertion", &key.sign("ES256", "k1", &c)),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let res = reqwest::Client::new()
        .post(live.url("/introspect"))
        .form(&[
            ("token", body["access_token"].as_str().unwrap()),
            ("client_assertion_type", TYPE),
            ("client_assertion", &key.sign("ES256", "k1", &claims(&live))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], true);

    // A pushed authorization request authenticated by an assertion for the PAR endpoint.
    let mut c = claims(&live);
    c["aud"] = json!(live.url("/par"));
    let res = reqwest::Client::new()
        .post(live.url("/par"))
        .form(&[
            ("client_assertion_type", TYPE),
            ("client_assertion", &key.sign("ES256", "k1", &c)),
            ("response_type", "code"),
            ("client_id", ID),
            ("redirect_uri", live::REDIRECT),
            ("scope", "openid"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "the client may not use the code grant");
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"unauthorized_client","error_description":"the client may not use the authorization code grant"}"#);

    let meta: Value =
        reqwest::get(live.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert!(
        meta["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt"))
    );
    assert_eq!(meta["token_endpoint_auth_signing_alg_values_supported"], json!(["RS256", "PS256", "ES256"]));
}

async fn bad_assertions_are_invalid_client(env: TestEnv) {
    let live = Live::start(env).await;
    let key = Key::Ec(p256::ecdsa::SigningKey::random(&mut OsRng));
    with_client(&live, Some(json!({"keys": [key.public_jwk("k1")]})), None).await;
    let now = crate::now();

    let mut c = claims(&live);
    c["aud"] = json!("https://other-idp.example.jp/token");
    let (status, body) = with_assertion(&live, &key.sign("ES256", "k1", &c)).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: aud must be the issuer or the token endpoint URL"}"#);

    let mut c = claims(&live);
    c["exp"] = json!(now - 120);
    let (status, body) = with_assertion(&live, &key.sign("ES256", "k1", &c)).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: assertion expired"}"#);

    let mut c = claims(&live);
    c["exp"] = json!(now + 3600);
    let (_, body) = with_assertion(&live, &key.sign("ES256", "k1", &c)).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: assertion lifetime is too long"}"#);

    let other = Key::Ec(p256::ecdsa::SigningKey::random(&mut OsRng));
    let (status, body) = with_assertion(&live, &other.sign("ES256", "k1", &claims(&live))).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: signature does not verify with a registered key"}"#);

    let mut c = claims(&live);
    c["iss"] = json!("someone-else");
    let (status, body) = with_assertion(&live, &key.sign("ES256", "k1", &c)).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: iss must be the client_id"}"#);

    let mut c = claims(&live);
    c.as_object_mut().unwrap().remove("jti");
    let (_, body) = with_assertion(&live, &key.sign("ES256", "k1", &c)).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: jti is required"}"#);

    // Algorithm confusion: an HS256 "signature" is refused before any key is tried.
    let (_, body) = with_assertion(&live, &key.sign("HS256", "k1", &claims(&live))).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: alg must be RS256, PS256 or ES256"}"#);

    let (_, body) = token(
        &live,
        &[
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &key.sign("ES256", "k1", &claims(&live))),
        ],
    )
    .await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client assertion rejected: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}"#);

    // A client registered for client_secret_basic cannot switch to an assertion.
    let mut c = claims(&live);
    c["iss"] = json!(live::CLIENT_ID);
    c["sub"] = json!(live::CLIENT_ID);
    let (status, body) = with_assertion(&live, &key.sign("ES256", "k1", &c)).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
}

async fn keys_from_jwks_uri_rs256_and_ps256(env: TestEnv) {
    let live = Live::start(env).await;
    let rsa =
        tokio::task::spawn_blocking(|| rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap()).await.unwrap();
    let key = Key::Rsa(Box::new(rsa));
    let jwks = Arc::new(Mutex::new(json!({"keys": [key.public_jwk("r1")]})));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let published = jwks.clone();
    let served = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let jwks = published.lock().unwrap().clone();
            async move { axum::Json(jwks) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });
    with_client(&live, None, Some(jwks_uri)).await;

    for alg in ["RS256", "PS256"] {
        let (status, body) = with_assertion(&live, &key.sign(alg, "r1", &claims(&live))).await;
        assert_eq!(status, 200, "{alg}: {body}");
    }
    // PS256-signed bytes claimed as RS256 do not verify.
    let signed = key.sign("PS256", "r1", &claims(&live));
    let (_, rest) = signed.split_once('.').unwrap();
    let header = json!({"alg": "RS256", "kid": "r1", "typ": "JWT"});
    let forged = format!("{}.{rest}", b64(header.to_string().as_bytes()));
    let (status, _) = with_assertion(&live, &forged).await;
    assert_eq!(status, 401);

    // The client rotates to a new key: an unknown kid makes the idp fetch its keys again.
    let rotated = Key::Ec(p256::ecdsa::SigningKey::random(&mut OsRng));
    *jwks.lock().unwrap() = json!({"keys": [rotated.public_jwk("e2")]});
    let (status, body) = with_assertion(&live, &rotated.sign("ES256", "e2", &claims(&live))).await;
    assert_eq!(status, 200, "{body}");
}
