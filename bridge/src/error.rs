//! The host's errors: a stable code (docs/bridge.md §3) and a short English message; the page
//! localizes by code.

use serde_json::{Value, json};

/// A stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// No configured PKCS#11 module could be loaded.
    ModuleNotFound,
    /// The module sees no reader.
    NoReaders,
    /// Readers, but no (initialized) card.
    NoCard,
    /// A card without the HPKI certificate and key asked for.
    UnknownCard,
    /// Wrong PIN.
    PinInvalid,
    /// PIN locked.
    PinBlocked,
    /// The person cancelled.
    UserCancelled,
    /// No answer in time.
    UserTimeout,
    /// `get-certificate` from an origin not allowed.
    OriginNotAllowed,
    /// A malformed request.
    InvalidArgument,
    /// Anything else.
    NativeFatal,
}

impl Code {
    /// The wire form, e.g. `ERR_WEBEID_NO_CARD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ModuleNotFound => "ERR_WEBEID_MODULE_NOT_FOUND",
            Code::NoReaders => "ERR_WEBEID_NO_READERS",
            Code::NoCard => "ERR_WEBEID_NO_CARD",
            Code::UnknownCard => "ERR_WEBEID_UNKNOWN_CARD",
            Code::PinInvalid => "ERR_WEBEID_PIN_INVALID",
            Code::PinBlocked => "ERR_WEBEID_PIN_BLOCKED",
            Code::UserCancelled => "ERR_WEBEID_USER_CANCELLED",
            Code::UserTimeout => "ERR_WEBEID_USER_TIMEOUT",
            Code::OriginNotAllowed => "ERR_WEBEID_ORIGIN_NOT_ALLOWED",
            Code::InvalidArgument => "ERR_WEBEID_INVALID_ARGUMENT",
            Code::NativeFatal => "ERR_WEBEID_NATIVE_FATAL",
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeError {
    /// The code.
    pub code: Code,
    /// What happened, in English, without personal data or secrets.
    pub message: String,
    /// For a wrong PIN: the token reports few tries left (`CKF_USER_PIN_COUNT_LOW`).
    pub pin_count_low: bool,
    /// For a wrong PIN: the next wrong PIN locks the card (`CKF_USER_PIN_FINAL_TRY`).
    pub pin_final_try: bool,
    /// For a wrong PIN: tries left, when the token tells (`1` on `CKF_USER_PIN_FINAL_TRY`).
    pub pin_tries_left: Option<u32>,
}

impl BridgeError {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> BridgeError {
        BridgeError {
            code,
            message: message.into(),
            pin_count_low: false,
            pin_final_try: false,
            pin_tries_left: None,
        }
    }

    /// The answer message: `{"error": {"code", "message", …}}`; a wrong PIN adds
    /// `pinCountLow`, `pinFinalTry` and, when known, `pinTriesLeft`.
    pub fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code.as_str(), "message": self.message });
        if self.code == Code::PinInvalid {
            error["pinCountLow"] = json!(self.pin_count_low);
            error["pinFinalTry"] = json!(self.pin_final_try);
            if let Some(n) = self.pin_tries_left {
                error["pinTriesLeft"] = json!(n);
            }
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for BridgeError {}
