//! Property tests of the parsers: thousands of deterministic mutations (bit flips, byte
//! overwrites, truncations, insertions, splices) of real and generated inputs. Every parser must
//! return a value or an error, never panic, and a mutated input must never validate as a token.

use hpki::testpki::TestPki;
use hpki::{Crl, HpkiCertificate, Profile};

use crate::support::{NONCE, ORIGIN, crls, pki, validator};

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(3) {
        if out.is_empty() {
            out.push(rng.next() as u8);
            continue;
        }
        let i = rng.below(out.len());
        match rng.below(6) {
            0 => out[i] ^= 1 << rng.below(8),
            1 => out[i] = rng.next() as u8,
            2 => out.truncate(i),
            3 => out.insert(i, rng.next() as u8),
            4 => {
                let j = rng.below(out.len());
                let (a, b) = (i.min(j), i.max(j));
                let chunk = out[a..b].to_vec();
                let k = rng.below(out.len());
                out.splice(k..k, chunk);
            }
            _ => out[i] = [0x00, 0x80, 0xff, 0x30, 0x31, 0xa0, 0x06, 0x0c][rng.below(8)],
        }
    }
    out
}

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
    let mut rng = Rng(0x5eed_0001);
    let mut parsed = 0;
    for round in 0..4000 {
        let input = mutate(&mut rng, &seeds[round % seeds.len()]);
        if let Ok(c) = HpkiCertificate::parse(&input) {
            parsed += 1;
            // A certificate that parses also serializes.
            serde_json::to_string(&c).unwrap();
        }
    }
    // Some mutations only touch the signature or a string and still parse.
    assert!(parsed > 0);
}

#[test]
fn crl_parser_survives_mutations() {
    let seeds: Vec<Vec<u8>> = pki().crl_ders().into_iter().map(<[u8]>::to_vec).collect();
    let mut rng = Rng(0x5eed_0002);
    for round in 0..3000 {
        let input = mutate(&mut rng, &seeds[round % seeds.len()]);
        if let Ok(crl) = Crl::parse(&input) {
            let _ = crl.lookup(&[0x90, 0x00]);
            let _ = crl.check_fresh(TestPki::VALID_AT, time::Duration::ZERO);
        }
    }
}

#[test]
fn hcrole_parser_survives_mutations() {
    let seed =
        hpki::testpki::hc_role_value("Medical Doctor", hpki::testpki::HcRoleEncoding::Explicit).unwrap();
    let mut rng = Rng(0x5eed_0003);
    for _ in 0..5000 {
        let input = mutate(&mut rng, &seed);
        if let Ok(roles) = hpki::hcrole::roles_from_subject_directory_attributes(&input) {
            assert!(roles.iter().all(|r| !r.trim().is_empty()));
        }
    }
}

#[test]
fn mutated_tokens_never_validate() {
    let card = pki().card("doctor-auth-p256").unwrap().virtual_card();
    let token = card.token(ORIGIN, NONCE, hpki::Algorithm::ES256).unwrap();
    let v = validator(Profile::hpki());
    let crls = crls();
    assert!(v.validate(&token, ORIGIN, NONCE, &crls, TestPki::VALID_AT).is_ok());
    let mut rng = Rng(0x5eed_0004);
    let mut codes = std::collections::BTreeSet::new();
    for _ in 0..1500 {
        let input = mutate(&mut rng, token.as_bytes());
        let Ok(text) = String::from_utf8(input) else { continue };
        if text == token {
            continue;
        }
        match v.validate(&text, ORIGIN, NONCE, &crls, TestPki::VALID_AT) {
            Ok(id) => {
                // Only a change that leaves every field's value intact may still validate
                // (e.g. whitespace or reordered bytes outside strings).
                let a: serde_json::Value = serde_json::from_str(&text).unwrap();
                let b: serde_json::Value = serde_json::from_str(&token).unwrap();
                for field in ["format", "algorithm", "signature", "unverifiedCertificate"] {
                    assert_eq!(a[field], b[field], "{field} changed yet validated: {:?}", id.romaji_name);
                }
            }
            Err(e) => {
                codes.insert(e.code());
            }
        }
    }
    assert!(codes.contains("token_malformed"), "{codes:?}");
}
