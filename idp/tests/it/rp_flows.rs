//! The rest of the relying party's life with the `openidconnect` crate (no shikaku-specific
//! code on the RP side): refresh rotation and reuse detection, client_credentials,
//! introspection and revocation (the revocation request itself by hand: the library wants https), `acr_values`/`max_age` in the authorization request, and
//! RP-initiated logout built by the library.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreTokenResponse,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndSessionUrl,
    IntrospectionUrl, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PostLogoutRedirectUrl, RedirectUrl, RequestTokenError, RevocationUrl, Scope, StandardErrorResponse,
    TokenIntrospectionResponse, TokenResponse,
};
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_SECRET, Live, REDIRECT, browser, query_param};
use idp::clients::{AuthMethod, GrantType};

storage::each_backend!(
    refresh_rotation_and_reuse_detection,
    client_credentials_introspection_and_revocation,
    acr_values_and_max_age_then_rp_initiated_logout,
);

const RP: &str = "rp-library";
const LOGGED_OUT: &str = "https://rp.example.jp/logged-out";

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// An idp with a client allowed every grant, `offline_access` and a post-logout URI; the
/// provider metadata as the library discovers it.
async fn setup(env: TestEnv) -> (Live, CoreProviderMetadata) {
    let live = Live::start(env).await;
    let mut c = live::client(RP, AuthMethod::ClientSecretBasic);
    c.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials];
    c.scopes = vec!["openid".into(), "profile".into(), "hpki".into(), "offline_access".into()];
    c.post_logout_redirect_uris = vec![LOGGED_OUT.into()];
    live::register(&live.env.db.db, c).await;
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(live.base.clone()).unwrap(), &http())
        .await
        .unwrap();
    (live, meta)
}

/// The library's client with the endpoints discovery gives.
type RpClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn client(meta: &CoreProviderMetadata) -> RpClient {
    CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(RP.into()),
        Some(ClientSecret::new(CLIENT_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
}

/// An authorization (with the test card in browser `b`, consent given) and the code exchange
/// with PKCE, as the library does them; the tokens and the nonce sent. With `acr`, the request
/// carries `acr_values` and `max_age=300`.
async fn code_flow(
    live: &Live,
    client: &RpClient,
    b: &reqwest::Client,
    scopes: &[&str],
    acr: Option<&str>,
) -> (CoreTokenResponse, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).into()));
    }
    if let Some(acr) = acr {
        request = request
            .add_auth_context_value(AuthenticationContextClass::new(acr.into()))
            .set_max_age(std::time::Duration::from_secs(300));
    }
    let (url, _, nonce) = request.url();
    let back = live::authorize(live, b, url.as_str(), "doctor-auth").await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();
    (tokens, nonce)
}

/// The error code of a refused token request.
fn oauth_error<T: std::fmt::Debug>(
    r: Result<T, RequestTokenError<impl std::error::Error, StandardErrorResponse<CoreErrorResponseType>>>,
) -> String {
    match r {
        Err(RequestTokenError::ServerResponse(e)) => e.error().as_ref().to_owned(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

async fn refresh_rotation_and_reuse_detection(env: TestEnv) {
    let (live, meta) = setup(env).await;
    let http = http();
    let client = client(&meta);
    let (first, _) = code_flow(&live, &client, &browser(), &["profile", "offline_access"], None).await;
    let r1 = first.refresh_token().expect("offline_access gives a refresh token").clone();

    let second = client.exchange_refresh_token(&r1).unwrap().request_async(&http).await.unwrap();
    let r2 = second.refresh_token().expect("a rotated refresh token").clone();
    assert_ne!(r1.secret(), r2.secret(), "rotated on use");

    // The used one again: refused, and the whole family is revoked with it.
    assert_eq!(
        oauth_error(client.exchange_refresh_token(&r1).unwrap().request_async(&http).await),
        "invalid_grant"
    );
    assert_eq!(
        oauth_error(client.exchange_refresh_token(&r2).unwrap().request_async(&http).await),
        "invalid_grant"
    );
}

async fn client_credentials_introspection_and_revocation(env: TestEnv) {
    let (live, meta) = setup(env).await;
    let http = http();
    let client = client(&meta)
        .set_introspection_url(IntrospectionUrl::new(live.url("/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(live.url("/revoke")).unwrap());
    let tokens = client.exchange_client_credentials().unwrap().request_async(&http).await.unwrap();
    let access = tokens.access_token().clone();
    assert!(tokens.refresh_token().is_none(), "no refresh token for client_credentials");

    let info = client.introspect(&access).request_async(&http).await.unwrap();
    assert!(info.active());
    assert_eq!(info.client_id().map(|c| c.as_str()), Some(RP));

    // The library refuses a revocation endpoint that is not https (`InsecureUrl`), and the
    // test idp listens on plain http: the RFC 7009 request is posted by hand.
    assert!(client.revoke_token(access.clone().into()).is_err());
    let res = http
        .post(live.url("/revoke"))
        .basic_auth(RP, Some(CLIENT_SECRET))
        .form(&[("token", access.secret().as_str()), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let info = client.introspect(&access).request_async(&http).await.unwrap();
    assert!(!info.active(), "revoked");

    // Wrong secret: the library sees the RFC 6749 error.
    let wrong = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(RP.into()),
        Some(ClientSecret::new("nope".into())),
    );
    assert_eq!(
        oauth_error(wrong.exchange_client_credentials().unwrap().request_async(&http).await),
        "invalid_client"
    );
}

async fn acr_values_and_max_age_then_rp_initiated_logout(env: TestEnv) {
    let (live, meta) = setup(env).await;
    let client = client(&meta);
    let b = browser();
    let (tokens, nonce) = code_flow(&live, &client, &b, &[], Some("phrh")).await;
    let id_token = tokens.id_token().unwrap().clone();
    let verifier =
        client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("phrh"));
    assert!(claims.auth_time().is_some(), "max_age asks for auth_time");

    // An acr the card cannot give: the RP gets the OIDC error on its redirect URI.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, state, _) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_auth_context_value(AuthenticationContextClass::new("urn:example:unknown-loa".into()))
        .set_pkce_challenge(challenge)
        .url();
    let res = b.get(url.as_str()).send().await.unwrap();
    let location = live::location(&res);
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "error").as_deref(), Some("unmet_authentication_requirements"));
    assert_eq!(query_param(&location, "state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(query_param(&location, "code"), None);

    // RP-initiated logout, the URL built by the library: back to the registered URI.
    let end_session = EndSessionUrl::new(live.url("/logout")).unwrap();
    let logout = LogoutRequest::from(end_session)
        .set_id_token_hint(&id_token)
        .set_client_id(ClientId::new(RP.into()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    // A valid id_token_hint for the current session: ended at once, no confirmation page.
    let res = b.get(logout.as_str()).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.starts_with(LOGGED_OUT), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("bye"));
    // Signed out: a new authorization needs the card again.
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let res = b.get(url.as_str()).send().await.unwrap();
    assert!(live::location(&res).starts_with("/login"), "signed out");
}
