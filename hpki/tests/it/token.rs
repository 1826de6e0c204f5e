//! Card-token validation: positive cases for every algorithm, and negative cases in docs/design.md §5
//! order, each asserting its exact error code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hpki::testpki::{
    CertSpec, CrlSpec, HcRoleEncoding, Issued, TestPki, VirtualCard, issue, issue_crl, issue_with_algorithm,
    name,
};
use hpki::{Algorithm, CardIdentity, Crl, Error, Profile, RoleFilter, TrustStore};
use serde_json::Value;
use time::Duration;

use crate::support::{NONCE, ORIGIN, crls, pki, trust, validator};

const NOW: time::OffsetDateTime = TestPki::VALID_AT;

fn code(r: Result<CardIdentity, Error>) -> &'static str {
    match r {
        Ok(id) => panic!("unexpectedly valid: {:?}", id.romaji_name),
        Err(e) => e.code(),
    }
}

fn card(name: &str) -> VirtualCard {
    pki().card(name).unwrap().virtual_card()
}

fn token(card: &VirtualCard) -> String {
    card.token(ORIGIN, NONCE, card.default_algorithm()).unwrap()
}

fn hpki_validate(token: &str) -> Result<CardIdentity, Error> {
    validator(Profile::hpki()).validate(token, ORIGIN, NONCE, &crls(), NOW)
}

/// A token with one field replaced (or removed when `value` is `None`).
fn edited(field: &str, value: Option<Value>) -> String {
    let mut v = card("doctor-auth").token_value(ORIGIN, NONCE, Algorithm::RS256).unwrap();
    let obj = v.as_object_mut().unwrap();
    match value {
        Some(x) => obj.insert(field.into(), x),
        None => obj.remove(field),
    };
    v.to_string()
}

/// A card under the JMA-like authentication CA built from the doctor's spec, edited by `f`.
fn custom(f: impl FnOnce(&mut CertSpec)) -> VirtualCard {
    let doctor = &pki().card("doctor-auth").unwrap().issued;
    let mut spec = CertSpec::end_entity(
        name(&[("C", "JP"), ("CN", "Custom Doctor"), ("serialNumber", "TESTJ09999")]),
        0x7777,
        "Medical Doctor",
        false,
    );
    spec.kanji = Some((None, "試験　医師".into()));
    f(&mut spec);
    let issued = issue(&spec, &doctor.key, Some(&pki().jma_auth)).unwrap();
    VirtualCard { certificate: issued.der, key: doctor.key.clone() }
}

/// A CA under the test root (reusing an existing key), edited by `f`.
fn custom_ca(cn: &str, f: impl FnOnce(&mut CertSpec)) -> Issued {
    let mut spec = CertSpec::ca(
        name(&[("C", "JP"), ("O", "Custom CA (TEST)"), ("CN", cn)]),
        0x5000,
        Some(0),
        hpki::oids::POLICY_AUTH_CA,
    );
    f(&mut spec);
    issue(&spec, &pki().medis_sign.key, Some(&pki().root)).unwrap()
}

fn card_under(ca: &Issued) -> VirtualCard {
    let doctor = &pki().card("doctor-auth").unwrap().issued;
    let spec = CertSpec::end_entity(
        name(&[("C", "JP"), ("CN", "Sub Doctor"), ("serialNumber", "TESTX00001")]),
        0x8888,
        "Medical Doctor",
        false,
    );
    VirtualCard { certificate: issue(&spec, &doctor.key, Some(ca)).unwrap().der, key: doctor.key.clone() }
}

fn trust_with(extra: &[&Issued]) -> TrustStore {
    let mut ders: Vec<&[u8]> = pki().ca_certificates();
    ders.extend(extra.iter().map(|c| c.der.as_slice()));
    TrustStore::from_certificates(ders).unwrap()
}

mod positive {
    use super::*;

    #[test]
    fn every_rsa_algorithm() {
        let c = card("doctor-auth");
        for alg in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            let id = hpki_validate(&c.token(ORIGIN, NONCE, alg).unwrap())
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(id.algorithm, alg);
            assert_eq!(id.hc_roles, ["Medical Doctor"]);
            assert_eq!(id.kanji_name.as_deref(), Some("日本\u{3000}太郎"));
            assert_eq!(id.romaji_name.as_deref(), Some("Taro Nihon"));
            assert_eq!(id.subscriber_id.as_deref(), Some("TESTJ00001"));
            assert_eq!(id.revocation, hpki::RevocationStatus::Good);
            assert_eq!(id.chain.len(), 2);
        }
    }

    #[test]
    fn ecdsa_p256_and_p384() {
        let id = hpki_validate(&token(&card("doctor-auth-p256"))).unwrap();
        assert_eq!(id.algorithm, Algorithm::ES256);
        assert_eq!(id.organization.as_deref(), Some("SHIKAKU TEST HOSPITAL"));
        let id = hpki_validate(&token(&card("doctor-auth-p384"))).unwrap();
        assert_eq!(id.algorithm, Algorithm::ES384);
    }

    #[test]
    fn ecdsa_p521() {
        let c = card("doctor-auth-p521");
        let id = hpki_validate(&token(&c)).unwrap();
        assert_eq!(id.algorithm, Algorithm::ES512);
        assert_eq!(id.subscriber_id.as_deref(), Some("TESTJ00004"));
        // The P-521 key does not sign ES256 or ES384.
        let mut v: Value = serde_json::from_str(&token(&c)).unwrap();
        v["algorithm"] = "ES384".into();
        assert_eq!(code(hpki_validate(&v.to_string())), "signature_invalid");
    }

    #[test]
    fn pharmacist_and_director_with_role_filters() {
        let only = |roles: &[&str]| {
            validator(Profile::hpki_with_roles(RoleFilter::Only(
                roles.iter().map(|r| r.to_string()).collect(),
            )))
        };
        let t = token(&card("director-auth"));
        let id = only(&["Director of Hospital", "Director of Clinic"])
            .validate(&t, ORIGIN, NONCE, &crls(), NOW)
            .unwrap();
        assert_eq!(id.hc_roles, ["Director of Hospital"]);
        let t = token(&card("pharmacist-auth"));
        assert!(only(&["Pharmacist"]).validate(&t, ORIGIN, NONCE, &crls(), NOW).is_ok());
    }

    #[test]
    fn generic_profile_accepts_hpki_cards() {
        let t = token(&card("doctor-auth"));
        assert!(validator(Profile::generic()).validate(&t, ORIGIN, NONCE, &crls(), NOW).is_ok());
    }

    #[test]
    fn bmp_string_role_and_long_nonce() {
        let c = custom(|s| s.hc_role = Some(("Medical Doctor".into(), HcRoleEncoding::Bmp)));
        let nonce = "n".repeat(128);
        let t = c.token(ORIGIN, &nonce, Algorithm::RS256).unwrap();
        let id = validator(Profile::hpki()).validate(&t, ORIGIN, &nonce, &crls(), NOW).unwrap();
        assert_eq!(id.hc_roles, ["Medical Doctor"]);
    }

    #[test]
    fn crl_within_grace_is_used() {
        let v = validator(Profile::hpki());
        let t = token(&card("doctor-auth"));
        // nextUpdate passed 30 minutes ago; the default grace is one hour.
        let spec = CrlSpec {
            this_update: NOW - Duration::days(2),
            next_update: Some(NOW - Duration::minutes(30)),
            revoked: vec![],
            number: 2,
            delta: false,
        };
        let crl = Crl::parse(&issue_crl(&spec, &pki().jma_auth, None).unwrap()).unwrap();
        assert!(v.validate(&t, ORIGIN, NONCE, &[crl], NOW).is_ok());
    }
}

mod format {
    use super::*;

    #[test]
    fn size_limits() {
        assert_eq!(code(hpki_validate("{}")), "token_malformed");
        assert_eq!(code(hpki_validate(&format!("{{\"format\":\"{}\"}}", "x".repeat(90)))), "token_malformed");
        assert_eq!(
            code(hpki_validate(&edited("appVersion", Some(Value::String("v".repeat(10_000)))))),
            "token_malformed"
        );
    }

    #[test]
    fn not_a_json_object() {
        let t = token(&card("doctor-auth"));
        assert_eq!(code(hpki_validate(&t[..t.len() - 1])), "token_malformed");
        assert_eq!(code(hpki_validate(&format!("[{t}]"))), "token_malformed");
        assert_eq!(code(hpki_validate(&format!("\"{}\"", "a".repeat(200)))), "token_malformed");
    }

    #[test]
    fn unknown_or_missing_format() {
        assert_eq!(code(hpki_validate(&edited("format", Some("web-eid:2.0".into())))), "token_malformed");
        assert_eq!(code(hpki_validate(&edited("format", Some("WEB-EID:1.0".into())))), "token_malformed");
        assert_eq!(code(hpki_validate(&edited("format", None))), "token_malformed");
        assert_eq!(code(hpki_validate(&edited("format", Some(Value::from(1))))), "token_malformed");
    }

    #[test]
    fn missing_or_non_base64_fields() {
        assert_eq!(code(hpki_validate(&edited("unverifiedCertificate", None))), "token_malformed");
        assert_eq!(
            code(hpki_validate(&edited("unverifiedCertificate", Some("not base64!".into())))),
            "token_malformed"
        );
        assert_eq!(code(hpki_validate(&edited("unverifiedCertificate", Some("".into())))), "token_malformed");
        assert_eq!(code(hpki_validate(&edited("signature", None))), "token_malformed");
        assert_eq!(code(hpki_validate(&edited("signature", Some("%%%%".into())))), "token_malformed");
        assert_eq!(code(hpki_validate(&edited("signature", Some(Value::from(12345))))), "token_malformed");
        assert_eq!(code(hpki_validate(&edited("algorithm", None))), "token_malformed");
    }
}

mod algorithm {
    use super::*;

    #[test]
    fn none_unknown_and_lowercase_are_refused() {
        for alg in ["none", "HS256", "rs256", "EdDSA", "RS1"] {
            assert_eq!(
                code(hpki_validate(&edited("algorithm", Some(alg.into())))),
                "algorithm_not_allowed",
                "{alg}"
            );
        }
    }

    #[test]
    fn none_without_a_signature_is_not_allowed_rather_than_malformed() {
        for signature in [None, Some(Value::from("")), Some(Value::Null)] {
            let mut v = card("doctor-auth").token_value(ORIGIN, NONCE, Algorithm::RS256).unwrap();
            v["algorithm"] = "none".into();
            match &signature {
                Some(s) => v["signature"] = s.clone(),
                None => {
                    v.as_object_mut().unwrap().remove("signature");
                }
            }
            assert_eq!(
                code(hpki_validate(&v.to_string())),
                "algorithm_not_allowed",
                "signature {signature:?}"
            );
        }
    }

    #[test]
    fn configured_allow_list() {
        let mut v = validator(Profile::hpki());
        v.allowed_algorithms = vec![Algorithm::ES256];
        assert_eq!(
            code(v.validate(&token(&card("doctor-auth")), ORIGIN, NONCE, &crls(), NOW)),
            "algorithm_not_allowed"
        );
    }

    #[test]
    fn algorithm_not_matching_the_key() {
        // Claimed ES256 for an RSA certificate, PS256 for an RS256 signature, ES384 on P-256.
        let rsa = card("doctor-auth");
        let mut v = rsa.token_value(ORIGIN, NONCE, Algorithm::RS256).unwrap();
        v["algorithm"] = "ES256".into();
        assert_eq!(code(hpki_validate(&v.to_string())), "signature_invalid");
        v["algorithm"] = "PS256".into();
        assert_eq!(code(hpki_validate(&v.to_string())), "signature_invalid");
        let p256 = card("doctor-auth-p256");
        let mut v = p256.token_value(ORIGIN, NONCE, Algorithm::ES256).unwrap();
        v["algorithm"] = "ES384".into();
        assert_eq!(code(hpki_validate(&v.to_string())), "signature_invalid");
        v["algorithm"] = "ES512".into();
        assert_eq!(code(hpki_validate(&v.to_string())), "signature_invalid");
    }
}

mod certificate {
    use super::*;

    fn with_cert(der: &[u8]) -> String {
        edited("unverifiedCertificate", Some(STANDARD.encode(der).into()))
    }

    #[test]
    fn garbage_and_truncated_der() {
        assert_eq!(code(hpki_validate(&with_cert(b"not a certificate at all"))), "cert_malformed");
        let der = &pki().card("doctor-auth").unwrap().issued.der;
        assert_eq!(code(hpki_validate(&with_cert(&der[..der.len() - 10]))), "cert_malformed");
        assert_eq!(code(hpki_validate(&with_cert(&der[..40]))), "cert_malformed");
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(code(hpki_validate(&with_cert(&trailing))), "cert_malformed");
    }

    #[test]
    fn malformed_hcrole() {
        for enc in [
            HcRoleEncoding::Implicit,
            HcRoleEncoding::WrongScheme,
            HcRoleEncoding::EmptyActorData,
            HcRoleEncoding::NotAString,
        ] {
            let c = custom(|s| s.hc_role = Some(("Medical Doctor".into(), enc)));
            assert_eq!(code(hpki_validate(&token(&c))), "cert_malformed", "{enc:?}");
        }
        let c = custom(|s| s.hc_role = Some(("   ".into(), HcRoleEncoding::Explicit)));
        assert_eq!(code(hpki_validate(&token(&c))), "cert_malformed");
    }
}

mod purpose {
    use super::*;

    #[test]
    fn signature_certificate_for_login() {
        assert_eq!(code(hpki_validate(&token(&card("doctor-sign")))), "wrong_purpose");
        let t = token(&card("doctor-sign"));
        assert_eq!(
            code(validator(Profile::generic()).validate(&t, ORIGIN, NONCE, &crls(), NOW)),
            "wrong_purpose"
        );
    }

    #[test]
    fn missing_key_usage() {
        assert_eq!(code(hpki_validate(&token(&custom(|s| s.key_usage = None)))), "wrong_purpose");
        assert_eq!(code(hpki_validate(&token(&custom(|s| s.key_usage = Some(vec![2]))))), "wrong_purpose");
    }

    #[test]
    fn eku_without_client_auth() {
        let c = custom(|s| s.eku = Some(vec!["1.3.6.1.5.5.7.3.4".into()]));
        assert_eq!(code(hpki_validate(&token(&c))), "wrong_purpose");
        let ok =
            custom(|s| s.eku = Some(vec!["1.3.6.1.5.5.7.3.4".into(), hpki::oids::EKU_CLIENT_AUTH.into()]));
        assert!(hpki_validate(&token(&ok)).is_ok());
    }

    #[test]
    fn ca_certificate_as_card() {
        let ca = &pki().jma_auth;
        let c = VirtualCard { certificate: ca.der.clone(), key: ca.key.clone() };
        assert_eq!(code(hpki_validate(&token(&c))), "wrong_purpose");
    }
}

mod profile {
    use super::*;

    #[test]
    fn signature_policy_with_digital_signature() {
        let c = custom(|s| s.policies = vec![hpki::oids::POLICY_SIGNATURE_EE.into()]);
        assert_eq!(code(hpki_validate(&token(&c))), "policy_not_allowed");
        let both = custom(|s| s.policies.push(hpki::oids::POLICY_SIGNATURE_EE.into()));
        assert_eq!(code(hpki_validate(&token(&both))), "policy_not_allowed");
    }

    #[test]
    fn no_or_unknown_policy() {
        assert_eq!(code(hpki_validate(&token(&custom(|s| s.policies.clear())))), "policy_not_allowed");
        let other = custom(|s| s.policies = vec!["1.2.3.4.5".into()]);
        assert_eq!(code(hpki_validate(&token(&other))), "policy_not_allowed");
        // Under `generic` the same certificate is fine.
        let t = token(&other);
        assert!(validator(Profile::generic()).validate(&t, ORIGIN, NONCE, &crls(), NOW).is_ok());
    }

    #[test]
    fn generic_deny_list() {
        let v = validator(Profile::Generic { denied_policies: vec![hpki::oids::POLICY_AUTH_EE.into()] });
        assert_eq!(
            code(v.validate(&token(&card("doctor-auth")), ORIGIN, NONCE, &crls(), NOW)),
            "policy_not_allowed"
        );
    }

    #[test]
    fn no_hcrole() {
        assert_eq!(code(hpki_validate(&token(&custom(|s| s.hc_role = None)))), "role_not_allowed");
        let wrong_attr =
            custom(|s| s.hc_role = Some(("Medical Doctor".into(), HcRoleEncoding::WrongAttribute)));
        assert_eq!(code(hpki_validate(&token(&wrong_attr))), "role_not_allowed");
    }

    #[test]
    fn role_not_allowed() {
        let v = validator(Profile::hpki_with_roles(RoleFilter::Only(vec!["Medical Doctor".into()])));
        assert_eq!(
            code(v.validate(&token(&card("pharmacist-auth")), ORIGIN, NONCE, &crls(), NOW)),
            "role_not_allowed"
        );
        assert_eq!(
            code(v.validate(&token(&card("director-auth")), ORIGIN, NONCE, &crls(), NOW)),
            "role_not_allowed"
        );
        // Case and spacing matter.
        let c = custom(|s| s.hc_role = Some(("medical doctor".into(), HcRoleEncoding::Explicit)));
        assert_eq!(code(v.validate(&token(&c), ORIGIN, NONCE, &crls(), NOW)), "role_not_allowed");
    }
}

mod validity {
    use super::*;

    #[test]
    fn expired_and_not_yet_valid_end_entity() {
        let v = validator(Profile::hpki());
        let t = token(&card("doctor-auth"));
        assert_eq!(
            code(v.validate(&t, ORIGIN, NONCE, &crls(), TestPki::EE_NOT_AFTER + Duration::seconds(1))),
            "cert_expired"
        );
        assert_eq!(
            code(v.validate(&t, ORIGIN, NONCE, &crls(), TestPki::EE_NOT_BEFORE - Duration::seconds(1))),
            "cert_not_yet_valid"
        );
        // At notBefore itself the certificate is valid (the CRLs of the test PKI are not yet).
        let mut v = v;
        v.options.revocation = hpki::RevocationMode::IfSupplied;
        assert!(v.validate(&t, ORIGIN, NONCE, &[], TestPki::EE_NOT_BEFORE).is_ok());
    }

    #[test]
    fn expired_ca() {
        let ca = custom_ca("Expired CA", |s| s.not_after = NOW - Duration::days(1));
        let v = hpki::CardTokenValidator::new(trust_with(&[&ca]), Profile::hpki());
        assert_eq!(code(v.validate(&token(&card_under(&ca)), ORIGIN, NONCE, &crls(), NOW)), "cert_expired");
        let future = custom_ca("Future CA", |s| s.not_before = NOW + Duration::days(1));
        let v = hpki::CardTokenValidator::new(trust_with(&[&future]), Profile::hpki());
        assert_eq!(
            code(v.validate(&token(&card_under(&future)), ORIGIN, NONCE, &crls(), NOW)),
            "cert_not_yet_valid"
        );
    }
}

mod chain {
    use super::*;

    /// ecdsa-with-SHA256 as an AlgorithmIdentifier, followed by `params` (DER) if any.
    fn ecdsa_sha256(params: &[u8]) -> Vec<u8> {
        let oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
        let len = u8::try_from(oid.len() + params.len()).unwrap();
        [&[0x30, len][..], &oid, params].concat()
    }

    /// A P-256 card issued by the P-256 MEDIS-like CA with `algorithm` as its signatureAlgorithm.
    fn p256_card_signed_as(algorithm: &[u8]) -> VirtualCard {
        let doctor = &pki().card("doctor-auth-p256").unwrap().issued;
        let mut spec = CertSpec::end_entity(
            name(&[("C", "JP"), ("CN", "Custom Doctor"), ("serialNumber", "TESTM09999")]),
            0x7778,
            "Medical Doctor",
            false,
        );
        spec.kanji = Some((None, "試験　医師".into()));
        let issued = issue_with_algorithm(&spec, &doctor.key, Some(&pki().medis_auth), algorithm).unwrap();
        VirtualCard { certificate: issued.der, key: doctor.key.clone() }
    }

    #[test]
    fn ecdsa_signature_algorithm_with_absent_or_null_parameters() {
        // Absent (RFC 5758) is what the test PKI writes; an explicit NULL is what some national
        // eID CAs write and mainstream validators accept.
        for params in [&[][..], &[0x05, 0x00]] {
            let id = hpki_validate(&token(&p256_card_signed_as(&ecdsa_sha256(params)))).unwrap();
            assert_eq!(id.subscriber_id.as_deref(), Some("TESTM09999"), "{params:?}");
        }
        // Anything else there is refused: an INTEGER, a NULL with content, an OID.
        for params in [&[0x02, 0x01, 0x00][..], &[0x05, 0x01, 0x00], &[0x06, 0x03, 0x2b, 0x65, 0x70]] {
            let err = hpki_validate(&token(&p256_card_signed_as(&ecdsa_sha256(params)))).unwrap_err();
            assert_eq!(err.code(), "cert_untrusted", "{params:?}");
        }
    }

    #[test]
    fn untrusted_ca() {
        // A CA under the test root that is not configured, and a store without the issuer.
        let ca = custom_ca("Unconfigured CA", |_| {});
        assert_eq!(code(hpki_validate(&token(&card_under(&ca)))), "cert_untrusted");
        let medis_only = TrustStore::from_certificates([pki().medis_auth.der.as_slice()]).unwrap();
        let v = hpki::CardTokenValidator::new(medis_only, Profile::hpki());
        assert_eq!(
            code(v.validate(&token(&card("doctor-auth")), ORIGIN, NONCE, &crls(), NOW)),
            "cert_untrusted"
        );
        let v = hpki::CardTokenValidator::new(TrustStore::default(), Profile::hpki());
        assert_eq!(
            code(v.validate(&token(&card("doctor-auth")), ORIGIN, NONCE, &crls(), NOW)),
            "cert_untrusted"
        );
    }

    /// A look-alike of the JMA-like CA: same subject, another key, self-issued.
    fn look_alike_jma_ca(serial: u64) -> Issued {
        let mut spec = CertSpec::ca(vec![], serial, Some(0), hpki::oids::POLICY_AUTH_CA);
        spec.subject = name(&[
            ("C", "JP"),
            ("O", "Japan Medical Association (TEST)"),
            ("OU", "Digital Certificate Center"),
            ("CN", "TEST-HPKI-01-JMA-forAuthentication"),
        ]);
        issue(&spec, &pki().medis_sign.key, None).unwrap()
    }

    #[test]
    fn same_name_other_key() {
        // A look-alike of the JMA-like CA (same subject, another key) signs a card.
        let real = hpki::HpkiCertificate::parse(&pki().jma_auth.der).unwrap();
        let fake = look_alike_jma_ca(0x6000);
        assert_eq!(hpki::HpkiCertificate::parse(&fake.der).unwrap().subject, real.subject);
        assert_eq!(code(hpki_validate(&token(&card_under(&fake)))), "cert_untrusted");
    }

    #[test]
    fn remembered_signatures_still_get_every_time_check() {
        // One store validates twice: the second time the signatures are remembered, but the
        // CA's validity period still decides.
        let ca = custom_ca("Short-lived CA", |s| s.not_after = NOW + Duration::days(1));
        let v = hpki::CardTokenValidator::new(trust_with(&[&ca]), Profile::hpki());
        let mut v = v;
        v.options.revocation = hpki::RevocationMode::IfSupplied;
        let t = token(&card_under(&ca));
        assert!(v.validate(&t, ORIGIN, NONCE, &[], NOW).is_ok());
        assert!(v.validate(&t, ORIGIN, NONCE, &[], NOW).is_ok());
        assert_eq!(code(v.validate(&t, ORIGIN, NONCE, &[], NOW + Duration::days(2))), "cert_expired");
        // A clone shares what the store remembers and checks time just the same.
        let clone = v.clone();
        assert_eq!(code(clone.validate(&t, ORIGIN, NONCE, &[], NOW + Duration::days(2))), "cert_expired");
        assert!(clone.validate(&t, ORIGIN, NONCE, &[], NOW).is_ok());
    }

    #[test]
    fn a_remembered_signature_vouches_only_for_its_certificate() {
        // The store has checked the genuine card under the JMA-like CA; a card from a look-alike
        // of that CA (same subject, another key) is still refused, before and after.
        let fake = look_alike_jma_ca(0x6001);
        let v = validator(Profile::hpki());
        let genuine = token(&card("doctor-auth"));
        let forged = token(&card_under(&fake));
        assert_eq!(code(v.validate(&forged, ORIGIN, NONCE, &crls(), NOW)), "cert_untrusted");
        assert!(v.validate(&genuine, ORIGIN, NONCE, &crls(), NOW).is_ok());
        assert_eq!(code(v.validate(&forged, ORIGIN, NONCE, &crls(), NOW)), "cert_untrusted");
        assert!(v.validate(&genuine, ORIGIN, NONCE, &crls(), NOW).is_ok());
    }

    #[test]
    fn ca_without_key_cert_sign() {
        let ca = custom_ca("No keyCertSign CA", |s| s.key_usage = Some(vec![6]));
        let v = hpki::CardTokenValidator::new(trust_with(&[&ca]), Profile::hpki());
        assert_eq!(code(v.validate(&token(&card_under(&ca)), ORIGIN, NONCE, &crls(), NOW)), "cert_untrusted");
    }

    #[test]
    fn issuer_is_not_a_ca() {
        let ca = custom_ca("Not a CA", |s| s.ca = None);
        let v = hpki::CardTokenValidator::new(trust_with(&[&ca]), Profile::hpki());
        assert_eq!(code(v.validate(&token(&card_under(&ca)), ORIGIN, NONCE, &crls(), NOW)), "cert_untrusted");
    }

    #[test]
    fn path_length_exceeded() {
        // root → JMA-like auth CA (pathLen 0) → sub-CA → card: one intermediate too many.
        let mut spec = CertSpec::ca(
            name(&[("C", "JP"), ("CN", "Sub CA (TEST)")]),
            0x5100,
            None,
            hpki::oids::POLICY_AUTH_CA,
        );
        spec.crl_uri = None;
        let sub = issue(&spec, &pki().medis_sign.key, Some(&pki().jma_auth)).unwrap();
        let v = hpki::CardTokenValidator::new(trust_with(&[&sub]), Profile::hpki());
        let err = v.validate(&token(&card_under(&sub)), ORIGIN, NONCE, &crls(), NOW).unwrap_err();
        assert_eq!(err.code(), "cert_untrusted");
        assert!(err.detail.contains("pathLenConstraint"), "{}", err.detail);
    }

    #[test]
    fn unknown_critical_extension() {
        let c = custom(|s| s.extra_extensions.push(("1.2.3.4.5.6".into(), true, vec![0x05, 0x00])));
        assert_eq!(code(hpki_validate(&token(&c))), "cert_untrusted");
        let ok = custom(|s| s.extra_extensions.push(("1.2.3.4.5.6".into(), false, vec![0x05, 0x00])));
        assert!(hpki_validate(&token(&ok)).is_ok());
    }
}

mod signature {
    use super::*;

    #[test]
    fn signed_by_another_key() {
        let doctor = card("doctor-auth");
        let other = pki().card("pharmacist-auth").unwrap().issued.key.clone();
        let forged = VirtualCard { certificate: doctor.certificate.clone(), key: other };
        assert_eq!(code(hpki_validate(&token(&forged))), "signature_invalid");
    }

    #[test]
    fn wrong_origin() {
        let c = card("doctor-auth");
        for origin in [
            "https://idp.shikaku.example/",
            "https://idp.shikaku.example:8443",
            "http://idp.shikaku.example",
            "https://evil.example",
            "https://IDP.shikaku.example",
        ] {
            let t = c.token(origin, NONCE, Algorithm::RS256).unwrap();
            assert_eq!(code(hpki_validate(&t)), "signature_invalid", "{origin}");
        }
    }

    #[test]
    fn wrong_nonce() {
        let c = card("doctor-auth-p256");
        let t = c.token(ORIGIN, &NONCE.replace('q', "r"), Algorithm::ES256).unwrap();
        assert_eq!(code(hpki_validate(&t)), "signature_invalid");
    }

    #[test]
    fn tampered_or_truncated_signature() {
        let c = card("doctor-auth");
        let mut sig = c.sign(ORIGIN, NONCE, Algorithm::RS256).unwrap();
        sig[10] ^= 1;
        assert_eq!(
            code(hpki_validate(&edited("signature", Some(STANDARD.encode(&sig).into())))),
            "signature_invalid"
        );
        sig.truncate(100);
        assert_eq!(
            code(hpki_validate(&edited("signature", Some(STANDARD.encode(&sig).into())))),
            "signature_invalid"
        );
        let p = card("doctor-auth-p256");
        let mut v = p.token_value(ORIGIN, NONCE, Algorithm::ES256).unwrap();
        let s = STANDARD.decode(v["signature"].as_str().unwrap()).unwrap();
        v["signature"] = STANDARD.encode(&s[..63]).into();
        assert_eq!(code(hpki_validate(&v.to_string())), "signature_invalid");
    }
}

mod nonce {
    use super::*;

    #[test]
    fn nonce_length_outside_limits() {
        let v = validator(Profile::hpki());
        let t = token(&card("doctor-auth"));
        assert_eq!(code(v.validate(&t, ORIGIN, &NONCE[..43], &crls(), NOW)), "nonce_unknown");
        assert_eq!(code(v.validate(&t, ORIGIN, &"n".repeat(129), &crls(), NOW)), "nonce_unknown");
        assert_eq!(code(v.validate(&t, ORIGIN, "", &crls(), NOW)), "nonce_unknown");
    }
}

mod revocation {
    use super::*;

    fn jma_crl(spec: &CrlSpec, signer: Option<&hpki::testpki::TestKey>) -> Crl {
        Crl::parse(&issue_crl(spec, &pki().jma_auth, signer).unwrap()).unwrap()
    }

    fn fresh() -> CrlSpec {
        CrlSpec {
            this_update: NOW - Duration::days(1),
            next_update: Some(NOW + Duration::days(1)),
            revoked: vec![],
            number: 7,
            delta: false,
        }
    }

    #[test]
    fn revoked_card() {
        assert_eq!(code(hpki_validate(&token(&card("revoked-doctor-auth")))), "cert_revoked");
    }

    #[test]
    fn no_crl() {
        let v = validator(Profile::hpki());
        assert_eq!(
            code(v.validate(&token(&card("doctor-auth")), ORIGIN, NONCE, &[], NOW)),
            "revocation_unavailable"
        );
        // CRLs of other issuers do not count.
        let others: Vec<Crl> = crls().into_iter().skip(1).collect();
        assert_eq!(
            code(v.validate(&token(&card("doctor-auth")), ORIGIN, NONCE, &others, NOW)),
            "revocation_unavailable"
        );
    }

    #[test]
    fn crl_signed_by_the_wrong_key() {
        let v = validator(Profile::hpki());
        let crl = jma_crl(&fresh(), Some(&pki().jma_sign.key));
        assert_eq!(
            code(v.validate(&token(&card("doctor-auth")), ORIGIN, NONCE, &[crl], NOW)),
            "revocation_unavailable"
        );
    }

    #[test]
    fn stale_future_and_undated_crls() {
        let v = validator(Profile::hpki());
        let t = token(&card("doctor-auth"));
        let stale = CrlSpec { next_update: Some(NOW - Duration::hours(2)), ..fresh() };
        assert_eq!(
            code(v.validate(&t, ORIGIN, NONCE, &[jma_crl(&stale, None)], NOW)),
            "revocation_unavailable"
        );
        let future = CrlSpec { this_update: NOW + Duration::hours(2), ..fresh() };
        assert_eq!(
            code(v.validate(&t, ORIGIN, NONCE, &[jma_crl(&future, None)], NOW)),
            "revocation_unavailable"
        );
        let undated = CrlSpec { next_update: None, ..fresh() };
        assert_eq!(
            code(v.validate(&t, ORIGIN, NONCE, &[jma_crl(&undated, None)], NOW)),
            "revocation_unavailable"
        );
    }

    #[test]
    fn delta_crl_is_refused() {
        let delta = issue_crl(&CrlSpec { delta: true, ..fresh() }, &pki().jma_auth, None).unwrap();
        assert_eq!(Crl::parse(&delta).unwrap_err().code(), "revocation_unavailable");
    }

    #[test]
    fn newest_valid_crl_wins() {
        let v = validator(Profile::hpki());
        let serial = pki().card("doctor-auth").unwrap().issued.serial;
        let old = jma_crl(&fresh(), None);
        let newer = jma_crl(
            &CrlSpec {
                this_update: NOW - Duration::hours(1),
                revoked: vec![(serial, NOW - Duration::hours(1))],
                ..fresh()
            },
            None,
        );
        let t = token(&card("doctor-auth"));
        assert_eq!(code(v.validate(&t, ORIGIN, NONCE, &[old, newer], NOW)), "cert_revoked");
    }
}

mod order {
    use super::*;

    #[test]
    fn purpose_before_validity_and_signature() {
        // A signature certificate, expired, with a bad signature: purpose is reported.
        let v = validator(Profile::hpki());
        let forged = VirtualCard {
            certificate: card("doctor-sign").certificate,
            key: pki().card("pharmacist-auth").unwrap().issued.key.clone(),
        };
        assert_eq!(
            code(v.validate(&token(&forged), ORIGIN, NONCE, &[], TestPki::EE_NOT_AFTER + Duration::days(1))),
            "wrong_purpose"
        );
    }

    #[test]
    fn chain_before_signature_and_signature_before_revocation() {
        let ca = custom_ca("Unconfigured CA 2", |_| {});
        let under = card_under(&ca);
        let forged = VirtualCard {
            certificate: under.certificate,
            key: pki().card("pharmacist-auth").unwrap().issued.key.clone(),
        };
        assert_eq!(code(hpki_validate(&token(&forged))), "cert_untrusted");
        let revoked = card("revoked-doctor-auth");
        let t = revoked.token("https://other.example", NONCE, Algorithm::RS256).unwrap();
        assert_eq!(code(hpki_validate(&t)), "signature_invalid");
        let v = validator(Profile::hpki());
        assert_eq!(code(v.validate(&t, ORIGIN, NONCE, &[], NOW)), "signature_invalid");
    }

    #[test]
    fn format_before_algorithm_before_certificate() {
        let mut v = card("doctor-auth").token_value(ORIGIN, NONCE, Algorithm::RS256).unwrap();
        v["algorithm"] = "none".into();
        v["unverifiedCertificate"] = STANDARD.encode(b"garbage").into();
        assert_eq!(code(hpki_validate(&v.to_string())), "algorithm_not_allowed");
        v["format"] = "web-eid:9".into();
        assert_eq!(code(hpki_validate(&v.to_string())), "token_malformed");
    }
}

#[test]
fn trust_helper_is_complete() {
    assert_eq!(trust().certificates().len(), 5);
}
