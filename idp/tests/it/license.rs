//! The `license` scope (docs/design.md §7): registry attributes (registration number, birth date, kana
//! name) are released only with that scope, and only when the registry has the card holder.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::store::identities::{Identity, upsert_identities};
use idp::store::{accounts, clients as client_store};
use serde_json::Value;
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_ID, Live, REDIRECT};

storage::each_backend!(
    license_claims_need_the_scope_and_a_registry_entry,
    roles_claim_lists_the_card_holders_roles
);

/// Signs in with `scope`; returns the ID token's claims and the userinfo response.
async fn sign_in(live: &Live, scope: &str) -> (Value, Value) {
    let (code, verifier) = live::code(live, CLIENT_ID, scope, &[("nonce", "n-1")]).await;
    let (status, tokens) = live::post_as(
        live,
        "/token",
        CLIENT_ID,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let payload = tokens["id_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    let id_claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let info: Value = reqwest::Client::new()
        .get(live.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id_claims, info)
}

async fn license_claims_need_the_scope_and_a_registry_entry(env: TestEnv) {
    let live = Live::start(env).await;
    let db = &live.env.db.db;
    let mut client = client_store::find_client(db, CLIENT_ID).await.unwrap().unwrap();
    client.scopes.push("license".into());
    client.scopes.push("roles".into());
    client_store::update_client(db, &client).await.unwrap();

    // Not in the registry yet: no license claims, but the sign-in works.
    let (id, info) = sign_in(&live, "openid license").await;
    assert!(id.get("medical_registration_number").is_none(), "{id}");
    assert!(info.get("medical_registration_number").is_none(), "{info}");

    // The registry names the card holder by issuing CA and subscriber id.
    let account = &accounts::find_accounts(db).await.unwrap()[0];
    let card = &accounts::find_cards(db, &account.id).await.unwrap()[0];
    let identity = Identity {
        issuer: card.issuer.clone(),
        subscriber_id: card.subscriber_id.clone(),
        registration_number: "234567".into(),
        birth_date: "1980-04-01".into(),
        kana_name: "ニホン　タロウ".into(),
    };
    upsert_identities(db, std::slice::from_ref(&identity), 0).await.unwrap();

    let (id, info) = sign_in(&live, "openid license").await;
    for claims in [&id, &info] {
        assert_eq!(claims["medical_registration_number"], "234567", "{claims}");
        assert_eq!(claims["birthdate"], "1980-04-01");
        assert_eq!(claims["name#ja-Kana-JP"], "ニホン　タロウ");
        assert!(claims.get("hpki").is_none(), "hpki claims need their own scope: {claims}");
    }

    // Without the scope, nothing of the registry is released.
    let (id, info) = sign_in(&live, "openid profile hpki").await;
    assert!(id.get("medical_registration_number").is_none() && id.get("birthdate").is_none(), "{id}");
    assert!(info.get("medical_registration_number").is_none() && info.get("name#ja-Kana-JP").is_none());
    assert_eq!(info["hpki"]["subscriber_id"], "TESTJ00001");

    // The registry is authoritative: a changed entry replaces the old one.
    upsert_identities(db, &[Identity { registration_number: "345678".into(), ..identity }], 1).await.unwrap();
    let (_, info) = sign_in(&live, "openid license").await;
    assert_eq!(info["medical_registration_number"], "345678");
}

async fn roles_claim_lists_the_card_holders_roles(env: TestEnv) {
    let live = Live::start(env).await;
    let db = &live.env.db.db;
    let mut client = client_store::find_client(db, CLIENT_ID).await.unwrap().unwrap();
    client.scopes.push("roles".into());
    client_store::update_client(db, &client).await.unwrap();

    let (id, info) = sign_in(&live, "openid roles").await;
    assert_eq!(id["roles"], serde_json::json!([]), "{id}");
    assert_eq!(info["roles"], serde_json::json!([]), "{info}");

    let account = &accounts::find_accounts(db).await.unwrap()[0];
    let card = &accounts::find_cards(db, &account.id).await.unwrap()[0];
    for role in ["organizer", "operator"] {
        assert!(
            idp::store::roles::create_role(db, &card.issuer, &card.subscriber_id, role, 0).await.unwrap()
        );
    }
    assert!(
        !idp::store::roles::create_role(db, &card.issuer, &card.subscriber_id, "organizer", 0).await.unwrap()
    );
    let (id, info) = sign_in(&live, "openid roles").await;
    assert_eq!(id["roles"], serde_json::json!(["operator", "organizer"]));
    assert_eq!(info["roles"], serde_json::json!(["operator", "organizer"]));
    // Without the scope there is no roles claim.
    let (id, _) = sign_in(&live, "openid profile").await;
    assert!(id.get("roles").is_none(), "{id}");
    let meta: Value =
        reqwest::get(live.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert!(meta["scopes_supported"].as_array().unwrap().iter().any(|s| s == "roles"), "{meta}");
}
