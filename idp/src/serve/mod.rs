//! Listeners besides the main one: the mTLS listener of certificate sign-in and
//! `tls_client_auth` clients.

pub mod mtls;
