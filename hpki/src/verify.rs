//! Signature verification: no signature math here, only the choice of scheme, hash and key.
//!
//! Keys are decoded with RustCrypto (`rsa`, `p256`, `p384`, `p521`). Verification uses `ring`
//! where it has the exact (scheme, hash, key) combination — its RSA verification is about 8×
//! faster than `rsa` 0.9 (15 µs against 120 µs for RSA-2048 here), which is what lets a token
//! validation (two or three RSA verifications) stay well under 200 µs — and RustCrypto for the
//! rest (ECDSA with SHA-512, every P-521 signature, PSS with a salt other than the hash length).
//! Tests run every algorithm `ring` has through both.

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
    /// ECDSA (P-256, P-384 or P-521 key).
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
        // RFC 5758 §3.2 says absent; some national eID and CA certificates write an explicit
        // NULL, which mainstream validators accept. Nothing else is.
        Scheme::Ecdsa(_) if !params_null_or_absent => {
            Err("ECDSA signature algorithm parameters must be absent or NULL".into())
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
/// Each variant holds the RustCrypto key and the bytes `ring` takes (PKCS#1 RSAPublicKey, or
/// the uncompressed EC point). `ring` has no P-521, so that key is RustCrypto's alone.
#[derive(Clone)]
pub(crate) enum PublicKey {
    Rsa(rsa::RsaPublicKey, Vec<u8>),
    P256(p256::ecdsa::VerifyingKey, Vec<u8>),
    P384(p384::ecdsa::VerifyingKey, Vec<u8>),
    P521(p521::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for PublicKey {
    // `p521::ecdsa::VerifyingKey` has no `Debug`; the key's kind is what reports need.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublicKey::Rsa(k, _) => f.debug_tuple("Rsa").field(k).finish(),
            PublicKey::P256(k, _) => f.debug_tuple("P256").field(k).finish(),
            PublicKey::P384(k, _) => f.debug_tuple("P384").field(k).finish(),
            PublicKey::P521(k) => {
                let point = crate::names::hex(k.to_encoded_point(false).as_bytes());
                f.debug_tuple("P521").field(&point).finish()
            }
        }
    }
}

impl PublicKey {
    /// Decodes a DER SubjectPublicKeyInfo (RSA ≥ 2048 bits, EC P-256, P-384 or P-521).
    pub(crate) fn from_spki(spki: &[u8]) -> Result<PublicKey, String> {
        if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) {
            use rsa::pkcs1::EncodeRsaPublicKey;
            use rsa::traits::PublicKeyParts;
            let bits = key.n().bits();
            if bits < MIN_RSA_BITS {
                return Err(format!("RSA key of {bits} bits is too small"));
            }
            let pkcs1 = key.to_pkcs1_der().map_err(|e| e.to_string())?.as_bytes().to_vec();
            return Ok(PublicKey::Rsa(key, pkcs1));
        }
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) {
            let point = key.to_encoded_point(false).as_bytes().to_vec();
            return Ok(PublicKey::P256(key, point));
        }
        if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(spki) {
            let point = key.to_encoded_point(false).as_bytes().to_vec();
            return Ok(PublicKey::P384(key, point));
        }
        // id-ecPublicKey with namedCurve secp521r1 (1.3.132.0.35); the point is checked to be on
        // the curve and not the identity.
        if let Ok(key) = p521::PublicKey::from_public_key_der(spki) {
            let key = p521::ecdsa::VerifyingKey::from_affine(*key.as_affine()).map_err(|e| e.to_string())?;
            return Ok(PublicKey::P521(key));
        }
        Err("public key is not RSA (2048–4096 bits), P-256, P-384 or P-521".into())
    }

    /// A short name for reports: `RSA-2048`, `P-256`, `P-384`, `P-521`.
    pub(crate) fn describe(&self) -> String {
        match self {
            PublicKey::Rsa(k, _) => {
                use rsa::traits::PublicKeyParts;
                format!("RSA-{}", k.n().bits())
            }
            PublicKey::P256(..) => "P-256".into(),
            PublicKey::P384(..) => "P-384".into(),
            PublicKey::P521(..) => "P-521".into(),
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
        if let Some((alg, key_bytes)) = self.ring_algorithm(scheme, encoding) {
            return ring::signature::UnparsedPublicKey::new(alg, key_bytes)
                .verify(msg, sig)
                .map_err(|_| "signature does not verify".to_owned());
        }
        self.verify_without_ring(scheme, encoding, msg, sig)
    }

    /// Verifies with RustCrypto.
    fn verify_without_ring(
        &self,
        scheme: Scheme,
        encoding: EcdsaEncoding,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), String> {
        let bad = |e: &dyn std::fmt::Display| format!("signature does not verify: {e}");
        match (self, scheme) {
            (PublicKey::Rsa(key, _), Scheme::RsaPkcs1(hash)) => {
                let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|e| bad(&e))?;
                let key = key.clone();
                match hash {
                    HashAlg::Sha256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(msg, &sig),
                    HashAlg::Sha384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify(msg, &sig),
                    HashAlg::Sha512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(msg, &sig),
                }
                .map_err(|e| bad(&e))
            }
            (PublicKey::Rsa(key, _), Scheme::RsaPss(hash, salt)) => {
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
            (PublicKey::P256(key, _), Scheme::Ecdsa(hash)) => {
                let sig = match encoding {
                    EcdsaEncoding::Der => p256::ecdsa::Signature::from_der(sig),
                    EcdsaEncoding::Raw => p256::ecdsa::Signature::from_slice(sig),
                }
                .map_err(|e| bad(&e))?;
                key.verify_prehash(&hash.digest(msg), &sig).map_err(|e| bad(&e))
            }
            (PublicKey::P384(key, _), Scheme::Ecdsa(hash)) => {
                let sig = match encoding {
                    EcdsaEncoding::Der => p384::ecdsa::Signature::from_der(sig),
                    EcdsaEncoding::Raw => p384::ecdsa::Signature::from_slice(sig),
                }
                .map_err(|e| bad(&e))?;
                key.verify_prehash(&hash.digest(msg), &sig).map_err(|e| bad(&e))
            }
            (PublicKey::P521(key), Scheme::Ecdsa(hash)) => {
                // Raw is exactly 66 + 66 bytes (`from_slice` refuses any other length).
                let sig = match encoding {
                    EcdsaEncoding::Der => p521::ecdsa::Signature::from_der(sig),
                    EcdsaEncoding::Raw => p521::ecdsa::Signature::from_slice(sig),
                }
                .map_err(|e| bad(&e))?;
                key.verify_prehash(&hash.digest(msg), &sig).map_err(|e| bad(&e))
            }
            (key, scheme) => Err(format!("{scheme:?} does not match a {} key", key.describe())),
        }
    }
}

impl PublicKey {
    /// The `ring` algorithm for exactly this (key, scheme, encoding), if `ring` has it.
    fn ring_algorithm(
        &self,
        scheme: Scheme,
        encoding: EcdsaEncoding,
    ) -> Option<(&'static dyn ring::signature::VerificationAlgorithm, &[u8])> {
        use ring::signature as r;
        let alg: &'static dyn r::VerificationAlgorithm = match (self, scheme, encoding) {
            (PublicKey::Rsa(..), Scheme::RsaPkcs1(HashAlg::Sha256), _) => &r::RSA_PKCS1_2048_8192_SHA256,
            (PublicKey::Rsa(..), Scheme::RsaPkcs1(HashAlg::Sha384), _) => &r::RSA_PKCS1_2048_8192_SHA384,
            (PublicKey::Rsa(..), Scheme::RsaPkcs1(HashAlg::Sha512), _) => &r::RSA_PKCS1_2048_8192_SHA512,
            (PublicKey::Rsa(..), Scheme::RsaPss(h, salt), _) if salt == h.output_len() => match h {
                HashAlg::Sha256 => &r::RSA_PSS_2048_8192_SHA256,
                HashAlg::Sha384 => &r::RSA_PSS_2048_8192_SHA384,
                HashAlg::Sha512 => &r::RSA_PSS_2048_8192_SHA512,
            },
            (PublicKey::P256(..), Scheme::Ecdsa(HashAlg::Sha256), EcdsaEncoding::Der) => {
                &r::ECDSA_P256_SHA256_ASN1
            }
            (PublicKey::P256(..), Scheme::Ecdsa(HashAlg::Sha256), EcdsaEncoding::Raw) => {
                &r::ECDSA_P256_SHA256_FIXED
            }
            (PublicKey::P256(..), Scheme::Ecdsa(HashAlg::Sha384), EcdsaEncoding::Der) => {
                &r::ECDSA_P256_SHA384_ASN1
            }
            (PublicKey::P384(..), Scheme::Ecdsa(HashAlg::Sha384), EcdsaEncoding::Der) => {
                &r::ECDSA_P384_SHA384_ASN1
            }
            (PublicKey::P384(..), Scheme::Ecdsa(HashAlg::Sha384), EcdsaEncoding::Raw) => {
                &r::ECDSA_P384_SHA384_FIXED
            }
            (PublicKey::P384(..), Scheme::Ecdsa(HashAlg::Sha256), EcdsaEncoding::Der) => {
                &r::ECDSA_P384_SHA256_ASN1
            }
            _ => return None,
        };
        let bytes = match self {
            PublicKey::Rsa(_, b) | PublicKey::P256(_, b) | PublicKey::P384(_, b) => b.as_slice(),
            PublicKey::P521(..) => return None,
        };
        Some((alg, bytes))
    }

    /// Verifies with RustCrypto only (tests compare both paths).
    #[cfg(test)]
    fn verify_rustcrypto(
        &self,
        scheme: Scheme,
        encoding: EcdsaEncoding,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), String> {
        self.verify_without_ring(scheme, encoding, msg, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{KeyKind, TestKey};

    /// Every scheme a card, a bridge or a CA may use verifies the same through `ring` and
    /// RustCrypto, and both refuse a flipped bit.
    #[test]
    fn ring_and_rustcrypto_agree() {
        let msg = b"H(origin) || H(nonce)";
        let cases = [
            (
                KeyKind::Rsa2048,
                vec![
                    Scheme::RsaPkcs1(HashAlg::Sha256),
                    Scheme::RsaPkcs1(HashAlg::Sha384),
                    Scheme::RsaPkcs1(HashAlg::Sha512),
                    Scheme::RsaPss(HashAlg::Sha256, 32),
                    Scheme::RsaPss(HashAlg::Sha384, 48),
                    Scheme::RsaPss(HashAlg::Sha512, 64),
                ],
            ),
            (KeyKind::P256, vec![Scheme::Ecdsa(HashAlg::Sha256)]),
            (KeyKind::P384, vec![Scheme::Ecdsa(HashAlg::Sha384)]),
        ];
        for (kind, schemes) in cases {
            let key = TestKey::generate(kind, 9, "agree").unwrap();
            let public = PublicKey::from_spki(&key.spki().unwrap()).unwrap();
            for scheme in schemes {
                for (der, encoding) in [(true, EcdsaEncoding::Der), (false, EcdsaEncoding::Raw)] {
                    let mut sig = key.sign(scheme, msg, der).unwrap();
                    assert!(public.ring_algorithm(scheme, encoding).is_some(), "{scheme:?} {encoding:?}");
                    public.verify(scheme, encoding, msg, &sig).unwrap();
                    public.verify_rustcrypto(scheme, encoding, msg, &sig).unwrap();
                    let last = sig.len() - 1;
                    sig[last / 2] ^= 0x01;
                    assert!(public.verify(scheme, encoding, msg, &sig).is_err());
                    assert!(public.verify_rustcrypto(scheme, encoding, msg, &sig).is_err());
                }
            }
        }
    }
    /// P-521 (which `ring` lacks) verifies through RustCrypto in both encodings, with SHA-512 as
    /// a card or a CA uses it, and refuses a flipped bit, a wrong length and another hash.
    #[test]
    fn p521_through_rustcrypto() {
        let msg = b"H(origin) || H(nonce)";
        let key = TestKey::generate(KeyKind::P521, 9, "p521").unwrap();
        let public = PublicKey::from_spki(&key.spki().unwrap()).unwrap();
        assert_eq!(public.describe(), "P-521");
        let scheme = Scheme::Ecdsa(HashAlg::Sha512);
        for (der, encoding) in [(true, EcdsaEncoding::Der), (false, EcdsaEncoding::Raw)] {
            assert!(public.ring_algorithm(scheme, encoding).is_none());
            let mut sig = key.sign(scheme, msg, der).unwrap();
            assert_eq!(sig, key.sign(scheme, msg, der).unwrap(), "deterministic");
            if !der {
                assert_eq!(sig.len(), 132);
            }
            public.verify(scheme, encoding, msg, &sig).unwrap();
            assert!(public.verify(Scheme::Ecdsa(HashAlg::Sha384), encoding, msg, &sig).is_err());
            assert!(public.verify(Scheme::Ecdsa(HashAlg::Sha256), encoding, msg, &sig).is_err());
            assert!(public.verify(scheme, encoding, b"other", &sig).is_err());
            let last = sig.len() - 1;
            sig[last / 2] ^= 0x01;
            assert!(public.verify(scheme, encoding, msg, &sig).is_err());
        }
        let raw = key.sign(scheme, msg, false).unwrap();
        for len in [0, 1, 64, 96, 130, 131, 133, 264] {
            let mut sig = raw.clone();
            sig.resize(len, 0);
            assert!(public.verify(scheme, EcdsaEncoding::Raw, msg, &sig).is_err(), "{len}");
        }
        assert!(public.verify(Scheme::RsaPkcs1(HashAlg::Sha512), EcdsaEncoding::Raw, msg, &raw).is_err());
        // Zero r and s, and values at or above the group order, are refused, never a panic.
        assert!(public.verify(scheme, EcdsaEncoding::Raw, msg, &[0u8; 132]).is_err());
        assert!(public.verify(scheme, EcdsaEncoding::Raw, msg, &[0xffu8; 132]).is_err());
    }

    /// A P-521 SubjectPublicKeyInfo whose point is not on the curve is refused.
    #[test]
    fn p521_point_off_the_curve() {
        let key = TestKey::generate(KeyKind::P521, 9, "p521").unwrap();
        let mut spki = key.spki().unwrap();
        let last = spki.len() - 1;
        spki[last] ^= 0x01;
        assert!(PublicKey::from_spki(&spki).is_err());
    }
}
