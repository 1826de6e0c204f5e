//! Signing document records as compact JWS (ES256, header `typ` [`TYP`]) with the portal's key
//! series, and verifying them against a published JWK Set alone — no database, no private key —
//! which is what an offline verifier does with the set from `GET /jwks`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keys::{KeyError, KeyPolicy, Keys, MasterKey, SigningAlg};
use p256::ecdsa::signature::Verifier;
use serde_json::Value;
use storage::Db;

use crate::documents::Content;

/// The JWS header `typ` of document records.
pub const TYP: &str = "shikaku-document+jwt";
/// The key series (`signing_keys.owner`) of the portal.
pub const OWNER: &str = "portal";
/// Document keys stay published for as long as a document may be shown: 100 years.
pub const RETENTION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The portal's signer: its key series and public URL.
#[derive(Debug, Clone)]
pub struct Signer {
    keys: Keys,
    public_url: String,
}

impl Signer {
    /// Opens the portal's key series (checking the master key decrypts it) and creates its
    /// ES256 key on a first start.
    pub async fn open(db: Db, master: MasterKey, public_url: &str, now: i64) -> Result<Self, KeyError> {
        let policy = KeyPolicy { publish_lead: Duration::from_secs(3600), retention: RETENTION };
        let keys = Keys::open(db, OWNER, master, policy).await?;
        keys.ensure(&[SigningAlg::ES256], now).await?;
        Ok(Self { keys, public_url: public_url.trim_end_matches('/').to_owned() })
    }

    /// The portal's public base URL.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The key series.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Signs `content` with the key active at `now`.
    pub async fn sign(&self, content: &Content, now: i64) -> Result<String, KeyError> {
        let key = self.keys.signer(SigningAlg::ES256, now).await?;
        Ok(key.sign_jws(TYP, content)?)
    }

    /// The published JWK Set at `now`.
    pub async fn jwks(&self, now: i64) -> Result<Value, KeyError> {
        self.keys.jwks(now).await
    }
}

/// Why a JWS is not a genuine document record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts with JSON header and payload.
    #[error("not a compact JWS")]
    Malformed,
    /// Header `typ` or `alg` is not ours.
    #[error("not a document record (typ/alg)")]
    WrongType,
    /// The `kid` is not in the key set.
    #[error("signed by an unknown key")]
    UnknownKey,
    /// The signature does not hold: the record was altered or signed by another key.
    #[error("the signature does not match")]
    BadSignature,
    /// The payload is not a document's content.
    #[error("the payload is not a document")]
    BadPayload,
}

/// Verifies `jws` against the JWK Set `jwks` and returns its content.
pub fn verify(jws: &str, jwks: &Value) -> Result<Content, JwsError> {
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| JwsError::Malformed);
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwsError::Malformed)?;
    if header["typ"].as_str() != Some(TYP) || header["alg"].as_str() != Some("ES256") {
        return Err(JwsError::WrongType);
    }
    let kid = header["kid"].as_str().ok_or(JwsError::UnknownKey)?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"].as_str() == Some(kid)))
        .ok_or(JwsError::UnknownKey)?;
    let key = verifying_key(jwk).ok_or(JwsError::UnknownKey)?;
    let signature = p256::ecdsa::Signature::from_slice(&decode(s)?).map_err(|_| JwsError::BadSignature)?;
    key.verify(format!("{h}.{p}").as_bytes(), &signature).map_err(|_| JwsError::BadSignature)?;
    serde_json::from_slice(&decode(p)?).map_err(|_| JwsError::BadPayload)
}

/// The P-256 public key of an EC JWK.
fn verifying_key(jwk: &Value) -> Option<p256::ecdsa::VerifyingKey> {
    if jwk["kty"].as_str() != Some("EC") || jwk["crv"].as_str() != Some("P-256") {
        return None;
    }
    let coord = |name: &str| -> Option<[u8; 32]> {
        URL_SAFE_NO_PAD.decode(jwk[name].as_str()?).ok()?.try_into().ok()
    };
    let (x, y) = (coord("x")?, coord("y")?);
    let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    p256::ecdsa::VerifyingKey::from_encoded_point(&point).ok()
}
