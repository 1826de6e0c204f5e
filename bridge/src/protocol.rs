//! The requests of the extension and their checks (docs/bridge.md §3).
//!
//! A request is one JSON object with `command` and `origin` (the origin the browser reports
//! for the page, set by the service worker) and the command's own fields. Unknown fields are
//! ignored; missing or malformed ones are `ERR_WEBEID_INVALID_ARGUMENT`. The PIN is read
//! straight into a [`SecretString`] (wiped when dropped) and never printed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use crate::card::{HashFunction, KeyRole};
use crate::error::{BridgeError, Code};

/// Longest origin accepted.
pub const MAX_ORIGIN_LEN: usize = 2048;

/// A request as sent: every field optional, checked by [`Request::command`].
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The command name.
    #[serde(default)]
    pub command: Option<String>,
    /// The page's origin.
    #[serde(default)]
    pub origin: Option<String>,
    /// `pin-info`: `authentication` or `signature`.
    #[serde(default)]
    pub key: Option<String>,
    /// `authenticate`: the challenge nonce.
    #[serde(default)]
    pub nonce: Option<String>,
    /// `authenticate`, `sign`: the PIN (absent with a PIN pad).
    #[serde(default, deserialize_with = "secret")]
    pub pin: Option<SecretString>,
    /// `sign`: the hash to sign, base64.
    #[serde(default)]
    pub hash: Option<String>,
    /// `sign`: `SHA-256`, `SHA-384` or `SHA-512`.
    #[serde(default)]
    pub hash_function: Option<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("command", &self.command)
            .field("origin", &self.origin)
            .field("pin", &self.pin.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    // The `String` moves into the secret without a copy (`into_boxed_str` of an exact-size
    // string does not reallocate).
    Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
}

/// A checked command.
#[derive(Debug)]
pub enum Command {
    /// `status`.
    Status,
    /// `pin-info` for a key.
    PinInfo(KeyRole),
    /// `get-certificate` (authentication certificate, allowed origins only).
    GetCertificate,
    /// `authenticate` a challenge.
    Authenticate {
        /// The challenge nonce.
        nonce: String,
        /// The PIN (absent with a PIN pad).
        pin: Option<SecretString>,
    },
    /// `get-signing-certificate`.
    GetSigningCertificate,
    /// `sign` a hash with the signature key.
    Sign {
        /// The hash bytes.
        hash: Vec<u8>,
        /// Its hash function.
        hash_function: HashFunction,
        /// The PIN (absent with a PIN pad).
        pin: Option<SecretString>,
    },
}

fn invalid(message: impl Into<String>) -> BridgeError {
    BridgeError::new(Code::InvalidArgument, message)
}

/// Checks an origin: `scheme://host[:port]`, no path, no whitespace.
pub fn check_origin(origin: &str) -> Result<(), BridgeError> {
    let ok = !origin.is_empty()
        && origin.len() <= MAX_ORIGIN_LEN
        && !origin.chars().any(|c| c.is_whitespace() || c.is_control())
        && origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty() && !rest.contains('/'));
    if ok { Ok(()) } else { Err(invalid("`origin` is not an origin")) }
}

impl Request {
    /// Parses a request from the bytes of a JSON object.
    pub fn parse(body: &[u8]) -> Result<Request, BridgeError> {
        serde_json::from_slice(body).map_err(|e| invalid(format!("malformed request: {e}")))
    }

    /// The command name, for the log (`-` when missing).
    pub fn command_name(&self) -> &str {
        self.command.as_deref().unwrap_or("-")
    }

    /// The origin, for the log (`-` when missing).
    pub fn origin_name(&self) -> &str {
        self.origin.as_deref().unwrap_or("-")
    }

    /// Checks the fields of the command and takes them (the PIN moves out).
    pub fn command(&mut self) -> Result<(String, Command), BridgeError> {
        let name = self.command.clone().ok_or_else(|| invalid("`command` is missing"))?;
        let origin = self.origin.clone().ok_or_else(|| invalid("`origin` is missing"))?;
        check_origin(&origin)?;
        let command = match name.as_str() {
            "status" => Command::Status,
            "pin-info" => match self.key.as_deref() {
                Some("authentication") => Command::PinInfo(KeyRole::Authentication),
                Some("signature") => Command::PinInfo(KeyRole::Signature),
                _ => return Err(invalid("`key` must be \"authentication\" or \"signature\"")),
            },
            "get-certificate" => Command::GetCertificate,
            "get-signing-certificate" => Command::GetSigningCertificate,
            "authenticate" => {
                let nonce = self.nonce.take().ok_or_else(|| invalid("`nonce` is missing"))?;
                let n = nonce.chars().count();
                if !(hpki::token::MIN_NONCE_LEN..=hpki::token::MAX_NONCE_LEN).contains(&n) {
                    return Err(invalid(format!(
                        "`nonce` must have {}–{} characters",
                        hpki::token::MIN_NONCE_LEN,
                        hpki::token::MAX_NONCE_LEN
                    )));
                }
                Command::Authenticate { nonce, pin: self.pin.take() }
            }
            "sign" => {
                let hash_function = self
                    .hash_function
                    .as_deref()
                    .and_then(HashFunction::from_name)
                    .ok_or_else(|| invalid("`hashFunction` must be SHA-256, SHA-384 or SHA-512"))?;
                let hash = STANDARD
                    .decode(self.hash.as_deref().ok_or_else(|| invalid("`hash` is missing"))?)
                    .map_err(|_| invalid("`hash` is not base64"))?;
                if hash.len() != hash_function.output_len() {
                    return Err(invalid(format!(
                        "`hash` has {} bytes, {} has {}",
                        hash.len(),
                        hash_function.name(),
                        hash_function.output_len()
                    )));
                }
                Command::Sign { hash, hash_function, pin: self.pin.take() }
            }
            _ => return Err(invalid("unknown command")),
        };
        Ok((origin, command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn command(json: &str) -> Result<Command, BridgeError> {
        Request::parse(json.as_bytes())?.command().map(|(_, c)| c)
    }

    const NONCE: &str = "q0bbbYzcOSJ4ECEbL9SDrTsgy3cDuf9DWWeXwN8eK0E=";

    #[test]
    fn commands_and_their_fields() {
        assert!(matches!(command(r#"{"command":"status","origin":"https://a.jp"}"#), Ok(Command::Status)));
        assert!(matches!(
            command(r#"{"command":"pin-info","origin":"https://a.jp","key":"signature"}"#),
            Ok(Command::PinInfo(KeyRole::Signature))
        ));
        let c = command(&format!(
            r#"{{"command":"authenticate","origin":"https://a.jp:8443","nonce":"{NONCE}","pin":"1234","lang":"ja"}}"#
        ))
        .unwrap();
        let Command::Authenticate { nonce, pin } = c else { panic!("{c:?}") };
        assert_eq!(nonce, NONCE);
        assert_eq!(pin.unwrap().expose_secret(), "1234");
        let c = command(&format!(
            r#"{{"command":"sign","origin":"https://a.jp","hash":"{}","hashFunction":"SHA-256"}}"#,
            STANDARD.encode([7u8; 32])
        ))
        .unwrap();
        assert!(matches!(c, Command::Sign { hash_function: HashFunction::Sha256, pin: None, .. }));
    }

    #[test]
    fn malformed_requests_are_invalid_arguments() {
        for json in [
            r#"{"origin":"https://a.jp"}"#,
            r#"{"command":"status"}"#,
            r#"{"command":"status","origin":"https://a.jp/path"}"#,
            r#"{"command":"status","origin":"not an origin"}"#,
            r#"{"command":"status","origin":5}"#,
            r#"{"command":"nope","origin":"https://a.jp"}"#,
            r#"{"command":"pin-info","origin":"https://a.jp","key":"other"}"#,
            r#"{"command":"authenticate","origin":"https://a.jp","nonce":"short","pin":"1"}"#,
            r#"{"command":"sign","origin":"https://a.jp","hash":"AAAA","hashFunction":"SHA-256"}"#,
            r#"{"command":"sign","origin":"https://a.jp","hash":"!!","hashFunction":"SHA-256"}"#,
            r#"{"command":"sign","origin":"https://a.jp","hash":"AAAA","hashFunction":"MD5"}"#,
        ] {
            let e = command(json).unwrap_err();
            assert_eq!(e.code, Code::InvalidArgument, "{json}");
        }
    }

    #[test]
    fn the_pin_is_not_in_debug_output() {
        let r = Request::parse(br#"{"command":"sign","origin":"https://a.jp","pin":"314159"}"#).unwrap();
        assert!(!format!("{r:?}").contains("314159"));
    }
}
