//! Key pairs for JWS: generation, PKCS#8 encoding, public JWKs and compact signatures.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A JWS algorithm a key series signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256 (the default).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048.
    RS256,
    /// RSASSA-PSS with SHA-256 (salt 32 bytes), RSA-2048.
    PS256,
}

impl SigningAlg {
    /// Every supported algorithm.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::RS256, SigningAlg::PS256];

    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    /// Parses a JWS `alg` name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

enum Private {
    /// The p256 key (encoding, JWK) and the same key loaded in `ring`, which signs and verifies
    /// several times faster.
    Ec(p256::ecdsa::SigningKey, Box<RingEc>),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// An ECDSA P-256 key in `ring`, with its uncompressed public point.
struct RingEc {
    pair: ring::signature::EcdsaKeyPair,
    public: Vec<u8>,
}

impl RingEc {
    fn new(k: &p256::ecdsa::SigningKey) -> Result<Self, String> {
        let public = k.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &k.to_bytes(),
            &public,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| format!("P-256 key refused: {e}"))?;
        Ok(Self { pair, public })
    }
}

/// A private key with its algorithm. Never printed.
pub struct KeyPair {
    alg: SigningAlg,
    key: Private,
    /// RFC 7638 thumbprint, computed once.
    kid: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("alg", &self.alg).field("kid", &self.kid()).finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl KeyPair {
    /// A fresh key (RSA-2048 for RS256/PS256; takes a moment).
    pub fn generate(alg: SigningAlg) -> Self {
        let key = match alg {
            SigningAlg::ES256 => loop {
                let k = p256::ecdsa::SigningKey::random(&mut OsRng);
                // ring accepts every valid P-256 key; a refusal would be a bug there: try again.
                if let Ok(r) = RingEc::new(&k) {
                    break Private::Ec(k, Box::new(r));
                }
            },
            SigningAlg::RS256 | SigningAlg::PS256 => loop {
                // Generation fails only on an RNG failure; try again.
                if let Ok(k) = rsa::RsaPrivateKey::new(&mut OsRng, 2048) {
                    break Private::Rsa(Box::new(k));
                }
            },
        };
        Self::with(alg, key)
    }

    fn with(alg: SigningAlg, key: Private) -> Self {
        let mut pair = Self { alg, key, kid: String::new() };
        pair.kid = b64(&Sha256::digest(pair.required_members().to_string().as_bytes()));
        pair
    }

    /// Loads a PKCS#8 DER private key for `alg`.
    pub fn from_pkcs8_der(alg: SigningAlg, der: &[u8]) -> Result<Self, String> {
        let key = match alg {
            SigningAlg::ES256 => {
                let k = p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| e.to_string())?;
                let r = RingEc::new(&k)?;
                Private::Ec(k, Box::new(r))
            }
            SigningAlg::RS256 | SigningAlg::PS256 => {
                Private::Rsa(Box::new(rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| e.to_string())?))
            }
        };
        Ok(Self::with(alg, key))
    }

    /// PKCS#8 DER of the private key.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        let doc = match &self.key {
            Private::Ec(k, _) => k.to_pkcs8_der(),
            Private::Rsa(k) => k.to_pkcs8_der(),
        };
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The required members of the public JWK, in RFC 7638 (thumbprint) order.
    fn required_members(&self) -> Value {
        match &self.key {
            Private::Ec(k, _) => {
                let point = k.verifying_key().to_encoded_point(false);
                let (x, y) = (point.x().map(|x| b64(x)), point.y().map(|y| b64(y)));
                json!({ "crv": "P-256", "kty": "EC", "x": x, "y": y })
            }
            Private::Rsa(k) => {
                json!({ "e": b64(&k.e().to_bytes_be()), "kty": "RSA", "n": b64(&k.n().to_bytes_be()) })
            }
        }
    }

    /// Key id: the RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn kid(&self) -> String {
        // serde_json keeps object keys sorted, as RFC 7638 requires (computed in `with`).
        self.kid.clone()
    }

    /// The public JWK with `kid`, `use` and `alg`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.required_members();
        jwk["kid"] = json!(self.kid());
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(self.alg.name());
        jwk
    }

    /// Signs `message` (raw r‖s for ECDSA).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match (&self.key, self.alg) {
            (Private::Ec(k, r), _) => match r.pair.sign(&ring::rand::SystemRandom::new(), message) {
                Ok(sig) => sig.as_ref().to_vec(),
                // ring fails only when the system RNG does; p256 signs deterministically (RFC 6979).
                Err(_) => {
                    let sig: p256::ecdsa::Signature = k.sign(message);
                    sig.to_bytes().to_vec()
                }
            },
            (Private::Rsa(k), SigningAlg::PS256) => rsa::pss::BlindedSigningKey::<Sha256>::new((**k).clone())
                .sign_with_rng(&mut OsRng, message)
                .to_vec(),
            (Private::Rsa(k), _) => {
                rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone()).sign(message).to_vec()
            }
        }
    }

    /// Checks a signature made by this key (raw r‖s for ECDSA).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        match (&self.key, self.alg) {
            (Private::Ec(_, r), _) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &r.public)
                    .verify(message, signature)
                    .is_ok()
            }
            (Private::Rsa(k), SigningAlg::PS256) => {
                rsa::pss::Signature::try_from(signature).is_ok_and(|sig| {
                    rsa::pss::VerifyingKey::<Sha256>::new(k.to_public_key()).verify(message, &sig).is_ok()
                })
            }
            (Private::Rsa(k), _) => rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|sig| {
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.to_public_key()).verify(message, &sig).is_ok()
            }),
        }
    }

    /// A compact JWS of `claims` with header `{"alg", "kid", "typ"}`; fails only when `claims`
    /// does not serialize to JSON (a map with non-string keys, a failing `Serialize`).
    pub fn sign_jws(&self, typ: &str, claims: &impl serde::Serialize) -> Result<String, serde_json::Error> {
        #[derive(serde::Serialize)]
        struct Header<'a> {
            alg: &'static str,
            kid: &'a str,
            typ: &'a str,
        }
        let header = Header { alg: self.alg.name(), kid: &self.kid, typ };
        // Serializing to bytes (not through `Display`) and encoding into one buffer keeps this
        // to a few allocations: it runs for every token the idp issues.
        let header = serde_json::to_vec(&header)?;
        let claims = serde_json::to_vec(claims)?;
        let mut jws = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 100);
        URL_SAFE_NO_PAD.encode_string(&header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut jws);
        let signature = self.sign(jws.as_bytes());
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
        Ok(jws)
    }
}
