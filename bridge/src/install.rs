//! `shikaku-bridge install` / `uninstall`: the native-messaging host manifest
//! `jp.shikaku.bridge.json` where each browser looks for it, and the configuration file.
//!
//! The paths are pure functions of a [`Platform`] (tested for every OS on any machine). On
//! Windows the manifest lies next to the executable and a registry value under
//! `HKCU`/`HKLM\Software\…\NativeMessagingHosts\jp.shikaku.bridge` points at it (written
//! with `reg.exe`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::{self, Config};
use crate::{CHROMIUM_EXTENSION_ORIGIN, Env, FIREFOX_EXTENSION_ID, HOST_NAME, Platform};

/// A browser the host can be registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Browser {
    /// Chromium.
    Chromium,
    /// Google Chrome.
    Chrome,
    /// Microsoft Edge.
    Edge,
    /// Mozilla Firefox.
    Firefox,
}

impl Browser {
    /// Every browser.
    pub const ALL: [Browser; 4] = [Browser::Chromium, Browser::Chrome, Browser::Edge, Browser::Firefox];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Chrome => "chrome",
            Browser::Edge => "edge",
            Browser::Firefox => "firefox",
        }
    }

    /// Whether it reads Chromium's manifest format (`allowed_origins`).
    pub fn is_chromium_family(self) -> bool {
        self != Browser::Firefox
    }
}

/// Per user or for every user of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user's own folders (or `HKCU`).
    User,
    /// System folders (or `HKLM`); needs administrator rights.
    System,
}

/// Where one browser's manifest goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The browsers reading this manifest (several Chromium-family browsers share one with
    /// `--user-data-dir`).
    pub browsers: Vec<Browser>,
    /// The manifest file.
    pub manifest: PathBuf,
    /// Windows: the registry key whose default value is the manifest path.
    pub registry_key: Option<String>,
}

/// The manifest file name: `jp.shikaku.bridge.json` (on Windows, Firefox's copy next to the
/// executable is `jp.shikaku.bridge.firefox.json`, its format being different).
pub fn manifest_file_name(platform: Platform, browser: Browser) -> String {
    if platform == Platform::Windows && browser == Browser::Firefox {
        format!("{HOST_NAME}.firefox.json")
    } else {
        format!("{HOST_NAME}.json")
    }
}

/// The folder where `browser` looks for host manifests on `platform` (`home` is the user's
/// home folder); `None` on Windows, where the registry says where.
pub fn manifest_dir(platform: Platform, browser: Browser, scope: Scope, home: &str) -> Option<PathBuf> {
    let p = |base: &str, parts: &[&str]| Some(platform.join(base, parts));
    match (platform, scope, browser) {
        (Platform::Windows, _, _) => None,
        (Platform::Linux, Scope::User, Browser::Chromium) => {
            p(home, &[".config", "chromium", "NativeMessagingHosts"])
        }
        (Platform::Linux, Scope::User, Browser::Chrome) => {
            p(home, &[".config", "google-chrome", "NativeMessagingHosts"])
        }
        (Platform::Linux, Scope::User, Browser::Edge) => {
            p(home, &[".config", "microsoft-edge", "NativeMessagingHosts"])
        }
        (Platform::Linux, Scope::User, Browser::Firefox) => p(home, &[".mozilla", "native-messaging-hosts"]),
        (Platform::Linux, Scope::System, Browser::Chromium) => p("/etc/chromium/native-messaging-hosts", &[]),
        (Platform::Linux, Scope::System, Browser::Chrome) => p("/etc/opt/chrome/native-messaging-hosts", &[]),
        (Platform::Linux, Scope::System, Browser::Edge) => p("/etc/opt/edge/native-messaging-hosts", &[]),
        (Platform::Linux, Scope::System, Browser::Firefox) => {
            p("/usr/lib/mozilla/native-messaging-hosts", &[])
        }
        (Platform::MacOs, Scope::User, b) => {
            let app: &[&str] = match b {
                Browser::Chromium => &["Chromium"],
                Browser::Chrome => &["Google", "Chrome"],
                Browser::Edge => &["Microsoft Edge"],
                Browser::Firefox => &["Mozilla"],
            };
            let mut parts = vec!["Library", "Application Support"];
            parts.extend_from_slice(app);
            parts.push("NativeMessagingHosts");
            p(home, &parts)
        }
        (Platform::MacOs, Scope::System, Browser::Chromium) => {
            p("/Library/Application Support/Chromium/NativeMessagingHosts", &[])
        }
        (Platform::MacOs, Scope::System, Browser::Chrome) => {
            p("/Library/Google/Chrome/NativeMessagingHosts", &[])
        }
        (Platform::MacOs, Scope::System, Browser::Edge) => {
            p("/Library/Microsoft/Edge/NativeMessagingHosts", &[])
        }
        (Platform::MacOs, Scope::System, Browser::Firefox) => {
            p("/Library/Application Support/Mozilla/NativeMessagingHosts", &[])
        }
    }
}

/// The Windows registry key of `browser` (`HKCU` or `HKLM`).
pub fn registry_key(browser: Browser, scope: Scope) -> String {
    let hive = if scope == Scope::User { "HKCU" } else { "HKLM" };
    let vendor = match browser {
        Browser::Chromium => "Chromium",
        Browser::Chrome => r"Google\Chrome",
        Browser::Edge => r"Microsoft\Edge",
        Browser::Firefox => "Mozilla",
    };
    format!(r"{hive}\Software\{vendor}\NativeMessagingHosts\{HOST_NAME}")
}

/// Where the manifests of `browsers` go. `user_data_dir` (a Chromium profile folder, for
/// Chromium-family browsers only) puts one shared manifest in `DIR/NativeMessagingHosts/`;
/// `exe_dir` is where Windows manifests go.
pub fn locations(
    platform: Platform,
    browsers: &[Browser],
    scope: Scope,
    home: Option<&str>,
    user_data_dir: Option<&Path>,
    exe_dir: &Path,
) -> Result<Vec<Location>, String> {
    if let Some(dir) = user_data_dir {
        if browsers.contains(&Browser::Firefox) && browsers.iter().all(|b| *b == Browser::Firefox) {
            return Err("--user-data-dir is for Chromium-family browsers, not Firefox".into());
        }
        let chromium: Vec<Browser> = browsers.iter().copied().filter(|b| b.is_chromium_family()).collect();
        let manifest = dir.join("NativeMessagingHosts").join(format!("{HOST_NAME}.json"));
        return Ok(vec![Location { browsers: chromium, manifest, registry_key: None }]);
    }
    let mut out: Vec<Location> = Vec::new();
    for &browser in browsers {
        let location = if platform == Platform::Windows {
            Location {
                browsers: vec![browser],
                manifest: exe_dir.join(manifest_file_name(platform, browser)),
                registry_key: Some(registry_key(browser, scope)),
            }
        } else {
            let home = match scope {
                Scope::User => home.ok_or("the home folder is unknown (HOME is not set)")?,
                Scope::System => "",
            };
            let dir = manifest_dir(platform, browser, scope, home).ok_or("no manifest folder")?;
            Location {
                browsers: vec![browser],
                manifest: dir.join(manifest_file_name(platform, browser)),
                registry_key: None,
            }
        };
        match out
            .iter_mut()
            .find(|l| l.manifest == location.manifest && l.registry_key == location.registry_key)
        {
            Some(l) => l.browsers.push(browser),
            None => out.push(location),
        }
    }
    Ok(out)
}

/// The manifest for the browsers of a location: Chromium's `allowed_origins` with the
/// extension's origin, Firefox's `allowed_extensions` with its id.
pub fn manifest(firefox: bool, host_path: &Path) -> Value {
    let mut m = json!({
        "name": HOST_NAME,
        "description": "shikaku-bridge: HPKI card access for the Shikaku card bridge extension",
        "path": host_path.to_string_lossy(),
        "type": "stdio",
    });
    if firefox {
        m["allowed_extensions"] = json!([FIREFOX_EXTENSION_ID]);
    } else {
        m["allowed_origins"] = json!([CHROMIUM_EXTENSION_ORIGIN]);
    }
    m
}

/// What `install` and `uninstall` act on.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The platform (its paths).
    pub platform: Platform,
    /// The browsers.
    pub browsers: Vec<Browser>,
    /// User or system.
    pub scope: Scope,
    /// A Chromium profile folder instead of the browsers' own locations.
    pub user_data_dir: Option<PathBuf>,
    /// The configuration file to write (default: the user or system file).
    pub config: Option<PathBuf>,
}

impl Selection {
    /// The manifest locations of the selection, with the executable folder `exe_dir`.
    pub fn locations(&self, env: &dyn Env, exe_dir: &Path) -> Result<Vec<Location>, String> {
        let home = match self.platform {
            Platform::Windows => env.var("USERPROFILE"),
            _ => env.var("HOME"),
        };
        locations(
            self.platform,
            &self.browsers,
            self.scope,
            home.as_deref(),
            self.user_data_dir.as_deref(),
            exe_dir,
        )
    }

    /// The configuration file of the selection.
    pub fn config_file(&self, env: &dyn Env) -> Result<PathBuf, String> {
        if let Some(p) = &self.config {
            return Ok(p.clone());
        }
        match self.scope {
            Scope::User => config::user_file(self.platform, env)
                .ok_or_else(|| "the user's configuration folder is unknown (HOME is not set)".to_owned()),
            Scope::System => Ok(config::system_file(self.platform, env)),
        }
    }
}

/// Installs the manifests (pointing at `host_path`) and, when `origins` or `modules` are
/// given, writes them into the configuration file (each given key replaces the file's
/// value; the others are kept). Returns one line per path written.
pub fn install(
    selection: &Selection,
    env: &dyn Env,
    host_path: &Path,
    origins: &[String],
    modules: &[PathBuf],
) -> Result<Vec<String>, String> {
    let exe_dir = host_path.parent().unwrap_or(Path::new("."));
    let mut lines = Vec::new();
    for location in selection.locations(env, exe_dir)? {
        let firefox = location.browsers == [Browser::Firefox];
        let text = serde_json::to_string_pretty(&manifest(firefox, host_path)).map_err(|e| e.to_string())?;
        if let Some(dir) = location.manifest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&location.manifest, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", location.manifest.display()))?;
        lines.push(format!("wrote {} ({})", location.manifest.display(), names(&location.browsers)));
        if let Some(key) = &location.registry_key {
            registry_set(key, &location.manifest)?;
            lines.push(format!("set {key} = {}", location.manifest.display()));
        }
    }
    if !origins.is_empty() || !modules.is_empty() {
        let file = selection.config_file(env)?;
        let mut config = if file.exists() { config::read(&file)? } else { Config::default() };
        if !origins.is_empty() {
            config.certificate_origins = origins.to_vec();
        }
        if !modules.is_empty() {
            config.modules = modules.to_vec();
        }
        config::write(&file, &config)?;
        lines.push(format!("wrote {} (configuration)", file.display()));
    }
    Ok(lines)
}

/// Removes the manifests of the selection (and, with `remove_config`, the configuration
/// file). Returns one line per path removed.
pub fn uninstall(
    selection: &Selection,
    env: &dyn Env,
    exe_dir: &Path,
    remove_config: bool,
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for location in selection.locations(env, exe_dir)? {
        if location.manifest.exists() {
            std::fs::remove_file(&location.manifest)
                .map_err(|e| format!("cannot remove {}: {e}", location.manifest.display()))?;
            lines.push(format!("removed {} ({})", location.manifest.display(), names(&location.browsers)));
        }
        if let Some(key) = &location.registry_key
            && registry_delete(key)?
        {
            lines.push(format!("removed {key}"));
        }
    }
    if remove_config {
        let file = selection.config_file(env)?;
        if file.exists() {
            std::fs::remove_file(&file).map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
            lines.push(format!("removed {} (configuration)", file.display()));
        }
    }
    Ok(lines)
}

fn names(browsers: &[Browser]) -> String {
    browsers.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
}

#[cfg(windows)]
fn registry_set(key: &str, manifest: &Path) -> Result<(), String> {
    let out = std::process::Command::new("reg.exe")
        .args(["add", key, "/ve", "/t", "REG_SZ", "/d"])
        .arg(manifest)
        .arg("/f")
        .output()
        .map_err(|e| format!("cannot run reg.exe: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("reg.exe add {key}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

#[cfg(windows)]
fn registry_delete(key: &str) -> Result<bool, String> {
    let exists = std::process::Command::new("reg.exe")
        .args(["query", key, "/ve"])
        .output()
        .map_err(|e| format!("cannot run reg.exe: {e}"))?
        .status
        .success();
    if !exists {
        return Ok(false);
    }
    let out = std::process::Command::new("reg.exe")
        .args(["delete", key, "/f"])
        .output()
        .map_err(|e| format!("cannot run reg.exe: {e}"))?;
    if out.status.success() {
        Ok(true)
    } else {
        Err(format!("reg.exe delete {key}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

#[cfg(not(windows))]
fn registry_set(key: &str, _manifest: &Path) -> Result<(), String> {
    Err(format!("cannot set {key}: the registry exists on Windows only"))
}

#[cfg(not(windows))]
fn registry_delete(_key: &str) -> Result<bool, String> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(platform: Platform, browser: Browser, scope: Scope) -> Location {
        let mut l = locations(
            platform,
            &[browser],
            scope,
            Some(HOME[platform as usize]),
            None,
            Path::new(r"C:\Apps\shikaku"),
        )
        .unwrap();
        assert_eq!(l.len(), 1);
        l.remove(0)
    }

    const HOME: [&str; 3] = ["/home/d", "/Users/d", r"C:\Users\d"];

    #[test]
    fn linux_paths() {
        let m = |b, s| one(Platform::Linux, b, s).manifest;
        use Browser::*;
        use Scope::*;
        assert_eq!(
            m(Chromium, User),
            PathBuf::from("/home/d/.config/chromium/NativeMessagingHosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Chrome, User),
            PathBuf::from("/home/d/.config/google-chrome/NativeMessagingHosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Edge, User),
            PathBuf::from("/home/d/.config/microsoft-edge/NativeMessagingHosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Firefox, User),
            PathBuf::from("/home/d/.mozilla/native-messaging-hosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Chromium, System),
            PathBuf::from("/etc/chromium/native-messaging-hosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Chrome, System),
            PathBuf::from("/etc/opt/chrome/native-messaging-hosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Edge, System),
            PathBuf::from("/etc/opt/edge/native-messaging-hosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Firefox, System),
            PathBuf::from("/usr/lib/mozilla/native-messaging-hosts/jp.shikaku.bridge.json")
        );
    }

    #[test]
    fn macos_paths() {
        let m = |b, s| one(Platform::MacOs, b, s).manifest;
        use Browser::*;
        use Scope::*;
        let u = "/Users/d/Library/Application Support";
        assert_eq!(
            m(Chromium, User),
            PathBuf::from(format!("{u}/Chromium/NativeMessagingHosts/jp.shikaku.bridge.json"))
        );
        assert_eq!(
            m(Chrome, User),
            PathBuf::from(format!("{u}/Google/Chrome/NativeMessagingHosts/jp.shikaku.bridge.json"))
        );
        assert_eq!(
            m(Edge, User),
            PathBuf::from(format!("{u}/Microsoft Edge/NativeMessagingHosts/jp.shikaku.bridge.json"))
        );
        assert_eq!(
            m(Firefox, User),
            PathBuf::from(format!("{u}/Mozilla/NativeMessagingHosts/jp.shikaku.bridge.json"))
        );
        assert_eq!(
            m(Chromium, System),
            PathBuf::from(
                "/Library/Application Support/Chromium/NativeMessagingHosts/jp.shikaku.bridge.json"
            )
        );
        assert_eq!(
            m(Chrome, System),
            PathBuf::from("/Library/Google/Chrome/NativeMessagingHosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Edge, System),
            PathBuf::from("/Library/Microsoft/Edge/NativeMessagingHosts/jp.shikaku.bridge.json")
        );
        assert_eq!(
            m(Firefox, System),
            PathBuf::from("/Library/Application Support/Mozilla/NativeMessagingHosts/jp.shikaku.bridge.json")
        );
    }

    #[test]
    fn windows_manifests_next_to_the_exe_and_registry_keys() {
        let l = one(Platform::Windows, Browser::Chrome, Scope::User);
        assert_eq!(l.manifest, Path::new(r"C:\Apps\shikaku").join("jp.shikaku.bridge.json"));
        assert_eq!(
            l.registry_key.as_deref(),
            Some(r"HKCU\Software\Google\Chrome\NativeMessagingHosts\jp.shikaku.bridge")
        );
        let l = one(Platform::Windows, Browser::Firefox, Scope::System);
        assert_eq!(l.manifest, Path::new(r"C:\Apps\shikaku").join("jp.shikaku.bridge.firefox.json"));
        assert_eq!(
            l.registry_key.as_deref(),
            Some(r"HKLM\Software\Mozilla\NativeMessagingHosts\jp.shikaku.bridge")
        );
        assert_eq!(
            registry_key(Browser::Chromium, Scope::User),
            r"HKCU\Software\Chromium\NativeMessagingHosts\jp.shikaku.bridge"
        );
        assert_eq!(
            registry_key(Browser::Edge, Scope::System),
            r"HKLM\Software\Microsoft\Edge\NativeMessagingHosts\jp.shikaku.bridge"
        );
        // Chromium-family browsers share the one manifest next to the exe, each with its key.
        let all =
            locations(Platform::Windows, &Browser::ALL, Scope::User, None, None, Path::new(r"C:\A")).unwrap();
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn user_data_dir_is_one_chromium_manifest() {
        let l = locations(
            Platform::Linux,
            &Browser::ALL,
            Scope::User,
            None,
            Some(Path::new("/p")),
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].manifest, PathBuf::from("/p/NativeMessagingHosts/jp.shikaku.bridge.json"));
        assert_eq!(l[0].browsers, vec![Browser::Chromium, Browser::Chrome, Browser::Edge]);
        assert!(
            locations(
                Platform::Linux,
                &[Browser::Firefox],
                Scope::User,
                None,
                Some(Path::new("/p")),
                Path::new("/x")
            )
            .is_err()
        );
        assert!(
            locations(Platform::Linux, &[Browser::Chrome], Scope::User, None, None, Path::new("/x")).is_err(),
            "no HOME"
        );
    }

    #[test]
    fn manifests() {
        let c = manifest(false, Path::new("/opt/shikaku-bridge"));
        assert_eq!(c["name"], "jp.shikaku.bridge");
        assert_eq!(c["type"], "stdio");
        assert_eq!(c["path"], "/opt/shikaku-bridge");
        assert_eq!(c["allowed_origins"], json!(["chrome-extension://fagohgkpphfndknmajceahcohidaebje/"]));
        assert!(c.get("allowed_extensions").is_none());
        let f = manifest(true, Path::new("/opt/shikaku-bridge"));
        assert_eq!(f["allowed_extensions"], json!(["bridge@shikaku.jp"]));
        assert!(f.get("allowed_origins").is_none());
    }
}
