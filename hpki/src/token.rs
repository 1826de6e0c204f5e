//! Card-token validation: Web eID `web-eid:1.0` tokens, in exactly docs/design.md §5's order.
//!
//! size/format → algorithm allow-list → certificate parse → purpose → profile (policy, hcRole)
//! → validity at `now` → chain to configured CAs → signature over
//! `H(origin) || H(nonce)` → revocation. Origin and nonce come from server state only.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use time::OffsetDateTime;

use crate::chain::{self, TrustStore};
use crate::crl::{Crl, RevocationStatus};
use crate::errors::{Error, ErrorCode};
use crate::policy::{self, CheckOptions, Profile, Purpose};
use crate::profile::{HpkiCertificate, MAX_CERT_DER};
use crate::verify::{EcdsaEncoding, HashAlg, PublicKey, Scheme};

/// Smallest token accepted, in characters of JSON.
pub const MIN_TOKEN_LEN: usize = 100;
/// Largest token accepted, in characters of JSON.
pub const MAX_TOKEN_LEN: usize = 10_000;
/// Shortest challenge nonce accepted.
pub const MIN_NONCE_LEN: usize = 44;
/// Longest challenge nonce accepted.
pub const MAX_NONCE_LEN: usize = 128;
/// The token formats accepted (`web-eid:1` is the reference application's short form).
pub const FORMATS: [&str; 2] = ["web-eid:1.0", "web-eid:1"];

/// A JWS signature algorithm name, as a token's `algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Algorithm {
    /// ECDSA P-256 + SHA-256.
    ES256,
    /// ECDSA P-384 + SHA-384.
    ES384,
    /// ECDSA P-521 + SHA-512 (signature `r || s`, 66 + 66 bytes).
    ES512,
    /// RSASSA-PSS + SHA-256.
    PS256,
    /// RSASSA-PSS + SHA-384.
    PS384,
    /// RSASSA-PSS + SHA-512.
    PS512,
    /// RSASSA-PKCS1-v1_5 + SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 + SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 + SHA-512.
    RS512,
}

impl Algorithm {
    /// Every algorithm of docs/design.md §5's allow-list.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
    ];

    /// The JWS name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
        }
    }

    /// Parses a JWS name (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The hash `H` of the algorithm.
    pub fn hash(self) -> HashAlg {
        match self {
            Algorithm::ES256 | Algorithm::PS256 | Algorithm::RS256 => HashAlg::Sha256,
            Algorithm::ES384 | Algorithm::PS384 | Algorithm::RS384 => HashAlg::Sha384,
            Algorithm::ES512 | Algorithm::PS512 | Algorithm::RS512 => HashAlg::Sha512,
        }
    }

    /// The signature scheme (PSS salt = hash length).
    pub fn scheme(self) -> Scheme {
        let h = self.hash();
        match self {
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => Scheme::Ecdsa(h),
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => Scheme::RsaPss(h, h.output_len()),
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => Scheme::RsaPkcs1(h),
        }
    }
}

/// The data a card signs (before the algorithm's own hashing): `H(origin) || H(nonce)`.
pub fn signed_data(algorithm: Algorithm, origin: &str, nonce: &str) -> Vec<u8> {
    let h = algorithm.hash();
    let mut data = h.digest(origin.as_bytes());
    data.extend(h.digest(nonce.as_bytes()));
    data
}

/// A token after the format step: fields decoded, nothing verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedToken {
    /// The `format` field.
    pub format: String,
    /// The `algorithm` field, as sent.
    pub algorithm: String,
    /// DER of `unverifiedCertificate`.
    pub certificate: Vec<u8>,
    /// Bytes of `signature`.
    pub signature: Vec<u8>,
    /// The `appVersion` field, if any.
    pub app_version: Option<String>,
}

fn malformed_token(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::TokenMalformed, detail)
}

/// The size/format step: JSON object of 100–10 000 chars with `format` `web-eid:1.0`, a known
/// `algorithm` string, base64 `unverifiedCertificate` and `signature`.
pub fn parse_token(json: &str) -> Result<UnverifiedToken, Error> {
    let len = json.chars().count();
    if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&len) {
        return Err(malformed_token(format!(
            "token of {len} characters is outside {MIN_TOKEN_LEN}–{MAX_TOKEN_LEN}"
        )));
    }
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| malformed_token(format!("not JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| malformed_token("not a JSON object"))?;
    let text = |key: &str| -> Result<Option<String>, Error> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(malformed_token(format!("`{key}` is not a string"))),
        }
    };
    let required = |key: &str| -> Result<String, Error> {
        match text(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(malformed_token(format!("`{key}` is missing or empty"))),
        }
    };
    let format = required("format")?;
    if !FORMATS.contains(&format.as_str()) {
        return Err(malformed_token(format!("unknown format {format:?}")));
    }
    let algorithm = required("algorithm")?;
    // An unknown algorithm (`none` above all) is refused as such before anything else is read:
    // a token that claims no signature must not be reported as merely malformed.
    if Algorithm::from_name(&algorithm).is_none() {
        return Err(Error::new(
            ErrorCode::AlgorithmNotAllowed,
            format!("algorithm {algorithm:?} is not allowed"),
        ));
    }
    let certificate = STANDARD
        .decode(required("unverifiedCertificate")?)
        .map_err(|e| malformed_token(format!("`unverifiedCertificate` is not base64: {e}")))?;
    if certificate.len() > MAX_CERT_DER {
        return Err(malformed_token("`unverifiedCertificate` is too large"));
    }
    let signature = STANDARD
        .decode(required("signature")?)
        .map_err(|e| malformed_token(format!("`signature` is not base64: {e}")))?;
    if signature.is_empty() || signature.len() > 1024 {
        return Err(malformed_token("`signature` has an impossible length"));
    }
    let app_version = text("appVersion")?;
    Ok(UnverifiedToken { format, algorithm, certificate, signature, app_version })
}

/// Who signed in: the identity taken from a validated card certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CardIdentity {
    /// Romaji name (subject CN).
    pub romaji_name: Option<String>,
    /// Kanji name (subjectAltName directoryName CN).
    pub kanji_name: Option<String>,
    /// hcRole values.
    pub hc_roles: Vec<String>,
    /// Subscriber id (subject serialNumber); with `issuer`, the account key.
    pub subscriber_id: Option<String>,
    /// Organization (subject O).
    pub organization: Option<String>,
    /// Issuing CA (the certificate's issuer name, as text).
    pub issuer: String,
    /// Certificate serial, hex.
    pub serial: String,
    /// Certificate notAfter.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The token's algorithm.
    pub algorithm: Algorithm,
    /// The CA path, issuer first.
    pub chain: Vec<String>,
    /// What revocation checking found.
    pub revocation: RevocationStatus,
    /// The whole certificate profile.
    #[serde(skip)]
    pub certificate: HpkiCertificate,
}

/// Validates card tokens against configured CAs under a profile.
#[derive(Debug, Clone)]
pub struct CardTokenValidator {
    /// Configured CA certificates.
    pub trust: TrustStore,
    /// `hpki` or `generic`.
    pub profile: Profile,
    /// Algorithms accepted (default: all of docs/design.md §5).
    pub allowed_algorithms: Vec<Algorithm>,
    /// CRL grace and revocation mode.
    pub options: CheckOptions,
}

impl CardTokenValidator {
    /// A validator with every algorithm allowed and CRLs required.
    pub fn new(trust: TrustStore, profile: Profile) -> CardTokenValidator {
        CardTokenValidator {
            trust,
            profile,
            allowed_algorithms: Algorithm::ALL.to_vec(),
            options: CheckOptions::default(),
        }
    }

    /// Validates `token_json` for the challenge (`origin`, `nonce`) of the server's session, with
    /// the cached `crls`, at `now`. Returns the identity or the first failure in docs/design.md §5 order.
    pub fn validate(
        &self,
        token_json: &str,
        origin: &str,
        nonce: &str,
        crls: &[Crl],
        now: OffsetDateTime,
    ) -> Result<CardIdentity, Error> {
        let nonce_len = nonce.chars().count();
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce_len) {
            return Err(Error::new(ErrorCode::NonceUnknown, format!("nonce of {nonce_len} characters")));
        }
        // 1. size/format
        let token = parse_token(token_json)?;
        // 2. algorithm allow-list
        let algorithm = Algorithm::from_name(&token.algorithm)
            .filter(|a| self.allowed_algorithms.contains(a))
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::AlgorithmNotAllowed,
                    format!("algorithm {:?} is not allowed", token.algorithm),
                )
            })?;
        // 3. certificate parse
        let cert = HpkiCertificate::from_der(&token.certificate)?;
        // 4. purpose, 5. profile
        policy::check_purpose(&cert, Purpose::Authentication)?;
        policy::check_profile(&cert, &self.profile, Purpose::Authentication)?;
        // 6. validity at now
        chain::check_validity(&cert, now, "certificate")?;
        // 7. chain
        let path = chain::validate_path(&cert, &self.trust, now)?;
        // 8. signature
        verify_token_signature(&cert, algorithm, origin, nonce, &token.signature)?;
        // 9. revocation
        let revocation = policy::check_path_revocation(&cert, &path, crls, now, &self.options)?;
        Ok(CardIdentity {
            romaji_name: cert.romaji_name.clone(),
            kanji_name: cert.kanji_name.clone(),
            hc_roles: cert.hc_roles.clone(),
            subscriber_id: cert.subscriber_id.clone(),
            organization: cert.organization.clone(),
            issuer: cert.issuer.clone(),
            serial: cert.serial.clone(),
            not_after: cert.not_after,
            algorithm,
            chain: path.iter().map(|c| c.subject.clone()).collect(),
            revocation,
            certificate: cert,
        })
    }
}

fn verify_token_signature(
    cert: &HpkiCertificate,
    algorithm: Algorithm,
    origin: &str,
    nonce: &str,
    signature: &[u8],
) -> Result<(), Error> {
    let invalid = |d: String| Error::new(ErrorCode::SignatureInvalid, d);
    let key = cert.raw.key.as_ref().map_err(|e| invalid(format!("certificate key: {e}")))?;
    let curve_ok = match (algorithm, key) {
        (Algorithm::ES256, PublicKey::P256(..))
        | (Algorithm::ES384, PublicKey::P384(..))
        | (Algorithm::ES512, PublicKey::P521(..)) => true,
        (Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512, _) => false,
        (_, PublicKey::Rsa(..)) => true,
        _ => false,
    };
    if !curve_ok {
        return Err(invalid(format!("{} does not match a {} key", algorithm.name(), key.describe())));
    }
    let data = signed_data(algorithm, origin, nonce);
    key.verify(algorithm.scheme(), EcdsaEncoding::Raw, &data, signature).map_err(invalid)
}
