//! The OpenID Connect provider: doctors sign in with the HPKI card and relying parties get
//! tokens. This crate is a library: [`build`] gives the router, the `shikaku` binary serves it.

pub mod account;
pub mod app;
pub mod audit;
pub mod authorize;
pub mod backchannel;
pub mod cert_login;
pub mod client_auth;
pub mod client_jwt;
pub mod clients;
pub mod crl_fetch;
pub mod demo;
pub mod discovery;
pub mod ids;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod logout;
pub mod outbound;
pub mod par;
pub mod rate_limit;
pub mod session;
pub mod store;
pub mod suspension;
pub mod token;
pub mod tokens;
pub mod trust;
pub mod userinfo;

pub use app::{App, IdpConfig, IdpError, build};
