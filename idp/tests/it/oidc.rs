//! End to end with the `openidconnect` crate as the relying party: an RP that knows nothing of
//! shikaku signs a doctor in by card and gets valid tokens.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_ID, CLIENT_SECRET, Live, REDIRECT, browser, query_param};

storage::each_backend!(
    code_flow_with_card_sign_in,
    code_is_single_use,
    pkce_and_redirect_must_match,
    prompt_none_and_max_age,
    client_credentials_grant,
    bad_client_credentials,
);

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn rp(live: &Live) -> (CoreProviderMetadata, reqwest::Client) {
    let http = http();
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(live.base.clone()).unwrap(), &http)
        .await
        .unwrap();
    (meta, http)
}

async fn code_flow_with_card_sign_in(env: TestEnv) {
    let live = Live::start(env).await;
    let (meta, http) = rp(&live).await;
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(CLIENT_ID.into()),
        Some(ClientSecret::new(CLIENT_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("hpki".into()))
        .set_pkce_challenge(challenge)
        .url();

    let b = browser();
    let back = live::authorize(&live, &b, url.as_str(), "doctor-auth").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(live.base.as_str()));
    let code = query_param(&back, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier =
        client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&verifier, &nonce).expect("the ID token verifies");
    assert_eq!(claims.issuer().as_str(), live.base);
    assert_eq!(claims.audiences()[0].as_str(), CLIENT_ID);
    let name = claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
    assert_eq!(name.as_deref(), Some("日本　太郎"));
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("phrh"));
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|a| a.as_str().to_owned()).collect();
    assert_eq!(amr, ["sc", "pin", "hwk", "mfa"]);
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("日本　太郎"));

    // The HPKI claims, as raw JSON.
    let raw: serde_json::Value = http
        .get(live.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["hc_roles"], serde_json::json!(["Medical Doctor"]));
    assert_eq!(raw["hpki"]["subscriber_id"], "TESTJ00001");
    assert_eq!(raw["name#ja-Latn"], "Taro Nihon");

    // A second authorization in the same browser needs no new sign-in and no new consent.
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let res = b.get(url.as_str()).send().await.unwrap();
    assert!(live::location(&res).starts_with(REDIRECT), "single sign-on");

    // Same card again: the same account.
    let accounts = idp::store::accounts::find_accounts(&live.env.db.db).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, claims.subject().as_str());
}

async fn code_for(live: &Live, extra: &[(&str, &str)]) -> (String, String) {
    live::code(live, CLIENT_ID, "openid profile", extra).await
}

async fn token_request(live: &Live, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let res = http()
        .post(live.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn code_is_single_use(env: TestEnv) {
    let live = Live::start(env).await;
    let (code, verifier) = code_for(&live, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
    ];
    let (status, body) = token_request(&live, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let (status, body) = token_request(&live, &form).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"authorization code already used"}"#);
    let (_, body) = token_request(
        &live,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nonsense"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"authorization code is invalid or expired"}"#);
}

async fn pkce_and_redirect_must_match(env: TestEnv) {
    let live = Live::start(env).await;
    let (code, verifier) = code_for(&live, &[]).await;
    let wrong = idp::ids::random(32);
    let (status, body) = token_request(
        &live,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"PKCE verification failed"}"#);
    // The code is spent even by a failed attempt.
    let (_, body) = token_request(
        &live,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");

    let (code, verifier) = code_for(&live, &[]).await;
    let (_, body) = token_request(
        &live,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example.jp/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"redirect_uri does not match the authorization request"}"#);
}

async fn prompt_none_and_max_age(env: TestEnv) {
    let live = Live::start(env).await;
    let url = |extra: &str| {
        format!(
            "{}?response_type=code&client_id={CLIENT_ID}&redirect_uri={}&scope=openid&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256{extra}",
            live.url("/authorize"),
            form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        )
    };
    let b = browser();
    // Not signed in and prompt=none: login_required goes back to the client.
    let res = b.get(url("&prompt=none")).send().await.unwrap();
    let back = live::location(&res);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "error").as_deref(), Some("login_required"), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("s1"));
    // Sign in once.
    let back = live::authorize(&live, &b, &url(""), "doctor-auth").await;
    assert!(query_param(&back, "code").is_some());
    // Now prompt=none succeeds silently.
    let res = b.get(url("&prompt=none")).send().await.unwrap();
    assert!(query_param(&live::location(&res), "code").is_some());
    // max_age=0 after a sign-in a second ago asks for a new sign-in.
    live.app.clock.advance(std::time::Duration::from_secs(1));
    let res = b.get(url("&max_age=0")).send().await.unwrap();
    assert!(live::location(&res).starts_with("/login?request="));
    // prompt=login too.
    let res = b.get(url("&prompt=login")).send().await.unwrap();
    assert!(live::location(&res).starts_with("/login?request="));
    // Unknown acr values cannot be met.
    let res = b.get(url("&acr_values=urn:unknown")).send().await.unwrap();
    assert_eq!(
        query_param(&live::location(&res), "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
}

async fn client_credentials_grant(env: TestEnv) {
    let live = Live::start(env).await;
    let (status, body) =
        token_request(&live, &[("grant_type", "client_credentials"), ("scope", "hpki")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("id_token").is_none());
    let at = body["access_token"].as_str().unwrap();
    let claims = live.app.keys.verify_jws(at, "at+jwt", crate::now()).await.unwrap();
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["scope"], "hpki");
    let (status, body) =
        token_request(&live, &[("grant_type", "client_credentials"), ("scope", "openid")]).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_scope","error_description":"scope openid is not allowed for this client"}"#);
    let (_, body) = token_request(&live, &[("grant_type", "password")]).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unsupported_grant_type","error_description":"grant_type must be authorization_code, refresh_token or client_credentials"}"#);
}

async fn bad_client_credentials(env: TestEnv) {
    let live = Live::start(env).await;
    let res = http()
        .post(live.url("/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"shikaku\"");
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
    let res = http()
        .post(live.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "nobody"), ("client_secret", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = http().post(live.url("/token")).body("not a form").send().await.unwrap();
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"invalid_request","error_description":"the body must be application/x-www-form-urlencoded"}"#);
}
