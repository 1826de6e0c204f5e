//! Object identifiers used by the HPKI profile (docs/design.md §6), as dotted text.

/// hcRole attribute inside subjectDirectoryAttributes.
pub const HC_ROLE: &str = "1.0.17090.0.1";
/// The coding scheme of hcRole values.
pub const HC_ROLE_CODING_SCHEME: &str = "1.2.392.100495.1.6.1.1";
/// HPKI signature (non-repudiation) end-entity policy.
pub const POLICY_SIGNATURE_EE: &str = "1.2.392.100495.1.5.1.1.0.1";
/// HPKI signature CA policy.
pub const POLICY_SIGNATURE_CA: &str = "1.2.392.100495.1.5.1.1.3.1";
/// HPKI authentication end-entity policy.
pub const POLICY_AUTH_EE: &str = "1.2.392.100495.1.5.1.2.0.1";
/// HPKI authentication CA policy.
pub const POLICY_AUTH_CA: &str = "1.2.392.100495.1.5.1.2.3.1";
/// id-kp-clientAuth.
pub const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
/// anyExtendedKeyUsage.
pub const EKU_ANY: &str = "2.5.29.37.0";

pub(crate) const EXT_SUBJECT_DIRECTORY_ATTRIBUTES: &str = "2.5.29.9";
pub(crate) const EXT_SUBJECT_KEY_ID: &str = "2.5.29.14";
pub(crate) const EXT_KEY_USAGE: &str = "2.5.29.15";
pub(crate) const EXT_SUBJECT_ALT_NAME: &str = "2.5.29.17";
pub(crate) const EXT_ISSUER_ALT_NAME: &str = "2.5.29.18";
pub(crate) const EXT_BASIC_CONSTRAINTS: &str = "2.5.29.19";
pub(crate) const EXT_CRL_DP: &str = "2.5.29.31";
pub(crate) const EXT_CERT_POLICIES: &str = "2.5.29.32";
pub(crate) const EXT_AUTHORITY_KEY_ID: &str = "2.5.29.35";
pub(crate) const EXT_EXT_KEY_USAGE: &str = "2.5.29.37";

/// Extensions this crate processes itself: a critical extension outside this list makes the
/// certificate unusable (RFC 5280 §4.2).
pub(crate) const UNDERSTOOD_EXTENSIONS: &[&str] = &[
    EXT_SUBJECT_DIRECTORY_ATTRIBUTES,
    EXT_SUBJECT_KEY_ID,
    EXT_KEY_USAGE,
    EXT_SUBJECT_ALT_NAME,
    EXT_ISSUER_ALT_NAME,
    EXT_BASIC_CONSTRAINTS,
    EXT_CRL_DP,
    EXT_CERT_POLICIES,
    EXT_AUTHORITY_KEY_ID,
    EXT_EXT_KEY_USAGE,
];
