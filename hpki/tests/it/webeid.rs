//! Tokens of the reference Web eID application for real (test) national ID cards validate under
//! the `generic` profile, and are refused under `hpki`.

use hpki::{CardTokenValidator, CheckOptions, ErrorCode, Profile, RevocationMode, TrustStore};
use time::macros::datetime;

const ORIGIN: &str = "https://47f0-46-131-86-189.ngrok-free.app";
const ECC_NONCE: &str = "iMeEwP2cgUINY2XoO/lqEpOUn7z/ysHRqGXkGKC4VXE=";
const RSA_NONCE: &str = "YPVgYc7Qds0qmK/RilPLffnsIg7IIovM4BAWqGZWwiY=";

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/webeid/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn token(name: &str) -> String {
    String::from_utf8(data(name)).unwrap()
}

fn validator(profile: Profile) -> CardTokenValidator {
    let ca = data("eID TEST EC Citizen CA.pem");
    let mut v = CardTokenValidator::new(TrustStore::from_certificates([ca.as_slice()]).unwrap(), profile);
    // The reference suite checks these without revocation; no CRL of this CA is stored.
    v.options = CheckOptions { revocation: RevocationMode::IfSupplied, ..CheckOptions::default() };
    v
}

#[test]
fn belgian_ecc_token_validates() {
    let id = validator(Profile::generic())
        .validate(&token("belgian-ecc.json"), ORIGIN, ECC_NONCE, &[], datetime!(2024-12-24 12:00 UTC))
        .unwrap();
    assert_eq!(id.romaji_name.as_deref(), Some("Nora Specimen (Authentication)"));
    assert_eq!(id.subscriber_id.as_deref(), Some("01050399864"));
    assert_eq!(id.algorithm, hpki::Algorithm::ES384);
    assert_eq!(id.chain, ["C=BE, CN=eID TEST EC Citizen CA"]);
}

#[test]
fn belgian_rsa_token_validates() {
    let id = validator(Profile::generic())
        .validate(&token("belgian-rsa.json"), ORIGIN, RSA_NONCE, &[], datetime!(2024-12-24 12:00 UTC))
        .unwrap();
    assert_eq!(id.algorithm, hpki::Algorithm::RS256);
    assert_eq!(id.certificate.public_key, "RSA-2048");
}

#[test]
fn belgian_tokens_fail_with_the_wrong_challenge() {
    let v = validator(Profile::generic());
    let at = datetime!(2024-12-24 12:00 UTC);
    let err = v.validate(&token("belgian-ecc.json"), ORIGIN, RSA_NONCE, &[], at).unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureInvalid);
    let err = v.validate(&token("belgian-rsa.json"), "https://ria.ee", RSA_NONCE, &[], at).unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureInvalid);
    let err = v.validate(&token("belgian-rsa.json"), &format!("{ORIGIN}/"), RSA_NONCE, &[], at).unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureInvalid);
}

#[test]
fn belgian_tokens_are_not_hpki_cards() {
    let err = validator(Profile::hpki())
        .validate(&token("belgian-ecc.json"), ORIGIN, ECC_NONCE, &[], datetime!(2024-12-24 12:00 UTC))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PolicyNotAllowed);
}

#[test]
fn belgian_policy_deny_list() {
    let v = validator(Profile::Generic { denied_policies: vec!["2.16.56.12.1.1.2.2".into()] });
    let err = v
        .validate(&token("belgian-ecc.json"), ORIGIN, ECC_NONCE, &[], datetime!(2024-12-24 12:00 UTC))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PolicyNotAllowed);
}
