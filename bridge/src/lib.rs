//! The card bridge's native-messaging host (docs/bridge.md): the stdio message framing
//! ([`framing`]), the host's configuration ([`config`]), the card through PKCS#11 ([`card`]),
//! the stable error codes ([`error`]), the requests and answers ([`protocol`]) and their
//! handling ([`commands`]). The `shikaku-bridge` binary also installs the browsers' host
//! manifests ([`install`]) and diagnoses a setup for a support desk ([`doctor`]);
//! [`softhsm`] provisions a SoftHSM2 token as a test card.

pub mod card;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod error;
pub mod framing;
pub mod install;
pub mod protocol;
pub mod softhsm;

/// The native-messaging host name, as in the host manifest and `connectNative`.
pub const HOST_NAME: &str = "jp.shikaku.bridge";
/// The Chromium-family extension id (from the manifest `key`).
pub const CHROMIUM_EXTENSION_ID: &str = "fagohgkpphfndknmajceahcohidaebje";
/// The Chromium `allowed_origins` entry of the extension.
pub const CHROMIUM_EXTENSION_ORIGIN: &str = "chrome-extension://fagohgkpphfndknmajceahcohidaebje/";
/// The Firefox extension id (`browser_specific_settings.gecko.id`).
pub const FIREFOX_EXTENSION_ID: &str = "bridge@shikaku.jp";
/// This host's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `appVersion` of the tokens this host makes.
pub fn app_version() -> String {
    format!("https://shikaku.jp/bridge/{VERSION}")
}

/// An operating system whose conventions (file locations, path separators) the host follows.
///
/// Path computations take a `Platform` so that the macOS and Windows paths are testable on
/// any machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and other Unix-likes using XDG locations.
    Linux,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Platform {
    /// The platform the host was built for.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }

    /// Joins path components with this platform's separator (so that Windows paths computed
    /// on Linux come out with backslashes).
    pub fn join(self, base: &str, parts: &[&str]) -> std::path::PathBuf {
        let sep = if self == Platform::Windows { "\\" } else { "/" };
        let mut out = base.trim_end_matches(['/', '\\']).to_owned();
        for part in parts {
            out.push_str(sep);
            out.push_str(part);
        }
        std::path::PathBuf::from(out)
    }
}

/// Environment variables, looked up through a trait so that tests can supply their own.
pub trait Env {
    /// The value of `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.is_empty())
    }
}
