//! What the idp keeps in memory for speed (client registrations, the signing-key list, the JWK
//! Set text) never hides a change made through this process, and a key made by another process
//! is found when a token needs it.

use crate::now;
use keys::SigningAlg;
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_ID, CLIENT_SECRET, Live};

storage::each_backend!(client_changes_in_this_process_apply_at_once, key_made_by_another_process_verifies,);

async fn client_credentials(live: &Live, secret: &str) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(live.url("/token"))
        .basic_auth(CLIENT_ID, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn client_changes_in_this_process_apply_at_once(env: TestEnv) {
    let live = Live::start(env).await;
    let db = &live.env.db.db;
    // Twice: the second answer comes from the cache.
    for _ in 0..2 {
        assert_eq!(client_credentials(&live, CLIENT_SECRET).await.0, 200);
    }
    // A new secret: the old one stops working at once.
    let mut c = idp::store::clients::find_client(db, CLIENT_ID).await.unwrap().unwrap();
    c.secret_hash = Some(idp::ids::hash("an-entirely-new-secret"));
    assert!(live.app.clients.update(db, &c).await.unwrap());
    let (status, body) = client_credentials(&live, CLIENT_SECRET).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    assert_eq!(client_credentials(&live, "an-entirely-new-secret").await.0, 200);
    // The grant withdrawn: refused at once.
    c.grant_types = vec![idp::clients::GrantType::AuthorizationCode];
    live.app.clients.update(db, &c).await.unwrap();
    let (status, body) = client_credentials(&live, "an-entirely-new-secret").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")));
    // Deleted: unknown at once.
    assert!(live.app.clients.delete(db, CLIENT_ID).await.unwrap());
    let (status, body) = client_credentials(&live, "an-entirely-new-secret").await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    // Registered again (the test client, with the test secret): works at once.
    live.app
        .clients
        .create(db, &live::client(CLIENT_ID, idp::clients::AuthMethod::ClientSecretBasic))
        .await
        .unwrap();
    assert_eq!(client_credentials(&live, CLIENT_SECRET).await.0, 200);
}

async fn key_made_by_another_process_verifies(env: TestEnv) {
    let first = crate::TestApp::builder().build(&env).await.unwrap();
    // The app has read its key list: its JWK Set has its one key.
    let before = crate::body_json(first.get("/jwks").await).await;
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    first.app.keys.signer(SigningAlg::ES256, now()).await.unwrap();
    // Another process on the same database, configured with PS256 too, makes a PS256 key that
    // signs at once, and signs a token with it.
    let second = crate::TestApp::builder()
        .algs(&[SigningAlg::ES256, SigningAlg::PS256])
        .master_key(&first.master_text)
        .build(&env)
        .await
        .unwrap();
    let signer = second.app.keys.signer(SigningAlg::PS256, now()).await.unwrap();
    let jws = signer.sign_jws("at+jwt", &serde_json::json!({ "sub": "x", "exp": now() + 60 })).unwrap();
    // The first process does not know that kid from its cached list: it reads the list again.
    let claims = first.app.keys.verify_jws(&jws, "at+jwt", now()).await.unwrap();
    assert_eq!(claims["sub"], "x");
    // Its JWK Set text is rebuilt from the list read again.
    let after = crate::body_json(first.get("/jwks").await).await;
    let kids: Vec<&str> =
        after["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&signer.kid().as_str()), "{kids:?}");
}
