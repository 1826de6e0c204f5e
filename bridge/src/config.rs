//! The host's configuration (docs/bridge.md §5): PKCS#11 modules tried in order and the
//! origins that may read the authentication certificate without a PIN.
//!
//! The file is TOML, the first found of `$SHIKAKU_BRIDGE_CONFIG`, the user file and the
//! system file ([`user_file`], [`system_file`]); `$SHIKAKU_BRIDGE_PKCS11` overrides its
//! `modules`; with neither, [`default_modules`] are tried.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Env, Platform, ProcessEnv};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SHIKAKU_BRIDGE_CONFIG";
/// Environment variable overriding the module list (`:`-separated, `;` on Windows).
pub const MODULES_ENV: &str = "SHIKAKU_BRIDGE_PKCS11";

/// The configuration file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PKCS#11 modules, tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<PathBuf>,
    /// Origins (scheme, host and port, compared as exact strings) allowed to call
    /// `get-certificate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_origins: Vec<String>,
}

/// Where the module list in effect came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModulesSource {
    /// `$SHIKAKU_BRIDGE_PKCS11`.
    Environment,
    /// The configuration file's `modules`.
    File,
    /// The per-OS defaults.
    Defaults,
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
    /// Where [`Loaded::modules`] came from.
    pub modules_source: ModulesSource,
}

/// Default PKCS#11 modules of `platform`: OpenSC's usual install paths.
///
/// The HPKI card middleware (the client software distributed for the card) is not listed:
/// no reliable public source names its PKCS#11 library file, so rather than guess a path
/// the installer writes it into `modules` (`shikaku-bridge install --module PATH`).
pub fn default_modules(platform: Platform) -> Vec<PathBuf> {
    let paths: &[&str] = match platform {
        Platform::Windows => &[
            r"C:\Windows\System32\opensc-pkcs11.dll",
            r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
        ],
        Platform::MacOs => &["/Library/OpenSC/lib/opensc-pkcs11.so", "/opt/homebrew/lib/opensc-pkcs11.so"],
        Platform::Linux => &[
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
            "/usr/local/lib/opensc-pkcs11.so",
        ],
    };
    paths.iter().map(PathBuf::from).collect()
}

/// The user's configuration file on `platform`: `$XDG_CONFIG_HOME` or `~/.config` on Linux,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows, then
/// `shikaku-bridge/config.toml`.
pub fn user_file(platform: Platform, env: &dyn Env) -> Option<PathBuf> {
    match platform {
        Platform::Windows => {
            env.var("APPDATA").map(|d| platform.join(&d, &["shikaku-bridge", "config.toml"]))
        }
        Platform::MacOs => env
            .var("HOME")
            .map(|h| platform.join(&h, &["Library", "Application Support", "shikaku-bridge", "config.toml"])),
        Platform::Linux => {
            env.var("XDG_CONFIG_HOME").map(|d| platform.join(&d, &["shikaku-bridge", "config.toml"])).or_else(
                || env.var("HOME").map(|h| platform.join(&h, &[".config", "shikaku-bridge", "config.toml"])),
            )
        }
    }
}

/// The system-wide configuration file on `platform`.
pub fn system_file(platform: Platform, env: &dyn Env) -> PathBuf {
    match platform {
        Platform::Windows => {
            let base = env.var("PROGRAMDATA").unwrap_or_else(|| r"C:\ProgramData".to_owned());
            platform.join(&base, &["shikaku-bridge", "config.toml"])
        }
        Platform::MacOs => PathBuf::from("/Library/Application Support/shikaku-bridge/config.toml"),
        Platform::Linux => PathBuf::from("/etc/shikaku-bridge/config.toml"),
    }
}

/// Splits a `$SHIKAKU_BRIDGE_PKCS11` value (`;` on Windows, `:` elsewhere; empty parts
/// skipped).
pub fn split_modules(platform: Platform, list: &str) -> Vec<PathBuf> {
    let sep = if platform == Platform::Windows { ';' } else { ':' };
    list.split(sep).filter(|p| !p.trim().is_empty()).map(PathBuf::from).collect()
}

/// Reads a configuration file; unknown keys and bad values are errors naming the file.
pub fn read(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("invalid configuration {}: {}", path.display(), e.message()))
}

/// Writes a configuration file (creating its folder).
pub fn write(path: &Path, config: &Config) -> Result<(), String> {
    let text = toml::to_string(config).map_err(|e| format!("cannot encode the configuration: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = format!("# Written by shikaku-bridge install; see docs/bridge.md §5.\n{text}");
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The configuration file to read on `platform` with `env`: the one `$SHIKAKU_BRIDGE_CONFIG`
/// names (even if missing: that is then an error), else the user file, else the system file,
/// whichever exists.
pub fn find_file(platform: Platform, env: &dyn Env) -> Option<PathBuf> {
    match env.var(CONFIG_ENV) {
        Some(p) => Some(PathBuf::from(p)),
        None => user_file(platform, env)
            .filter(|p| p.exists())
            .or_else(|| Some(system_file(platform, env)).filter(|p| p.exists())),
    }
}

/// Loads the configuration of this process.
pub fn load() -> Result<Loaded, String> {
    load_with(Platform::current(), &ProcessEnv)
}

/// Loads the configuration on `platform` with `env`.
pub fn load_with(platform: Platform, env: &dyn Env) -> Result<Loaded, String> {
    let file = find_file(platform, env);
    let config = match &file {
        Some(p) => read(p)?,
        None => Config::default(),
    };
    let (modules, modules_source) = match env.var(MODULES_ENV) {
        Some(list) => (split_modules(platform, &list), ModulesSource::Environment),
        None if !config.modules.is_empty() => (config.modules.clone(), ModulesSource::File),
        None => (default_modules(platform), ModulesSource::Defaults),
    };
    Ok(Loaded { file, config, modules, modules_source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k: &str| map.get(k).cloned()
    }

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

    #[test]
    fn file_locations_per_os() {
        let e = env(&[("HOME", "/home/d"), ("APPDATA", r"C:\Users\d\AppData\Roaming")]);
        assert_eq!(
            user_file(Platform::Linux, &e).unwrap(),
            PathBuf::from("/home/d/.config/shikaku-bridge/config.toml")
        );
        let x = env(&[("HOME", "/home/d"), ("XDG_CONFIG_HOME", "/xdg")]);
        assert_eq!(user_file(Platform::Linux, &x).unwrap(), PathBuf::from("/xdg/shikaku-bridge/config.toml"));
        assert_eq!(
            user_file(Platform::MacOs, &e).unwrap(),
            PathBuf::from("/home/d/Library/Application Support/shikaku-bridge/config.toml")
        );
        assert_eq!(
            user_file(Platform::Windows, &e).unwrap(),
            PathBuf::from(r"C:\Users\d\AppData\Roaming\shikaku-bridge\config.toml")
        );
        assert_eq!(system_file(Platform::Linux, &e), PathBuf::from("/etc/shikaku-bridge/config.toml"));
        assert_eq!(
            system_file(Platform::MacOs, &e),
            PathBuf::from("/Library/Application Support/shikaku-bridge/config.toml")
        );
        assert_eq!(
            system_file(Platform::Windows, &e),
            PathBuf::from(r"C:\ProgramData\shikaku-bridge\config.toml")
        );
        assert!(user_file(Platform::Linux, &env(&[])).is_none());
    }

    #[test]
    fn module_list_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "modules = [\"/file.so\"]\n").unwrap();
        let path = p.to_str().unwrap();
        let l = load_with(Platform::Linux, &env(&[(CONFIG_ENV, path)])).unwrap();
        assert_eq!((l.modules, l.modules_source), (vec![PathBuf::from("/file.so")], ModulesSource::File));
        let l =
            load_with(Platform::Linux, &env(&[(CONFIG_ENV, path), (MODULES_ENV, "/a.so::/b.so")])).unwrap();
        assert_eq!(l.modules, vec![PathBuf::from("/a.so"), PathBuf::from("/b.so")]);
        assert_eq!(l.modules_source, ModulesSource::Environment);
        let l = load_with(Platform::Linux, &env(&[("HOME", "/nonexistent-home")])).unwrap();
        assert_eq!(l.modules_source, ModulesSource::Defaults);
        assert_eq!(l.modules[0], PathBuf::from("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"));
        assert!(l.file.is_none() || l.file == Some(PathBuf::from("/etc/shikaku-bridge/config.toml")));
        assert_eq!(
            split_modules(Platform::Windows, r"C:\a.dll;C:\b.dll"),
            vec![PathBuf::from(r"C:\a.dll"), PathBuf::from(r"C:\b.dll")]
        );
        assert_eq!(
            default_modules(Platform::MacOs)[0],
            PathBuf::from("/Library/OpenSC/lib/opensc-pkcs11.so")
        );
        assert_eq!(
            default_modules(Platform::Windows)[0],
            PathBuf::from(r"C:\Windows\System32\opensc-pkcs11.dll")
        );
        let missing = dir.path().join("missing.toml");
        let e = load_with(Platform::Linux, &env(&[(CONFIG_ENV, missing.to_str().unwrap())])).unwrap_err();
        assert!(e.contains("missing.toml"), "{e}");
    }

    #[test]
    fn written_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/config.toml");
        let c =
            Config { modules: vec!["/m.so".into()], certificate_origins: vec!["https://a.jp:8443".into()] };
        write(&p, &c).unwrap();
        assert_eq!(read(&p).unwrap(), c);
    }
}
