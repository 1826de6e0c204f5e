//! The card through PKCS#11 (`cryptoki`): load the first module that loads, find the token,
//! pick the authentication and the signature certificate by their HPKI profile (the `hpki`
//! crate's [`CertKind`]), log in with the PIN (or the reader's PIN pad) and sign with the
//! private key that shares the certificate's `CKA_ID`.

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

use crate::error::{BridgeError, Code};

/// Which application of the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The authentication certificate and key (sign-in).
    Authentication,
    /// The signature (non-repudiation) certificate and key.
    Signature,
}

/// A loaded module.
#[derive(Debug)]
pub struct Module {
    /// The library.
    pub context: Pkcs11,
    /// Its path.
    pub path: PathBuf,
}

/// Loads the first of `paths` that loads and initializes; the error lists each failure.
pub fn load(paths: &[PathBuf]) -> Result<Module, (BridgeError, Vec<(PathBuf, String)>)> {
    let mut tried = Vec::new();
    for path in paths {
        match load_one(path) {
            Ok(context) => return Ok(Module { context, path: path.clone() }),
            Err(e) => tried.push((path.clone(), e)),
        }
    }
    let list = tried.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>().join(", ");
    let message = if paths.is_empty() {
        "no PKCS#11 module configured".to_owned()
    } else {
        format!("no PKCS#11 module could be loaded (tried {list})")
    };
    Err((BridgeError::new(Code::ModuleNotFound, message), tried))
}

fn load_one(path: &Path) -> Result<Pkcs11, String> {
    if !path.exists() {
        return Err("no such file".into());
    }
    let context = Pkcs11::new(path).map_err(|e| e.to_string())?;
    context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).map_err(|e| e.to_string())?;
    Ok(context)
}

/// One certificate of the card with its parsed profile.
#[derive(Debug, Clone)]
pub struct CardCertificate {
    /// DER.
    pub der: Vec<u8>,
    /// `CKA_ID`, shared with its private key.
    pub id: Vec<u8>,
    /// The certificate under the HPKI profile.
    pub info: HpkiCertificate,
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

/// A card found in a reader.
#[derive(Debug)]
pub struct Card {
    session: Session,
    module: Module,
    slot: Slot,
    /// Every certificate on the card.
    pub certificates: Vec<CardCertificate>,
}

/// The card in the first reader holding an initialized token.
pub fn find(module: Module) -> Result<Card, BridgeError> {
    let ctx = &module.context;
    let slots = ctx.get_all_slots().map_err(fatal)?;
    if slots.is_empty() {
        return Err(BridgeError::new(Code::NoReaders, "no card reader found"));
    }
    let slot = ctx
        .get_slots_with_initialized_token()
        .map_err(fatal)?
        .into_iter()
        .next()
        .ok_or_else(|| BridgeError::new(Code::NoCard, "no card in the reader"))?;
    let session = ctx.open_ro_session(slot).map_err(map_error)?;
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])
        .map_err(map_error)?;
    let mut certificates = Vec::new();
    for handle in handles {
        let attrs =
            session.get_attributes(handle, &[AttributeType::Value, AttributeType::Id]).map_err(map_error)?;
        let (mut der, mut id) = (None, Vec::new());
        for a in attrs {
            match a {
                Attribute::Value(v) => der = Some(v),
                Attribute::Id(v) => id = v,
                _ => {}
            }
        }
        let Some(der) = der else { continue };
        if let Ok(info) = HpkiCertificate::from_der(&der) {
            certificates.push(CardCertificate { der, id, info });
        }
    }
    Ok(Card { session, module, slot, certificates })
}

fn fatal(e: P11Error) -> BridgeError {
    BridgeError::new(Code::NativeFatal, e.to_string())
}

/// Maps a PKCS#11 error to the bridge's codes.
pub fn map_error(e: P11Error) -> BridgeError {
    match &e {
        P11Error::Pkcs11(rv, _) => match rv {
            RvError::PinIncorrect => BridgeError::new(Code::PinInvalid, "wrong PIN"),
            RvError::PinLocked => BridgeError::new(Code::PinBlocked, "the PIN is locked"),
            RvError::FunctionCanceled => BridgeError::new(Code::UserCancelled, "PIN entry cancelled"),
            RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::SessionHandleInvalid => {
                BridgeError::new(Code::NoCard, "the card was removed")
            }
            _ => fatal(e),
        },
        _ => fatal(e),
    }
}

impl Card {
    /// The certificate of `role`, decided by its HPKI profile; `UnknownCard` if none.
    pub fn certificate(&self, role: KeyRole) -> Result<&CardCertificate, BridgeError> {
        let kind = match role {
            KeyRole::Authentication => CertKind::Authentication,
            KeyRole::Signature => CertKind::Signature,
        };
        self.certificates.iter().find(|c| c.info.kind == kind).ok_or_else(|| {
            let what = if role == KeyRole::Authentication { "authentication" } else { "signature" };
            BridgeError::new(Code::UnknownCard, format!("no HPKI {what} certificate on this card"))
        })
    }

    /// The token's PIN flags now.
    pub fn pin_state(&self) -> PinState {
        match self.module.context.get_token_info(self.slot) {
            Ok(t) => PinState {
                protected_auth_path: t.protected_authentication_path(),
                count_low: t.user_pin_count_low(),
                final_try: t.user_pin_final_try(),
                locked: t.user_pin_locked(),
            },
            Err(_) => PinState::default(),
        }
    }

    /// Logs in: with `pin`, or through the reader's PIN pad when it has one. A wrong PIN
    /// carries what the token then says about the tries left.
    pub fn login(&self, pin: Option<&SecretString>) -> Result<(), BridgeError> {
        let state = self.pin_state();
        if state.locked {
            return Err(BridgeError::new(Code::PinBlocked, "the PIN is locked"));
        }
        let pin = if state.protected_auth_path { None } else { pin };
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
                    error.pin_tries_left = after.final_try.then_some(1);
                }
                Err(error)
            }
        }
    }

    fn private_key(&self, id: &[u8]) -> Result<ObjectHandle, BridgeError> {
        let found = self
            .session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Id(id.to_vec())])
            .map_err(map_error)?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| BridgeError::new(Code::UnknownCard, "no private key for the certificate"))
    }

    /// Signs `data` with the private key of `cert` (after [`Card::login`]).
    pub fn sign(
        &self,
        cert: &CardCertificate,
        mechanism: &Mechanism<'_>,
        data: &[u8],
    ) -> Result<Vec<u8>, BridgeError> {
        let key = self.private_key(&cert.id)?;
        self.session.sign(mechanism, key, data).map_err(map_error)
    }
}
