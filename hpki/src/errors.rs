//! Stable error codes of certificate and card-token validation (docs/design.md §5).
//!
//! Which error where: every failure of this crate is an [`Error`], which carries one
//! [`ErrorCode`] (a public, stable string such as `cert_expired`) and an internal detail
//! for logs. Show users [`ErrorCode::message_ja`] / [`ErrorCode::message_en`], never the detail.

use std::fmt;

/// The stable failure codes of docs/design.md §5. `code()` strings are a public interface.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The token is not a well-formed `web-eid:1.0` token (size, JSON, fields, base64).
    TokenMalformed,
    /// The token's `algorithm` is not on the allow-list.
    AlgorithmNotAllowed,
    /// The certificate (or a CA certificate) cannot be parsed or breaks the profile's syntax.
    CertMalformed,
    /// The certificate is not meant for this use (key usage / extended key usage).
    WrongPurpose,
    /// The certificate's policies are not accepted (e.g. a signature certificate for login).
    PolicyNotAllowed,
    /// The certificate holds no hcRole, or one that is not allowed.
    RoleNotAllowed,
    /// A certificate of the path is not valid yet.
    CertNotYetValid,
    /// A certificate of the path has expired.
    CertExpired,
    /// No path to a configured CA certificate.
    CertUntrusted,
    /// The token signature does not verify (wrong origin, nonce, key or algorithm).
    SignatureInvalid,
    /// The challenge nonce is unknown, used or malformed.
    NonceUnknown,
    /// The certificate is on its issuer's CRL.
    CertRevoked,
    /// No usable CRL: missing, badly signed, stale beyond grace, or unsupported.
    RevocationUnavailable,
}

impl ErrorCode {
    /// Every code, in docs/design.md §5's validation order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::TokenMalformed,
        ErrorCode::AlgorithmNotAllowed,
        ErrorCode::CertMalformed,
        ErrorCode::WrongPurpose,
        ErrorCode::PolicyNotAllowed,
        ErrorCode::RoleNotAllowed,
        ErrorCode::CertNotYetValid,
        ErrorCode::CertExpired,
        ErrorCode::CertUntrusted,
        ErrorCode::SignatureInvalid,
        ErrorCode::NonceUnknown,
        ErrorCode::CertRevoked,
        ErrorCode::RevocationUnavailable,
    ];

    /// The stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::TokenMalformed => "token_malformed",
            ErrorCode::AlgorithmNotAllowed => "algorithm_not_allowed",
            ErrorCode::CertMalformed => "cert_malformed",
            ErrorCode::WrongPurpose => "wrong_purpose",
            ErrorCode::PolicyNotAllowed => "policy_not_allowed",
            ErrorCode::RoleNotAllowed => "role_not_allowed",
            ErrorCode::CertNotYetValid => "cert_not_yet_valid",
            ErrorCode::CertExpired => "cert_expired",
            ErrorCode::CertUntrusted => "cert_untrusted",
            ErrorCode::SignatureInvalid => "signature_invalid",
            ErrorCode::NonceUnknown => "nonce_unknown",
            ErrorCode::CertRevoked => "cert_revoked",
            ErrorCode::RevocationUnavailable => "revocation_unavailable",
        }
    }

    /// Parses a code string back (for stores and tests).
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// A message for the card holder, in Japanese.
    pub fn message_ja(self) -> &'static str {
        match self {
            ErrorCode::TokenMalformed => "カードからの応答の形式が正しくありません。",
            ErrorCode::AlgorithmNotAllowed => "カードの署名方式は利用できません。",
            ErrorCode::CertMalformed => "カードの証明書を読み取れませんでした。",
            ErrorCode::WrongPurpose => "この証明書はログインに使えません（認証用証明書を選んでください）。",
            ErrorCode::PolicyNotAllowed => "この証明書の種類はログインに使えません。",
            ErrorCode::RoleNotAllowed => "この証明書の資格ではログインできません。",
            ErrorCode::CertNotYetValid => "証明書の有効期間がまだ始まっていません。",
            ErrorCode::CertExpired => "証明書の有効期限が切れています。",
            ErrorCode::CertUntrusted => "証明書の発行者を確認できませんでした。",
            ErrorCode::SignatureInvalid => "カードの署名を確認できませんでした。",
            ErrorCode::NonceUnknown => "ログインの有効時間が過ぎました。もう一度お試しください。",
            ErrorCode::CertRevoked => "この証明書は失効しています。",
            ErrorCode::RevocationUnavailable => {
                "証明書の失効情報を確認できません。しばらくしてからお試しください。"
            }
        }
    }

    /// A message for the card holder, in English.
    pub fn message_en(self) -> &'static str {
        match self {
            ErrorCode::TokenMalformed => "The response from the card is malformed.",
            ErrorCode::AlgorithmNotAllowed => "The card's signature algorithm is not allowed.",
            ErrorCode::CertMalformed => "The card's certificate could not be read.",
            ErrorCode::WrongPurpose => {
                "This certificate cannot be used to sign in (choose the authentication certificate)."
            }
            ErrorCode::PolicyNotAllowed => "This kind of certificate cannot be used to sign in.",
            ErrorCode::RoleNotAllowed => "The qualification in this certificate is not allowed here.",
            ErrorCode::CertNotYetValid => "The certificate is not valid yet.",
            ErrorCode::CertExpired => "The certificate has expired.",
            ErrorCode::CertUntrusted => "The certificate's issuer is not trusted.",
            ErrorCode::SignatureInvalid => "The card's signature could not be verified.",
            ErrorCode::NonceUnknown => "The sign-in attempt has expired. Please try again.",
            ErrorCode::CertRevoked => "This certificate has been revoked.",
            ErrorCode::RevocationUnavailable => {
                "The certificate's revocation status is unavailable. Please try again later."
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A validation failure: a stable [`ErrorCode`] and an internal detail (for logs only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Error {
    /// The stable code.
    pub code: ErrorCode,
    /// What exactly failed, in English, for logs and operators.
    pub detail: String,
}

impl Error {
    /// Builds an error from a code and a detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Error {
        Error { code, detail: detail.into() }
    }

    /// The stable code string.
    pub fn code(&self) -> &'static str {
        self.code.code()
    }
}

pub(crate) fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::CertMalformed, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            assert!(seen.insert(c.code()));
            assert!(!c.message_ja().is_empty() && !c.message_en().is_empty());
        }
        assert_eq!(ErrorCode::from_code("nope"), None);
    }
}
