//! Shared fixtures: one generated test PKI per test process.

use std::sync::OnceLock;

use hpki::testpki::TestPki;
use hpki::{CardTokenValidator, Crl, Profile, TrustStore};

pub const SEED: u64 = 42;
pub const ORIGIN: &str = "https://idp.shikaku.example";
pub const NONCE: &str = "q0bbbYzcOSJ4ECEbL9SDrTsgy3cDuf9DWWeXwN8eK0E=";

pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate(SEED).expect("test PKI"))
}

pub fn trust() -> TrustStore {
    TrustStore::from_certificates(pki().ca_certificates()).unwrap()
}

pub fn crls() -> Vec<Crl> {
    pki().crl_ders().into_iter().map(|d| Crl::parse(d).unwrap()).collect()
}

pub fn validator(profile: Profile) -> CardTokenValidator {
    CardTokenValidator::new(trust(), profile)
}
