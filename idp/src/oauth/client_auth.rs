//! Client authentication at the token, introspection, revocation and PAR endpoints (RFC 6749
//! §2.3): `client_secret_basic`, `client_secret_post`, `private_key_jwt` (see
//! [`crate::oauth::client_jwt`]), `none` for public clients, and `tls_client_auth` (RFC 8705, checked
//! in `cert_login::client`). A client must use the method it was registered with; secrets are
//! compared as hashes in constant time.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use web::{OAuthError, OAuthErrorCode};

use crate::app::App;
use crate::clients::{AuthMethod, Client};
use crate::oauth::client_jwt;

/// Credentials found in a token request.
#[derive(Debug, Default)]
pub struct Presented {
    /// `client_id` form field.
    pub client_id: Option<String>,
    /// `client_secret` form field.
    pub client_secret: Option<String>,
    /// `client_assertion` form field.
    pub client_assertion: Option<String>,
    /// `client_assertion_type` form field.
    pub client_assertion_type: Option<String>,
    /// The TLS client certificate (DER), from the mTLS listener or a trusted proxy.
    pub tls_certificate: Option<Vec<u8>>,
}

fn invalid_client() -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClient, "client authentication failed")
}

/// Percent-decoding of the Basic credentials (RFC 6749 §2.3.1 form-encodes them).
fn form_decode(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned();
    }
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(encoded) = value.strip_prefix("Basic ") else { return Ok(None) };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid_client())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid_client())?;
    let (id, secret) = text.split_once(':').ok_or_else(invalid_client)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// Authenticates the client of a token-endpoint request.
pub async fn authenticate(app: &App, headers: &HeaderMap, p: &Presented) -> Result<Client, OAuthError> {
    let basic = basic(headers)?;
    let methods = usize::from(basic.is_some())
        + usize::from(p.client_secret.is_some())
        + usize::from(p.client_assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "use exactly one client authentication method",
        ));
    }
    if let Some(assertion) = &p.client_assertion {
        return private_key_jwt(app, p, assertion).await;
    }
    let (client_id, secret, method) = match (basic, &p.client_secret) {
        (Some((id, secret)), _) => {
            if p.client_id.as_deref().is_some_and(|c| c != id) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    "client_id does not match the credentials",
                ));
            }
            (id, Some(secret), AuthMethod::ClientSecretBasic)
        }
        (None, Some(secret)) => {
            let id = p.client_id.clone().ok_or_else(invalid_client)?;
            (id, Some(secret.clone()), AuthMethod::ClientSecretPost)
        }
        (None, None) => {
            let id = p.client_id.clone().ok_or_else(invalid_client)?;
            (id, None, AuthMethod::None)
        }
    };
    let client = app
        .clients
        .find(&app.db, &client_id)
        .await
        .map_err(OAuthError::internal)?
        .ok_or_else(invalid_client)?;
    if client.auth_method == AuthMethod::TlsClientAuth && method == AuthMethod::None {
        let subject = client.tls_subject_dn.as_deref();
        crate::oauth::client_tls::check(app, subject, p.tls_certificate.as_deref(), app.clock.now()).await?;
        return Ok(client);
    }
    if client.auth_method != method {
        return Err(invalid_client());
    }
    if let Some(secret) = secret
        && !client.secret_matches(&secret)
    {
        return Err(invalid_client());
    }
    Ok(client)
}

/// `private_key_jwt`: the client is named by `client_id` or else by the assertion's `sub`, and
/// must be registered for this method. Every failure is `invalid_client`.
async fn private_key_jwt(app: &App, p: &Presented, assertion: &str) -> Result<Client, OAuthError> {
    let reject = |why: &'static str| {
        OAuthError::new(OAuthErrorCode::InvalidClient, format!("client assertion rejected: {why}"))
    };
    if p.client_assertion_type.as_deref() != Some(client_jwt::ASSERTION_TYPE) {
        return Err(reject(
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
    }
    let unverified = client_jwt::parse(assertion).map_err(reject)?;
    let client_id = match (&p.client_id, unverified.claims["sub"].as_str()) {
        (Some(id), _) => id.clone(),
        (None, Some(sub)) => sub.to_owned(),
        (None, None) => return Err(reject("sub is required")),
    };
    let client = app
        .clients
        .find(&app.db, &client_id)
        .await
        .map_err(OAuthError::internal)?
        .ok_or_else(invalid_client)?;
    if client.auth_method != AuthMethod::PrivateKeyJwt {
        return Err(invalid_client());
    }
    let issuer = app.site.public_url();
    let audiences = [issuer.to_owned(), format!("{issuer}/token"), format!("{issuer}/par")];
    client_jwt::verify(app, &client, assertion, &audiences, app.clock.now()).await.map_err(|why| {
        tracing::info!(client = %client.client_id, why, "client assertion rejected");
        reject(why)
    })?;
    Ok(client)
}
