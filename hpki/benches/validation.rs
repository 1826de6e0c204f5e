//! Benchmarks: full card-token validation (RSA-2048 card, two-level chain, 10,000-entry CRL)
//! and parsing a 100,000-entry CRL.
//!
//! `CARGO_TARGET_DIR=/work/target-hpki cargo bench -p hpki --bench validation`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hpki::testpki::{CrlSpec, TestPki, issue_crl};
use hpki::{Algorithm, CardTokenValidator, Crl, Profile, TrustStore};
use time::Duration;

const ORIGIN: &str = "https://idp.shikaku.example";
const NONCE: &str = "q0bbbYzcOSJ4ECEbL9SDrTsgy3cDuf9DWWeXwN8eK0E=";

fn crl_with(pki: &TestPki, entries: u64) -> Vec<u8> {
    let at = TestPki::VALID_AT;
    let spec = CrlSpec {
        this_update: at - Duration::days(1),
        next_update: Some(at + Duration::days(1)),
        revoked: (0..entries).map(|n| (0x10_0000 + n, at - Duration::days(2))).collect(),
        number: 1,
        delta: false,
    };
    issue_crl(&spec, &pki.jma_auth, None).expect("CRL")
}

fn benches(c: &mut Criterion) {
    let pki = TestPki::generate(1).expect("test PKI");
    let trust =
        TrustStore::from_certificates([pki.root.der.as_slice(), pki.jma_auth.der.as_slice()]).unwrap();
    let validator = CardTokenValidator::new(trust, Profile::hpki());
    let crl = Crl::parse(&crl_with(&pki, 10_000)).unwrap();
    let token =
        pki.card("doctor-auth").unwrap().virtual_card().token(ORIGIN, NONCE, Algorithm::RS256).unwrap();
    let crls = [crl];
    assert!(validator.validate(&token, ORIGIN, NONCE, &crls, TestPki::VALID_AT).is_ok());

    let mut g = c.benchmark_group("token");
    g.throughput(Throughput::Elements(1));
    g.bench_function("validate_rs256_two_level_chain_crl_10k", |b| {
        b.iter(|| validator.validate(black_box(&token), ORIGIN, NONCE, &crls, TestPki::VALID_AT).unwrap())
    });
    g.finish();

    let card = pki.card("doctor-auth").unwrap();
    let mut g = c.benchmark_group("parts");
    g.bench_function("parse_certificate", |b| {
        b.iter(|| hpki::HpkiCertificate::parse(black_box(&card.issued.der)).unwrap())
    });
    let ee = hpki::HpkiCertificate::parse(&card.issued.der).unwrap();
    let ca_only = TrustStore::from_certificates([pki.jma_auth.der.as_slice()]).unwrap();
    g.bench_function("path_one_rsa_signature", |b| {
        b.iter(|| hpki::chain::validate_path(black_box(&ee), &ca_only, TestPki::VALID_AT).unwrap().len())
    });
    g.finish();

    let big = crl_with(&pki, 100_000);
    let mut g = c.benchmark_group("crl");
    g.sample_size(10);
    g.bench_function("parse_100k_entries", |b| b.iter(|| Crl::parse(black_box(&big)).unwrap().len()));
    g.finish();
}

criterion_group!(validation, benches);
criterion_main!(validation);
