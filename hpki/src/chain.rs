//! Path validation of a certificate against configured CA certificates, at a given time.
//!
//! Every configured CA certificate is a trust anchor (issuing CAs alone are enough; the root is
//! optional). The path is walked upward as far as configured certificates go, and every CA on it
//! must be valid at the time, have basicConstraints cA, keyUsage keyCertSign, no unknown critical
//! extension, and respect pathLenConstraint. A store checks each signature once (see [`TrustStore`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;

use crate::errors::{Error, ErrorCode};
use crate::profile::HpkiCertificate;
use crate::verify::EcdsaEncoding;

/// Longest path accepted (end entity excluded).
const MAX_DEPTH: usize = 8;

/// Most certificates whose signature a store remembers per CA; when full, it starts afresh.
pub const MEMO_CAPACITY: usize = 4096;

/// DER of the certificates whose signature by one CA verified.
type Signed = Mutex<HashSet<Box<[u8]>>>;

/// The configured CA certificates.
///
/// A store remembers which certificates each of its CAs' keys has been checked to have signed
/// (exact DER bytes, at most [`MEMO_CAPACITY`] per CA; clones share the memory): a signature
/// cannot become valid or invalid later, so a card signing in again, and the CAs above it, skip
/// those signature checks. Everything that depends on time or configuration (validity periods,
/// CA constraints, revocation) is checked every time.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    cas: Vec<HpkiCertificate>,
    /// Per CA (same index as `cas`): DER of certificates whose signature by that CA verified.
    signed: Arc<[Signed]>,
}

impl TrustStore {
    /// A store of the given CA certificates.
    pub fn new(cas: Vec<HpkiCertificate>) -> TrustStore {
        let signed = cas.iter().map(|_| Mutex::default()).collect();
        TrustStore { cas, signed }
    }

    /// Parses each certificate (DER or PEM).
    pub fn from_certificates<'a>(inputs: impl IntoIterator<Item = &'a [u8]>) -> Result<TrustStore, Error> {
        let cas = inputs.into_iter().map(HpkiCertificate::parse).collect::<Result<Vec<_>, _>>()?;
        Ok(TrustStore::new(cas))
    }

    /// Whether the key of CA number `ca` signed `cert`, checked once per certificate.
    fn issued_by(&self, cert: &HpkiCertificate, ca: usize) -> Result<(), String> {
        let Some(memo) = self.signed.get(ca) else { return verify_issued_by(cert, &self.cas[ca]) };
        let lock = || memo.lock().unwrap_or_else(PoisonError::into_inner);
        if lock().contains(cert.der()) {
            return Ok(());
        }
        verify_issued_by(cert, &self.cas[ca])?;
        let mut known = lock();
        if known.len() >= MEMO_CAPACITY {
            known.clear();
        }
        known.insert(cert.der().into());
        Ok(())
    }

    /// The configured certificates.
    pub fn certificates(&self) -> &[HpkiCertificate] {
        &self.cas
    }

    /// Whether no CA is configured.
    pub fn is_empty(&self) -> bool {
        self.cas.is_empty()
    }
}

/// Checks that `cert` is inside its validity period at `at`.
pub fn check_validity(cert: &HpkiCertificate, at: OffsetDateTime, what: &str) -> Result<(), Error> {
    if at < cert.not_before {
        return Err(Error::new(
            ErrorCode::CertNotYetValid,
            format!("{what} is valid from {} ({})", cert.not_before, cert.subject),
        ));
    }
    if at > cert.not_after {
        return Err(Error::new(
            ErrorCode::CertExpired,
            format!("{what} expired at {} ({})", cert.not_after, cert.subject),
        ));
    }
    Ok(())
}

/// Verifies that `issuer`'s key signed `cert`.
pub(crate) fn verify_issued_by(cert: &HpkiCertificate, issuer: &HpkiCertificate) -> Result<(), String> {
    let key = issuer.raw.key.as_ref().map_err(|e| format!("issuer key: {e}"))?;
    let scheme = cert.raw.scheme.as_ref().map_err(|e| e.clone())?;
    key.verify(*scheme, EcdsaEncoding::Der, &cert.raw.tbs, &cert.raw.signature)
}

fn untrusted(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::CertUntrusted, detail)
}

/// Validates the CA path above `cert` at `at` and returns it, issuer first. `cert`'s own
/// validity is not checked here (see [`check_validity`]); its unknown critical extensions are.
pub fn validate_path<'t>(
    cert: &HpkiCertificate,
    trust: &'t TrustStore,
    at: OffsetDateTime,
) -> Result<Vec<&'t HpkiCertificate>, Error> {
    if let Some(oid) = cert.unknown_critical_extensions.first() {
        return Err(untrusted(format!("unknown critical extension {oid} in the certificate")));
    }
    if trust.is_empty() {
        return Err(untrusted("no CA certificate is configured"));
    }
    let mut path = Vec::new();
    walk(cert, trust, at, 0, &mut path)?;
    Ok(path.into_iter().map(|i| &trust.cas[i]).collect())
}

fn walk(
    cert: &HpkiCertificate,
    trust: &TrustStore,
    at: OffsetDateTime,
    intermediates_below: usize,
    path: &mut Vec<usize>,
) -> Result<(), Error> {
    if path.len() >= MAX_DEPTH {
        return Err(untrusted("certificate path is too long"));
    }
    let mut last_error = None;
    for (i, ca) in trust.cas.iter().enumerate() {
        if ca.raw.subject != cert.raw.issuer || path.contains(&i) || ca.der() == cert.der() {
            continue;
        }
        if let Err(e) = trust.issued_by(cert, i) {
            last_error = Some(untrusted(format!("{} is not signed by {}: {e}", cert.subject, ca.subject)));
            continue;
        }
        check_ca(ca, at, intermediates_below)?;
        path.push(i);
        if ca.is_self_issued() {
            // A root: trusted by configuration (its self-signature proves nothing more).
            return Ok(());
        }
        let has_parent =
            trust.cas.iter().enumerate().any(|(j, p)| p.raw.subject == ca.raw.issuer && !path.contains(&j));
        if !has_parent {
            // An issuing CA configured as the trust anchor.
            return Ok(());
        }
        return walk(ca, trust, at, intermediates_below + 1, path);
    }
    Err(last_error.unwrap_or_else(|| untrusted(format!("no configured CA issued {}", cert.subject))))
}

fn check_ca(ca: &HpkiCertificate, at: OffsetDateTime, intermediates_below: usize) -> Result<(), Error> {
    if !ca.is_ca {
        return Err(untrusted(format!("{} is not a CA (basicConstraints)", ca.subject)));
    }
    match ca.key_usage {
        Some(ku) if ku.key_cert_sign => {}
        _ => return Err(untrusted(format!("{} lacks keyUsage keyCertSign", ca.subject))),
    }
    if let Some(oid) = ca.unknown_critical_extensions.first() {
        return Err(untrusted(format!("unknown critical extension {oid} in {}", ca.subject)));
    }
    if let Some(max) = ca.path_len
        && intermediates_below > max as usize
    {
        return Err(untrusted(format!(
            "path length {intermediates_below} exceeds pathLenConstraint {max} of {}",
            ca.subject
        )));
    }
    check_validity(ca, at, "CA certificate")
}
