//! Card-token validation never panics and never accepts a token the virtual card did not sign.
#![no_main]

use std::sync::OnceLock;

use hpki::testpki::TestPki;
use hpki::{CardTokenValidator, Crl, Profile, TrustStore};
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "https://idp.shikaku.example";
const NONCE: &str = "q0bbbYzcOSJ4ECEbL9SDrTsgy3cDuf9DWWeXwN8eK0E=";

struct Fixture {
    validator: CardTokenValidator,
    crls: Vec<Crl>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pki = TestPki::generate(1).expect("test PKI");
        let trust = TrustStore::from_certificates(pki.ca_certificates()).expect("CAs");
        let crls = pki.crl_ders().into_iter().map(|d| Crl::parse(d).expect("CRL")).collect();
        Fixture { validator: CardTokenValidator::new(trust, Profile::hpki()), crls }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let f = fixture();
    let _ = hpki::token::parse_token(text);
    if let Ok(id) = f.validator.validate(text, ORIGIN, NONCE, &f.crls, TestPki::VALID_AT) {
        panic!("a fuzzed token validated: {:?}", id.romaji_name);
    }
});
