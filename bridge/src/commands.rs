//! The host's commands (docs/bridge.md §3–4): each request gets exactly one answer, a
//! success object or `{"error": …}`. One line per request goes to stderr (command, origin,
//! outcome code), which Chromium forwards to its log; never the PIN, the signature or a
//! certificate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hpki::token::{Algorithm, signed_data};
use serde_json::{Value, json};

use crate::card::{self, Card, CardCertificate, HashFunction, KeyRole, KeyType, Module, SignInput};
use crate::config::Loaded;
use crate::error::{BridgeError, Code};
use crate::protocol::{Command, Request};

/// The host: its configuration and, once a request needed it, the loaded module.
#[derive(Debug)]
pub struct Host {
    config: Result<Loaded, String>,
    module: Option<Module>,
}

impl Host {
    /// A host with the configuration (or the error reading it, answered to every request).
    pub fn new(config: Result<Loaded, String>) -> Host {
        Host { config, module: None }
    }

    /// Answers one request (the bytes of a JSON object) and logs one line to stderr.
    pub fn handle(&mut self, body: &[u8]) -> Value {
        let mut request = match Request::parse(body) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("shikaku-bridge: - - {}", e.code.as_str());
                return e.to_json();
            }
        };
        let result = request.command().and_then(|(origin, command)| self.run(&origin, command));
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        eprintln!("shikaku-bridge: {} {} {outcome}", request.command_name(), request.origin_name());
        result.unwrap_or_else(|e| e.to_json())
    }

    /// Finalizes the module, if one was loaded.
    pub fn finish(self) {
        if let Some(m) = self.module {
            m.finalize();
        }
    }

    fn loaded(&self) -> Result<&Loaded, BridgeError> {
        self.config.as_ref().map_err(|e| BridgeError::new(Code::NativeFatal, e.clone()))
    }

    fn module(&mut self) -> Result<&Module, BridgeError> {
        if self.module.is_none() {
            let paths = self.loaded()?.modules.clone();
            self.module = Some(card::load(&paths).map_err(|(e, _)| e)?);
        }
        self.module.as_ref().ok_or_else(|| BridgeError::new(Code::NativeFatal, "module state"))
    }

    fn card(&mut self) -> Result<Card, BridgeError> {
        card::find(self.module()?)
    }

    fn run(&mut self, origin: &str, command: Command) -> Result<Value, BridgeError> {
        match command {
            Command::Status => self.status(),
            Command::PinInfo(role) => {
                let card = self.card()?;
                let cert = card.certificate(role)?;
                let pin = card.pin_state();
                if pin.locked {
                    return Err(BridgeError::new(Code::PinBlocked, "the PIN is locked"));
                }
                Ok(json!({
                    "holder": cert.info.kanji_name.as_ref().or(cert.info.romaji_name.as_ref()),
                    "holderLatin": cert.info.romaji_name,
                    "protectedAuthPath": pin.protected_auth_path,
                    "pinCountLow": pin.count_low || pin.final_try,
                    "pinFinalTry": pin.final_try,
                }))
            }
            Command::GetCertificate => {
                let allowed = self.loaded()?.config.certificate_origins.iter().any(|o| o == origin);
                if !allowed {
                    return Err(BridgeError::new(
                        Code::OriginNotAllowed,
                        "this origin may not read the certificate without a PIN",
                    ));
                }
                let card = self.card()?;
                let cert = card.certificate(KeyRole::Authentication)?;
                Ok(json!({ "certificate": STANDARD.encode(&cert.der) }))
            }
            Command::Authenticate { nonce, pin } => {
                let card = self.card()?;
                let cert = card.certificate(KeyRole::Authentication)?;
                let algorithm = match cert.key_type() {
                    KeyType::Rsa => Algorithm::RS256,
                    KeyType::P256 => Algorithm::ES256,
                    KeyType::P384 => Algorithm::ES384,
                    KeyType::P521 => Algorithm::ES512,
                    KeyType::Unsupported => return Err(unsupported(cert)),
                };
                let data = signed_data(algorithm, origin, &nonce);
                let input = match algorithm {
                    Algorithm::RS256 => SignInput::RsaSha256(data),
                    _ => SignInput::EcdsaPrehashed(algorithm.hash().digest(&data)),
                };
                let signature = card.login_and_sign(pin.as_ref(), cert, &input)?;
                Ok(json!({
                    "format": "web-eid:1.0",
                    "unverifiedCertificate": STANDARD.encode(&cert.der),
                    "algorithm": algorithm.name(),
                    "signature": STANDARD.encode(signature),
                    "appVersion": crate::app_version(),
                }))
            }
            Command::GetSigningCertificate => {
                let card = self.card()?;
                let cert = card.certificate(KeyRole::Signature)?;
                let (crypto, padding) = signature_scheme(cert)?;
                let algorithms: Vec<Value> = HashFunction::ALL
                    .iter()
                    .map(|h| json!({"cryptoAlgorithm": crypto, "hashFunction": h.name(), "paddingScheme": padding}))
                    .collect();
                Ok(json!({
                    "certificate": STANDARD.encode(&cert.der),
                    "supportedSignatureAlgorithms": algorithms,
                }))
            }
            Command::Sign { hash, hash_function, pin } => {
                let card = self.card()?;
                let cert = card.certificate(KeyRole::Signature)?;
                let (crypto, padding) = signature_scheme(cert)?;
                let input = if cert.key_type() == KeyType::Rsa {
                    SignInput::RsaPrehashed(hash_function, hash)
                } else {
                    SignInput::EcdsaPrehashed(hash)
                };
                let signature = card.login_and_sign(pin.as_ref(), cert, &input)?;
                Ok(json!({
                    "signature": STANDARD.encode(signature),
                    "signatureAlgorithm": {
                        "cryptoAlgorithm": crypto,
                        "hashFunction": hash_function.name(),
                        "paddingScheme": padding,
                    },
                }))
            }
        }
    }

    fn status(&mut self) -> Result<Value, BridgeError> {
        self.loaded()?;
        let (module, card) = match self.module() {
            Err(e) if e.code == Code::ModuleNotFound => (None, "module_not_found"),
            Err(e) => return Err(e),
            Ok(m) => {
                let path = m.path.display().to_string();
                let card = match card::find(m) {
                    Ok(c) if c.certificate(KeyRole::Authentication).is_ok() => "present",
                    Ok(_) => "unknown_card",
                    Err(e) => match e.code {
                        Code::NoReaders => "no_reader",
                        Code::NoCard => "no_card",
                        Code::UnknownCard => "unknown_card",
                        _ => return Err(e),
                    },
                };
                (Some(path), card)
            }
        };
        Ok(json!({ "version": crate::VERSION, "module": module, "card": card }))
    }
}

fn unsupported(cert: &CardCertificate) -> BridgeError {
    BridgeError::new(Code::UnknownCard, format!("unsupported key type {}", cert.info.public_key))
}

/// Web eID's `cryptoAlgorithm` and `paddingScheme` of the signature key.
fn signature_scheme(cert: &CardCertificate) -> Result<(&'static str, &'static str), BridgeError> {
    match cert.key_type() {
        KeyType::Rsa => Ok(("RSA", "PKCS1.5")),
        KeyType::P256 | KeyType::P384 | KeyType::P521 => Ok(("ECC", "NONE")),
        KeyType::Unsupported => Err(unsupported(cert)),
    }
}
