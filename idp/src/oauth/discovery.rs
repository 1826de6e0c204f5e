//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0, RFC 8414). Lists only
//! what this idp does.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::clients::{SCOPES, SERVICE_SCOPES};
use crate::oauth::authorize::ACR_VALUES;

/// Handler.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let app = &state.0;
    let issuer = app.site.public_url();
    let algs: Vec<&str> = app.config.signing_algs.iter().map(|a| a.name()).collect();
    let mut auth_methods = vec!["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
    // Introspection and revocation take the same methods but `none` (public clients).
    let mut confidential_methods = vec!["client_secret_basic", "client_secret_post", "private_key_jwt"];
    let cert_login = &app.config.cert_login;
    if cert_login.enabled() {
        auth_methods.push("tls_client_auth");
        confidential_methods.push("tls_client_auth");
    }
    let mut body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "require_pushed_authorization_requests": false,
        "introspection_endpoint_auth_methods_supported": confidential_methods,
        "revocation_endpoint_auth_methods_supported": confidential_methods,
        "jwks_uri": format!("{issuer}/jwks"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": crate::oauth::client_jwt::ALGS,
        "introspection_endpoint_auth_signing_alg_values_supported": crate::oauth::client_jwt::ALGS,
        "revocation_endpoint_auth_signing_alg_values_supported": crate::oauth::client_jwt::ALGS,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES.iter().chain(&SERVICE_SCOPES).filter(|s| **s != "email").collect::<Vec<_>>(),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid", "azp",
                             "name", "name#ja-Latn", "hc_roles", "hpki", "roles",
                             "medical_registration_number", "birthdate", "name#ja-Kana-JP"],
        "acr_values_supported": &ACR_VALUES[..],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["ja", "en"],
    });
    if let Some(base) = cert_login.public_url.as_deref().filter(|_| cert_login.enabled()) {
        // RFC 8705 §5: where a client presents its certificate to each endpoint that
        // authenticates clients.
        body["mtls_endpoint_aliases"] = json!({
            "token_endpoint": format!("{base}/token"),
            "introspection_endpoint": format!("{base}/introspect"),
            "revocation_endpoint": format!("{base}/revoke"),
            "pushed_authorization_request_endpoint": format!("{base}/par"),
        });
    }
    let mut res = Json(body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}
