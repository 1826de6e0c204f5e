//! A *virtual card*: signs `H(origin) || H(nonce)` with a software key exactly as the bridge
//! does with the card, and wraps the result in a `web-eid:1.0` token.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::keys::TestKey;
use crate::token::{Algorithm, signed_data};

/// A certificate and its software key, standing in for a card's authentication application.
#[derive(Debug, Clone)]
pub struct VirtualCard {
    /// DER of the authentication certificate.
    pub certificate: Vec<u8>,
    /// The private key.
    pub key: TestKey,
}

/// The `appVersion` a virtual card reports.
pub const APP_VERSION: &str = "https://shikaku.invalid/virtual-card/1.0";

impl VirtualCard {
    /// Signs the challenge and returns the raw signature (ECDSA as `r || s`).
    pub fn sign(&self, origin: &str, nonce: &str, algorithm: Algorithm) -> Result<Vec<u8>, String> {
        self.key.sign(algorithm.scheme(), &signed_data(algorithm, origin, nonce), false)
    }

    /// Signs the challenge and returns the token as a JSON value.
    pub fn token_value(
        &self,
        origin: &str,
        nonce: &str,
        algorithm: Algorithm,
    ) -> Result<serde_json::Value, String> {
        let signature = self.sign(origin, nonce, algorithm)?;
        Ok(serde_json::json!({
            "format": "web-eid:1.0",
            "unverifiedCertificate": STANDARD.encode(&self.certificate),
            "algorithm": algorithm.name(),
            "signature": STANDARD.encode(signature),
            "appVersion": APP_VERSION,
        }))
    }

    /// Signs the challenge and returns the token JSON text, as the bridge returns it.
    pub fn token(&self, origin: &str, nonce: &str, algorithm: Algorithm) -> Result<String, String> {
        Ok(self.token_value(origin, nonce, algorithm)?.to_string())
    }

    /// The algorithm a bridge would choose for this key (RS256, ES256, ES384, ES512).
    pub fn default_algorithm(&self) -> Algorithm {
        match self.key {
            TestKey::Rsa(_) => Algorithm::RS256,
            TestKey::P256(_) => Algorithm::ES256,
            TestKey::P384(_) => Algorithm::ES384,
            TestKey::P521(_) => Algorithm::ES512,
        }
    }
}
