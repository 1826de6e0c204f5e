//! The card bridge's native-messaging host (docs/bridge.md): the stdio message framing
//! ([`framing`]), the host's configuration ([`config`]), the card through PKCS#11 ([`card`])
//! and the stable error codes ([`error`]). The `shikaku-bridge` binary (commands, install,
//! doctor) is built on these.

pub mod card;
pub mod config;
pub mod error;
pub mod framing;

/// The native-messaging host name, as in the host manifest and `connectNative`.
pub const HOST_NAME: &str = "jp.shikaku.bridge";
/// The Chromium-family extension id (from the manifest `key`).
pub const CHROMIUM_EXTENSION_ID: &str = "fagohgkpphfndknmajceahcohidaebje";
/// The Firefox extension id (`browser_specific_settings.gecko.id`).
pub const FIREFOX_EXTENSION_ID: &str = "bridge@shikaku.jp";
/// This host's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `appVersion` of the tokens this host makes.
pub fn app_version() -> String {
    format!("https://shikaku.jp/bridge/{VERSION}")
}
