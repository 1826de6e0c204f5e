//! Pushed authorization requests (RFC 9126): push, authorize with the `request_uri`, card
//! sign-in, token; single use, binding to the client, `require_par`.

use idp::clients::AuthMethod;
use sha2::Digest;
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_ID, Live, REDIRECT, browser, post_as, query_param};

storage::each_backend!(
    par_then_authorize_then_token,
    request_uri_is_single_use_and_bound_to_its_client,
    par_refuses_bad_requests,
    require_par_refuses_plain_authorize,
    par_with_an_openidconnect_relying_party,
);

fn pkce() -> (String, String) {
    use base64::Engine;
    let verifier = idp::ids::random(32);
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn push(live: &Live, client_id: &str, challenge: &str) -> (u16, serde_json::Value) {
    post_as(
        live,
        "/par",
        client_id,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile"),
            ("state", "pushed-state"),
            ("nonce", "n-1"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await
}

fn authorize_url(live: &Live, client_id: &str, request_uri: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("client_id", client_id), ("request_uri", request_uri)])
        .finish();
    format!("{}?{query}", live.url("/authorize"))
}

async fn par_then_authorize_then_token(env: TestEnv) {
    let live = Live::start(env).await;
    let meta: serde_json::Value =
        reqwest::get(live.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(meta["pushed_authorization_request_endpoint"], live.url("/par"));
    assert_eq!(meta["require_pushed_authorization_requests"], false);

    let (verifier, challenge) = pkce();
    let (status, body) = push(&live, CLIENT_ID, &challenge).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{request_uri}");

    let back =
        live::authorize(&live, &browser(), &authorize_url(&live, CLIENT_ID, request_uri), "doctor-auth")
            .await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some("pushed-state"),
        "the pushed parameters are used"
    );
    let code = query_param(&back, "code").unwrap();
    let (status, tokens) = post_as(
        &live,
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
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = live.app.keys.verify_jws(id_token, "JWT", crate::now()).await.unwrap();
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["aud"], CLIENT_ID);
}

async fn request_uri_is_single_use_and_bound_to_its_client(env: TestEnv) {
    let live = Live::start(env).await;
    live::register(&live.env.db.db, live::client("other-rp", AuthMethod::ClientSecretBasic)).await;
    let (_, challenge) = pkce();
    let (_, body) = push(&live, CLIENT_ID, &challenge).await;
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    let b = browser();

    // Another client's id does not find it (and does not spend it).
    let res = b.get(authorize_url(&live, "other-rp", &request_uri)).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("request_uri"));

    // The right client: used once.
    let res = b.get(authorize_url(&live, CLIENT_ID, &request_uri)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(live::location(&res).starts_with("/login?request="));
    let res = b.get(authorize_url(&live, CLIENT_ID, &request_uri)).send().await.unwrap();
    assert_eq!(res.status(), 400, "a used request_uri");
    assert!(res.headers().get("location").is_none());

    // Unknown and malformed references.
    for bad in [
        "urn:ietf:params:oauth:request_uri:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "https://evil.example/x",
    ] {
        let res = b.get(authorize_url(&live, CLIENT_ID, bad)).send().await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        assert!(res.headers().get("location").is_none());
    }
    // No client_id at all.
    let res = b.get(format!("{}?request_uri={request_uri}", live.url("/authorize"))).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

async fn par_refuses_bad_requests(env: TestEnv) {
    let live = Live::start(env).await;
    let (_, challenge) = pkce();
    let res = reqwest::Client::new()
        .post(live.url("/par"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("response_type", "code"), ("redirect_uri", REDIRECT), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);

    let base = [("response_type", "code"), ("scope", "openid"), ("code_challenge_method", "S256")];
    let with = |extra: &[(&'static str, &str)]| {
        let mut f: Vec<(&str, String)> = base.iter().map(|(k, v)| (*k, v.to_string())).collect();
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };
    let post = |form: Vec<(&'static str, String)>| {
        let live = &live;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_as(live, "/par", CLIENT_ID, &form).await
        }
    };
    let (status, body) =
        post(with(&[("redirect_uri", "https://evil.example/cb"), ("code_challenge", &challenge)])).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"redirect_uri is not registered for this client"}"#);
    let (_, body) = post(with(&[("redirect_uri", REDIRECT)])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"code_challenge is required (PKCE S256)"}"#);
    let (_, body) =
        post(with(&[("redirect_uri", REDIRECT), ("code_challenge", &challenge), ("client_id", "other-rp")]))
            .await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"client_id does not match the credentials"}"#);
    let (_, body) = post(with(&[
        ("redirect_uri", REDIRECT),
        ("code_challenge", &challenge),
        ("request_uri", "urn:ietf:params:oauth:request_uri:x"),
    ]))
    .await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"request_uri is not allowed in a pushed authorization request"}"#);
    let (_, body) =
        post(with(&[("redirect_uri", REDIRECT), ("code_challenge", &challenge), ("scope", "openid")])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"a parameter was repeated"}"#);
    let (_, body) = post(vec![
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid license".into()),
        ("code_challenge", challenge.clone()),
        ("code_challenge_method", "S256".into()),
    ])
    .await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_scope","error_description":"scope license is not allowed for this client"}"#);
}

async fn require_par_refuses_plain_authorize(env: TestEnv) {
    let live = Live::start(env).await;
    let mut c = live::client("par-only", AuthMethod::ClientSecretBasic);
    c.require_par = true;
    live::register(&live.env.db.db, c).await;
    let (_, challenge) = pkce();
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "par-only"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s9"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let res = browser().get(format!("{}?{query}", live.url("/authorize"))).send().await.unwrap();
    let back = live::location(&res);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&back, "state").as_deref(), Some("s9"));

    let (status, body) = push(&live, "par-only", &challenge).await;
    assert_eq!(status, 201, "{body}");
    let res = browser()
        .get(authorize_url(&live, "par-only", body["request_uri"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert!(live::location(&res).starts_with("/login?request="));
}

/// Discovery metadata with the PAR endpoint (RFC 9126 §5), which the `openidconnect` crate reads
/// as additional metadata.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
struct ParMetadata {
    pushed_authorization_request_endpoint: String,
    require_pushed_authorization_requests: bool,
}

impl openidconnect::AdditionalProviderMetadata for ParMetadata {}

type ParProviderMetadata = openidconnect::ProviderMetadata<
    ParMetadata,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

/// A relying party written with the `openidconnect` crate, for a client that must use PAR: the
/// crate discovers the provider, builds the authorization request, exchanges the code and
/// verifies the ID token. It has no PAR helper (4.1), so the RP pushes the parameters of the
/// request the crate built itself and sends the browser to the authorization endpoint with
/// only `client_id` and the `request_uri`.
async fn par_with_an_openidconnect_relying_party(env: TestEnv) {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
        PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };

    let live = Live::start(env).await;
    let mut c = live::client("par-rp", AuthMethod::ClientSecretBasic);
    c.require_par = true;
    live::register(&live.env.db.db, c).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let meta =
        ParProviderMetadata::discover_async(IssuerUrl::new(live.base.clone()).unwrap(), &http).await.unwrap();
    let par_endpoint = meta.additional_metadata().pushed_authorization_request_endpoint.clone();
    assert_eq!(par_endpoint, live.url("/par"));
    let authorization_endpoint = meta.authorization_endpoint().url().clone();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("par-rp".into()),
        Some(ClientSecret::new(live::CLIENT_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The request the crate built, sent to a require_par client without PAR: refused.
    let res = browser().get(url.as_str()).send().await.unwrap();
    assert_eq!(query_param(&live::location(&res), "error").as_deref(), Some("invalid_request"));

    // Pushed instead: its parameters as the form, the client authenticated with Basic.
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let res = http
        .post(&par_endpoint)
        .basic_auth("par-rp", Some(live::CLIENT_SECRET))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let pushed: serde_json::Value = res.json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap();
    let mut front = authorization_endpoint;
    front.query_pairs_mut().append_pair("client_id", "par-rp").append_pair("request_uri", request_uri);

    let back = live::authorize(&live, &browser(), front.as_str(), "doctor-auth").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(live.base.as_str()));
    let tokens = client
        .exchange_code(AuthorizationCode::new(query_param(&back, "code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_verifier =
        client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = tokens.id_token().expect("an ID token").claims(&id_verifier, &nonce).expect("it verifies");
    assert_eq!(claims.audiences()[0].as_str(), "par-rp");
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("phrh"));
    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("日本　太郎"));
}
