//! The card through PKCS#11 (`cryptoki`): load the first module that loads, find the token,
//! pick the authentication and the signature certificate by their HPKI profile (the `hpki`
//! crate's [`CertKind`]), log in with the PIN (or the reader's PIN pad) and sign with the
//! private key that shares the certificate's `CKA_ID`.
//!
//! What SoftHSM 2.6.1 does with a wrong PIN (checked by `tests/card.rs` and `tests/host.rs`):
//! `C_Login` returns `CKR_PIN_INCORRECT` and the token then shows
//! `CKF_USER_PIN_COUNT_LOW`, never `CKF_USER_PIN_FINAL_TRY` nor `CKF_USER_PIN_LOCKED` (it has
//! no try limit); a right PIN clears the flag. Real cards set `CKF_USER_PIN_FINAL_TRY` before
//! the last try (HPKI cards lock after a number of wrong tries), which becomes
//! `pinTriesLeft: 1`.
//!
//! Not supported: keys with `CKA_ALWAYS_AUTHENTICATE` (a context-specific login between
//! `C_SignInit` and `C_Sign`, which `cryptoki` 0.12's single-part `sign` has no room for).

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use hpki::HpkiCertificate;
use hpki::profile::CertKind;
use secrecy::SecretString;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::{BridgeError, Code};

/// Which application of the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The authentication certificate and key (sign-in).
    Authentication,
    /// The signature (non-repudiation) certificate and key.
    Signature,
}

impl KeyRole {
    /// `authentication` or `signature`, as in requests and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Authentication => "authentication",
            KeyRole::Signature => "signature",
        }
    }
}

/// A loaded and initialized module.
#[derive(Debug)]
pub struct Module {
    /// The library.
    pub context: Pkcs11,
    /// Its path.
    pub path: PathBuf,
}

impl Module {
    /// Calls `C_Finalize` (the library stays mapped until the process ends).
    pub fn finalize(self) {
        let _ = self.context.finalize();
    }

    /// The library's description and version (`C_GetInfo`), for `doctor`.
    pub fn describe(&self) -> String {
        match self.context.get_library_info() {
            Ok(info) => {
                let v = info.library_version();
                format!(
                    "{} {} {}.{}",
                    info.manufacturer_id().trim(),
                    info.library_description().trim(),
                    v.major(),
                    v.minor()
                )
            }
            Err(e) => format!("C_GetInfo failed: {e}"),
        }
    }
}

/// What loading one module gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadAttempt {
    /// The path tried.
    pub path: PathBuf,
    /// `None` when it loaded, else why not.
    pub error: Option<String>,
}

/// Loads the first of `paths` that loads and initializes; the error lists each failure.
pub fn load(paths: &[PathBuf]) -> Result<Module, (BridgeError, Vec<(PathBuf, String)>)> {
    let (module, attempts) = load_first(paths);
    match module {
        Some(m) => Ok(m),
        None => {
            let tried: Vec<(PathBuf, String)> =
                attempts.into_iter().map(|a| (a.path, a.error.unwrap_or_default())).collect();
            let list = tried.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>().join(", ");
            let message = if paths.is_empty() {
                "no PKCS#11 module configured".to_owned()
            } else {
                format!("no PKCS#11 module could be loaded (tried {list})")
            };
            Err((BridgeError::new(Code::ModuleNotFound, message), tried))
        }
    }
}

/// Tries `paths` in order and stops at the first that loads; returns it (if any) and every
/// attempt made.
pub fn load_first(paths: &[PathBuf]) -> (Option<Module>, Vec<LoadAttempt>) {
    let mut attempts = Vec::new();
    for path in paths {
        match load_one(path) {
            Ok(context) => {
                attempts.push(LoadAttempt { path: path.clone(), error: None });
                return (Some(Module { context, path: path.clone() }), attempts);
            }
            Err(e) => attempts.push(LoadAttempt { path: path.clone(), error: Some(e) }),
        }
    }
    (None, attempts)
}

fn load_one(path: &Path) -> Result<Pkcs11, String> {
    if !path.exists() {
        return Err("no such file".into());
    }
    let context = Pkcs11::new(path).map_err(|e| e.to_string())?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(context),
        Err(e) => Err(e.to_string()),
    }
}

/// One certificate of the card with its parsed profile.
#[derive(Debug, Clone)]
pub struct CardCertificate {
    /// DER.
    pub der: Vec<u8>,
    /// `CKA_ID`, shared with its private key.
    pub id: Vec<u8>,
    /// `CKA_LABEL` (shown by `doctor`; never used to choose).
    pub label: String,
    /// The certificate under the HPKI profile.
    pub info: HpkiCertificate,
}

impl CardCertificate {
    /// The key's algorithm family, from the certificate's public key.
    pub fn key_type(&self) -> KeyType {
        let k = self.info.public_key.as_str();
        if k.starts_with("RSA") {
            KeyType::Rsa
        } else if k == "P-256" {
            KeyType::P256
        } else if k == "P-384" {
            KeyType::P384
        } else if k == "P-521" {
            KeyType::P521
        } else {
            KeyType::Unsupported
        }
    }
}

/// The key types the host signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA (PKCS#1 v1.5 signatures).
    Rsa,
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
    /// ECDSA P-521.
    P521,
    /// Anything else (refused).
    Unsupported,
}

/// A hash function of `sign` and of the authentication algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFunction {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashFunction {
    /// Every hash function `sign` accepts.
    pub const ALL: [HashFunction; 3] = [HashFunction::Sha256, HashFunction::Sha384, HashFunction::Sha512];

    /// The Web eID name (`SHA-256`, …).
    pub fn name(self) -> &'static str {
        match self {
            HashFunction::Sha256 => "SHA-256",
            HashFunction::Sha384 => "SHA-384",
            HashFunction::Sha512 => "SHA-512",
        }
    }

    /// Parses a Web eID name.
    pub fn from_name(name: &str) -> Option<HashFunction> {
        HashFunction::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashFunction::Sha256 => 32,
            HashFunction::Sha384 => 48,
            HashFunction::Sha512 => 64,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashFunction::Sha256 => Sha256::digest(data).to_vec(),
            HashFunction::Sha384 => Sha384::digest(data).to_vec(),
            HashFunction::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The DER DigestInfo prefix of PKCS#1 v1.5 signatures (RFC 8017 §9.2 note 1).
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashFunction::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
                0x05, 0x00, 0x04, 0x20,
            ],
            HashFunction::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
                0x05, 0x00, 0x04, 0x30,
            ],
            HashFunction::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
                0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// What to sign, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInput {
    /// RSA PKCS#1 v1.5 with SHA-256 over `data` (`CKM_SHA256_RSA_PKCS`; if the token lacks
    /// it, `CKM_RSA_PKCS` over the DigestInfo of SHA-256(`data`)).
    RsaSha256(Vec<u8>),
    /// RSA PKCS#1 v1.5 of a given hash (`CKM_RSA_PKCS` over DigestInfo ‖ hash).
    RsaPrehashed(HashFunction, Vec<u8>),
    /// ECDSA of a given hash (`CKM_ECDSA`); the result is `r ‖ s`.
    EcdsaPrehashed(Vec<u8>),
}

/// The state of the token's user PIN, from its flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinState {
    /// `CKF_PROTECTED_AUTHENTICATION_PATH`: the reader has a PIN pad.
    pub protected_auth_path: bool,
    /// `CKF_USER_PIN_COUNT_LOW`.
    pub count_low: bool,
    /// `CKF_USER_PIN_FINAL_TRY`.
    pub final_try: bool,
    /// `CKF_USER_PIN_LOCKED`.
    pub locked: bool,
}

/// One slot (reader) of the module, for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// The slot id.
    pub slot: u64,
    /// `slotDescription`.
    pub description: String,
    /// A token (card) is present.
    pub token_present: bool,
    /// The token is initialized (`CKF_TOKEN_INITIALIZED`).
    pub token_initialized: bool,
    /// The token label, when present.
    pub token_label: Option<String>,
}

/// Every slot of the module.
pub fn readers(module: &Module) -> Result<Vec<Reader>, BridgeError> {
    let ctx = &module.context;
    let mut out = Vec::new();
    for slot in ctx.get_all_slots().map_err(fatal)? {
        let info = ctx.get_slot_info(slot).map_err(fatal)?;
        let token = if info.token_present() { ctx.get_token_info(slot).ok() } else { None };
        out.push(Reader {
            slot: slot.id(),
            description: info.slot_description().trim().to_owned(),
            token_present: info.token_present(),
            token_initialized: token.as_ref().is_some_and(|t| t.token_initialized()),
            token_label: token.map(|t| t.label().trim().to_owned()),
        });
    }
    Ok(out)
}

/// A card found in a reader, with a read-only session open on it.
#[derive(Debug)]
pub struct Card {
    session: Session,
    context: Pkcs11,
    slot: Slot,
    /// The token label.
    pub label: String,
    /// Every X.509 certificate on the card that parses.
    pub certificates: Vec<CardCertificate>,
    /// Certificate objects that do not parse (their `CKA_LABEL` and why), for `doctor`.
    pub unreadable: Vec<(String, String)>,
}

/// The card: among the readers holding an initialized token, the first whose certificates
/// include an HPKI authentication or signature certificate, else the first such token.
pub fn find(module: &Module) -> Result<Card, BridgeError> {
    let ctx = &module.context;
    if ctx.get_all_slots().map_err(map_error)?.is_empty() {
        return Err(BridgeError::new(Code::NoReaders, "no card reader found"));
    }
    let slots = ctx.get_slots_with_initialized_token().map_err(map_error)?;
    let mut first = None;
    for slot in slots {
        let card = open(ctx, slot)?;
        if card
            .certificates
            .iter()
            .any(|c| matches!(c.info.kind, CertKind::Authentication | CertKind::Signature))
        {
            return Ok(card);
        }
        if first.is_none() {
            first = Some(card);
        }
    }
    first.ok_or_else(|| BridgeError::new(Code::NoCard, "no card in the reader"))
}

fn open(ctx: &Pkcs11, slot: Slot) -> Result<Card, BridgeError> {
    let label = ctx.get_token_info(slot).map(|t| t.label().trim().to_owned()).map_err(map_error)?;
    let session = ctx.open_ro_session(slot).map_err(map_error)?;
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])
        .map_err(map_error)?;
    let mut certificates = Vec::new();
    let mut unreadable = Vec::new();
    for handle in handles {
        let attrs = session
            .get_attributes(handle, &[AttributeType::Value, AttributeType::Id, AttributeType::Label])
            .map_err(map_error)?;
        let (mut der, mut id, mut object_label) = (None, Vec::new(), String::new());
        for a in attrs {
            match a {
                Attribute::Value(v) => der = Some(v),
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => object_label = String::from_utf8_lossy(&v).into_owned(),
                _ => {}
            }
        }
        let Some(der) = der else {
            unreadable.push((object_label, "no CKA_VALUE".to_owned()));
            continue;
        };
        match HpkiCertificate::from_der(&der) {
            Ok(info) => certificates.push(CardCertificate { der, id, label: object_label, info }),
            Err(e) => unreadable.push((object_label, e.to_string())),
        }
    }
    Ok(Card { session, context: ctx.clone(), slot, label, certificates, unreadable })
}

fn fatal(e: P11Error) -> BridgeError {
    let message = match &e {
        P11Error::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        other => other.to_string(),
    };
    BridgeError::new(Code::NativeFatal, message)
}

/// Maps a PKCS#11 error to the bridge's codes.
pub fn map_error(e: P11Error) -> BridgeError {
    match &e {
        P11Error::Pkcs11(rv, _) => match rv {
            RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid => {
                BridgeError::new(Code::PinInvalid, "wrong PIN")
            }
            RvError::PinLocked => BridgeError::new(Code::PinBlocked, "the PIN is locked"),
            RvError::FunctionCanceled => BridgeError::new(Code::UserCancelled, "PIN entry cancelled"),
            RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::SessionHandleInvalid => {
                BridgeError::new(Code::NoCard, "the card was removed")
            }
            RvError::TokenNotRecognized => BridgeError::new(Code::UnknownCard, "the card is not recognized"),
            _ => fatal(e),
        },
        _ => fatal(e),
    }
}

/// Ranks candidates of one kind: an HPKI policy first, then valid now.
fn rank(c: &CardCertificate, now: hpki::time::OffsetDateTime) -> (bool, bool) {
    let hpki_policy =
        c.info.has_policy(hpki::oids::POLICY_AUTH_EE) || c.info.has_policy(hpki::oids::POLICY_SIGNATURE_EE);
    (hpki_policy, c.info.is_valid_at(now))
}

impl Card {
    /// The certificate of `role`, decided by its HPKI profile (never by its label); among
    /// several, one with an HPKI policy and valid now is preferred. `UnknownCard` if none.
    pub fn certificate(&self, role: KeyRole) -> Result<&CardCertificate, BridgeError> {
        let kind = match role {
            KeyRole::Authentication => CertKind::Authentication,
            KeyRole::Signature => CertKind::Signature,
        };
        let now = hpki::time::OffsetDateTime::now_utc();
        let mut best: Option<&CardCertificate> = None;
        for c in self.certificates.iter().filter(|c| c.info.kind == kind) {
            if best.is_none_or(|b| rank(c, now) > rank(b, now)) {
                best = Some(c);
            }
        }
        best.ok_or_else(|| {
            BridgeError::new(Code::UnknownCard, format!("no HPKI {} certificate on this card", role.as_str()))
        })
    }

    /// The token's PIN flags now.
    pub fn pin_state(&self) -> PinState {
        match self.context.get_token_info(self.slot) {
            Ok(t) => PinState {
                protected_auth_path: t.protected_authentication_path(),
                count_low: t.user_pin_count_low(),
                final_try: t.user_pin_final_try(),
                locked: t.user_pin_locked(),
            },
            Err(_) => PinState::default(),
        }
    }

    /// Logs in: with `pin`, or through the reader's PIN pad when it has one and no PIN is
    /// given. A wrong PIN carries what the token then says about the tries left.
    pub fn login(&self, pin: Option<&SecretString>) -> Result<(), BridgeError> {
        let state = self.pin_state();
        if state.locked {
            return Err(BridgeError::new(Code::PinBlocked, "the PIN is locked"));
        }
        if pin.is_none() && !state.protected_auth_path {
            return Err(BridgeError::new(Code::InvalidArgument, "a PIN is needed"));
        }
        match self.session.login(UserType::User, pin) {
            Ok(()) => Ok(()),
            Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(e) => {
                let mut error = map_error(e);
                if error.code == Code::PinInvalid {
                    let after = self.pin_state();
                    if after.locked {
                        return Err(BridgeError::new(Code::PinBlocked, "the PIN is now locked"));
                    }
                    error.pin_count_low = after.count_low || after.final_try;
                    error.pin_final_try = after.final_try;
                    error.pin_tries_left = after.final_try.then_some(1);
                }
                Err(error)
            }
        }
    }

    /// Logs out (errors ignored: closing the session logs out too).
    pub fn logout(&self) {
        let _ = self.session.logout();
    }

    fn private_key(&self, cert: &CardCertificate) -> Result<ObjectHandle, BridgeError> {
        let found = self
            .session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Id(cert.id.clone())])
            .map_err(map_error)?;
        found.into_iter().next().ok_or_else(|| {
            BridgeError::new(Code::UnknownCard, "no private key with the certificate's CKA_ID on this card")
        })
    }

    /// Signs with the private key of `cert` (after [`Card::login`]).
    pub fn sign(&self, cert: &CardCertificate, input: &SignInput) -> Result<Vec<u8>, BridgeError> {
        let key = self.private_key(cert)?;
        match input {
            SignInput::RsaSha256(data) => match self.session.sign(&Mechanism::Sha256RsaPkcs, key, data) {
                Err(P11Error::Pkcs11(RvError::MechanismInvalid, _)) => {
                    let mut info = HashFunction::Sha256.digest_info_prefix().to_vec();
                    info.extend(HashFunction::Sha256.digest(data));
                    self.session.sign(&Mechanism::RsaPkcs, key, &info).map_err(map_error)
                }
                other => other.map_err(map_error),
            },
            SignInput::RsaPrehashed(h, hash) => {
                let mut info = h.digest_info_prefix().to_vec();
                info.extend_from_slice(hash);
                self.session.sign(&Mechanism::RsaPkcs, key, &info).map_err(map_error)
            }
            SignInput::EcdsaPrehashed(hash) => {
                self.session.sign(&Mechanism::Ecdsa, key, hash).map_err(map_error)
            }
        }
    }

    /// Logs in with `pin`, signs with the key of `cert` and logs out, whatever happened.
    pub fn login_and_sign(
        &self,
        pin: Option<&SecretString>,
        cert: &CardCertificate,
        input: &SignInput,
    ) -> Result<Vec<u8>, BridgeError> {
        self.login(pin)?;
        let result = self.sign(cert, input);
        self.logout();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_prefixes_announce_the_hash_length() {
        for h in HashFunction::ALL {
            let p = h.digest_info_prefix();
            assert_eq!(p[p.len() - 1] as usize, h.output_len());
            assert_eq!(p[1] as usize, p.len() - 2 + h.output_len());
            assert_eq!(h.digest(b"x").len(), h.output_len());
            assert_eq!(HashFunction::from_name(h.name()), Some(h));
        }
        assert_eq!(HashFunction::from_name("SHA-1"), None);
    }
}
