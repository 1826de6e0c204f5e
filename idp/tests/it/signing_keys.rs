//! Signing keys: creation at first start, encryption at rest, JWKS, rotation with overlap.

use crate::now;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::IdpError;
use keys::{KeyError, KeyPair, KeyState, Keys, MasterKey, OWNER_IDP, SigningAlg};
use serde_json::{Value, json};
use storage::testing::TestEnv;

use crate::{POLICY, TestApp, body_json};

storage::each_backend!(
    first_start_creates_one_key_per_algorithm,
    jwks_publishes_public_parts_only,
    tokens_verify_with_the_published_key,
    rotation_publishes_before_signing_and_keeps_the_old_key,
    keys_survive_a_restart,
    wrong_master_key_is_refused_and_nothing_changes,
    private_keys_are_encrypted_at_rest,
    a_series_with_no_key_active_yet_gets_one_that_signs_now,
    an_algorithm_without_a_series_is_a_clear_error,
);

async fn first_start_creates_one_key_per_algorithm(env: TestEnv) {
    let t = TestApp::builder().algs(&SigningAlg::ALL).build(&env).await.unwrap();
    let listed = t.app.keys.list(now()).await.unwrap();
    let mut algs: Vec<_> = listed.iter().map(|(r, s)| (r.alg.clone(), *s)).collect();
    algs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        algs,
        [
            ("ES256".into(), KeyState::Active),
            ("PS256".into(), KeyState::Active),
            ("RS256".into(), KeyState::Active)
        ]
    );
    // A second start creates nothing new.
    let again =
        TestApp::builder().algs(&SigningAlg::ALL).master_key(&t.master_text).build(&env).await.unwrap();
    assert_eq!(again.app.keys.list(now()).await.unwrap().len(), 3);
}

async fn jwks_publishes_public_parts_only(env: TestEnv) {
    let t = TestApp::builder().algs(&[SigningAlg::ES256, SigningAlg::RS256]).build(&env).await.unwrap();
    let res = t.get("/jwks").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jwk-set+json");
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let set = body_json(res).await;
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].as_str().is_some_and(|s| s.len() == 43));
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "private member {private} published: {k}");
        }
    }
    let ec = keys.iter().find(|k| k["alg"] == "ES256").unwrap();
    assert_eq!((ec["kty"].as_str(), ec["crv"].as_str()), (Some("EC"), Some("P-256")));
    let rsa = keys.iter().find(|k| k["alg"] == "RS256").unwrap();
    assert_eq!(rsa["e"], "AQAB");
    assert_eq!(URL_SAFE_NO_PAD.decode(rsa["n"].as_str().unwrap()).unwrap().len(), 256, "RSA-2048");
}

/// Verifies a compact JWS against a JWK of the published set; returns the claims.
fn verify(jws: &str, set: &Value) -> Result<Value, String> {
    use p256::ecdsa::signature::Verifier;
    let parts: Vec<&str> = jws.split('.').collect();
    let [h, p, s] = parts[..] else { return Err("not three parts".into()) };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    let jwk = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or("kid not published")?;
    assert_eq!(jwk["alg"], header["alg"]);
    let input = format!("{h}.{p}");
    let sig = URL_SAFE_NO_PAD.decode(s).unwrap();
    let b = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let ok = match header["alg"].as_str().unwrap() {
        "ES256" => {
            let mut sec1 = vec![4u8];
            sec1.extend(b("x"));
            sec1.extend(b("y"));
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(&sig).map_err(|e| e.to_string())?;
            key.verify(input.as_bytes(), &sig).is_ok()
        }
        alg => {
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&b("n")),
                rsa::BigUint::from_bytes_be(&b("e")),
            )
            .unwrap();
            let hashed = <sha2::Sha256 as sha2::Digest>::digest(input.as_bytes());
            if alg == "PS256" {
                key.verify(rsa::Pss::new::<sha2::Sha256>(), &hashed, &sig).is_ok()
            } else {
                key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed, &sig).is_ok()
            }
        }
    };
    if !ok {
        return Err("bad signature".into());
    }
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap())
}

async fn tokens_verify_with_the_published_key(env: TestEnv) {
    let t = TestApp::builder().algs(&SigningAlg::ALL).build(&env).await.unwrap();
    let set = body_json(t.get("/jwks").await).await;
    for alg in SigningAlg::ALL {
        let signer = t.app.keys.signer(alg, now()).await.unwrap();
        let claims = json!({"iss": "http://127.0.0.1:8080", "sub": "doctor-1", "alg_test": alg.name()});
        let jws = signer.sign_jws("JWT", &claims).unwrap();
        assert_eq!(verify(&jws, &set).unwrap(), claims, "{alg}");
        // A changed payload fails.
        let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"someone-else"}"#);
        assert_eq!(verify(&parts.join("."), &set), Err("bad signature".into()), "{alg}");
    }
}

async fn rotation_publishes_before_signing_and_keeps_the_old_key(env: TestEnv) {
    let t = TestApp::builder().build(&env).await.unwrap();
    let keys = &t.app.keys;
    let t0 = now();
    let old = keys.signer(SigningAlg::ES256, t0).await.unwrap().kid();
    let new = keys.rotate(SigningAlg::ES256, t0).await.unwrap();
    let lead = POLICY.publish_lead.as_secs() as i64;
    let retention = POLICY.retention.as_secs() as i64;
    assert_eq!(new.signs_from, t0 + lead);

    let published = |set: Value| -> Vec<String> {
        set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    };
    // Right after the rotation: both published, the old one still signs.
    let at_t0 = published(keys.jwks(t0).await.unwrap());
    assert!(at_t0.contains(&old) && at_t0.contains(&new.kid), "{at_t0:?}");
    assert_eq!(keys.signer(SigningAlg::ES256, t0 + lead - 1).await.unwrap().kid(), old);
    // After the lead: the new key signs, the old one is still published.
    assert_eq!(keys.signer(SigningAlg::ES256, t0 + lead).await.unwrap().kid(), new.kid);
    assert!(published(keys.jwks(t0 + lead + retention - 1).await.unwrap()).contains(&old));
    // After the retention: the old key is gone from the set.
    assert_eq!(published(keys.jwks(t0 + lead + retention).await.unwrap()), vec![new.kid.clone()]);
    // And through HTTP now: both keys.
    let via_http = published(body_json(t.get("/jwks").await).await);
    assert_eq!(via_http.len(), 2);
}

async fn keys_survive_a_restart(env: TestEnv) {
    let first = TestApp::builder().build(&env).await.unwrap();
    let kid = first.app.keys.signer(SigningAlg::ES256, now()).await.unwrap().kid();
    let second = TestApp::builder().master_key(&first.master_text).build(&env).await.unwrap();
    assert_eq!(second.app.keys.signer(SigningAlg::ES256, now()).await.unwrap().kid(), kid);
}

async fn wrong_master_key_is_refused_and_nothing_changes(env: TestEnv) {
    let first = TestApp::builder().build(&env).await.unwrap();
    let before = first.app.keys.list(now()).await.unwrap().len();
    let (_, other) = MasterKey::generate();
    let err = TestApp::builder().master_key(&other).build(&env).await.expect_err("wrong key");
    let IdpError::Keys(KeyError::WrongMasterKey(kid)) = &err else { panic!("{err:?}") };
    assert_eq!(
        err.to_string(),
        format!(
            "the master key does not decrypt signing key {kid}: master_key/master_key_file is not the key this database was created with"
        )
    );
    assert_eq!(Keys::count(&env.db.db, OWNER_IDP).await.unwrap(), before);
}

async fn private_keys_are_encrypted_at_rest(env: TestEnv) {
    let t = TestApp::builder().build(&env).await.unwrap();
    let (kid, stored): (String, Vec<u8>) = sqlx::query_as("SELECT kid, private_key FROM signing_keys")
        .fetch_one(env.db.db.pool())
        .await
        .unwrap();
    let pair = t.app.keys.signer(SigningAlg::ES256, now()).await.unwrap();
    assert_eq!(pair.kid(), kid);
    let der = pair.to_pkcs8_der();
    assert!(!stored.windows(16).any(|w| der.windows(16).any(|d| d == w)), "no plaintext key material stored");
    let master = MasterKey::from_base64(&t.master_text).unwrap();
    let opened = master.open(&kid, &stored).unwrap();
    assert_eq!(KeyPair::from_pkcs8_der(SigningAlg::ES256, &opened).unwrap().kid(), kid);
}

async fn a_series_with_no_key_active_yet_gets_one_that_signs_now(env: TestEnv) {
    let t = TestApp::builder().build(&env).await.unwrap();
    let keys = &t.app.keys;
    let first = keys.list(now()).await.unwrap();
    assert_eq!(first.len(), 1);
    // A time before the first key's start (a clock set back): it does not sign yet...
    let earlier = first[0].0.signs_from - 3600;
    assert_eq!(keys.list(earlier).await.unwrap()[0].1, KeyState::Next);
    // ...so a key signing from then is created, and it verifies.
    let pair = keys.signer(SigningAlg::ES256, earlier).await.unwrap();
    assert_ne!(pair.kid(), first[0].0.kid);
    let listed = keys.list(earlier).await.unwrap();
    assert_eq!(listed.len(), 2);
    let created = listed.iter().find(|(r, _)| r.kid == pair.kid()).unwrap();
    assert_eq!((created.0.signs_from, created.1), (earlier, KeyState::Active));
    let jws = pair.sign_jws("JWT", &json!({ "sub": "x", "exp": earlier + 60 })).unwrap();
    assert_eq!(keys.verify_jws(&jws, "JWT", earlier).await.unwrap()["sub"], "x");
    // At the real time the first key signs again (it started later).
    assert_eq!(keys.signer(SigningAlg::ES256, now()).await.unwrap().kid(), first[0].0.kid);
}

async fn an_algorithm_without_a_series_is_a_clear_error(env: TestEnv) {
    let t = TestApp::builder().build(&env).await.unwrap();
    let err = t.app.keys.signer(SigningAlg::PS256, now()).await.map(|k| k.kid()).unwrap_err();
    assert_eq!(err.to_string(), "no PS256 signing key is active");
    assert_eq!(t.app.keys.list(now()).await.unwrap().len(), 1, "no key made for an unconfigured algorithm");
}
