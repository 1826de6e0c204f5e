//! The OpenID Connect provider: doctors sign in with the HPKI card and relying parties get
//! tokens. This crate is a library: [`build`] gives the router, the `shikaku` binary serves it.

pub mod app;
pub mod jwks;
pub mod keys;

pub use app::{App, IdpConfig, IdpError, build};
