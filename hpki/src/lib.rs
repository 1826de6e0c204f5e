//! HPKI: certificate profile, path validation, CRL handling and card-token validation.
//!
//! No I/O of its own: callers hand in certificate and CRL bytes and the current time.
//!
//! Card sign-in (docs/design.md §5) in one call:
//!
//! ```no_run
//! # fn demo(ca_pems: &[&[u8]], crl_ders: &[&[u8]], token_json: &str, nonce: &str) -> Result<(), hpki::Error> {
//! use hpki::{CardTokenValidator, Crl, Profile, RoleFilter, TrustStore};
//! let trust = TrustStore::from_certificates(ca_pems.iter().copied())?;
//! let validator = CardTokenValidator::new(
//!     trust,
//!     Profile::hpki_with_roles(RoleFilter::Only(vec!["Medical Doctor".into()])),
//! );
//! let crls: Vec<Crl> = crl_ders.iter().map(|d| Crl::parse(d)).collect::<Result<_, _>>()?;
//! let now = hpki::time::OffsetDateTime::now_utc();
//! let who = validator.validate(token_json, "https://idp.example", nonce, &crls, now)?;
//! println!("{:?} {:?} {:?}", who.kanji_name, who.hc_roles, who.subscriber_id);
//! # Ok(()) }
//! ```

pub mod chain;
pub mod crl;
mod der_walk;
pub mod errors;
pub mod hcrole;
mod names;
pub mod oids;
pub mod policy;
pub mod profile;
pub mod testpki;
pub mod token;
pub mod verify;

pub use chain::TrustStore;
pub use crl::{Crl, RevocationMode, RevocationStatus};
pub use errors::{Error, ErrorCode};
pub use names::hex;
pub use policy::{
    CheckOptions, HpkiProfile, Profile, Purpose, RoleFilter, VerifiedCertificate, verify_certificate,
};
pub use profile::{CertKind, DistributionPoint, HpkiCertificate, KeyUsage, parse_bundle};
/// The `time` crate, whose `OffsetDateTime` every API of this crate takes as "now".
pub use time;
pub use token::{Algorithm, CardIdentity, CardTokenValidator};
