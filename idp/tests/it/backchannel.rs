//! Back-channel logout: a real relying-party listener receives the logout token after an
//! RP-initiated logout and after the account's suspension; a failing one is retried and every
//! attempt audited.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::clients::AuthMethod;
use p256::ecdsa::signature::Verifier;
use serde_json::Value;
use sqlx::Row;
use storage::testing::TestEnv;
use tokio::sync::mpsc;

use crate::live::{self, Live, REDIRECT, browser, post_as, query_param};

storage::each_backend!(
    logout_token_reaches_the_rp,
    failing_rp_is_retried_and_audited,
    new_sign_in_revokes_the_previous_session,
    suspending_the_account_ends_its_sessions,
);

const RP: &str = "bcl-rp";

/// A relying party's back-channel endpoint: forwards each `logout_token` and answers `status`.
async fn rp_listener(status: StatusCode) -> (String, mpsc::UnboundedReceiver<String>, Arc<AtomicUsize>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let hits = Arc::new(AtomicUsize::new(0));
    let state = (tx, hits.clone(), status);
    let app = axum::Router::new()
        .route(
            "/backchannel",
            axum::routing::post(
                |State((tx, hits, status)): State<(
                    mpsc::UnboundedSender<String>,
                    Arc<AtomicUsize>,
                    StatusCode,
                )>,
                 axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let _ = tx.send(form.get("logout_token").cloned().unwrap_or_default());
                    status
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (uri, rx, hits)
}

/// Signs in to `RP` in a browser and gets its tokens; returns the browser and the ID token claims
/// and text.
async fn signed_in(live: &Live) -> (reqwest::Client, Value, String) {
    use sha2::Digest;
    let verifier = idp::ids::random(32);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", RP),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let b = browser();
    let back = live::authorize(live, &b, &format!("{}?{query}", live.url("/authorize")), "doctor-auth").await;
    let code = query_param(&back, "code").unwrap();
    let (status, tokens) = post_as(
        live,
        "/token",
        RP,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let claims = live.app.keys.verify_jws(&id_token, "JWT", crate::now()).await.unwrap();
    (b, claims, id_token)
}

async fn logout(live: &Live, b: &reqwest::Client, id_token: &str) {
    let res = b.get(format!("{}?id_token_hint={id_token}", live.url("/logout"))).send().await.unwrap();
    assert_eq!(res.status(), 200, "logged out at once with a matching hint");
}

async fn audited(live: &Live) -> Vec<(String, Value)> {
    sqlx::query("SELECT outcome, detail FROM audit_log WHERE event = 'backchannel_logout' ORDER BY seq")
        .fetch_all(live.env.db.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (r.get::<String, _>("outcome"), serde_json::from_str(&r.get::<String, _>("detail")).unwrap())
        })
        .collect()
}

/// Waits (bounded) until the audit log holds an entry with `outcome`.
async fn until_audited(live: &Live, outcome: &str) -> Vec<(String, Value)> {
    for _ in 0..200 {
        let entries = audited(live).await;
        if entries.iter().any(|(o, _)| o == outcome) {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {outcome} entry: {:?}", audited(live).await);
}

async fn logout_token_reaches_the_rp(env: TestEnv) {
    let live = Live::start(env).await;
    let (uri, mut received, _) = rp_listener(StatusCode::OK).await;
    let mut c = live::client(RP, AuthMethod::ClientSecretBasic);
    c.backchannel_logout_uri = Some(uri);
    live::register(&live.env.db.db, c).await;
    let meta: Value =
        reqwest::get(live.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);

    let (b, id_claims, id_token) = signed_in(&live).await;
    logout(&live, &b, &id_token).await;
    let token = tokio::time::timeout(Duration::from_secs(30), received.recv()).await.unwrap().unwrap();

    // Verify as an RP would: the key from /jwks by kid, ES256 over the signing input.
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
    let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], "ES256");
    let jwks: Value = reqwest::get(live.url("/jwks")).await.unwrap().json().await.unwrap();
    let jwk =
        jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("kid in /jwks");
    let point = p256::EncodedPoint::from_affine_coordinates(
        decode(jwk["x"].as_str().unwrap()).as_slice().into(),
        decode(jwk["y"].as_str().unwrap()).as_slice().into(),
        false,
    );
    let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&decode(parts[2])).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).expect("signature verifies");

    let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(claims["iss"], live.base);
    assert_eq!(claims["aud"], RP);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(
        claims["events"],
        serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert!(exp > iat);

    let entries = until_audited(&live, "success").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].1["attempt"], 1);
    assert_eq!(entries[0].1["status"], 200);
}

async fn failing_rp_is_retried_and_audited(env: TestEnv) {
    let live = Live::start_with(env, |c| idp::IdpConfig {
        backchannel_attempts: 3,
        backchannel_retry_base: Duration::from_millis(20),
        ..c
    })
    .await;
    let (uri, _received, hits) = rp_listener(StatusCode::INTERNAL_SERVER_ERROR).await;
    let mut c = live::client(RP, AuthMethod::ClientSecretBasic);
    c.backchannel_logout_uri = Some(uri);
    live::register(&live.env.db.db, c).await;

    let (b, _, id_token) = signed_in(&live).await;
    logout(&live, &b, &id_token).await;
    let entries = until_audited(&live, "gave_up").await;
    let outcomes: Vec<&str> = entries.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(outcomes, ["error", "error", "error", "gave_up"]);
    for (i, (_, detail)) in entries.iter().take(3).enumerate() {
        assert_eq!(detail["attempt"], i + 1);
        assert_eq!(detail["status"], 500);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

async fn new_sign_in_revokes_the_previous_session(env: TestEnv) {
    let live = Live::start(env).await;
    let (uri, mut received, _) = rp_listener(StatusCode::OK).await;
    let mut c = live::client(RP, AuthMethod::ClientSecretBasic);
    c.backchannel_logout_uri = Some(uri);
    live::register(&live.env.db.db, c).await;
    let (b, id_claims, _) = signed_in(&live).await;

    // Another card signs in on the same browser: the first session ends and the RP is told.
    let (status, body) = live::card_sign_in(&live, &b, "/login", "doctor-auth-p256").await;
    assert_eq!(status, 200, "{body}");
    let token = tokio::time::timeout(Duration::from_secs(30), received.recv()).await.unwrap().unwrap();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    let revoked: Vec<String> = sqlx::query("SELECT outcome FROM audit_log WHERE event = 'session_revoked'")
        .fetch_all(live.env.db.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("outcome"))
        .collect();
    assert_eq!(revoked, ["replaced_by_sign_in"]);
    until_audited(&live, "success").await;
}

/// The idp as another process on the same database sees it (an admin command): its own
/// in-memory store when the server keeps sessions in memory, the same Redis otherwise.
async fn admin_process(live: &Live) -> Arc<idp::App> {
    let kv: Arc<dyn storage::Kv> = if live.env.kv.backend() == storage::kv::KvBackend::Memory {
        Arc::new(storage::kv::MemoryKv::new())
    } else {
        live.env.kv.clone()
    };
    let probes = web::ops::Probes { db: live.env.db.db.clone(), kv, metrics: web::metrics::recorder() };
    let config = idp::IdpConfig {
        signing_algs: vec![keys::SigningAlg::ES256, keys::SigningAlg::RS256],
        outbound: live.app.config.outbound.clone(),
        ..idp::IdpConfig::new(&live.base)
    };
    let templates = Arc::new(web::Templates::load().unwrap());
    idp::build(config, probes, templates, live.master.clone(), live.app.clock.clone()).await.unwrap().1
}

async fn suspending_the_account_ends_its_sessions(env: TestEnv) {
    let live = Live::start(env).await;
    let (uri, mut received, _) = rp_listener(StatusCode::OK).await;
    let mut c = live::client(RP, AuthMethod::ClientSecretBasic);
    c.backchannel_logout_uri = Some(uri);
    c.grant_types.push(idp::clients::GrantType::RefreshToken);
    c.scopes.push("offline_access".into());
    live::register(&live.env.db.db, c).await;
    let b = browser();
    let (code, verifier) = live::code_in(&live, &b, RP, "openid offline_access", &[]).await;
    let (status, tokens) = post_as(
        &live,
        "/token",
        RP,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().expect("offline access").to_owned();
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let id_claims =
        live.app.keys.verify_jws(tokens["id_token"].as_str().unwrap(), "JWT", crate::now()).await.unwrap();
    let accounts = idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let (_, info) = post_as(&live, "/introspect", RP, &[("token", &access_token)]).await;
    assert_eq!(info["active"], true, "{info}");
    let userinfo = || browser().get(live.url("/userinfo")).bearer_auth(&access_token).send();
    assert_eq!(userinfo().await.unwrap().status(), 200);
    let account_id = accounts[0].id.clone();

    // The suspension runs in another process, which cannot reach the server's memory.
    let admin = admin_process(&live).await;
    let done = idp::accounts::suspension::suspend(&admin, &account_id, crate::now()).await.unwrap().unwrap();
    assert_eq!(done.refresh_tokens_revoked, 1);
    assert_eq!(done.sessions_ended, [id_claims["sid"].as_str().unwrap()]);
    assert_eq!(
        done.backchannel_logout,
        [idp::logout::backchannel::Delivery { client_id: RP.into(), delivered: true }]
    );
    let token = tokio::time::timeout(Duration::from_secs(30), received.recv()).await.unwrap().unwrap();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(
        (&claims["sid"], &claims["sub"], &claims["aud"]),
        (&id_claims["sid"], &id_claims["sub"], &id_claims["aud"])
    );
    assert!(
        idp::accounts::suspension::suspend(&admin, "no-such-account", crate::now()).await.unwrap().is_none()
    );

    // The browser's session is over at the server: prompt=none says login_required.
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", RP),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let res = b.get(format!("{}?{query}", live.url("/authorize"))).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(query_param(&live::location(&res), "error").as_deref(), Some("login_required"));
    // The access token, not yet expired, is no longer active: at introspection and at userinfo.
    let (_, info) = post_as(&live, "/introspect", RP, &[("token", &access_token)]).await;
    insta::assert_snapshot!(info.to_string(), @r#"{"active":false}"#);
    let res = userinfo().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"].to_str().unwrap(),
        r#"Bearer realm="shikaku", error="invalid_token", error_description="the account is suspended""#
    );
    // The refresh token is revoked.
    let (status, body) =
        post_as(&live, "/token", RP, &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)])
            .await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"refresh token was revoked"}"#);
    // And the card signs in no more.
    let (status, body) = live::card_sign_in(&live, &browser(), "/login", "doctor-auth").await;
    assert_eq!(status, 403);
    insta::assert_snapshot!(body.to_string(), @r#"{"code":"account_suspended","detail":"this account is suspended","status":403,"title":"Account suspended","type":"/problems/account-suspended"}"#);
    until_audited(&live, "success").await;
    let audit = idp::audit::verify(&live.env.db.db).await.unwrap();
    assert_eq!(audit.broken, None);
}
