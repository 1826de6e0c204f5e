//! The OAuth 2.0 / OpenID Connect protocol: one module per endpoint (the token endpoint with one
//! module per grant), client authentication (secrets, `private_key_jwt`, `tls_client_auth`) and
//! minting the tokens every grant issues.

pub mod authorize;
pub mod bearer;
pub mod client_auth;
pub mod client_jwt;
pub mod client_tls;
pub mod discovery;
pub mod introspect;
pub mod jwks;
pub mod mint;
pub mod par;
pub mod token;
pub mod userinfo;
