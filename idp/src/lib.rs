//! The OpenID Connect provider: doctors sign in with the HPKI card and relying parties get
//! tokens. This crate is a library: [`build`] gives the router, the `shikaku` binary serves it.
//!
//! Where things live:
//! - [`oauth`]: the protocol endpoints and grants (`/authorize`, `/par`, `/token` and one module
//!   per grant, `/introspect` + `/revoke`, `/userinfo`, discovery, `/jwks`), client
//!   authentication, and minting tokens.
//! - [`signin`]: one module per sign-in method (card through the bridge, TLS client
//!   certificate, the demo's virtual cards) and what they share.
//! - [`logout`]: RP-initiated logout and back-channel logout.
//! - [`accounts`]: the person's account page and suspension.
//! - [`session`]: browser sessions; [`clients`]: relying-party registrations.
//! - [`trust`]: trusted CAs and CRLs for card validation, CRL fetching.
//! - [`serve`]: listeners other than the main one (the mTLS listener).
//! - [`store`]: every SQL statement of the idp; [`kv_keys`]: every key-value store key.
//! - [`audit`], [`rate_limit`], [`outbound`], [`ids`]: cross-cutting pieces.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod card_reads;
pub mod clients;
pub mod ids;
pub mod kv_keys;
pub mod logout;
pub mod oauth;
pub mod outbound;
pub mod rate_limit;
pub mod serve;
pub mod session;
pub mod signin;
pub mod store;
pub mod trust;

pub use app::{App, IdpConfig, IdpError, build};
