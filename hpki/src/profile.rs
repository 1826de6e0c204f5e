//! The HPKI certificate profile: an X.509 certificate read into [`HpkiCertificate`].

use std::collections::HashSet;

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::errors::{Error, ErrorCode, malformed};
use crate::verify::{PublicKey, Scheme};
use crate::{hcrole, names, oids};

/// Largest certificate accepted, in bytes of DER.
pub const MAX_CERT_DER: usize = 16 * 1024;

/// What a certificate is for, as far as HPKI is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// A CA certificate (basicConstraints cA).
    Ca,
    /// An authentication certificate (HPKI authentication policy, or digitalSignature).
    Authentication,
    /// A signature (non-repudiation) certificate.
    Signature,
    /// Neither.
    Other,
}

/// keyUsage bits this crate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyUsage {
    /// digitalSignature.
    pub digital_signature: bool,
    /// nonRepudiation / contentCommitment.
    pub non_repudiation: bool,
    /// keyEncipherment.
    pub key_encipherment: bool,
    /// keyCertSign.
    pub key_cert_sign: bool,
    /// cRLSign.
    pub crl_sign: bool,
}

/// A CRL distribution point name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum DistributionPoint {
    /// A URI (`http://…/crl.crl`, `ldap://…`).
    Uri(String),
    /// A directoryName (an X.500 name of a directory entry holding the CRL).
    DirectoryName(String),
    /// Any other form, described.
    Other(String),
}

/// A certificate read under the HPKI profile (docs/design.md §6). Built by [`HpkiCertificate::parse`].
#[derive(Debug, Clone, Serialize)]
pub struct HpkiCertificate {
    /// Subject, as text in certificate order.
    pub subject: String,
    /// Issuer, as text in certificate order.
    pub issuer: String,
    /// Serial number, lower-case hex without leading zeros.
    pub serial: String,
    /// notBefore.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// notAfter.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Romaji name: subject CN.
    pub romaji_name: Option<String>,
    /// Kanji name: CN of the subjectAltName directoryName.
    pub kanji_name: Option<String>,
    /// Subscriber id assigned by the CA: subject serialNumber.
    pub subscriber_id: Option<String>,
    /// Organization: subject O.
    pub organization: Option<String>,
    /// Organization in kanji: O of the subjectAltName directoryName.
    pub kanji_organization: Option<String>,
    /// hcRole values (e.g. `Medical Doctor`).
    pub hc_roles: Vec<String>,
    /// certificatePolicies OIDs.
    pub policies: Vec<String>,
    /// Whether certificatePolicies is marked critical.
    pub policies_critical: bool,
    /// keyUsage, if present.
    pub key_usage: Option<KeyUsage>,
    /// extendedKeyUsage OIDs, if present.
    pub extended_key_usage: Option<Vec<String>>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// basicConstraints pathLenConstraint.
    pub path_len: Option<u32>,
    /// CRL distribution points.
    pub crl_distribution_points: Vec<DistributionPoint>,
    /// Authentication, signature, CA or other.
    pub kind: CertKind,
    /// Public key, described (`RSA-2048`, `P-256`, …).
    pub public_key: String,
    /// Signature algorithm, described.
    pub signature_algorithm: String,
    /// subjectKeyIdentifier, hex.
    pub subject_key_id: Option<String>,
    /// authorityKeyIdentifier keyIdentifier, hex.
    pub authority_key_id: Option<String>,
    /// Critical extensions this crate does not process (such a certificate never validates).
    pub unknown_critical_extensions: Vec<String>,
    #[serde(skip)]
    pub(crate) raw: Raw,
}

/// The bytes needed to verify signatures and chain names.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub(crate) der: Vec<u8>,
    pub(crate) tbs: Vec<u8>,
    pub(crate) subject: Vec<u8>,
    pub(crate) issuer: Vec<u8>,
    pub(crate) serial: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) scheme: Result<Scheme, String>,
    pub(crate) key: Result<PublicKey, String>,
}

/// Decodes PEM (`-----BEGIN …`) to DER, or returns DER input unchanged.
pub fn pem_or_der(input: &[u8]) -> Result<Vec<u8>, String> {
    let trimmed = input.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(trimmed).map_err(|e| format!("bad PEM: {e}"))?;
        Ok(pem.contents)
    } else {
        Ok(input.to_vec())
    }
}

/// Parses every certificate of a PEM bundle (`CERTIFICATE` blocks), or one DER certificate.
pub fn parse_bundle(input: &[u8]) -> Result<Vec<HpkiCertificate>, Error> {
    if !input.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok(vec![HpkiCertificate::from_der(input)?]);
    }
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(input) {
        let pem = pem.map_err(|e| malformed(format!("bad PEM: {e}")))?;
        if pem.label == "CERTIFICATE" {
            out.push(HpkiCertificate::from_der(&pem.contents)?);
        }
    }
    if out.is_empty() {
        return Err(malformed("no CERTIFICATE block in the PEM input"));
    }
    Ok(out)
}

impl HpkiCertificate {
    /// Parses a certificate given as DER or PEM. Every malformed input is `cert_malformed`.
    pub fn parse(input: &[u8]) -> Result<HpkiCertificate, Error> {
        let der = pem_or_der(input).map_err(malformed)?;
        Self::from_der(&der)
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<HpkiCertificate, Error> {
        if der.len() > MAX_CERT_DER {
            return Err(malformed(format!("certificate of {} bytes is too large", der.len())));
        }
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| malformed(format!("X.509: {e}")))?;
        if !rest.is_empty() {
            return Err(malformed("trailing data after the certificate"));
        }
        read(&cert, der)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.raw.der
    }

    /// Whether subject and issuer names are byte-identical (self-issued).
    pub fn is_self_issued(&self) -> bool {
        self.raw.subject == self.raw.issuer
    }

    /// Whether `policy` is among the certificate policies.
    pub fn has_policy(&self, policy: &str) -> bool {
        self.policies.iter().any(|p| p == policy)
    }

    /// Verifies a signature made with this certificate's key over `message` (a TLS handshake
    /// CertificateVerify: ECDSA signatures DER-encoded, RSA-PSS salt = hash length). Only the
    /// signature: the certificate itself is checked by [`crate::verify_certificate`].
    pub fn verify_handshake_signature(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let key = self.raw.key.as_ref().map_err(|e| Error::new(ErrorCode::SignatureInvalid, e.clone()))?;
        key.verify(scheme, crate::verify::EcdsaEncoding::Der, message, signature)
            .map_err(|e| Error::new(ErrorCode::SignatureInvalid, e))
    }

    /// Whether the validity period contains `at`.
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }
}

fn read(cert: &X509Certificate<'_>, der: &[u8]) -> Result<HpkiCertificate, Error> {
    let tbs = &cert.tbs_certificate;
    let subject = names::to_text(tbs.subject());
    let issuer = names::to_text(tbs.issuer());
    let romaji_name = names::first(tbs.subject(), names::CN).map_err(malformed)?;
    let subscriber_id = names::first(tbs.subject(), names::SERIAL_NUMBER).map_err(malformed)?;
    let organization = names::first(tbs.subject(), names::O).map_err(malformed)?;

    let mut seen = HashSet::new();
    let mut kanji_name = None;
    let mut kanji_organization = None;
    let mut hc_roles = Vec::new();
    let mut policies = Vec::new();
    let mut policies_critical = false;
    let mut key_usage = None;
    let mut extended_key_usage = None;
    let mut is_ca = false;
    let mut path_len = None;
    let mut crl_distribution_points = Vec::new();
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    let mut unknown_critical_extensions = Vec::new();

    for ext in tbs.extensions() {
        let oid = ext.oid.to_id_string();
        if !seen.insert(oid.clone()) {
            return Err(malformed(format!("duplicate extension {oid}")));
        }
        if let ParsedExtension::ParseError { error } = ext.parsed_extension() {
            return Err(malformed(format!("extension {oid}: {error}")));
        }
        match ext.parsed_extension() {
            ParsedExtension::KeyUsage(ku) => {
                key_usage = Some(KeyUsage {
                    digital_signature: ku.digital_signature(),
                    non_repudiation: ku.non_repudiation(),
                    key_encipherment: ku.key_encipherment(),
                    key_cert_sign: ku.key_cert_sign(),
                    crl_sign: ku.crl_sign(),
                });
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let mut list = Vec::new();
                let known = [
                    (eku.any, oids::EKU_ANY),
                    (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
                    (eku.client_auth, oids::EKU_CLIENT_AUTH),
                    (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
                    (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
                    (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
                    (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
                ];
                list.extend(known.iter().filter(|(on, _)| *on).map(|(_, o)| (*o).to_owned()));
                list.extend(eku.other.iter().map(|o| o.to_id_string()));
                extended_key_usage = Some(list);
            }
            ParsedExtension::BasicConstraints(bc) => {
                is_ca = bc.ca;
                path_len = bc.path_len_constraint;
            }
            ParsedExtension::CertificatePolicies(cp) => {
                policies = cp.iter().map(|p| p.policy_id.to_id_string()).collect();
                policies_critical = ext.critical;
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    if let GeneralName::DirectoryName(dn) = name {
                        if kanji_name.is_none() {
                            kanji_name = names::first(dn, names::CN).map_err(malformed)?;
                        }
                        if kanji_organization.is_none() {
                            kanji_organization = names::first(dn, names::O).map_err(malformed)?;
                        }
                    }
                }
            }
            ParsedExtension::CRLDistributionPoints(dps) => {
                for dp in dps.iter() {
                    match &dp.distribution_point {
                        Some(DistributionPointName::FullName(gns)) => {
                            for gn in gns {
                                crl_distribution_points.push(match gn {
                                    GeneralName::URI(uri) => DistributionPoint::Uri((*uri).to_owned()),
                                    GeneralName::DirectoryName(dn) => {
                                        DistributionPoint::DirectoryName(names::to_text(dn))
                                    }
                                    other => DistributionPoint::Other(format!("{other:?}")),
                                });
                            }
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                            crl_distribution_points
                                .push(DistributionPoint::Other("nameRelativeToCRLIssuer".into()));
                        }
                        None => {}
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(kid) => subject_key_id = Some(names::hex(kid.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|k| names::hex(k.0));
            }
            _ => {
                if oid == oids::EXT_SUBJECT_DIRECTORY_ATTRIBUTES {
                    hc_roles = hcrole::roles_from_subject_directory_attributes(ext.value)?;
                }
            }
        }
        if ext.critical && !oids::UNDERSTOOD_EXTENSIONS.contains(&oid.as_str()) {
            unknown_critical_extensions.push(oid);
        }
    }

    let kind = if is_ca {
        CertKind::Ca
    } else if policies.iter().any(|p| p == oids::POLICY_SIGNATURE_EE) {
        CertKind::Signature
    } else if policies.iter().any(|p| p == oids::POLICY_AUTH_EE) {
        CertKind::Authentication
    } else {
        match key_usage {
            Some(ku) if ku.digital_signature => CertKind::Authentication,
            Some(ku) if ku.non_repudiation => CertKind::Signature,
            _ => CertKind::Other,
        }
    };

    let scheme = crate::verify::scheme_from_x509(&cert.signature_algorithm);
    if cert.signature_algorithm != tbs.signature {
        return Err(malformed("signatureAlgorithm differs from tbsCertificate.signature"));
    }
    let key = PublicKey::from_spki(tbs.subject_pki.raw);
    let serial_bytes = strip_zeros(tbs.raw_serial()).to_vec();
    Ok(HpkiCertificate {
        subject,
        issuer,
        serial: names::hex(&serial_bytes),
        not_before: tbs.validity().not_before.to_datetime(),
        not_after: tbs.validity().not_after.to_datetime(),
        romaji_name,
        kanji_name,
        subscriber_id,
        organization,
        kanji_organization,
        hc_roles,
        policies,
        policies_critical,
        key_usage,
        extended_key_usage,
        is_ca,
        path_len,
        crl_distribution_points,
        kind,
        public_key: match &key {
            Ok(k) => k.describe(),
            Err(e) => format!("unsupported ({e})"),
        },
        signature_algorithm: match &scheme {
            Ok(s) => format!("{s:?}"),
            Err(_) => cert.signature_algorithm.algorithm.to_id_string(),
        },
        subject_key_id,
        authority_key_id,
        unknown_critical_extensions,
        raw: Raw {
            der: der.to_vec(),
            tbs: tbs.as_ref().to_vec(),
            subject: tbs.subject().as_raw().to_vec(),
            issuer: tbs.issuer().as_raw().to_vec(),
            serial: serial_bytes,
            signature: cert.signature_value.data.to_vec(),
            scheme,
            key,
        },
    })
}

/// Strips leading zero bytes of a DER INTEGER's magnitude (keeps one byte for zero).
pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}
