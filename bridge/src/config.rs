//! The host's configuration (docs/bridge.md §5): PKCS#11 modules tried in order and the
//! origins that may read the authentication certificate without a PIN.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SHIKAKU_BRIDGE_CONFIG";
/// Environment variable overriding the module list (paths separated like `PATH`).
pub const MODULES_ENV: &str = "SHIKAKU_BRIDGE_PKCS11";

/// The configuration file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PKCS#11 modules, tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<PathBuf>,
    /// Origins (scheme, host and port) allowed to call `get-certificate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_origins: Vec<String>,
}

/// The configuration in effect and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Its values.
    pub config: Config,
    /// The modules to try: the environment's, the file's, or the defaults.
    pub modules: Vec<PathBuf>,
}

/// Default PKCS#11 modules of this OS: OpenSC's usual install paths. The HPKI card
/// middleware distributed with the card reader is not listed: its library name differs by
/// vendor and version, so its path goes into `modules` (`shikaku-bridge install --module`).
pub fn default_modules() -> Vec<PathBuf> {
    let paths: &[&str] = if cfg!(windows) {
        &[
            r"C:\Windows\System32\opensc-pkcs11.dll",
            r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
        ]
    } else if cfg!(target_os = "macos") {
        &["/Library/OpenSC/lib/opensc-pkcs11.so", "/opt/homebrew/lib/opensc-pkcs11.so"]
    } else {
        &[
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
            "/usr/local/lib/opensc-pkcs11.so",
        ]
    };
    paths.iter().map(PathBuf::from).collect()
}

/// The user's configuration file of this OS.
pub fn user_file() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if cfg!(windows) {
        env("APPDATA").map(|d| d.join("shikaku-bridge").join("config.toml"))
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Application Support/shikaku-bridge/config.toml"))
    } else {
        env("XDG_CONFIG_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".config")))
            .map(|d| d.join("shikaku-bridge").join("config.toml"))
    }
}

/// The system-wide configuration file of this OS.
pub fn system_file() -> PathBuf {
    if cfg!(windows) {
        let base =
            std::env::var_os("PROGRAMDATA").map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
        base.join("shikaku-bridge").join("config.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/shikaku-bridge/config.toml")
    } else {
        PathBuf::from("/etc/shikaku-bridge/config.toml")
    }
}

/// Reads a configuration file; unknown keys and bad values are errors naming the file.
pub fn read(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("invalid configuration {}: {}", path.display(), e.message()))
}

/// Loads the configuration: `$SHIKAKU_BRIDGE_CONFIG`, else the user file, else the system
/// file (a missing file is an empty configuration, except the one the variable names).
pub fn load() -> Result<Loaded, String> {
    let file = match std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => user_file().filter(|p| p.exists()).or_else(|| Some(system_file()).filter(|p| p.exists())),
    };
    let config = match &file {
        Some(p) => read(p)?,
        None => Config::default(),
    };
    let modules = match std::env::var_os(MODULES_ENV).filter(|v| !v.is_empty()) {
        Some(list) => std::env::split_paths(&list).collect(),
        None if !config.modules.is_empty() => config.modules.clone(),
        None => default_modules(),
    };
    Ok(Loaded { file, config, modules })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "modules = [\"/x.so\"]\nmodule = \"/y.so\"\n").unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.contains("unknown field `module`"), "{e}");
        std::fs::write(&p, "modules = [\"/x.so\"]\ncertificate_origins = [\"https://idp.example.jp\"]\n")
            .unwrap();
        let c = read(&p).unwrap();
        assert_eq!(c.modules, vec![PathBuf::from("/x.so")]);
        assert_eq!(c.certificate_origins, vec!["https://idp.example.jp".to_owned()]);
    }
}
