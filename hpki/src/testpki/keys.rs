//! Deterministic test keys (RSA-2048, P-256, P-384, P-521) and signing with RustCrypto.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::der;
use crate::verify::{HashAlg, Scheme};

/// A private key of the test PKI.
#[derive(Clone)]
pub enum TestKey {
    /// RSA (2048 bits, like real cards).
    Rsa(rsa::RsaPrivateKey),
    /// ECDSA P-256.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::SigningKey),
    /// ECDSA P-521.
    P521(p521::ecdsa::SigningKey),
}

impl std::fmt::Debug for TestKey {
    // `p521::ecdsa::SigningKey` has no `Debug`; show its public point (never the scalar).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestKey::Rsa(k) => f.debug_tuple("Rsa").field(k).finish(),
            TestKey::P256(k) => f.debug_tuple("P256").field(k).finish(),
            TestKey::P384(k) => f.debug_tuple("P384").field(k).finish(),
            TestKey::P521(k) => {
                let public = p521::ecdsa::VerifyingKey::from(k).to_encoded_point(false);
                let point = crate::names::hex(public.as_bytes());
                f.debug_struct("P521").field("public", &point).finish_non_exhaustive()
            }
        }
    }
}

/// Which kind of key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA-2048.
    Rsa2048,
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
    /// ECDSA P-521.
    P521,
}

fn rng(seed: u64, label: &str) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    ChaCha20Rng::from_seed(h.finalize().into())
}

impl TestKey {
    /// Generates the key named `label` deterministically from `seed`.
    pub fn generate(kind: KeyKind, seed: u64, label: &str) -> Result<TestKey, String> {
        let mut rng = rng(seed, label);
        Ok(match kind {
            KeyKind::Rsa2048 => {
                TestKey::Rsa(rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?)
            }
            KeyKind::P256 => TestKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            KeyKind::P384 => TestKey::P384(p384::ecdsa::SigningKey::random(&mut rng)),
            KeyKind::P521 => TestKey::P521(p521::ecdsa::SigningKey::random(&mut rng)),
        })
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Result<Vec<u8>, String> {
        let doc = match self {
            TestKey::Rsa(k) => k.to_public_key().to_public_key_der(),
            TestKey::P256(k) => k.verifying_key().to_public_key_der(),
            TestKey::P384(k) => k.verifying_key().to_public_key_der(),
            TestKey::P521(k) => {
                p521::PublicKey::from_secret_scalar(k.as_nonzero_scalar()).to_public_key_der()
            }
        };
        doc.map(|d| d.as_bytes().to_vec()).map_err(|e| e.to_string())
    }

    /// PKCS#8 DER of the private key.
    pub fn pkcs8_der(&self) -> Result<Vec<u8>, String> {
        let doc = match self {
            TestKey::Rsa(k) => k.to_pkcs8_der(),
            TestKey::P256(k) => k.to_pkcs8_der(),
            TestKey::P384(k) => k.to_pkcs8_der(),
            TestKey::P521(k) => p521::SecretKey::from(k.as_nonzero_scalar()).to_pkcs8_der(),
        };
        doc.map(|d| d.as_bytes().to_vec()).map_err(|e| e.to_string())
    }

    /// The X.509 signature scheme this key uses for certificates and CRLs.
    pub(crate) fn x509_scheme(&self) -> Scheme {
        match self {
            TestKey::Rsa(_) => Scheme::RsaPkcs1(HashAlg::Sha256),
            TestKey::P256(_) => Scheme::Ecdsa(HashAlg::Sha256),
            TestKey::P384(_) => Scheme::Ecdsa(HashAlg::Sha384),
            TestKey::P521(_) => Scheme::Ecdsa(HashAlg::Sha512),
        }
    }

    /// DER AlgorithmIdentifier of [`Self::x509_scheme`].
    pub(crate) fn x509_algorithm(&self) -> Result<Vec<u8>, String> {
        Ok(match self {
            TestKey::Rsa(_) => der::seq(&[der::oid("1.2.840.113549.1.1.11")?, der::null()]),
            TestKey::P256(_) => der::seq(&[der::oid("1.2.840.10045.4.3.2")?]),
            TestKey::P384(_) => der::seq(&[der::oid("1.2.840.10045.4.3.3")?]),
            TestKey::P521(_) => der::seq(&[der::oid("1.2.840.10045.4.3.4")?]),
        })
    }

    /// Signs `msg` with `scheme`; ECDSA signatures are DER when `der_ecdsa`, else raw `r || s`.
    /// PSS uses a salt of the hash length, drawn from a generator seeded by the message; P-521
    /// (for which `p521` 0.13 has no RFC 6979) draws its nonce from a generator seeded by the key
    /// and the message, so that signatures stay deterministic.
    pub fn sign(&self, scheme: Scheme, msg: &[u8], der_ecdsa: bool) -> Result<Vec<u8>, String> {
        let mismatch = || Err(format!("{scheme:?} cannot be made with this key"));
        match (self, scheme) {
            (TestKey::Rsa(k), Scheme::RsaPkcs1(h)) => {
                let k = k.clone();
                Ok(match h {
                    HashAlg::Sha256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(k).sign(msg).to_vec(),
                    HashAlg::Sha384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(k).sign(msg).to_vec(),
                    HashAlg::Sha512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(k).sign(msg).to_vec(),
                })
            }
            (TestKey::Rsa(k), Scheme::RsaPss(h, salt)) => {
                if salt != h.output_len() {
                    return mismatch();
                }
                let mut rng = rng(0, &crate::names::hex(msg));
                let k = k.clone();
                Ok(match h {
                    HashAlg::Sha256 => {
                        rsa::pss::SigningKey::<Sha256>::new(k).sign_with_rng(&mut rng, msg).to_vec()
                    }
                    HashAlg::Sha384 => {
                        rsa::pss::SigningKey::<Sha384>::new(k).sign_with_rng(&mut rng, msg).to_vec()
                    }
                    HashAlg::Sha512 => {
                        rsa::pss::SigningKey::<Sha512>::new(k).sign_with_rng(&mut rng, msg).to_vec()
                    }
                })
            }
            (TestKey::P256(k), Scheme::Ecdsa(HashAlg::Sha256)) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                Ok(if der_ecdsa { sig.to_der().as_bytes().to_vec() } else { sig.to_bytes().to_vec() })
            }
            (TestKey::P384(k), Scheme::Ecdsa(HashAlg::Sha384)) => {
                let sig: p384::ecdsa::Signature = k.sign(msg);
                Ok(if der_ecdsa { sig.to_der().as_bytes().to_vec() } else { sig.to_bytes().to_vec() })
            }
            (TestKey::P521(k), Scheme::Ecdsa(HashAlg::Sha512)) => {
                use p521::ecdsa::signature::hazmat::RandomizedPrehashSigner;
                let prehash = Sha512::digest(msg);
                let mut seed = k.to_bytes().to_vec();
                seed.extend_from_slice(&prehash);
                let mut rng = rng(0, &crate::names::hex(&seed));
                let sig: p521::ecdsa::Signature =
                    k.sign_prehash_with_rng(&mut rng, &prehash).map_err(|e| e.to_string())?;
                Ok(if der_ecdsa { sig.to_der().as_bytes().to_vec() } else { sig.to_bytes().to_vec() })
            }
            _ => mismatch(),
        }
    }
}
