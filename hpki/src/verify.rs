//! Signature verification over RustCrypto (`rsa`, `p256`, `p384`): no signature math here,
//! only the choice of scheme, hash and key from their identifiers.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_parser::signature_algorithm::SignatureAlgorithm;
use x509_parser::x509::AlgorithmIdentifier;

/// Smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// A hash function of the SHA-2 family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    fn from_oid(oid: &str) -> Option<HashAlg> {
        match oid {
            "2.16.840.1.101.3.4.2.1" => Some(HashAlg::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(HashAlg::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(HashAlg::Sha512),
            _ => None,
        }
    }
}

/// A signature scheme with its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1(HashAlg),
    /// RSASSA-PSS with MGF1 over the same hash and the given salt length.
    RsaPss(HashAlg, usize),
    /// ECDSA (P-256 or P-384 key).
    Ecdsa(HashAlg),
}

/// How an ECDSA signature is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcdsaEncoding {
    /// DER `SEQUENCE { r, s }` (X.509, CRLs).
    Der,
    /// Fixed-size `r || s` (JWS, Web eID).
    Raw,
}

/// Maps an X.509 signatureAlgorithm to a [`Scheme`], refusing SHA-1, MD5 and anything unknown.
pub(crate) fn scheme_from_x509(alg: &AlgorithmIdentifier<'_>) -> Result<Scheme, String> {
    let oid = alg.algorithm.to_id_string();
    let params_null_or_absent = match &alg.parameters {
        None => true,
        Some(any) => any.header.tag() == x509_parser::asn1_rs::Tag::Null && any.data.is_empty(),
    };
    let scheme = match oid.as_str() {
        "1.2.840.113549.1.1.11" => Scheme::RsaPkcs1(HashAlg::Sha256),
        "1.2.840.113549.1.1.12" => Scheme::RsaPkcs1(HashAlg::Sha384),
        "1.2.840.113549.1.1.13" => Scheme::RsaPkcs1(HashAlg::Sha512),
        "1.2.840.10045.4.3.2" => Scheme::Ecdsa(HashAlg::Sha256),
        "1.2.840.10045.4.3.3" => Scheme::Ecdsa(HashAlg::Sha384),
        "1.2.840.10045.4.3.4" => Scheme::Ecdsa(HashAlg::Sha512),
        "1.2.840.113549.1.1.10" => return pss_scheme(alg),
        other => return Err(format!("signature algorithm {other} is not supported")),
    };
    match scheme {
        Scheme::RsaPkcs1(_) if !params_null_or_absent => {
            Err("RSA signature algorithm parameters must be NULL".into())
        }
        Scheme::Ecdsa(_) if alg.parameters.is_some() => {
            Err("ECDSA signature algorithm must have no parameters".into())
        }
        s => Ok(s),
    }
}

fn pss_scheme(alg: &AlgorithmIdentifier<'_>) -> Result<Scheme, String> {
    let SignatureAlgorithm::RSASSA_PSS(params) =
        SignatureAlgorithm::try_from(alg).map_err(|e| format!("RSASSA-PSS parameters: {e}"))?
    else {
        return Err("RSASSA-PSS parameters missing".into());
    };
    let hash = HashAlg::from_oid(&params.hash_algorithm_oid().to_id_string())
        .ok_or("RSASSA-PSS hash is not SHA-256/384/512")?;
    let mgf = params.mask_gen_algorithm().map_err(|e| format!("RSASSA-PSS mask generation: {e}"))?;
    if mgf.mgf.to_id_string() != "1.2.840.113549.1.1.8"
        || HashAlg::from_oid(&mgf.hash.to_id_string()) != Some(hash)
    {
        return Err("RSASSA-PSS must use MGF1 with the signature hash".into());
    }
    if params.trailer_field() != 1 {
        return Err("RSASSA-PSS trailer field must be 1".into());
    }
    let salt = usize::try_from(params.salt_length()).map_err(|_| "RSASSA-PSS salt length")?;
    Ok(Scheme::RsaPss(hash, salt))
}

/// A public key ready to verify signatures.
#[derive(Debug, Clone)]
pub(crate) enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Decodes a DER SubjectPublicKeyInfo (RSA ≥ 2048 bits, EC P-256 or P-384).
    pub(crate) fn from_spki(spki: &[u8]) -> Result<PublicKey, String> {
        if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) {
            use rsa::traits::PublicKeyParts;
            let bits = key.n().bits();
            if bits < MIN_RSA_BITS {
                return Err(format!("RSA key of {bits} bits is too small"));
            }
            return Ok(PublicKey::Rsa(key));
        }
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) {
            return Ok(PublicKey::P256(key));
        }
        if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(spki) {
            return Ok(PublicKey::P384(key));
        }
        Err("public key is not RSA (2048–4096 bits), P-256 or P-384".into())
    }

    /// A short name for reports: `RSA-2048`, `P-256`, `P-384`.
    pub(crate) fn describe(&self) -> String {
        match self {
            PublicKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                format!("RSA-{}", k.n().bits())
            }
            PublicKey::P256(_) => "P-256".into(),
            PublicKey::P384(_) => "P-384".into(),
        }
    }

    /// Verifies `sig` over `msg` with `scheme`.
    pub(crate) fn verify(
        &self,
        scheme: Scheme,
        encoding: EcdsaEncoding,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), String> {
        let bad = |e: &dyn std::fmt::Display| format!("signature does not verify: {e}");
        match (self, scheme) {
            (PublicKey::Rsa(key), Scheme::RsaPkcs1(hash)) => {
                let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|e| bad(&e))?;
                let key = key.clone();
                match hash {
                    HashAlg::Sha256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(msg, &sig),
                    HashAlg::Sha384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify(msg, &sig),
                    HashAlg::Sha512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(msg, &sig),
                }
                .map_err(|e| bad(&e))
            }
            (PublicKey::Rsa(key), Scheme::RsaPss(hash, salt)) => {
                let sig = rsa::pss::Signature::try_from(sig).map_err(|e| bad(&e))?;
                let key = key.clone();
                match hash {
                    HashAlg::Sha256 => {
                        rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(key, salt).verify(msg, &sig)
                    }
                    HashAlg::Sha384 => {
                        rsa::pss::VerifyingKey::<Sha384>::new_with_salt_len(key, salt).verify(msg, &sig)
                    }
                    HashAlg::Sha512 => {
                        rsa::pss::VerifyingKey::<Sha512>::new_with_salt_len(key, salt).verify(msg, &sig)
                    }
                }
                .map_err(|e| bad(&e))
            }
            (PublicKey::P256(key), Scheme::Ecdsa(hash)) => {
                let sig = match encoding {
                    EcdsaEncoding::Der => p256::ecdsa::Signature::from_der(sig),
                    EcdsaEncoding::Raw => p256::ecdsa::Signature::from_slice(sig),
                }
                .map_err(|e| bad(&e))?;
                key.verify_prehash(&hash.digest(msg), &sig).map_err(|e| bad(&e))
            }
            (PublicKey::P384(key), Scheme::Ecdsa(hash)) => {
                let sig = match encoding {
                    EcdsaEncoding::Der => p384::ecdsa::Signature::from_der(sig),
                    EcdsaEncoding::Raw => p384::ecdsa::Signature::from_slice(sig),
                }
                .map_err(|e| bad(&e))?;
                key.verify_prehash(&hash.digest(msg), &sig).map_err(|e| bad(&e))
            }
            (key, scheme) => Err(format!("{scheme:?} does not match a {} key", key.describe())),
        }
    }
}
