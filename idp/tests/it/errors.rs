//! Every OAuth error the idp sends, as inline snapshots, on both backends. Snapshotted elsewhere
//! and not repeated here: code replay, unknown code, wrong PKCE verifier and redirect mismatch,
//! client_credentials `invalid_scope`, `unsupported_grant_type`, a bad secret and a non-form
//! body at `/token` (oidc.rs); refresh-token errors and the refresh `unauthorized_client`
//! (lifecycle.rs); client assertions (client_jwt.rs); most PAR errors (par.rs); `slow_down`
//! (rate_limit.rs); `tls_client_auth` failures (mtls.rs).
//!
//! Errors that go back to the client are snapshotted as the JSON of the redirect's query (its
//! `iss` checked, then left out: the port varies); those shown to the person as the page's
//! status, title and message.

use idp::clients::{AuthMethod, GrantType};
use storage::testing::TestEnv;

use crate::live::{
    self, CLIENT_ID, CLIENT_SECRET, Live, REDIRECT, browser, csrf_of, location, post_as, query_param,
};

storage::each_backend!(
    authorize_errors_go_back_to_the_client,
    prompt_none_and_consent_errors,
    bad_client_or_redirect_is_a_page,
    token_endpoint_errors,
    introspection_and_revocation_errors,
    par_errors,
    userinfo_errors,
    card_token_with_algorithm_none,
    a_request_resumed_in_another_browser_is_refused,
);

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An authorization URL: the valid request for `client_id`, with `changes` applied (an empty
/// value removes the parameter).
fn authorize_url(live: &Live, client_id: &str, changes: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in changes {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("{}?{query}", live.url("/authorize"))
}

/// The error a redirect to the client carries, as JSON without `iss` (checked here).
fn redirect_error(live: &Live, res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 303);
    let to = location(res);
    assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
    let query = to.split_once('?').unwrap().1;
    let mut fields = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        fields.insert(k.into_owned(), v.into_owned().into());
    }
    assert_eq!(fields.remove("iss"), Some(live.base.clone().into()), "{to}");
    serde_json::Value::Object(fields).to_string()
}

async fn authorize_error(live: &Live, client_id: &str, changes: &[(&str, &str)]) -> String {
    let res = browser().get(authorize_url(live, client_id, changes)).send().await.unwrap();
    redirect_error(live, &res)
}

async fn authorize_errors_go_back_to_the_client(env: TestEnv) {
    let live = Live::start(env).await;
    let mut c = live::client("machine", AuthMethod::ClientSecretBasic);
    c.grant_types = vec![GrantType::ClientCredentials];
    live::register(&live.env.db.db, c).await;
    let e = |changes: &'static [(&'static str, &'static str)]| authorize_error(&live, CLIENT_ID, changes);

    insta::assert_snapshot!(e(&[("response_type", "")]).await, @r#"{"error":"invalid_request","error_description":"response_type is required","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("response_type", "token")]).await, @r#"{"error":"unsupported_response_type","error_description":"only response_type=code is supported","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("response_mode", "fragment")]).await, @r#"{"error":"invalid_request","error_description":"only response_mode=query is supported","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("request", "eyJhbGciOiJub25lIn0.e30.")]).await, @r#"{"error":"request_not_supported","error_description":"request objects are not supported; use PAR","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("scope", "profile")]).await, @r#"{"error":"invalid_scope","error_description":"scope must include openid","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("scope", "openid license")]).await, @r#"{"error":"invalid_scope","error_description":"scope license is not allowed for this client","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("code_challenge", "")]).await, @r#"{"error":"invalid_request","error_description":"code_challenge is required (PKCE S256)","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("code_challenge_method", "plain")]).await, @r#"{"error":"invalid_request","error_description":"code_challenge_method plain is not allowed; use S256","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("code_challenge_method", "")]).await, @r#"{"error":"invalid_request","error_description":"code_challenge_method must be S256","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("code_challenge", "short")]).await, @r#"{"error":"invalid_request","error_description":"code_challenge must be the base64url SHA-256 of the verifier (43 characters)","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("prompt", "select_everything")]).await, @r#"{"error":"invalid_request","error_description":"unknown prompt value select_everything","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("prompt", "none login")]).await, @r#"{"error":"invalid_request","error_description":"prompt=none cannot be combined with other values","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("max_age", "-1")]).await, @r#"{"error":"invalid_request","error_description":"max_age must be a non-negative integer","state":"s1"}"#);
    insta::assert_snapshot!(e(&[("acr_values", "urn:unknown")]).await, @r#"{"error":"unmet_authentication_requirements","error_description":"none of the requested acr_values can be met (supported: phrh, phr, emergency)","state":"s1"}"#);
    let long_nonce = "n".repeat(513);
    let res = browser()
        .get(authorize_url(&live, CLIENT_ID, &[("nonce", long_nonce.as_str())]))
        .send()
        .await
        .unwrap();
    insta::assert_snapshot!(redirect_error(&live, &res), @r#"{"error":"invalid_request","error_description":"nonce is too long","state":"s1"}"#);
    // Without state, none comes back.
    insta::assert_snapshot!(e(&[("state", ""), ("response_type", "token")]).await, @r#"{"error":"unsupported_response_type","error_description":"only response_type=code is supported"}"#);
    // A client registered for client_credentials only.
    insta::assert_snapshot!(authorize_error(&live, "machine", &[]).await, @r#"{"error":"unauthorized_client","error_description":"the client may not use the authorization code grant","state":"s1"}"#);
}

async fn prompt_none_and_consent_errors(env: TestEnv) {
    let live = Live::start(env).await;
    live::register(&live.env.db.db, live::client("second-rp", AuthMethod::ClientSecretBasic)).await;
    let b = browser();
    // Not signed in.
    let res = b.get(authorize_url(&live, CLIENT_ID, &[("prompt", "none")])).send().await.unwrap();
    insta::assert_snapshot!(redirect_error(&live, &res), @r#"{"error":"login_required","error_description":"the user is not signed in","state":"s1"}"#);
    // Signed in (and consented) for one client; prompt=none at another that needs consent.
    let back = live::authorize(&live, &b, &authorize_url(&live, CLIENT_ID, &[]), "doctor-auth").await;
    assert!(query_param(&back, "code").is_some(), "{back}");
    let res = b.get(authorize_url(&live, "second-rp", &[("prompt", "none")])).send().await.unwrap();
    insta::assert_snapshot!(redirect_error(&live, &res), @r#"{"error":"consent_required","error_description":"consent is needed","state":"s1"}"#);
    // The person declines consent.
    let res = b.get(authorize_url(&live, "second-rp", &[])).send().await.unwrap();
    let consent = location(&res);
    assert!(consent.starts_with("/authorize/consent"), "{consent}");
    let page = b.get(live.url(&consent)).send().await.unwrap().text().await.unwrap();
    let res = b
        .post(live.url("/authorize/consent"))
        .header("origin", live.app.site.origin())
        .form(&[
            ("csrf_token", csrf_of(&page)),
            ("request", query_param(&consent, "request").unwrap()),
            ("decision", "deny".into()),
        ])
        .send()
        .await
        .unwrap();
    insta::assert_snapshot!(redirect_error(&live, &res), @r#"{"error":"access_denied","error_description":"the user declined","state":"s1"}"#);
    // A client that allows only another hcRole.
    let mut c = live::client("nurses-only", AuthMethod::ClientSecretBasic);
    c.allowed_roles = vec!["Nurse".into()];
    c.skip_consent = true;
    live::register(&live.env.db.db, c).await;
    let res = b.get(authorize_url(&live, "nurses-only", &[])).send().await.unwrap();
    insta::assert_snapshot!(redirect_error(&live, &res), @r#"{"error":"access_denied","error_description":"the signed-in role is not allowed for this client","state":"s1"}"#);
}

/// A page's status, title and message (English).
async fn page_error(url: &str) -> String {
    let res = browser()
        .get(url)
        .header("accept-language", "en")
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("location").is_none(), "never redirected: {url}");
    let status = res.status().as_u16();
    let html = res.text().await.unwrap();
    let between = |start: &str, end: &str| {
        let from = html.find(start).unwrap_or_else(|| panic!("{start} in {html}")) + start.len();
        html[from..from + html[from..].find(end).unwrap()].trim().to_owned()
    };
    format!("{status} {}: {}", between("<h1 id=\"error-title\">", "</h1>"), between("</h1>\n  <p>", "</p>"))
}

async fn bad_client_or_redirect_is_a_page(env: TestEnv) {
    let live = Live::start(env).await;
    let url = |client: &str, changes: &[(&str, &str)]| authorize_url(&live, client, changes);
    insta::assert_snapshot!(page_error(&url(CLIENT_ID, &[("client_id", "")])).await, @"400 The sign-in request cannot be processed: No client_id was given. Contact the service that sent you here.");
    insta::assert_snapshot!(page_error(&url("unknown-rp", &[])).await, @"400 The sign-in request cannot be processed: The service that asked for sign-in is not registered.");
    insta::assert_snapshot!(page_error(&url(CLIENT_ID, &[("redirect_uri", "")])).await, @"400 The sign-in request cannot be processed: No redirect_uri was given. Contact the service that sent you here.");
    // Even with other errors in the request, an unregistered redirect is never redirected to.
    let evil = [("redirect_uri", "https://evil.example/cb"), ("response_type", "token")];
    insta::assert_snapshot!(page_error(&url(CLIENT_ID, &evil)).await, @"400 The sign-in request cannot be processed: The return address does not match the registered one, so the request was stopped for your safety.");
    let unknown =
        [("request_uri", "urn:ietf:params:oauth:request_uri:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
    insta::assert_snapshot!(page_error(&url(CLIENT_ID, &unknown)).await, @"400 The sign-in request cannot be processed: The sign-in request (request_uri) is unknown, already used or expired. Start again from the service you were using.");
    // A parameter given twice cannot be trusted (RFC 6749 §3.1): a page, never plain text.
    let twice = format!("{}&client_id=other", url(CLIENT_ID, &[]));
    insta::assert_snapshot!(page_error(&twice).await, @"400 The request could not be read: The address or the submitted data is not in the expected form. Please try again from the link or form.");
    let res = browser().get(&twice).send().await.unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "a client without Accept: text/html"
    );
}

/// POSTs a form to `path` without client credentials unless the form has them; returns the
/// status, the `WWW-Authenticate` header and the body.
async fn post_form(live: &Live, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let res = reqwest::Client::new().post(live.url(path)).form(form).send().await.unwrap();
    let status = res.status().as_u16();
    let www = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    (status, www, res.text().await.unwrap())
}

async fn token_endpoint_errors(env: TestEnv) {
    let live = Live::start(env).await;
    let mut public = live::client("public-app", AuthMethod::None);
    public.grant_types = vec![GrantType::AuthorizationCode];
    live::register(&live.env.db.db, public).await;
    let mut machine = live::client("machine", AuthMethod::ClientSecretBasic);
    machine.grant_types = vec![GrantType::ClientCredentials];
    live::register(&live.env.db.db, machine).await;
    let secret = ("client_secret", CLIENT_SECRET);

    // A body over the limit: 413 in RFC 6749 JSON, not "must be a form".
    let big = format!("grant_type=client_credentials&scope={}", "a".repeat(3 << 20));
    let res = reqwest::Client::new()
        .post(live.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["cache-control"], "no-store");
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"invalid_request","error_description":"the request body is larger than this endpoint accepts"}"#);

    // invalid_client: 401 with WWW-Authenticate, whatever the cause.
    for form in [
        vec![("grant_type", "client_credentials"), ("client_id", "nobody"), secret],
        vec![("grant_type", "client_credentials")],
        vec![("grant_type", "client_credentials"), ("client_id", CLIENT_ID)],
        vec![("grant_type", "client_credentials"), ("client_id", CLIENT_ID), ("client_secret", "wrong")],
    ] {
        let (status, www, body) = post_form(&live, "/token", &form).await;
        assert_eq!((status, www.as_deref()), (401, Some("Basic realm=\"shikaku\"")), "{form:?}");
        insta::allow_duplicates! {
            insta::assert_snapshot!(body, @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
        }
    }
    // invalid_request.
    let (status, body) = post_as(&live, "/token", CLIENT_ID, &[("scope", "hpki")]).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"grant_type is required"}"#);
    let res = reqwest::Client::new()
        .post(live.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("client_id", CLIENT_ID), secret])
        .send()
        .await
        .unwrap();
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"invalid_request","error_description":"use exactly one client authentication method"}"#);
    let res = reqwest::Client::new()
        .post(live.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("client_id", "other")])
        .send()
        .await
        .unwrap();
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"invalid_request","error_description":"client_id does not match the credentials"}"#);
    let (_, body) = post_as(&live, "/token", CLIENT_ID, &[("grant_type", "authorization_code")]).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"code is required"}"#);
    let (_, body) = post_as(&live, "/token", CLIENT_ID, &[("grant_type", "refresh_token")]).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unauthorized_client","error_description":"the client may not use the refresh token grant"}"#);

    // unauthorized_client.
    let (_, body) =
        post_as(&live, "/token", "machine", &[("grant_type", "authorization_code"), ("code", "x")]).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unauthorized_client","error_description":"the client may not use the authorization code grant"}"#);
    let (status, _, body) =
        post_form(&live, "/token", &[("grant_type", "client_credentials"), ("client_id", "public-app")])
            .await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body, @r#"{"error":"unauthorized_client","error_description":"the client may not use the client credentials grant"}"#);
    // invalid_scope: a scope the client may not have.
    let (_, body) =
        post_as(&live, "/token", CLIENT_ID, &[("grant_type", "client_credentials"), ("scope", "license")])
            .await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_scope","error_description":"scope license is not allowed for this client"}"#);

    // invalid_grant: a code of another client, an expired one (its record gone, as when its 60 s
    // are over), and a missing verifier.
    let (code, verifier) = live::code(&live, CLIENT_ID, "openid", &[]).await;
    let mut other = live::client("other-rp", AuthMethod::ClientSecretBasic);
    other.skip_consent = true;
    live::register(&live.env.db.db, other).await;
    let exchange = |client: &'static str, code: String, verifier: Option<String>| {
        let live = &live;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", REDIRECT.to_owned()),
            ];
            form.extend(verifier.map(|v| ("code_verifier", v)));
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_as(live, "/token", client, &form).await
        }
    };
    let (status, body) = exchange("other-rp", code.clone(), Some(verifier.clone())).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"authorization code was issued to another client"}"#);
    let (code, _) = live::code(&live, CLIENT_ID, "openid", &[]).await;
    let (_, body) = exchange(CLIENT_ID, code, None).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"code_verifier is required (PKCE)"}"#);
    let (code, verifier) = live::code(&live, CLIENT_ID, "openid", &[]).await;
    assert!(
        live.env.kv.delete(&format!("code:{}", idp::ids::hash(&code))).await.unwrap(),
        "the code's record"
    );
    let (_, body) = exchange(CLIENT_ID, code, Some(verifier)).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_grant","error_description":"authorization code is invalid or expired"}"#);
    // Public clients authenticate with client_id alone but may not present a secret.
    let (status, www, body) = post_form(
        &live,
        "/token",
        &[("grant_type", "authorization_code"), ("client_id", "public-app"), ("client_secret", "x")],
    )
    .await;
    assert_eq!((status, www.as_deref()), (401, Some("Basic realm=\"shikaku\"")));
    insta::assert_snapshot!(body, @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
}

async fn introspection_and_revocation_errors(env: TestEnv) {
    let live = Live::start(env).await;
    live::register(&live.env.db.db, live::client("public-app", AuthMethod::None)).await;
    for path in ["/introspect", "/revoke"] {
        let (status, www, bad_secret) =
            post_form(&live, path, &[("token", "x"), ("client_id", CLIENT_ID), ("client_secret", "wrong")])
                .await;
        assert_eq!((status, www.as_deref()), (401, Some("Basic realm=\"shikaku\"")), "{path}");
        let (status, _, public) =
            post_form(&live, path, &[("token", "x"), ("client_id", "public-app")]).await;
        assert_eq!(status, 401, "{path}");
        let (status, no_token) = post_as(&live, path, CLIENT_ID, &[]).await;
        assert_eq!(status, 400, "{path}");
        let res = reqwest::Client::new().post(live.url(path)).body("{}").send().await.unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let not_a_form = res.text().await.unwrap();
        insta::allow_duplicates! {
            insta::assert_snapshot!(bad_secret, @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
            insta::assert_snapshot!(public, @r#"{"error":"invalid_client","error_description":"public clients cannot use this endpoint"}"#);
            insta::assert_snapshot!(no_token.to_string(), @r#"{"error":"invalid_request","error_description":"token is required"}"#);
            insta::assert_snapshot!(not_a_form, @r#"{"error":"invalid_request","error_description":"the body must be application/x-www-form-urlencoded"}"#);
        }
    }
    let (status, body) =
        post_as(&live, "/revoke", CLIENT_ID, &[("token", "x"), ("token_type_hint", "id_token")]).await;
    assert_eq!(status, 400);
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unsupported_token_type","error_description":"token_type_hint must be access_token or refresh_token"}"#);
}

async fn par_errors(env: TestEnv) {
    let live = Live::start(env).await;
    let valid = |changes: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in changes {
            form.retain(|(name, _)| name != k);
            if !v.is_empty() {
                form.push((k, v));
            }
        }
        form
    };
    let res = reqwest::Client::new()
        .post(live.url("/par"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&serde_json::json!({ "response_type": "code" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"invalid_request","error_description":"the body must be application/x-www-form-urlencoded"}"#);
    let (status, www, body) = post_form(&live, "/par", &valid(&[("client_id", CLIENT_ID)])).await;
    assert_eq!((status, www.as_deref()), (401, Some("Basic realm=\"shikaku\"")));
    insta::assert_snapshot!(body, @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
    let (_, body) = post_as(&live, "/par", CLIENT_ID, &valid(&[("redirect_uri", "")])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"redirect_uri is required"}"#);
    let (_, body) =
        post_as(&live, "/par", CLIENT_ID, &valid(&[("request", "eyJhbGciOiJub25lIn0.e30.")])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"request objects are not supported"}"#);
    let (_, body) = post_as(&live, "/par", CLIENT_ID, &valid(&[("response_type", "token")])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unsupported_response_type","error_description":"only response_type=code is supported"}"#);
    let (_, body) = post_as(&live, "/par", CLIENT_ID, &valid(&[("code_challenge_method", "plain")])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"invalid_request","error_description":"code_challenge_method plain is not allowed; use S256"}"#);
    let (_, body) = post_as(&live, "/par", CLIENT_ID, &valid(&[("acr_values", "urn:unknown")])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unmet_authentication_requirements","error_description":"none of the requested acr_values can be met (supported: phrh, phr, emergency)"}"#);
    let mut machine = live::client("machine", AuthMethod::ClientSecretBasic);
    machine.grant_types = vec![GrantType::ClientCredentials];
    live::register(&live.env.db.db, machine).await;
    let (_, body) = post_as(&live, "/par", "machine", &valid(&[])).await;
    insta::assert_snapshot!(body.to_string(), @r#"{"error":"unauthorized_client","error_description":"the client may not use the authorization code grant"}"#);
}

async fn userinfo_errors(env: TestEnv) {
    let live = Live::start(env).await;
    let get = |auth: Option<String>| {
        let url = live.url("/userinfo");
        async move {
            let mut req = reqwest::Client::new().get(url);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let www = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            (status, www.unwrap_or_default(), res.text().await.unwrap())
        }
    };
    // No token: the challenge alone (RFC 6750 §3.1: no error code).
    let (status, www, body) = get(None).await;
    assert_eq!((status, body.as_str()), (401, ""));
    insta::assert_snapshot!(www, @r#"Bearer realm="shikaku""#);
    let (status, www, body) = get(Some("Bearer not-a-token".into())).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(www, @r#"Bearer realm="shikaku", error="invalid_token", error_description="the access token is invalid or expired""#);
    insta::assert_snapshot!(body, @r#"{"error":"invalid_token","error_description":"the access token is invalid or expired"}"#);
    // A client_credentials token has no openid scope.
    let (_, tokens) =
        post_as(&live, "/token", CLIENT_ID, &[("grant_type", "client_credentials"), ("scope", "hpki")]).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, www, body) = get(Some(format!("Bearer {access}"))).await;
    assert_eq!(status, 403);
    insta::assert_snapshot!(www, @r#"Bearer realm="shikaku", error="insufficient_scope", error_description="the openid scope is required""#);
    insta::assert_snapshot!(body, @r#"{"error":"insufficient_scope","error_description":"the openid scope is required"}"#);
    // A revoked one.
    let (code, verifier) = live::code(&live, CLIENT_ID, "openid", &[]).await;
    let (_, tokens) = post_as(
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
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(get(Some(format!("Bearer {access}"))).await.0, 200);
    let (status, _) = post_as(&live, "/revoke", CLIENT_ID, &[("token", &access)]).await;
    assert_eq!(status, 200);
    let (status, www, body) = get(Some(format!("Bearer {access}"))).await;
    assert_eq!(status, 401);
    insta::assert_snapshot!(www, @r#"Bearer realm="shikaku", error="invalid_token", error_description="the access token was revoked""#);
    insta::assert_snapshot!(body, @r#"{"error":"invalid_token","error_description":"the access token was revoked"}"#);
}

/// A card token that claims `"algorithm": "none"` (with or without a signature) is refused as an
/// algorithm that is not allowed, before anything else in it is looked at.
async fn card_token_with_algorithm_none(env: TestEnv) {
    let live = Live::start(env).await;
    for keep_signature in [true, false] {
        let b = browser();
        let (status, body) = live::card_sign_in_edited(&live, &b, "/login", "doctor-auth", |t| {
            t["algorithm"] = "none".into();
            if !keep_signature {
                t.as_object_mut().unwrap().remove("signature");
            }
        })
        .await;
        assert_eq!(status, 401, "{body}");
        insta::allow_duplicates! {
            insta::assert_snapshot!(body.to_string(), @r#"{"code":"algorithm_not_allowed","detail":"カードの署名方式は利用できません。","status":401,"title":"Card sign-in failed","type":"/problems/card-sign-in"}"#);
        }
    }
}

/// A pending authorization request belongs to the browser that started it: another browser
/// (with its own signed-in session) that got hold of its id cannot resume it or consent to it.
async fn a_request_resumed_in_another_browser_is_refused(env: TestEnv) {
    let live = Live::start(env).await;
    let first = browser();
    let res = first.get(authorize_url(&live, CLIENT_ID, &[])).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let login = location(&res);
    assert!(login.starts_with("/login?request="), "{login}");
    let request = query_param(&login, "request").unwrap();

    let other = browser();
    let (status, body) = live::card_sign_in(&live, &other, &login, "doctor-auth").await;
    assert_eq!(status, 200, "{body}");
    let next = body["next"].as_str().unwrap().to_owned();
    let res = other.get(live.url(&next)).header("accept-language", "en").send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("This sign-in request was started in another browser."));
    let consent = other.get(live.url(&format!("/authorize/consent?request={request}"))).send().await.unwrap();
    assert_eq!(consent.status(), 403);
    let page = other.get(live.url("/login")).send().await.unwrap().text().await.unwrap();
    let res = other
        .post(live.url("/authorize/consent"))
        .header("origin", live.app.site.origin())
        .form(&[("csrf_token", csrf_of(&page)), ("request", request.clone()), ("decision", "allow".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("location").is_none(), "no code for the other browser");

    // The browser that started it signs in and goes on to the consent page.
    let (status, body) = live::card_sign_in(&live, &first, &login, "doctor-auth").await;
    assert_eq!(status, 200, "{body}");
    let res = first.get(live.url(body["next"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/authorize/consent?request="), "{}", location(&res));
}
