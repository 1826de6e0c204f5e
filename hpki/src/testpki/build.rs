//! Certificate and CRL issuance for the test PKI: every field can be set, so tests can build
//! exactly the broken certificate they need.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::der;
use super::keys::TestKey;
use crate::oids;

/// An issued certificate with its private key.
#[derive(Debug, Clone)]
pub struct Issued {
    /// DER of the certificate.
    pub der: Vec<u8>,
    /// The subject's private key.
    pub key: TestKey,
    /// The certificate serial.
    pub serial: u64,
    pub(crate) subject_name: Vec<u8>,
    pub(crate) key_id: Vec<u8>,
}

impl Issued {
    /// The certificate as PEM.
    pub fn pem(&self) -> String {
        der::pem("CERTIFICATE", &self.der)
    }
}

/// How the hcRole attribute is encoded (all but `Explicit`/`Bmp` are malformed or off-profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HcRoleEncoding {
    /// As real certificates: EXPLICIT tags, UTF8String.
    Explicit,
    /// EXPLICIT tags, BMPString (another DirectoryString form).
    Bmp,
    /// IMPLICIT tags (malformed).
    Implicit,
    /// A codingSchemeReference other than `1.2.392.100495.1.6.1.1` (malformed).
    WrongScheme,
    /// An empty HCActorData set (malformed).
    EmptyActorData,
    /// The attribute under another OID (so the certificate has no hcRole).
    WrongAttribute,
    /// The role text as an INTEGER, not a DirectoryString (malformed).
    NotAString,
}

/// Everything that goes into a test certificate.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// Subject attributes `(oid, value)` in order; C and serialNumber are PrintableString.
    pub subject: Vec<(String, String)>,
    /// Serial number.
    pub serial: u64,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// basicConstraints: `Some(path_len)` makes a CA (critical).
    pub ca: Option<Option<u8>>,
    /// keyUsage bit numbers (0 digitalSignature, 1 nonRepudiation, 5 keyCertSign, 6 cRLSign);
    /// `None` omits the extension.
    pub key_usage: Option<Vec<u8>>,
    /// extendedKeyUsage OIDs; `None` omits the extension.
    pub eku: Option<Vec<String>>,
    /// certificatePolicies OIDs (with a CPS qualifier); empty omits the extension.
    pub policies: Vec<String>,
    /// Whether certificatePolicies is critical (it is on real HPKI certificates).
    pub policies_critical: bool,
    /// hcRole value and encoding.
    pub hc_role: Option<(String, HcRoleEncoding)>,
    /// subjectAltName directoryName: optional kanji organization, kanji name.
    pub kanji: Option<(Option<String>, String)>,
    /// CRL distribution point URI.
    pub crl_uri: Option<String>,
    /// CRL distribution point directoryName `(oid, value)` attributes.
    pub crl_directory_name: Option<Vec<(String, String)>>,
    /// Further extensions `(oid, critical, DER value)`.
    pub extra_extensions: Vec<(String, bool, Vec<u8>)>,
}

/// A subject attribute list from `(short name, value)`: C, O, OU, CN, serialNumber.
pub fn name(parts: &[(&str, &str)]) -> Vec<(String, String)> {
    parts
        .iter()
        .map(|(k, v)| {
            let oid = match *k {
                "C" => "2.5.4.6",
                "O" => "2.5.4.10",
                "OU" => "2.5.4.11",
                "CN" => "2.5.4.3",
                "serialNumber" => "2.5.4.5",
                other => other,
            };
            (oid.to_owned(), (*v).to_owned())
        })
        .collect()
}

pub(crate) fn name_der(attrs: &[(String, String)]) -> Result<Vec<u8>, String> {
    let mut rdns = Vec::new();
    for (oid, value) in attrs {
        let v = if oid == "2.5.4.6" || oid == "2.5.4.5" { der::printable(value) } else { der::utf8(value) };
        rdns.push(der::set(&[der::seq(&[der::oid(oid)?, v])]));
    }
    Ok(der::seq(&rdns))
}

fn extension(oid: &str, critical: bool, value: &[u8]) -> Result<Vec<u8>, String> {
    let mut parts = vec![der::oid(oid)?];
    if critical {
        parts.push(der::boolean(true));
    }
    parts.push(der::octets(value));
    Ok(der::seq(&parts))
}

/// The DER value of a subjectDirectoryAttributes extension holding hcRole `role`.
pub fn hc_role_value(role: &str, encoding: HcRoleEncoding) -> Result<Vec<u8>, String> {
    let scheme = match encoding {
        HcRoleEncoding::WrongScheme => "1.2.392.100495.1.6.1.99",
        _ => oids::HC_ROLE_CODING_SCHEME,
    };
    let coded = match encoding {
        HcRoleEncoding::Implicit => der::tlv(
            0xa0,
            &der::set(&[der::tlv(0x80, &der::oid_content(scheme)?), der::tlv(0x82, role.as_bytes())]),
        ),
        _ => {
            let text = match encoding {
                HcRoleEncoding::Bmp => der::bmp(role),
                HcRoleEncoding::NotAString => der::uint_u64(1),
                _ => der::utf8(role),
            };
            der::explicit(0, &der::set(&[der::explicit(0, &der::oid(scheme)?), der::explicit(2, &text)]))
        }
    };
    let actor_data = match encoding {
        HcRoleEncoding::EmptyActorData => der::set(&[]),
        _ => der::set(&[der::seq(&[coded])]),
    };
    let attribute = match encoding {
        HcRoleEncoding::WrongAttribute => "1.0.17090.0.2",
        _ => oids::HC_ROLE,
    };
    Ok(der::seq(&[der::seq(&[der::oid(attribute)?, der::set(&[actor_data])])]))
}

fn key_id(spki: &[u8]) -> Vec<u8> {
    Sha256::digest(spki)[..20].to_vec()
}

/// Issues `spec` for `key`, signed by `issuer` (or self-signed when `None`).
pub fn issue(spec: &CertSpec, key: &TestKey, issuer: Option<&Issued>) -> Result<Issued, String> {
    let signer = issuer.map_or(key, |i| &i.key);
    issue_with_algorithm(spec, key, issuer, &signer.x509_algorithm()?)
}

/// [`issue`] with the DER `AlgorithmIdentifier` written as the certificate's signature
/// algorithm (in the TBS and outside it): the signature is still made with the signer's key
/// and its usual scheme. For encodings other CAs use, e.g. ECDSA with explicit NULL parameters.
pub fn issue_with_algorithm(
    spec: &CertSpec,
    key: &TestKey,
    issuer: Option<&Issued>,
    algorithm: &[u8],
) -> Result<Issued, String> {
    let spki = key.spki()?;
    let kid = key_id(&spki);
    let subject_name = name_der(&spec.subject)?;
    let (issuer_name, signer, issuer_kid) = match issuer {
        Some(i) => (i.subject_name.clone(), &i.key, i.key_id.clone()),
        None => (subject_name.clone(), key, kid.clone()),
    };
    let mut exts = Vec::new();
    if let Some(path_len) = spec.ca {
        let mut bc = vec![der::boolean(true)];
        if let Some(n) = path_len {
            bc.push(der::uint_u64(u64::from(n)));
        }
        exts.push(extension("2.5.29.19", true, &der::seq(&bc))?);
    }
    if let Some(bits) = &spec.key_usage {
        exts.push(extension("2.5.29.15", true, &der::key_usage(bits))?);
    }
    if let Some(eku) = &spec.eku {
        let list = eku.iter().map(|o| der::oid(o)).collect::<Result<Vec<_>, _>>()?;
        exts.push(extension("2.5.29.37", false, &der::seq(&list))?);
    }
    exts.push(extension("2.5.29.14", false, &der::octets(&kid))?);
    if issuer.is_some() {
        exts.push(extension("2.5.29.35", false, &der::seq(&[der::tlv(0x80, &issuer_kid)]))?);
    }
    if !spec.policies.is_empty() {
        let mut infos = Vec::new();
        for p in &spec.policies {
            let cps =
                der::seq(&[der::oid("1.3.6.1.5.5.7.2.1")?, der::ia5("https://shikaku.example/test-cps")]);
            infos.push(der::seq(&[der::oid(p)?, der::seq(&[cps])]));
        }
        exts.push(extension("2.5.29.32", spec.policies_critical, &der::seq(&infos))?);
    }
    if let Some((org, cn)) = &spec.kanji {
        let mut attrs = vec![("2.5.4.6".to_owned(), "JP".to_owned())];
        if let Some(o) = org {
            attrs.push(("2.5.4.10".to_owned(), o.clone()));
        }
        attrs.push(("2.5.4.3".to_owned(), cn.clone()));
        let dir_name = der::explicit(4, &name_der(&attrs)?);
        exts.push(extension("2.5.29.17", false, &der::seq(&[dir_name]))?);
    }
    let mut dp_names = Vec::new();
    if let Some(uri) = &spec.crl_uri {
        dp_names.push(der::tlv(0x86, uri.as_bytes()));
    }
    if let Some(dn) = &spec.crl_directory_name {
        dp_names.push(der::explicit(4, &name_der(dn)?));
    }
    if !dp_names.is_empty() {
        // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }
        let dp = der::seq(&[der::explicit(0, &der::tlv(0xa0, &dp_names.concat()))]);
        exts.push(extension("2.5.29.31", false, &der::seq(&[dp]))?);
    }
    if let Some((role, encoding)) = &spec.hc_role {
        exts.push(extension(
            oids::EXT_SUBJECT_DIRECTORY_ATTRIBUTES,
            false,
            &hc_role_value(role, *encoding)?,
        )?);
    }
    for (oid, critical, value) in &spec.extra_extensions {
        exts.push(extension(oid, *critical, value)?);
    }
    let alg = algorithm.to_vec();
    let tbs = der::seq(&[
        der::explicit(0, &der::uint_u64(2)),
        der::uint_u64(spec.serial),
        alg.clone(),
        issuer_name,
        der::seq(&[der::time(spec.not_before), der::time(spec.not_after)]),
        subject_name.clone(),
        spki,
        der::explicit(3, &der::seq(&exts)),
    ]);
    let sig = signer.sign(signer.x509_scheme(), &tbs, true)?;
    Ok(Issued {
        der: der::seq(&[tbs, alg, der::bits(&sig, 0)]),
        key: key.clone(),
        serial: spec.serial,
        subject_name,
        key_id: kid,
    })
}

/// Everything that goes into a test CRL.
#[derive(Debug, Clone)]
pub struct CrlSpec {
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate (`None` omits it).
    pub next_update: Option<OffsetDateTime>,
    /// Revoked `(serial, revocation date)`.
    pub revoked: Vec<(u64, OffsetDateTime)>,
    /// cRLNumber.
    pub number: u64,
    /// Marks the CRL as a delta CRL (deltaCRLIndicator).
    pub delta: bool,
}

/// Issues a CRL signed by `issuer` (`signer` overrides the signing key, for wrong-key tests).
pub fn issue_crl(spec: &CrlSpec, issuer: &Issued, signer: Option<&TestKey>) -> Result<Vec<u8>, String> {
    let signer = signer.unwrap_or(&issuer.key);
    let alg = signer.x509_algorithm()?;
    let mut parts =
        vec![der::uint_u64(1), alg.clone(), issuer.subject_name.clone(), der::time(spec.this_update)];
    if let Some(next) = spec.next_update {
        parts.push(der::time(next));
    }
    if !spec.revoked.is_empty() {
        let entries: Vec<Vec<u8>> = spec
            .revoked
            .iter()
            .map(|(serial, at)| der::seq(&[der::uint_u64(*serial), der::time(*at)]))
            .collect();
        parts.push(der::seq(&entries));
    }
    let mut exts = vec![
        extension("2.5.29.35", false, &der::seq(&[der::tlv(0x80, &issuer.key_id)]))?,
        extension("2.5.29.20", false, &der::uint_u64(spec.number))?,
    ];
    if spec.delta {
        exts.push(extension("2.5.29.27", true, &der::uint_u64(spec.number.saturating_sub(1)))?);
    }
    parts.push(der::explicit(0, &der::seq(&exts)));
    let tbs = der::seq(&parts);
    let sig = signer.sign(signer.x509_scheme(), &tbs, true)?;
    Ok(der::seq(&[tbs, alg, der::bits(&sig, 0)]))
}
