//! The real HPKI certificates of `tests/data/real` (copied from `shared/hpki-samples`), read
//! exactly as that README states.

use hpki::{CertKind, DistributionPoint, HpkiCertificate};

pub fn real(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/real/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn parse(name: &str) -> HpkiCertificate {
    HpkiCertificate::parse(&real(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const SIGN_EE: &str = "1.2.392.100495.1.5.1.1.0.1";

#[test]
fn medis_doctor() {
    let c = parse("ee-medis-doctor-sign-Test117120.der");
    assert_eq!(c.romaji_name.as_deref(), Some("Sanjushi Kagurazaka"));
    assert_eq!(c.kanji_name.as_deref(), Some("神楽坂\u{3000}三十四"));
    assert_eq!(c.subscriber_id.as_deref(), Some("Test117120"));
    assert_eq!(c.organization.as_deref(), Some("MEDIS UNIVERSITY HOSPITAL"));
    assert_eq!(c.kanji_organization.as_deref(), Some("医療情報大学病院"));
    assert_eq!(c.hc_roles, ["Medical Doctor"]);
    assert_eq!(c.policies, [SIGN_EE]);
    assert!(c.policies_critical);
    assert_eq!(c.kind, CertKind::Signature);
    let ku = c.key_usage.unwrap();
    assert!(ku.non_repudiation && !ku.digital_signature);
    assert_eq!(c.extended_key_usage, None);
    assert_eq!(
        c.crl_distribution_points,
        [DistributionPoint::Uri("http://cert.medis.or.jp/sign/crl-sign2.crl".into())]
    );
    assert_eq!(
        c.subject,
        "C=JP, O=MEDIS UNIVERSITY HOSPITAL, CN=Sanjushi Kagurazaka, serialNumber=Test117120"
    );
    assert_eq!(c.issuer, "C=JP, O=MEDIS, OU=MEDIS HPKI CA, CN=HPKI-01-MedisSignCA2-forNonRepudiation");
    assert_eq!(c.serial, "015e");
    assert_eq!(c.not_before.to_string(), "2022-02-06 15:00:00.0 +00:00:00");
    assert_eq!(c.not_after.to_string(), "2027-02-07 14:59:59.0 +00:00:00");
    assert_eq!(c.public_key, "RSA-2048");
    assert!(c.unknown_critical_extensions.is_empty());
}

#[test]
fn medis_pharmacist() {
    let c = parse("ee-medis-pharmacist-sign-Test317044.der");
    assert_eq!(c.romaji_name.as_deref(), Some("Shiju Kagurazaka"));
    assert_eq!(c.kanji_name.as_deref(), Some("神楽坂\u{3000}四十"));
    assert_eq!(c.subscriber_id.as_deref(), Some("Test317044"));
    assert_eq!(c.hc_roles, ["Pharmacist"]);
    assert_eq!(c.policies, [SIGN_EE]);
    assert_eq!(c.kind, CertKind::Signature);
}

#[test]
fn jma_doctor() {
    let c = parse("ee-jma-doctor-sign-TESTC20766.der");
    assert_eq!(c.subject, "C=JP, CN=JMACombi20766, serialNumber=TESTC20766");
    assert_eq!(c.romaji_name.as_deref(), Some("JMACombi20766"));
    assert_eq!(c.kanji_name, None);
    assert_eq!(c.organization, None);
    assert_eq!(c.subscriber_id.as_deref(), Some("TESTC20766"));
    assert_eq!(c.hc_roles, ["Medical Doctor"]);
    assert_eq!(c.policies, [SIGN_EE]);
    assert_eq!(
        c.crl_distribution_points,
        [DistributionPoint::Uri("http://crl.pki.med.or.jp/repository/crl/crl-sign2.crl".into())]
    );
    assert_eq!(c.not_before.to_string(), "2022-01-31 15:00:00.0 +00:00:00");
    assert_eq!(c.not_after.to_string(), "2023-01-31 14:59:59.0 +00:00:00");
}

#[test]
fn jma_pharmacist() {
    let c = parse("ee-jma-pharmacist-sign-T20024.der");
    assert_eq!(c.romaji_name.as_deref(), Some("20024 JPATEST"));
    assert_eq!(c.subscriber_id.as_deref(), Some("T20024-jpa"));
    assert_eq!(c.hc_roles, ["Pharmacist"]);
    assert_eq!(c.kind, CertKind::Signature);
}

#[test]
fn cas() {
    let root = parse("mhlw-hpki-root-ca-v2.der");
    assert_eq!(root.kind, CertKind::Ca);
    assert!(root.is_self_issued());
    assert_eq!(root.romaji_name, None, "OU-only subject, no CN");
    assert!(root.subject.ends_with("OU=MHLW HPKI Root CA V2"), "{}", root.subject);
    assert_eq!(root.not_before.year(), 2014);
    assert_eq!(root.not_after.to_string(), "2044-01-16 14:59:59.0 +00:00:00");

    let auth = parse("medis-auth-ca2.der");
    assert_eq!(auth.kind, CertKind::Ca);
    assert_eq!(auth.policies, ["1.2.392.100495.1.5.1.2.3.1"]);
    assert!(auth.policies_critical);
    assert_eq!(auth.romaji_name.as_deref(), Some("HPKI-01-MedisAuthCA2-forAuthentication-forIndividual"));

    let sign = parse("medis-sign-ca2.der");
    assert_eq!(sign.policies, ["1.2.392.100495.1.5.1.1.3.1"]);
    assert!(sign.key_usage.unwrap().key_cert_sign);

    let jma = parse("jma-sign-ca-jv2.der");
    assert_eq!(jma.policies, ["1.2.392.100495.1.5.1.1.3.1"]);
    assert!(
        jma.crl_distribution_points.iter().any(|dp| matches!(
            dp,
            DistributionPoint::DirectoryName(n) if n.ends_with("OU=MHLW HPKI Root CA V2, CN=SARL")
        )),
        "{:?}",
        jma.crl_distribution_points
    );
}

#[test]
fn shared_samples_match_the_copies() {
    // The copies under tests/data/real are the files of ../shared/hpki-samples when present.
    let shared = format!("{}/../../shared/hpki-samples", env!("CARGO_MANIFEST_DIR"));
    let Ok(dir) = std::fs::read_dir(&shared) else {
        return;
    };
    let mut n = 0;
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".der") {
            assert_eq!(std::fs::read(entry.path()).unwrap(), real(&name), "{name}");
            n += 1;
        }
    }
    assert_eq!(n, 8);
}

#[test]
fn pem_and_der_agree() {
    let der = real("medis-auth-ca2.der");
    let b64 = base64_encode(&der);
    let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
    let a = HpkiCertificate::parse(pem.as_bytes()).unwrap();
    assert_eq!(a.der(), der.as_slice());
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

mod chain {
    use super::*;
    use hpki::{CheckOptions, ErrorCode, Profile, Purpose, RevocationMode, TrustStore, verify_certificate};
    use time::macros::datetime;

    const EES: [(&str, &str); 4] = [
        ("ee-medis-doctor-sign-Test117120.der", "medis-sign-ca2.der"),
        ("ee-medis-pharmacist-sign-Test317044.der", "medis-sign-ca2.der"),
        ("ee-jma-doctor-sign-TESTC20766.der", "jma-sign-ca-jv2.der"),
        ("ee-jma-pharmacist-sign-T20024.der", "jma-sign-ca-jv2.der"),
    ];

    fn all_cas() -> TrustStore {
        TrustStore::new(
            ["mhlw-hpki-root-ca-v2.der", "medis-auth-ca2.der", "medis-sign-ca2.der", "jma-sign-ca-jv2.der"]
                .map(parse)
                .to_vec(),
        )
    }

    fn no_crl() -> CheckOptions {
        CheckOptions { revocation: RevocationMode::IfSupplied, ..CheckOptions::default() }
    }

    /// A time inside the validity of the end entity.
    fn inside(ee: &HpkiCertificate) -> time::OffsetDateTime {
        ee.not_before + time::Duration::days(30)
    }

    #[test]
    fn signature_certificates_validate_to_the_mhlw_root() {
        let trust = all_cas();
        for (ee, ca) in EES {
            let cert = parse(ee);
            let ok = verify_certificate(
                &cert,
                &trust,
                &[],
                inside(&cert),
                Purpose::Signature,
                &Profile::hpki(),
                &no_crl(),
            )
            .unwrap_or_else(|e| panic!("{ee}: {e}"));
            assert_eq!(ok.chain.len(), 2, "{ee}");
            assert_eq!(ok.chain[0], parse(ca).subject);
            assert!(ok.chain[1].ends_with("OU=MHLW HPKI Root CA V2"));
        }
    }

    #[test]
    fn issuing_ca_alone_is_an_anchor() {
        for (ee, ca) in EES {
            let cert = parse(ee);
            let trust = TrustStore::new(vec![parse(ca)]);
            let ok = verify_certificate(
                &cert,
                &trust,
                &[],
                inside(&cert),
                Purpose::Signature,
                &Profile::generic(),
                &no_crl(),
            )
            .unwrap();
            assert_eq!(ok.chain.len(), 1);
        }
    }

    #[test]
    fn card_login_refuses_signature_certificates() {
        let trust = all_cas();
        for (ee, _) in EES {
            let cert = parse(ee);
            for profile in [Profile::hpki(), Profile::generic()] {
                let err = verify_certificate(
                    &cert,
                    &trust,
                    &[],
                    inside(&cert),
                    Purpose::Authentication,
                    &profile,
                    &no_crl(),
                )
                .unwrap_err();
                assert_eq!(err.code, ErrorCode::WrongPurpose, "{ee}");
            }
        }
    }

    #[test]
    fn outside_validity_and_wrong_ca() {
        let trust = all_cas();
        let cert = parse("ee-jma-doctor-sign-TESTC20766.der");
        let p = Purpose::Signature;
        let err = verify_certificate(
            &cert,
            &trust,
            &[],
            datetime!(2023-02-01 00:00 UTC),
            p,
            &Profile::hpki(),
            &no_crl(),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::CertExpired);
        let err = verify_certificate(
            &cert,
            &trust,
            &[],
            datetime!(2022-01-31 14:59:59 UTC),
            p,
            &Profile::hpki(),
            &no_crl(),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::CertNotYetValid);
        let medis_only = TrustStore::new(vec![parse("medis-sign-ca2.der"), parse("medis-auth-ca2.der")]);
        let err = verify_certificate(&cert, &medis_only, &[], inside(&cert), p, &Profile::hpki(), &no_crl())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::CertUntrusted);
        // The root alone is not enough without the issuing CA.
        let root_only = TrustStore::new(vec![parse("mhlw-hpki-root-ca-v2.der")]);
        let err = verify_certificate(&cert, &root_only, &[], inside(&cert), p, &Profile::hpki(), &no_crl())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::CertUntrusted);
        // Revocation required and no CRL supplied: fail closed.
        let err = verify_certificate(
            &cert,
            &trust,
            &[],
            inside(&cert),
            p,
            &Profile::hpki(),
            &CheckOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::RevocationUnavailable);
    }

    #[test]
    fn real_cas_chain_to_the_root() {
        let trust = TrustStore::new(vec![parse("mhlw-hpki-root-ca-v2.der")]);
        for ca in ["medis-auth-ca2.der", "medis-sign-ca2.der", "jma-sign-ca-jv2.der"] {
            let c = parse(ca);
            let path = hpki::chain::validate_path(&c, &trust, datetime!(2025-01-01 00:00 UTC)).unwrap();
            assert_eq!(path.len(), 1, "{ca}");
        }
    }
}
