//! The Debian package of the host, installed on this machine: `$SHIKAKU_BRIDGE_DEB` (built by
//! `scripts/package-bridge-deb`, which `scripts/test` runs) is installed with `dpkg -i`; its
//! `/usr/bin/shikaku-bridge` is registered with every browser system-wide, `doctor` finds the
//! registrations, the host started as a browser starts it serves a SoftHSM2 card (status and
//! a PIN sign-in whose token verifies), and removing and purging the package leaves nothing
//! behind. Needs root (dpkg); purges the package at the end, also when an assertion fails.
//!
//! Also checks, without the package, that the manifests it ships (bridge/debian/) are what
//! `shikaku-bridge install --system` would write, where it would write them.

#[path = "system_host_lock.rs"]
mod system_host_lock;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bridge::Platform;
use bridge::install::{self, Browser, Scope};
use hpki::testpki::TestPki;
use hpki::{CardTokenValidator, Crl, Profile, RoleFilter, TrustStore};
use serde_json::{Value, json};

/// The environment variable naming the package to test.
const DEB_ENV: &str = "SHIKAKU_BRIDGE_DEB";
/// The package name.
const PACKAGE: &str = "shikaku-bridge";
/// Where the package puts the host.
const BIN: &str = "/usr/bin/shikaku-bridge";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const EXTENSION: &str = "chrome-extension://fagohgkpphfndknmajceahcohidaebje/";
const FIREFOX_EXTENSION: &str = "bridge@shikaku.jp";
const SOFTHSM: &str = bridge::softhsm::MODULE;
const PIN: &str = "1234";
const ORIGIN: &str = "https://idp.shikaku.example";
const NONCE: &str = "q0bbbYzcOSJ4ECEbL9SDrTsgy3cDuf9DWWeXwN8eK0E=";

/// Each browser's system-wide manifest, as `shikaku-bridge install --system` places it.
fn system_manifests() -> Vec<(Browser, PathBuf)> {
    Browser::ALL
        .iter()
        .map(|&b| {
            let dir = install::manifest_dir(Platform::Linux, b, Scope::System, "").unwrap();
            (b, dir.join(install::manifest_file_name(Platform::Linux, b)))
        })
        .collect()
}

/// What each manifest must say: the host's own manifest for the packaged path.
fn expected_manifest(browser: Browser) -> Value {
    install::manifest(browser == Browser::Firefox, Path::new(BIN))
}

/// bridge/Cargo.toml's cargo-deb assets ship bridge/debian/'s manifests to the folders
/// `install --system` writes to, and those files are the host's own manifests: packaging
/// and the host do not drift apart.
#[test]
fn the_packaged_manifests_are_the_hosts_own() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap().parse().unwrap();
    let deb = &cargo["package"]["metadata"]["deb"];
    assert_eq!(deb["name"].as_str(), Some(PACKAGE));
    let assets: Vec<[&str; 3]> = deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a: Vec<&str> = a.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            a.try_into().unwrap_or_else(|a| panic!("not [source, dest, mode]: {a:?}"))
        })
        .collect();
    assert!(assets.contains(&["target/release/shikaku-bridge", "usr/bin/", "755"]), "{assets:?}");
    let manifests = system_manifests();
    assert_eq!(assets.len(), 1 + manifests.len(), "the host and one manifest per browser: {assets:?}");
    for (browser, path) in manifests {
        let dest = path.strip_prefix("/").unwrap().to_str().unwrap();
        let [source, _, mode] = assets
            .iter()
            .find(|a| a[1] == dest)
            .unwrap_or_else(|| panic!("no asset installs {dest} ({})", browser.name()));
        assert_eq!(*mode, "644", "{dest}");
        let text = std::fs::read_to_string(dir.join(source)).unwrap();
        let shipped: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(shipped, expected_manifest(browser), "{source} ({})", browser.name());
    }
}

/// Installs the package and purges it when dropped; holds the system-host lock all along.
struct Installed {
    _lock: File,
}

impl Installed {
    fn new(deb: &Path) -> Installed {
        let lock = system_host_lock::hold(true);
        let installed = Installed { _lock: lock };
        if status().is_none() {
            // dpkg would silently take over (and later delete) files it does not know.
            for path in std::iter::once(PathBuf::from(BIN)).chain(system_manifests().into_iter().map(|m| m.1))
            {
                assert!(
                    !path.exists(),
                    "{} exists but the package is not installed: remove it first (`shikaku-bridge \
                     uninstall --system`)",
                    path.display()
                );
            }
        }
        let out = run(Command::new("dpkg").arg("-i").arg(deb));
        assert!(out.status.success(), "dpkg -i {}:\n{}", deb.display(), text(&out));
        installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let out = run(Command::new("dpkg").args(["--purge", PACKAGE]));
        if !out.status.success() {
            eprintln!("dpkg --purge {PACKAGE} failed:\n{}", text(&out));
        }
    }
}

/// The package's `dpkg-query` status (`install ok installed`, `deinstall ok config-files`),
/// `None` when dpkg does not know it.
fn status() -> Option<String> {
    let out = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]));
    let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !status.is_empty() && !status.ends_with("not-installed")).then_some(status)
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).env("DEBIAN_FRONTEND", "noninteractive");
    command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The package named by `$SHIKAKU_BRIDGE_DEB`; fails (never skips) without it.
fn deb() -> PathBuf {
    let how = "build it with `scripts/package-bridge-deb` and set SHIKAKU_BRIDGE_DEB to the path it \
               prints (scripts/test does both)";
    let deb = std::env::var_os(DEB_ENV).filter(|v| !v.is_empty());
    let deb = PathBuf::from(deb.unwrap_or_else(|| panic!("{DEB_ENV} is not set: {how}")));
    assert!(deb.is_file(), "{DEB_ENV}={} does not exist: {how}", deb.display());
    deb
}

/// A SoftHSM2 card (the authentication and signature certificates and keys of a test-PKI
/// doctor, PIN [`PIN`]) provisioned by the installed binary, and a host configuration with
/// SoftHSM as the module, and an empty home folder.
struct Card {
    dir: tempfile::TempDir,
    conf: PathBuf,
    config: PathBuf,
}

impl Card {
    fn new(pki: &TestPki) -> Card {
        let dir = tempfile::tempdir().unwrap();
        let hsm = dir.path().join("hsm");
        std::fs::create_dir(&hsm).unwrap();
        let auth = &pki.card("doctor-auth").unwrap().issued;
        let sign = &pki.card("doctor-sign").unwrap().issued;
        let pairs = [(auth.der.as_slice(), &auth.key), (sign.der.as_slice(), &sign.key)];
        let job = bridge::softhsm::Job {
            label: "HPKI TEST CARD".into(),
            so_pin: bridge::softhsm::SO_PIN.into(),
            pin: PIN.into(),
            objects: bridge::softhsm::templates(&pairs).unwrap(),
        };
        let conf = bridge::softhsm::write_conf(&hsm).unwrap();
        bridge::softhsm::run_helper(Path::new(BIN), &conf, &job).unwrap_or_else(|e| panic!("SoftHSM: {e}"));
        let config = dir.path().join("config.toml");
        std::fs::write(&config, format!("modules = [\"{SOFTHSM}\"]\ncertificate_origins = [\"{ORIGIN}\"]\n"))
            .unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        Card { dir, conf, config }
    }

    /// `program` with this card's environment (and nothing of the user's).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SOFTHSM2_CONF", &self.conf)
            .env("SHIKAKU_BRIDGE_CONFIG", &self.config)
            .env("HOME", self.dir.path().join("home"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SHIKAKU_BRIDGE_PKCS11");
        c
    }

    /// Starts the host of `manifest` as the browser would (its `path`, with `args`), sends
    /// `requests` as native-messaging frames and returns the answers.
    fn ask(&self, manifest: &Value, args: &[&str], requests: &[Value]) -> Vec<Value> {
        let mut child = self
            .command(manifest["path"].as_str().unwrap())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for r in requests {
            let body = r.to_string();
            stdin.write_all(&u32::try_from(body.len()).unwrap().to_ne_bytes()).unwrap();
            stdin.write_all(body.as_bytes()).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the host failed: {:?}\n{}", out.status, text(&out));
        let mut answers = Vec::new();
        let mut rest = out.stdout.as_slice();
        while let Some((len, after)) = rest.split_first_chunk::<4>() {
            let len = u32::from_ne_bytes(*len) as usize;
            answers.push(serde_json::from_slice(&after[..len]).unwrap());
            rest = &after[len..];
        }
        assert!(rest.is_empty(), "trailing bytes");
        assert_eq!(answers.len(), requests.len(), "one answer per request\n{}", text(&out));
        answers
    }
}

fn manifest_at(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_debian_package_installs_a_working_host_and_purges_cleanly() {
    let deb = deb();
    let field = |name: &str| {
        let out = run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name));
        assert!(out.status.success(), "dpkg-deb -f {}: {}", deb.display(), text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(field("Package"), PACKAGE);
    assert!(
        field("Version").starts_with(&format!("{VERSION}-")),
        "{}: not this crate's version",
        deb.display()
    );

    let pki = TestPki::generate(42).expect("test PKI");

    let installed = Installed::new(&deb);
    assert_eq!(status().as_deref(), Some("install ok installed"));
    let out = run(Command::new(BIN).arg("--version"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("shikaku-bridge {VERSION}"));
    let files = String::from_utf8_lossy(&run(Command::new("dpkg").args(["-L", PACKAGE])).stdout).into_owned();
    let manifests = system_manifests();
    for (browser, path) in &manifests {
        assert_eq!(manifest_at(path), expected_manifest(*browser), "{}", path.display());
        assert!(files.lines().any(|l| Path::new(l) == path), "dpkg -L does not list {}", path.display());
    }
    assert!(files.lines().any(|l| l == BIN), "dpkg -L does not list {BIN}:\n{files}");

    let card = Card::new(&pki);
    let out = card.command(BIN).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "doctor:\n{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains(&format!("host: shikaku-bridge {VERSION} ({BIN})")), "{report}");
    assert!(report.contains("card present (token \"HPKI TEST CARD\")"), "{report}");
    for (browser, path) in &manifests {
        let line = format!("browser {} (system): installed, OK ({})", browser.name(), path.display());
        assert!(report.lines().any(|l| l == line), "no {line:?} in\n{report}");
        assert!(report.contains(&format!("browser {} (user): not installed", browser.name())), "{report}");
    }
    assert_eq!(report.lines().last(), Some("verdict: OK"), "{report}");

    // Chromium starts the manifest's host with the extension's origin; Firefox with the
    // manifest's path and the extension's id.
    let chromium = manifest_at(&manifests[0].1);
    let a = card.ask(
        &chromium,
        &[EXTENSION],
        &[
            json!({"command": "status", "origin": ORIGIN}),
            json!({"command": "authenticate", "origin": ORIGIN, "nonce": NONCE, "pin": PIN}),
        ],
    );
    assert_eq!(a[0], json!({"version": VERSION, "module": SOFTHSM, "card": "present"}));
    let token = &a[1];
    assert_eq!(token["format"], "web-eid:1.0", "{token}");
    assert_eq!(token["algorithm"], "RS256");
    let certificate = STANDARD.decode(token["unverifiedCertificate"].as_str().unwrap()).unwrap();
    assert_eq!(certificate, pki.card("doctor-auth").unwrap().issued.der);
    let trust = TrustStore::from_certificates(pki.ca_certificates()).unwrap();
    let validator = CardTokenValidator::new(
        trust,
        Profile::hpki_with_roles(RoleFilter::Only(vec!["Medical Doctor".into()])),
    );
    let crls: Vec<Crl> = pki.crl_ders().into_iter().map(|d| Crl::parse(d).unwrap()).collect();
    let who = validator.validate(&token.to_string(), ORIGIN, NONCE, &crls, TestPki::VALID_AT).unwrap();
    assert_eq!(who.hc_roles, vec!["Medical Doctor".to_owned()]);
    let e = validator.validate(&token.to_string(), "https://evil.example", NONCE, &crls, TestPki::VALID_AT);
    assert!(e.unwrap_err().to_string().to_lowercase().contains("signature"), "signed for the origin");

    let (_, firefox_path) = manifests.iter().find(|m| m.0 == Browser::Firefox).unwrap();
    let firefox = manifest_at(firefox_path);
    let a = card.ask(
        &firefox,
        &[firefox_path.to_str().unwrap(), FIREFOX_EXTENSION],
        &[json!({"command": "status", "origin": ORIGIN})],
    );
    assert_eq!(a[0]["card"], "present", "{}", a[0]);

    // Removing keeps the conffiles (the manifests in /etc); purging removes them too.
    let out = run(Command::new("dpkg").args(["-r", PACKAGE]));
    assert!(out.status.success(), "dpkg -r:\n{}", text(&out));
    assert!(!Path::new(BIN).exists(), "dpkg -r left {BIN}");
    assert!(!firefox_path.exists(), "dpkg -r left {}", firefox_path.display());
    assert_eq!(status().as_deref(), Some("deinstall ok config-files"));
    let out = run(Command::new("dpkg").args(["--purge", PACKAGE]));
    assert!(out.status.success(), "dpkg --purge:\n{}", text(&out));
    for (_, path) in &manifests {
        assert!(!path.exists(), "dpkg --purge left {}", path.display());
    }
    assert_eq!(status(), None, "dpkg still knows the package");
    drop(installed);
}
