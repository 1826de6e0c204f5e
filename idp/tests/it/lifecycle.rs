//! Refresh tokens (rotation, replay detection), code replay, introspection and revocation.

use idp::clients::{AuthMethod, GrantType};
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_ID, Live, REDIRECT, post_as};

storage::each_backend!(
    refresh_rotates_and_replay_revokes_the_family,
    no_refresh_token_without_offline_access,
    replayed_code_revokes_its_tokens,
    introspection_and_revocation,
);

const OFFLINE: &str = "offline-app";

async fn live_with_offline_client(env: TestEnv) -> Live {
    let live = Live::start(env).await;
    let mut c = live::client(OFFLINE, AuthMethod::ClientSecretBasic);
    c.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    c.scopes = vec!["openid".into(), "profile".into(), "offline_access".into()];
    live::register(&live.env.db.db, c).await;
    live
}

async fn offline_tokens(live: &Live) -> serde_json::Value {
    let (code, verifier) = live::code(live, OFFLINE, "openid profile offline_access", &[]).await;
    let (status, body) = post_as(
        live,
        "/token",
        OFFLINE,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh(live: &Live, token: &str) -> (u16, serde_json::Value) {
    post_as(live, "/token", OFFLINE, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
}

async fn refresh_rotates_and_replay_revokes_the_family(env: TestEnv) {
    let live = live_with_offline_client(env).await;
    let first = offline_tokens(&live).await;
    let r1 = first["refresh_token"].as_str().expect("a refresh token with offline_access").to_owned();
    assert_eq!(r1.len(), 43);

    let (status, second) = refresh(&live, &r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    assert!(second["id_token"].is_string());
    assert_eq!(second["scope"], "openid profile offline_access");

    // Narrowing the scope is allowed, widening is not.
    let (status, body) = post_as(
        &live,
        "/token",
        OFFLINE,
        &[("grant_type", "refresh_token"), ("refresh_token", &r2), ("scope", "openid hpki")],
    )
    .await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_scope","error_description":"scope hpki was not granted"}"#);

    // r1 again: a replay. The family, r2 included, is revoked.
    let (status, body) = refresh(&live, &r1).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"refresh token already used; every token of this grant is revoked"}"#);
    let (_, body) = refresh(&live, &r2).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"refresh token was revoked"}"#);

    // Another client cannot use it.
    let third = offline_tokens(&live).await;
    let r3 = third["refresh_token"].as_str().unwrap();
    let (_, body) =
        post_as(&live, "/token", CLIENT_ID, &[("grant_type", "refresh_token"), ("refresh_token", r3)]).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unauthorized_client","error_description":"the client may not use the refresh token grant"}"#);
}

async fn no_refresh_token_without_offline_access(env: TestEnv) {
    let live = live_with_offline_client(env).await;
    let (code, verifier) = live::code(&live, OFFLINE, "openid profile", &[]).await;
    let (_, body) = post_as(
        &live,
        "/token",
        OFFLINE,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert!(body.get("refresh_token").is_none(), "{body}");
}

async fn replayed_code_revokes_its_tokens(env: TestEnv) {
    let live = live_with_offline_client(env).await;
    let (code, verifier) = live::code(&live, OFFLINE, "openid profile offline_access", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (_, tokens) = post_as(&live, "/token", OFFLINE, &form).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let userinfo = |at: String| {
        let url = live.url("/userinfo");
        async move { reqwest::Client::new().get(url).bearer_auth(at).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(userinfo(access.to_owned()).await, 200);

    let (status, _) = post_as(&live, "/token", OFFLINE, &form).await;
    assert_eq!(status, 400);
    assert_eq!(userinfo(access.to_owned()).await, 401, "the access token from the replayed code is revoked");
    let (_, body) = refresh(&live, refresh_token).await;
    assert_eq!(body["error_description"], "refresh token was revoked");
}

async fn introspection_and_revocation(env: TestEnv) {
    let live = live_with_offline_client(env).await;
    let tokens = offline_tokens(&live).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let (status, info) = post_as(&live, "/introspect", OFFLINE, &[("token", access)]).await;
    assert_eq!(status, 200);
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], OFFLINE);
    assert_eq!(info["scope"], "openid profile offline_access");
    let (_, info) = post_as(
        &live,
        "/introspect",
        OFFLINE,
        &[("token", refresh_token), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");

    // Another client learns nothing.
    let (_, info) = post_as(&live, "/introspect", CLIENT_ID, &[("token", access)]).await;
    insta::assert_snapshot!(info.to_string(), @r#"{"active":false}"#);
    let (_, info) = post_as(&live, "/introspect", OFFLINE, &[("token", "garbage")]).await;
    insta::assert_snapshot!(info.to_string(), @r#"{"active":false}"#);

    // Revoking the access token ends it; revoking the refresh token ends the family.
    let (status, _) = post_as(&live, "/revoke", OFFLINE, &[("token", access)]).await;
    assert_eq!(status, 200);
    let (_, info) = post_as(&live, "/introspect", OFFLINE, &[("token", access)]).await;
    assert_eq!(info["active"], false);
    let (status, _) = post_as(&live, "/revoke", OFFLINE, &[("token", refresh_token)]).await;
    assert_eq!(status, 200);
    let (_, body) = refresh(&live, refresh_token).await;
    assert_eq!(body["error_description"], "refresh token was revoked");
    // Unknown tokens: 200 all the same.
    let (status, _) = post_as(&live, "/revoke", OFFLINE, &[("token", "unknown")]).await;
    assert_eq!(status, 200);
    let (status, body) =
        post_as(&live, "/revoke", OFFLINE, &[("token", "x"), ("token_type_hint", "id_token")]).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unsupported_token_type","error_description":"token_type_hint must be access_token or refresh_token"}"#);
    let (status, body) = post_as(&live, "/introspect", "nobody", &[("token", access)]).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}
