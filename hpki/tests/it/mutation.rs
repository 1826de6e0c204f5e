//! Property tests of the parsers: thousands of deterministic mutations
//! ([`hpki::testpki::mutate`]: bit flips, boundary bytes, deleted, duplicated and inserted runs,
//! truncations) of real and generated inputs. Every parser must
//! return a value or an error, never panic, and a mutated input must never validate as a token.

use hpki::testpki::TestPki;
use hpki::testpki::mutate;
use hpki::{Crl, HpkiCertificate, Profile};

use crate::support::{NONCE, ORIGIN, crls, pki, validator};

fn real_certificates() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/data/real", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<Vec<u8>> =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    out.sort();
    out
}

#[test]
fn certificate_parser_survives_mutations() {
    let mut seeds = real_certificates();
    seeds.extend(pki().cards.iter().map(|c| c.issued.der.clone()));
    let parsed = std::cell::Cell::new(0);
    mutate::run("certificates", &seeds, 4000, |input| {
        if let Ok(c) = HpkiCertificate::parse(input) {
            parsed.set(parsed.get() + 1);
            // A certificate that parses also serializes.
            serde_json::to_string(&c).unwrap();
        }
    });
    // The seeds parse, and so do mutations that touch only the signature or a string.
    assert!(parsed.get() > seeds.len());
}

#[test]
fn crl_parser_survives_mutations() {
    let seeds: Vec<Vec<u8>> = pki().crl_ders().into_iter().map(<[u8]>::to_vec).collect();
    mutate::run("CRLs", &seeds, 3000, |input| {
        if let Ok(crl) = Crl::parse(input) {
            let _ = crl.lookup(&[0x90, 0x00]);
            let _ = crl.check_fresh(TestPki::VALID_AT, time::Duration::ZERO);
        }
    });
}

#[test]
fn hcrole_parser_survives_mutations() {
    let seed =
        hpki::testpki::hc_role_value("Medical Doctor", hpki::testpki::HcRoleEncoding::Explicit).unwrap();
    mutate::run("hcRole", &[seed], 5000, |input| {
        if let Ok(roles) = hpki::hcrole::roles_from_subject_directory_attributes(input) {
            assert!(roles.iter().all(|r| !r.trim().is_empty()));
        }
    });
}

#[test]
fn mutated_tokens_never_validate() {
    let card = pki().card("doctor-auth-p256").unwrap().virtual_card();
    let token = card.token(ORIGIN, NONCE, hpki::Algorithm::ES256).unwrap();
    let v = validator(Profile::hpki());
    let crls = crls();
    assert!(v.validate(&token, ORIGIN, NONCE, &crls, TestPki::VALID_AT).is_ok());
    let codes = std::cell::RefCell::new(std::collections::BTreeSet::new());
    mutate::run("card tokens", &[token.as_bytes().to_vec()], 1500, |input| {
        let Ok(text) = std::str::from_utf8(input) else { return };
        if text == token {
            return;
        }
        match v.validate(text, ORIGIN, NONCE, &crls, TestPki::VALID_AT) {
            Ok(id) => {
                // Only a change that leaves every field's value intact may still validate
                // (e.g. whitespace or reordered bytes outside strings).
                let a: serde_json::Value = serde_json::from_str(text).unwrap();
                let b: serde_json::Value = serde_json::from_str(&token).unwrap();
                for field in ["format", "algorithm", "signature", "unverifiedCertificate"] {
                    assert_eq!(a[field], b[field], "{field} changed yet validated: {:?}", id.romaji_name);
                }
            }
            Err(e) => {
                codes.borrow_mut().insert(e.code());
            }
        }
    });
    assert!(codes.borrow().contains("token_malformed"), "{codes:?}");
}
