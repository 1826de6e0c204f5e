//! What a certificate must be for a use: purpose (key usage) and profile (`hpki` or `generic`),
//! and [`verify_certificate`], the whole check of a certificate without a token.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::chain::{self, TrustStore};
use crate::crl::{self, Crl, RevocationMode, RevocationStatus};
use crate::errors::{Error, ErrorCode};
use crate::oids;
use crate::profile::HpkiCertificate;

/// What the certificate is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Sign-in: keyUsage digitalSignature; extendedKeyUsage, if present, has clientAuth.
    Authentication,
    /// Document signature: keyUsage nonRepudiation.
    Signature,
}

/// Which hcRole values are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleFilter {
    /// Any hcRole (one must be present).
    Any,
    /// Only these values (e.g. `Medical Doctor`), compared exactly.
    Only(Vec<String>),
}

/// The `hpki` profile: HPKI policies and hcRole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpkiProfile {
    /// Policies of authentication end entities (one is required for sign-in).
    pub authentication_policies: Vec<String>,
    /// Policies of signature end entities (refused for sign-in, required for signature).
    pub signature_policies: Vec<String>,
    /// Accepted hcRole values.
    pub roles: RoleFilter,
}

impl Default for HpkiProfile {
    fn default() -> Self {
        HpkiProfile {
            authentication_policies: vec![oids::POLICY_AUTH_EE.to_owned()],
            signature_policies: vec![oids::POLICY_SIGNATURE_EE.to_owned()],
            roles: RoleFilter::Any,
        }
    }
}

/// A validation profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// HPKI: policies and hcRole as docs/design.md §5/§6.
    Hpki(HpkiProfile),
    /// The Web eID rules only: purpose, an optional policy deny-list, chain, signature.
    Generic {
        /// Policies that make a certificate unacceptable.
        denied_policies: Vec<String>,
    },
}

impl Profile {
    /// The default `hpki` profile accepting any hcRole.
    pub fn hpki() -> Profile {
        Profile::Hpki(HpkiProfile::default())
    }

    /// The default `hpki` profile accepting only the given hcRole values.
    pub fn hpki_with_roles(roles: RoleFilter) -> Profile {
        Profile::Hpki(HpkiProfile { roles, ..HpkiProfile::default() })
    }

    /// The `generic` profile without a deny-list.
    pub fn generic() -> Profile {
        Profile::Generic { denied_policies: Vec::new() }
    }
}

/// Checks key usage and extended key usage for `purpose` (`wrong_purpose`).
pub fn check_purpose(cert: &HpkiCertificate, purpose: Purpose) -> Result<(), Error> {
    let wrong = |d: &str| Err(Error::new(ErrorCode::WrongPurpose, d.to_owned()));
    if cert.is_ca {
        return wrong("a CA certificate is not an end entity");
    }
    let Some(ku) = cert.key_usage else {
        return wrong("keyUsage is missing");
    };
    match purpose {
        Purpose::Authentication => {
            if !ku.digital_signature {
                return wrong("keyUsage lacks digitalSignature (not an authentication certificate)");
            }
            if let Some(eku) = &cert.extended_key_usage
                && !eku.iter().any(|o| o == oids::EKU_CLIENT_AUTH)
            {
                return wrong("extendedKeyUsage lacks clientAuth");
            }
        }
        Purpose::Signature => {
            if !ku.non_repudiation {
                return wrong("keyUsage lacks nonRepudiation (not a signature certificate)");
            }
        }
    }
    Ok(())
}

/// Checks the profile's policies and roles (`policy_not_allowed`, `role_not_allowed`).
pub fn check_profile(cert: &HpkiCertificate, profile: &Profile, purpose: Purpose) -> Result<(), Error> {
    let refuse = |code, d: String| Err(Error::new(code, d));
    match profile {
        Profile::Generic { denied_policies } => {
            if let Some(p) = cert.policies.iter().find(|p| denied_policies.contains(p)) {
                return refuse(ErrorCode::PolicyNotAllowed, format!("policy {p} is denied"));
            }
            Ok(())
        }
        Profile::Hpki(hpki) => {
            let has = |set: &[String]| cert.policies.iter().any(|p| set.contains(p));
            match purpose {
                Purpose::Authentication => {
                    if has(&hpki.signature_policies) {
                        return refuse(
                            ErrorCode::PolicyNotAllowed,
                            "a signature certificate cannot be used to sign in".into(),
                        );
                    }
                    if !has(&hpki.authentication_policies) {
                        return refuse(
                            ErrorCode::PolicyNotAllowed,
                            format!("no HPKI authentication policy among {:?}", cert.policies),
                        );
                    }
                }
                Purpose::Signature => {
                    if !has(&hpki.signature_policies) {
                        return refuse(
                            ErrorCode::PolicyNotAllowed,
                            format!("no HPKI signature policy among {:?}", cert.policies),
                        );
                    }
                }
            }
            if cert.hc_roles.is_empty() {
                return refuse(ErrorCode::RoleNotAllowed, "the certificate has no hcRole".into());
            }
            if let RoleFilter::Only(allowed) = &hpki.roles
                && !cert.hc_roles.iter().any(|r| allowed.contains(r))
            {
                return refuse(
                    ErrorCode::RoleNotAllowed,
                    format!("hcRole {:?} is not among {allowed:?}", cert.hc_roles),
                );
            }
            Ok(())
        }
    }
}

/// Options shared by certificate and token validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// How long past nextUpdate a CRL is still used (and how far thisUpdate may be ahead).
    pub crl_grace: Duration,
    /// Whether a CRL of the issuer is required.
    pub revocation: RevocationMode,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { crl_grace: Duration::hours(1), revocation: RevocationMode::Require }
    }
}

/// A certificate that passed [`verify_certificate`].
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedCertificate {
    /// The certificate.
    pub certificate: HpkiCertificate,
    /// The CA path, issuer first, as subject names.
    pub chain: Vec<String>,
    /// What revocation checking found.
    pub revocation: RevocationStatus,
}

/// Checks a certificate for `purpose` under `profile` at `at`: purpose → profile → validity →
/// chain → revocation (the CA certificates too, where a CRL of their issuer is supplied).
pub fn verify_certificate(
    cert: &HpkiCertificate,
    trust: &TrustStore,
    crls: &[Crl],
    at: OffsetDateTime,
    purpose: Purpose,
    profile: &Profile,
    options: &CheckOptions,
) -> Result<VerifiedCertificate, Error> {
    check_purpose(cert, purpose)?;
    check_profile(cert, profile, purpose)?;
    chain::check_validity(cert, at, "certificate")?;
    let path = chain::validate_path(cert, trust, at)?;
    let revocation = check_path_revocation(cert, &path, crls, at, options)?;
    Ok(VerifiedCertificate {
        certificate: cert.clone(),
        chain: path.iter().map(|c| c.subject.clone()).collect(),
        revocation,
    })
}

/// Revocation of the end entity (per `options.revocation`) and of each CA whose issuer's CRL
/// is supplied.
pub(crate) fn check_path_revocation(
    cert: &HpkiCertificate,
    path: &[&HpkiCertificate],
    crls: &[Crl],
    at: OffsetDateTime,
    options: &CheckOptions,
) -> Result<RevocationStatus, Error> {
    let Some(issuer) = path.first() else {
        return Err(Error::new(ErrorCode::CertUntrusted, "empty path"));
    };
    let status = crl::check_revocation(cert, issuer, crls, at, options.crl_grace, options.revocation)?;
    for pair in path.windows(2) {
        crl::check_revocation(pair[0], pair[1], crls, at, options.crl_grace, RevocationMode::IfSupplied)?;
    }
    Ok(status)
}
