//! The master key that encrypts signing keys at rest (AES-256-GCM, the kid as associated data).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A 256-bit master key. Its bytes never print.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Why a master key text was refused.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// Not base64.
    #[error("must be base64 (standard alphabet) of 32 random bytes")]
    NotBase64,
    /// Wrong size.
    #[error("must be 32 bytes, got {0}; generate one with `openssl rand -base64 32`")]
    WrongLength(usize),
}

impl MasterKey {
    /// Parses the base64 text of 32 bytes (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| MasterKeyError::NotBase64)?;
        let key: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| MasterKeyError::WrongLength(bytes.len()))?;
        Ok(Self(Aes256Gcm::new(&key.into())))
    }

    /// A new random key and its base64 text (for writing a key file).
    pub fn generate() -> (Self, String) {
        let bytes: [u8; 32] = rand::random();
        let text = STANDARD.encode(bytes);
        (Self(Aes256Gcm::new(&bytes.into())), text)
    }

    /// Encrypts `plain` bound to `context`: nonce (12 bytes) || ciphertext.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; 12] = rand::random();
        let mut out = nonce.to_vec();
        let sealed = self
            .0
            .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad: context.as_bytes() })
            .unwrap_or_default();
        out.extend(sealed);
        out
    }

    /// Decrypts what [`seal`](Self::seal) made with the same context; `None` when the key or
    /// context differ or the data was altered.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.0.decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: context.as_bytes() }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let (key, text) = MasterKey::generate();
        let sealed = key.seal("kid1", b"secret");
        assert_eq!(key.open("kid1", &sealed).as_deref(), Some(&b"secret"[..]));
        assert_eq!(key.open("kid2", &sealed), None, "bound to its kid");
        let (other, _) = MasterKey::generate();
        assert_eq!(other.open("kid1", &sealed), None);
        let again = MasterKey::from_base64(&text).unwrap();
        assert_eq!(again.open("kid1", &sealed).as_deref(), Some(&b"secret"[..]));
        assert!(matches!(MasterKey::from_base64("c2hvcnQ="), Err(MasterKeyError::WrongLength(5))));
        assert!(matches!(MasterKey::from_base64("!!"), Err(MasterKeyError::NotBase64)));
        assert_eq!(format!("{key:?}"), "MasterKey(***)");
    }
}
