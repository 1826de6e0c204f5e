//! HPKI: certificate profile, path validation, CRL handling and card-token validation.
//!
//! No I/O of its own: callers hand in certificate and CRL bytes and the current time.

mod der_walk;
pub mod errors;
pub mod hcrole;
mod names;
pub mod oids;
pub mod profile;
pub mod verify;

pub use errors::{Error, ErrorCode};
pub use profile::{CertKind, DistributionPoint, HpkiCertificate, KeyUsage};
pub mod chain;
pub mod crl;

pub use chain::TrustStore;
pub use crl::{Crl, RevocationMode, RevocationStatus};
pub mod policy;

pub use policy::{CheckOptions, Profile, Purpose, RoleFilter, VerifiedCertificate, verify_certificate};
pub mod token;

pub use token::{Algorithm, CardIdentity, CardTokenValidator};
pub mod testpki;
