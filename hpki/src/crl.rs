//! Certificate revocation lists: parse, verify by the issuer, check freshness, look up serials.
//!
//! Revoked serials are kept in a hash set, so a lookup is O(1) whatever the CRL size. Delta
//! CRLs, indirect CRLs and CRLs partitioned by reason are refused explicitly.

use std::collections::HashMap;
use std::sync::OnceLock;

use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{CertificateRevocationList, FromDer};

use crate::errors::{Error, ErrorCode};
use crate::profile::{HpkiCertificate, pem_or_der, strip_zeros};
use crate::verify::{EcdsaEncoding, Scheme};
use crate::{names, verify};

const EXT_DELTA_CRL_INDICATOR: &str = "2.5.29.27";
const EXT_ISSUING_DP: &str = "2.5.29.28";
const EXT_CRL_NUMBER: &str = "2.5.29.20";
const EXT_AUTHORITY_KEY_ID: &str = "2.5.29.35";
const ENTRY_REASON: &str = "2.5.29.21";
const ENTRY_INVALIDITY_DATE: &str = "2.5.29.24";
const ENTRY_CERTIFICATE_ISSUER: &str = "2.5.29.29";

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// When it was revoked.
    pub revocation_date: OffsetDateTime,
    /// The reason code (RFC 5280 CRLReason), if given.
    pub reason: Option<u8>,
}

/// Which certificates a CRL covers (issuingDistributionPoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    UserCertsOnly,
    CaCertsOnly,
}

/// A parsed CRL. Its signature is checked by [`Crl::verify_signature`] before any use; a
/// successful check is remembered, so a cached CRL costs one signature check, not one per use.
#[derive(Debug, Clone)]
pub struct Crl {
    /// Issuer name as text.
    pub issuer: String,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate (a CRL without it is never fresh).
    pub next_update: Option<OffsetDateTime>,
    /// cRLNumber, as decimal text.
    pub crl_number: Option<String>,
    revoked: HashMap<Box<[u8]>, RevokedEntry>,
    scope: Scope,
    issuer_der: Vec<u8>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    scheme: Result<Scheme, String>,
    /// DER of the issuer certificate whose signature check passed (checked once per CRL).
    verified_by: OnceLock<Vec<u8>>,
}

fn unavailable(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::RevocationUnavailable, detail)
}

impl Crl {
    /// Parses a CRL given as DER or PEM; a malformed or unsupported CRL is
    /// `revocation_unavailable`.
    pub fn parse(input: &[u8]) -> Result<Crl, Error> {
        let der = pem_or_der(input).map_err(unavailable)?;
        let (rest, crl) =
            CertificateRevocationList::from_der(&der).map_err(|e| unavailable(format!("CRL: {e}")))?;
        if !rest.is_empty() {
            return Err(unavailable("trailing data after the CRL"));
        }
        let tbs = &crl.tbs_cert_list;
        if crl.signature_algorithm != tbs.signature {
            return Err(unavailable("CRL signatureAlgorithm differs from tbsCertList.signature"));
        }
        let mut scope = Scope::All;
        let mut crl_number = None;
        for ext in tbs.extensions() {
            let oid = ext.oid.to_id_string();
            if let ParsedExtension::ParseError { error } = ext.parsed_extension() {
                return Err(unavailable(format!("CRL extension {oid}: {error}")));
            }
            match oid.as_str() {
                EXT_DELTA_CRL_INDICATOR => return Err(unavailable("delta CRLs are not supported")),
                EXT_ISSUING_DP => {
                    let ParsedExtension::IssuingDistributionPoint(idp) = ext.parsed_extension() else {
                        return Err(unavailable("issuingDistributionPoint unreadable"));
                    };
                    if idp.indirect_crl
                        || idp.only_some_reasons.is_some()
                        || idp.only_contains_attribute_certs
                    {
                        return Err(unavailable("indirect or partitioned CRLs are not supported"));
                    }
                    scope = match (idp.only_contains_user_certs, idp.only_contains_ca_certs) {
                        (true, false) => Scope::UserCertsOnly,
                        (false, true) => Scope::CaCertsOnly,
                        (false, false) => Scope::All,
                        (true, true) => {
                            return Err(unavailable("issuingDistributionPoint contradicts itself"));
                        }
                    };
                }
                EXT_CRL_NUMBER => {
                    if let ParsedExtension::CRLNumber(n) = ext.parsed_extension() {
                        crl_number = Some(n.to_string());
                    }
                }
                EXT_AUTHORITY_KEY_ID => {}
                other if ext.critical => {
                    return Err(unavailable(format!("unknown critical CRL extension {other}")));
                }
                _ => {}
            }
        }
        let mut revoked = HashMap::with_capacity(tbs.revoked_certificates.len());
        for entry in &tbs.revoked_certificates {
            let mut reason = None;
            for ext in entry.extensions() {
                let oid = ext.oid.to_id_string();
                match oid.as_str() {
                    ENTRY_REASON => {
                        if let ParsedExtension::ReasonCode(code) = ext.parsed_extension() {
                            reason = Some(code.0);
                        }
                    }
                    ENTRY_INVALIDITY_DATE => {}
                    ENTRY_CERTIFICATE_ISSUER => {
                        return Err(unavailable("indirect CRL entries are not supported"));
                    }
                    other if ext.critical => {
                        return Err(unavailable(format!("unknown critical CRL entry extension {other}")));
                    }
                    _ => {}
                }
            }
            // removeFromCRL (8) only has meaning in delta CRLs.
            if reason == Some(8) {
                continue;
            }
            revoked.insert(
                strip_zeros(entry.raw_serial()).into(),
                RevokedEntry { revocation_date: entry.revocation_date.to_datetime(), reason },
            );
        }
        Ok(Crl {
            issuer: names::to_text(&tbs.issuer),
            this_update: tbs.this_update.to_datetime(),
            next_update: tbs.next_update.map(|t| t.to_datetime()),
            crl_number,
            revoked,
            scope,
            issuer_der: tbs.issuer.as_raw().to_vec(),
            tbs: tbs.as_ref().to_vec(),
            signature: crl.signature_value.data.to_vec(),
            scheme: verify::scheme_from_x509(&crl.signature_algorithm),
            verified_by: OnceLock::new(),
        })
    }

    /// Number of revoked entries.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    /// Whether no certificate is revoked.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    /// Looks a certificate serial (big-endian magnitude bytes, leading zeros ignored) up.
    pub fn lookup(&self, serial: &[u8]) -> Option<&RevokedEntry> {
        self.revoked.get(strip_zeros(serial))
    }

    /// Whether this CRL is issued by `issuer`'s subject name.
    pub fn is_issued_by_name(&self, issuer: &HpkiCertificate) -> bool {
        self.issuer_der == issuer.raw.subject
    }

    /// Verifies that `issuer` (matching name, keyUsage cRLSign) signed this CRL.
    pub fn verify_signature(&self, issuer: &HpkiCertificate) -> Result<(), Error> {
        if !self.is_issued_by_name(issuer) {
            return Err(unavailable(format!("CRL issuer {} is not {}", self.issuer, issuer.subject)));
        }
        if let Some(ku) = issuer.key_usage
            && !ku.crl_sign
        {
            return Err(unavailable(format!("{} lacks keyUsage cRLSign", issuer.subject)));
        }
        if self.verified_by.get().is_some_and(|der| der.as_slice() == issuer.der()) {
            return Ok(());
        }
        let key = issuer.raw.key.as_ref().map_err(|e| unavailable(format!("CRL issuer key: {e}")))?;
        let scheme = self.scheme.as_ref().map_err(|e| unavailable(format!("CRL: {e}")))?;
        key.verify(*scheme, EcdsaEncoding::Der, &self.tbs, &self.signature)
            .map_err(|e| unavailable(format!("CRL of {}: {e}", self.issuer)))?;
        let _ = self.verified_by.set(issuer.der().to_vec());
        Ok(())
    }

    /// Checks thisUpdate ≤ now + grace and now ≤ nextUpdate + grace.
    pub fn check_fresh(&self, now: OffsetDateTime, grace: Duration) -> Result<(), Error> {
        if self.this_update > now + grace {
            return Err(unavailable(format!(
                "CRL of {} is issued in the future ({})",
                self.issuer, self.this_update
            )));
        }
        match self.next_update {
            None => Err(unavailable(format!("CRL of {} has no nextUpdate", self.issuer))),
            Some(next) if now > next + grace => Err(unavailable(format!(
                "CRL of {} is stale: nextUpdate {next} plus grace has passed",
                self.issuer
            ))),
            Some(_) => Ok(()),
        }
    }

    fn covers(&self, cert: &HpkiCertificate) -> bool {
        match self.scope {
            Scope::All => true,
            Scope::UserCertsOnly => !cert.is_ca,
            Scope::CaCertsOnly => cert.is_ca,
        }
    }
}

/// What revocation checking found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    /// A current, verified CRL of the issuer does not list the certificate.
    Good,
    /// No CRL was supplied for this issuer and none was required.
    NotChecked,
}

/// How strictly revocation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationMode {
    /// A current, verified CRL of the end entity's issuer must be supplied (fail closed).
    Require,
    /// Check against the CRLs supplied; no CRL for an issuer means "not checked".
    IfSupplied,
}

/// Checks `cert` (issued by `issuer`) against the supplied CRLs at `now`.
pub fn check_revocation(
    cert: &HpkiCertificate,
    issuer: &HpkiCertificate,
    crls: &[Crl],
    now: OffsetDateTime,
    grace: Duration,
    mode: RevocationMode,
) -> Result<RevocationStatus, Error> {
    let mut best: Option<&Crl> = None;
    let mut last_error = None;
    for crl in crls.iter().filter(|c| c.is_issued_by_name(issuer) && c.covers(cert)) {
        match crl.verify_signature(issuer).and_then(|()| crl.check_fresh(now, grace)) {
            Ok(()) => {
                if best.is_none_or(|b| crl.this_update > b.this_update) {
                    best = Some(crl);
                }
            }
            Err(e) => last_error = Some(e),
        }
    }
    match best {
        Some(crl) => match crl.lookup(&cert.raw.serial) {
            Some(entry) => Err(Error::new(
                ErrorCode::CertRevoked,
                format!(
                    "serial {} revoked at {} (reason {:?}) by the CRL of {}",
                    cert.serial, entry.revocation_date, entry.reason, crl.issuer
                ),
            )),
            None => Ok(RevocationStatus::Good),
        },
        None => match (last_error, mode) {
            (Some(e), _) => Err(e),
            (None, RevocationMode::Require) => {
                Err(unavailable(format!("no CRL of {} was supplied", issuer.subject)))
            }
            (None, RevocationMode::IfSupplied) => Ok(RevocationStatus::NotChecked),
        },
    }
}
