//! The generated test PKI reads back as HPKI certificates and validates.

use hpki::testpki::{Issuer, TestPki};
use hpki::{CertKind, DistributionPoint, HpkiCertificate};

use crate::support::{SEED, pki};

#[test]
fn deterministic_from_seed() {
    let again = TestPki::generate(SEED).unwrap();
    assert_eq!(again.root.der, pki().root.der);
    assert_eq!(again.files().unwrap(), pki().files().unwrap());
    let other = TestPki::generate(SEED + 1).unwrap();
    assert_ne!(other.root.der, pki().root.der);
}

#[test]
fn cards_read_back_with_their_profile() {
    for card in &pki().cards {
        let c = HpkiCertificate::parse(&card.issued.der).unwrap();
        assert_eq!(c.hc_roles, std::slice::from_ref(&card.role), "{}", card.name);
        assert!(c.policies_critical);
        assert!(c.kanji_name.as_deref().unwrap().contains('\u{3000}'), "{}", card.name);
        assert!(c.subscriber_id.as_deref().unwrap().starts_with("TEST"));
        assert_eq!(c.kind, if card.signature { CertKind::Signature } else { CertKind::Authentication });
        assert!(
            matches!(&c.crl_distribution_points[..], [DistributionPoint::Uri(u)] if u.starts_with("http://"))
        );
    }
    let p = HpkiCertificate::parse(&pki().card("pharmacist-auth").unwrap().issued.der).unwrap();
    assert_eq!(p.organization.as_deref(), Some("SHIKAKU TEST HOSPITAL"));
    assert_eq!(p.kanji_organization.as_deref(), Some("資格テスト病院"));
    assert_eq!(p.public_key, "RSA-2048");
    let d = HpkiCertificate::parse(&pki().card("director-auth").unwrap().issued.der).unwrap();
    assert_eq!(d.public_key, "P-256");
    assert_eq!(d.hc_roles, ["Director of Hospital"]);
}

#[test]
fn cas_look_like_hpki() {
    let jma = HpkiCertificate::parse(&pki().issuer(Issuer::JmaAuth).der).unwrap();
    assert_eq!(jma.kind, CertKind::Ca);
    assert_eq!(jma.policies, [hpki::oids::POLICY_AUTH_CA]);
    assert!(jma.policies_critical);
    assert_eq!(jma.path_len, Some(0));
    assert!(
        jma.crl_distribution_points
            .iter()
            .any(|d| matches!(d, DistributionPoint::DirectoryName(n) if n.ends_with("CN=SARL")))
    );
    let root = HpkiCertificate::parse(&pki().root.der).unwrap();
    assert!(root.is_self_issued());
    assert_eq!(HpkiCertificate::parse(&pki().medis_auth.der).unwrap().public_key, "P-256");
}

#[test]
fn crls_verify_and_list_the_revoked_card() {
    let revoked = pki().card("revoked-doctor-auth").unwrap();
    let jma_auth = HpkiCertificate::parse(&pki().jma_auth.der).unwrap();
    let crl = crate::support::crls().into_iter().find(|c| c.is_issued_by_name(&jma_auth)).unwrap();
    crl.verify_signature(&jma_auth).unwrap();
    crl.check_fresh(TestPki::VALID_AT, time::Duration::ZERO).unwrap();
    assert!(crl.lookup(&revoked.issued.serial.to_be_bytes()).is_some());
    assert!(crl.lookup(&pki().card("doctor-auth").unwrap().issued.serial.to_be_bytes()).is_none());
    assert_eq!(crl.len(), 6);
}

#[test]
fn files_cover_certificates_keys_and_crls() {
    let files = pki().files().unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for n in [
        "ca-root.pem",
        "ca-jma-auth.der",
        "doctor-auth.key.pem",
        "doctor-auth.pem",
        "crl-jma-auth.crl",
        "crl-root.crl.pem",
        "manifest.json",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let key = &files.iter().find(|(n, _)| n == "doctor-auth.key.pem").unwrap().1;
    assert!(String::from_utf8_lossy(key).starts_with("-----BEGIN PRIVATE KEY-----"));
}
