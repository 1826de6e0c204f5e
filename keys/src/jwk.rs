//! Verifying compact JWS with public JWKs (RFC 7515, 7517, 7518): what a party needs that checks
//! another's signatures: the idp for `private_key_jwt` assertions, the portal for the idp's
//! access tokens presented to its API. RS256, PS256 (RSA of at least 2048 bits) and ES256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::Sha256;

/// Smallest RSA modulus accepted.
pub const MIN_RSA_BITS: usize = 2048;

/// The parts of a compact JWS, decoded but not verified.
#[derive(Debug)]
pub struct Unverified {
    /// The protected header.
    pub header: Value,
    /// The claims (not yet trusted).
    pub claims: Value,
    /// `BASE64URL(header) . BASE64URL(payload)`, what was signed.
    pub signing_input: String,
    /// The signature.
    pub signature: Vec<u8>,
}

/// Why a text is not a compact JWS with a JSON header and a JSON object as payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not three dot-separated parts.
    #[error("not a compact JWS")]
    NotCompact,
    /// A part is not base64url.
    #[error("not base64url")]
    NotBase64,
    /// The header is not JSON.
    #[error("the header is not JSON")]
    HeaderNotJson,
    /// The payload is not a JSON object.
    #[error("the claims are not a JSON object")]
    ClaimsNotObject,
}

/// Splits and decodes a compact JWS without checking anything.
pub fn parse(jws: &str) -> Result<Unverified, ParseError> {
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ParseError::NotCompact);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| ParseError::NotBase64);
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| ParseError::HeaderNotJson)?;
    let claims: Value = serde_json::from_slice(&decode(p)?).map_err(|_| ParseError::ClaimsNotObject)?;
    if !claims.is_object() {
        return Err(ParseError::ClaimsNotObject);
    }
    Ok(Unverified { header, claims, signing_input: format!("{h}.{p}"), signature: decode(s)? })
}

/// A JWK member decoded from base64url.
pub fn member(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(jwk[name].as_str()?).ok()
}

/// Checks `signature` over `message` with a public JWK for `alg` (raw r‖s for ES256).
pub fn verify_with(jwk: &Value, alg: &str, message: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    match alg {
        "ES256" => {
            if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
                return false;
            }
            let (Some(x), Some(y)) = (member(jwk, "x"), member(jwk, "y")) else { return false };
            if x.len() != 32 || y.len() != 32 {
                return false;
            }
            let point =
                p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
            let Ok(key) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else { return false };
            p256::ecdsa::Signature::from_slice(signature).is_ok_and(|sig| key.verify(message, &sig).is_ok())
        }
        "RS256" | "PS256" => {
            if jwk["kty"] != "RSA" {
                return false;
            }
            let (Some(n), Some(e)) = (member(jwk, "n"), member(jwk, "e")) else { return false };
            let Ok(key) =
                rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from_bytes_be(&e))
            else {
                return false;
            };
            if rsa::traits::PublicKeyParts::n(&key).bits() < MIN_RSA_BITS {
                return false;
            }
            if alg == "PS256" {
                rsa::pss::Signature::try_from(signature)
                    .is_ok_and(|sig| rsa::pss::VerifyingKey::<Sha256>::new(key).verify(message, &sig).is_ok())
            } else {
                rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|sig| {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(message, &sig).is_ok()
                })
            }
        }
        _ => false,
    }
}
