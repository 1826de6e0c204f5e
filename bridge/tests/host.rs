//! The real `shikaku-bridge` binary against SoftHSM2 test cards: each test provisions its own
//! token (test-PKI certificates and keys), starts the host as a browser would (argument
//! `chrome-extension://<id>/`) and speaks native-messaging frames with it. Tokens are checked
//! with the real `hpki::CardTokenValidator`; signatures with the certificates' keys.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hpki::testpki::{TestKey, TestPki};
use hpki::{CardTokenValidator, Crl, Profile, RoleFilter, TrustStore};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha384};

#[path = "pinpad_module.rs"]
mod pinpad_module;

const HOST: &str = env!("CARGO_BIN_EXE_shikaku-bridge");
const EXTENSION: &str = "chrome-extension://fagohgkpphfndknmajceahcohidaebje/";
const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "1234";
const ORIGIN: &str = "https://idp.shikaku.example";
const OTHER: &str = "https://evil.example";
const NONCE: &str = "q0bbbYzcOSJ4ECEbL9SDrTsgy3cDuf9DWWeXwN8eK0E=";

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate(42).expect("test PKI"))
}

/// A test machine: a token folder (maybe holding a card), a host configuration and a home.
struct Setup {
    dir: tempfile::TempDir,
    conf: PathBuf,
    config: PathBuf,
}

impl Setup {
    /// A reader with a card holding these test-PKI entities' certificates and keys.
    fn card(names: &[&str]) -> Setup {
        let pairs: Vec<(&Vec<u8>, &TestKey)> = names
            .iter()
            .map(|n| {
                let issued = &pki().card(n).unwrap_or_else(|| panic!("no test card {n}")).issued;
                (&issued.der, &issued.key)
            })
            .collect();
        Setup::with(|dir| bridge::softhsm::provision(dir, "HPKI TEST CARD", PIN, &pairs))
    }

    /// A card holding only CA certificates (with keys): not an HPKI card.
    fn unrelated_card() -> Setup {
        let p = pki();
        let pairs = [(&p.root.der, &p.root.key), (&p.jma_auth.der, &p.jma_auth.key)];
        Setup::with(|dir| bridge::softhsm::provision(dir, "OTHER CARD", PIN, &pairs))
    }

    /// SoftHSM without an initialized token: a reader without a card.
    fn no_card() -> Setup {
        Setup::with(bridge::softhsm::write_conf)
    }

    fn with(make: impl FnOnce(&Path) -> Result<PathBuf, String>) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let conf = make(&dir.path().join("hsm").tap_mkdir()).unwrap_or_else(|e| panic!("SoftHSM: {e}"));
        let config = dir.path().join("config.toml");
        let setup = Setup { dir, conf, config };
        setup.write_config(&[SOFTHSM]);
        setup
    }

    fn write_config(&self, modules: &[&str]) {
        let text = format!(
            "modules = {}\ncertificate_origins = [\"{ORIGIN}\"]\n",
            serde_json::to_string(modules).unwrap()
        );
        std::fs::write(&self.config, text).unwrap();
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home").tap_mkdir()
    }

    /// The host or a subcommand, with this setup's environment.
    fn command(&self) -> Command {
        let mut c = Command::new(HOST);
        c.env("SOFTHSM2_CONF", &self.conf)
            .env("SHIKAKU_BRIDGE_CONFIG", &self.config)
            .env("HOME", self.home())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SHIKAKU_BRIDGE_PKCS11")
            .env_remove(pinpad_module::PAD_PIN_ENV);
        c
    }

    /// Runs the host on raw input bytes.
    fn run_raw(&self, input: &[u8], extra_env: &[(&str, &str)]) -> Output {
        let mut c = self.command();
        c.arg(EXTENSION).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Sends requests in one stream (one host process) and returns the answers.
    fn ask(&self, requests: &[Value]) -> Vec<Value> {
        self.ask_env(requests, &[])
    }

    fn ask_env(&self, requests: &[Value], extra_env: &[(&str, &str)]) -> Vec<Value> {
        let input: Vec<u8> = requests.iter().flat_map(|r| frame(r.to_string().as_bytes())).collect();
        let out = self.run_raw(&input, extra_env);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "host failed: {:?}\n{stderr}", out.status);
        assert!(!stderr.contains(PIN), "the PIN is logged:\n{stderr}");
        let answers = answers(&out.stdout);
        assert_eq!(answers.len(), requests.len(), "one answer per request\n{stderr}");
        assert_eq!(stderr.lines().count(), requests.len(), "one log line per request:\n{stderr}");
        answers
    }

    fn ask1(&self, request: Value) -> Value {
        self.ask(&[request]).remove(0)
    }
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = u32::try_from(body.len()).unwrap().to_ne_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn answers(mut out: &[u8]) -> Vec<Value> {
    let mut v = Vec::new();
    while out.len() >= 4 {
        let len = u32::from_ne_bytes(out[..4].try_into().unwrap()) as usize;
        assert!(len < 1024 * 1024);
        v.push(serde_json::from_slice(&out[4..4 + len]).unwrap());
        out = &out[4 + len..];
    }
    assert!(out.is_empty(), "trailing bytes");
    v
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error: {answer}"))
}

fn validator() -> CardTokenValidator {
    let trust = TrustStore::from_certificates(pki().ca_certificates()).unwrap();
    CardTokenValidator::new(trust, Profile::hpki_with_roles(RoleFilter::Only(vec!["Medical Doctor".into()])))
}

fn crls() -> Vec<Crl> {
    pki().crl_ders().into_iter().map(|d| Crl::parse(d).unwrap()).collect()
}

fn der(name: &str) -> Vec<u8> {
    pki().card(name).unwrap().issued.der.clone()
}

fn b64(answer: &Value, field: &str) -> Vec<u8> {
    STANDARD.decode(answer[field].as_str().unwrap_or_else(|| panic!("no {field}: {answer}"))).unwrap()
}

fn authenticate(pin: &str) -> Value {
    json!({"command": "authenticate", "origin": ORIGIN, "nonce": NONCE, "pin": pin})
}

fn sign(hash: &[u8], hash_function: &str) -> Value {
    json!({"command": "sign", "origin": ORIGIN, "hash": STANDARD.encode(hash), "hashFunction": hash_function, "pin": PIN})
}

/// Checks the token with the real validator: accepted for the origin and nonce it was made
/// for, refused for another origin.
fn assert_token(answer: &Value, auth: &str, algorithm: &str) {
    assert_eq!(answer["format"], "web-eid:1.0", "{answer}");
    assert_eq!(answer["algorithm"], algorithm);
    assert_eq!(answer["appVersion"], format!("https://shikaku.jp/bridge/{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(b64(answer, "unverifiedCertificate"), der(auth));
    let token = answer.to_string();
    let who = validator().validate(&token, ORIGIN, NONCE, &crls(), TestPki::VALID_AT).unwrap();
    assert_eq!(who.hc_roles, vec!["Medical Doctor".to_owned()]);
    let e = validator().validate(&token, OTHER, NONCE, &crls(), TestPki::VALID_AT).unwrap_err();
    assert!(e.to_string().to_lowercase().contains("signature"), "{e}");
}

#[test]
fn rsa_card_authenticates_and_signs_with_the_right_keys() {
    let s = Setup::card(&["doctor-auth", "doctor-sign"]);
    let h256 = Sha256::digest(b"document").to_vec();
    let h384 = Sha384::digest(b"document").to_vec();
    let a = s.ask(&[
        json!({"command": "status", "origin": ORIGIN}),
        json!({"command": "pin-info", "origin": ORIGIN, "key": "authentication"}),
        authenticate(PIN),
        json!({"command": "get-certificate", "origin": ORIGIN}),
        json!({"command": "get-certificate", "origin": "https://idp.shikaku.example:8443"}),
        json!({"command": "get-signing-certificate", "origin": OTHER}),
        sign(&h256, "SHA-256"),
        sign(&h384, "SHA-384"),
    ]);
    assert_eq!(a[0], json!({"version": env!("CARGO_PKG_VERSION"), "module": SOFTHSM, "card": "present"}));
    assert_eq!(
        a[1],
        json!({"holder": "日本　太郎", "holderLatin": "Taro Nihon", "protectedAuthPath": false,
               "pinCountLow": false, "pinFinalTry": false})
    );
    assert_token(&a[2], "doctor-auth", "RS256");
    assert_eq!(b64(&a[3], "certificate"), der("doctor-auth"));
    assert_eq!(code(&a[4]), "ERR_WEBEID_ORIGIN_NOT_ALLOWED", "the port is part of the origin");
    assert_eq!(b64(&a[5], "certificate"), der("doctor-sign"));
    assert_eq!(
        a[5]["supportedSignatureAlgorithms"][0],
        json!({"cryptoAlgorithm": "RSA", "hashFunction": "SHA-256", "paddingScheme": "PKCS1.5"})
    );
    assert_eq!(
        a[6]["signatureAlgorithm"],
        json!({"cryptoAlgorithm": "RSA", "hashFunction": "SHA-256", "paddingScheme": "PKCS1.5"})
    );

    use rsa::signature::hazmat::PrehashVerifier;
    let public = |name: &str| match &pki().card(name).unwrap().issued.key {
        TestKey::Rsa(k) => k.to_public_key(),
        _ => panic!("not RSA"),
    };
    let sig = rsa::pkcs1v15::Signature::try_from(b64(&a[6], "signature").as_slice()).unwrap();
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public("doctor-sign")).verify_prehash(&h256, &sig).unwrap();
    assert!(
        rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public("doctor-auth"))
            .verify_prehash(&h256, &sig)
            .is_err(),
        "signed with the authentication key"
    );
    let sig = rsa::pkcs1v15::Signature::try_from(b64(&a[7], "signature").as_slice()).unwrap();
    rsa::pkcs1v15::VerifyingKey::<Sha384>::new(public("doctor-sign")).verify_prehash(&h384, &sig).unwrap();
}

#[test]
fn p256_card_authenticates_and_signs_with_the_right_keys() {
    let s = Setup::card(&["doctor-auth-p256", "doctor-sign-p256"]);
    let hash = Sha256::digest(b"prescription").to_vec();
    let a = s.ask(&[
        json!({"command": "pin-info", "origin": ORIGIN, "key": "signature"}),
        authenticate(PIN),
        json!({"command": "get-signing-certificate", "origin": ORIGIN}),
        sign(&hash, "SHA-256"),
    ]);
    assert_eq!(a[0]["holder"], "資格　夏子");
    assert_eq!(a[0]["holderLatin"], "Natsuko Shikaku");
    assert_token(&a[1], "doctor-auth-p256", "ES256");
    assert_eq!(b64(&a[2], "certificate"), der("doctor-sign-p256"));
    assert_eq!(a[2]["supportedSignatureAlgorithms"][0]["cryptoAlgorithm"], "ECC");
    assert_eq!(
        a[3]["signatureAlgorithm"],
        json!({"cryptoAlgorithm": "ECC", "hashFunction": "SHA-256", "paddingScheme": "NONE"})
    );

    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let public = |name: &str| match &pki().card(name).unwrap().issued.key {
        TestKey::P256(k) => *k.verifying_key(),
        _ => panic!("not P-256"),
    };
    let raw = b64(&a[3], "signature");
    assert_eq!(raw.len(), 64, "r ‖ s");
    let sig = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    public("doctor-sign-p256").verify_prehash(&hash, &sig).unwrap();
    assert!(
        public("doctor-auth-p256").verify_prehash(&hash, &sig).is_err(),
        "signed with the authentication key"
    );
}

/// SoftHSM 2.6.1 answers a wrong PIN with `CKR_PIN_INCORRECT` and then sets
/// `CKF_USER_PIN_COUNT_LOW` (never FINAL_TRY or LOCKED, even after ten wrong PINs); a right
/// PIN clears it.
#[test]
fn wrong_pin_then_right_pin() {
    let s = Setup::card(&["doctor-auth", "doctor-sign"]);
    let mut requests = vec![authenticate("0000"); 10];
    requests.extend([
        json!({"command": "pin-info", "origin": ORIGIN, "key": "authentication"}),
        sign(&[1; 32], "SHA-256").tap(|r| r["pin"] = json!("")),
        json!({"command": "authenticate", "origin": ORIGIN, "nonce": NONCE}),
        authenticate(PIN),
        json!({"command": "pin-info", "origin": ORIGIN, "key": "authentication"}),
    ]);
    let all = s.ask(&requests);
    for wrong in &all[..10] {
        assert_eq!(wrong, &all[0], "ten wrong PINs: SoftHSM has no try limit");
    }
    let a = &all[9..];
    assert_eq!(code(&a[0]), "ERR_WEBEID_PIN_INVALID");
    assert_eq!(a[0]["error"]["pinCountLow"], true, "{}", a[0]);
    assert_eq!(a[0]["error"]["pinFinalTry"], false);
    assert!(a[0]["error"].get("pinTriesLeft").is_none());
    assert_eq!(a[1]["pinCountLow"], true);
    assert_eq!(code(&a[2]), "ERR_WEBEID_PIN_INVALID", "an empty PIN");
    assert_eq!(code(&a[3]), "ERR_WEBEID_INVALID_ARGUMENT", "no PIN and no PIN pad");
    assert_token(&a[4], "doctor-auth", "RS256");
    assert_eq!(a[5]["pinCountLow"], false, "a right PIN clears the flag");
}

/// A reader with a PIN pad (`CKF_PROTECTED_AUTHENTICATION_PATH`, the simulated reader of
/// `pinpad_module.rs`): the PIN window is told so, `authenticate` and `sign` without a PIN
/// log in through the pad; a wrong PIN typed on the pad and cancel on the pad are the usual
/// errors.
#[test]
fn pin_pad_reader_logs_in_without_a_typed_pin() {
    let s = Setup::card(&["doctor-auth", "doctor-sign"]);
    s.write_config(&[pinpad_module::module()]);
    let hash = Sha256::digest(b"referral").to_vec();
    let no_pin = |mut r: Value| {
        r.as_object_mut().unwrap().remove("pin");
        r
    };
    let pad = |pin: &'static str| [(pinpad_module::PAD_PIN_ENV, pin)];
    let a = s.ask_env(
        &[
            json!({"command": "pin-info", "origin": ORIGIN, "key": "authentication"}),
            no_pin(authenticate(PIN)),
            no_pin(sign(&hash, "SHA-256")),
        ],
        &pad(PIN),
    );
    assert_eq!(a[0]["protectedAuthPath"], true, "{}", a[0]);
    assert_token(&a[1], "doctor-auth", "RS256");
    assert_eq!(a[2]["signatureAlgorithm"]["cryptoAlgorithm"], "RSA", "{}", a[2]);

    let wrong = s.ask_env(&[no_pin(authenticate(PIN))], &pad("0000"));
    assert_eq!(code(&wrong[0]), "ERR_WEBEID_PIN_INVALID", "{}", wrong[0]);
    let cancelled = s.ask(&[no_pin(authenticate(PIN))]);
    assert_eq!(code(&cancelled[0]), "ERR_WEBEID_USER_CANCELLED", "{}", cancelled[0]);
    // A PIN sent with the request still works on a PIN-pad reader.
    assert_token(&s.ask1(authenticate(PIN)), "doctor-auth", "RS256");
}

trait Tap {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

#[test]
fn no_card_unknown_card_and_no_module() {
    let s = Setup::no_card();
    let a = s.ask(&[json!({"command": "status", "origin": ORIGIN}), authenticate(PIN)]);
    assert_eq!(a[0]["card"], "no_card");
    assert_eq!(code(&a[1]), "ERR_WEBEID_NO_CARD");

    let s = Setup::unrelated_card();
    let a = s.ask(&[
        json!({"command": "status", "origin": ORIGIN}),
        authenticate(PIN),
        json!({"command": "get-signing-certificate", "origin": ORIGIN}),
        json!({"command": "pin-info", "origin": ORIGIN, "key": "authentication"}),
    ]);
    assert_eq!(a[0]["card"], "unknown_card");
    for answer in &a[1..] {
        assert_eq!(code(answer), "ERR_WEBEID_UNKNOWN_CARD");
    }

    let s = Setup::card(&["doctor-auth", "doctor-sign"]);
    s.write_config(&["/nonexistent/libnope.so"]);
    let a = s.ask(&[json!({"command": "status", "origin": ORIGIN}), authenticate(PIN)]);
    assert_eq!(
        a[0],
        json!({"version": env!("CARGO_PKG_VERSION"), "module": null, "card": "module_not_found"})
    );
    assert_eq!(code(&a[1]), "ERR_WEBEID_MODULE_NOT_FOUND");
    // SHIKAKU_BRIDGE_PKCS11 overrides the file's modules.
    let a =
        s.ask_env(&[json!({"command": "status", "origin": ORIGIN})], &[("SHIKAKU_BRIDGE_PKCS11", SOFTHSM)]);
    assert_eq!(a[0]["card"], "present");

    // A configuration with an unknown key: every request says so.
    std::fs::write(&s.config, "modules = []\ncertificate_origin = []\n").unwrap();
    let a = s.ask1(json!({"command": "status", "origin": ORIGIN}));
    assert_eq!(code(&a), "ERR_WEBEID_NATIVE_FATAL");
    assert!(a["error"]["message"].as_str().unwrap().contains("certificate_origin"), "{a}");
}

#[test]
fn bad_requests_and_frames() {
    let s = Setup::no_card();
    let a = s.ask(&[
        json!({"command": "status"}),
        json!({"command": "launch", "origin": ORIGIN}),
        json!({"command": "sign", "origin": ORIGIN, "hash": "AAAA", "hashFunction": "SHA-256", "pin": PIN}),
        json!({"command": 5, "origin": ORIGIN}),
    ]);
    for answer in &a {
        assert_eq!(code(answer), "ERR_WEBEID_INVALID_ARGUMENT", "{answer}");
    }

    let status = frame(json!({"command": "status", "origin": ORIGIN}).to_string().as_bytes());
    let oversized = 65 * 1024u32;
    for (input, what) in [
        (oversized.to_ne_bytes().to_vec(), "oversized"),
        (status[..status.len() - 3].to_vec(), "truncated"),
        (frame(b"{not json"), "not JSON"),
        (frame(b"[1, 2]"), "not an object"),
    ] {
        let mut input = input;
        if what != "truncated" {
            input.extend_from_slice(&status);
        }
        let out = s.run_raw(&input, &[]);
        assert_eq!(out.status.code(), Some(1), "{what}");
        let a = answers(&out.stdout);
        assert_eq!(a.len(), 1, "{what}: one error answer, nothing more read");
        assert_eq!(code(&a[0]), "ERR_WEBEID_INVALID_ARGUMENT", "{what}");
    }
    let out = s.run_raw(&[], &[]);
    assert_eq!(out.status.code(), Some(0), "a clean end of input");
    assert!(out.stdout.is_empty());
}

#[test]
fn install_and_uninstall_in_a_profile_folder() {
    let s = Setup::no_card();
    let profile = s.dir.path().join("profile");
    let config = s.dir.path().join("written.toml");
    std::fs::write(&config, "modules = [\"/old.so\"]\ncertificate_origins = [\"https://old.example\"]\n")
        .unwrap();
    let out = s
        .command()
        .args(["install", "--browser", "chromium", "--user-data-dir"])
        .arg(&profile)
        .arg("--config")
        .arg(&config)
        .args(["--allow-origin", ORIGIN, "--allow-origin", "https://b.example:8443"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = profile.join("NativeMessagingHosts/jp.shikaku.bridge.json");
    assert!(stdout.contains(&manifest.display().to_string()), "{stdout}");
    assert!(stdout.contains(&config.display().to_string()), "{stdout}");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["name"], "jp.shikaku.bridge");
    assert_eq!(m["type"], "stdio");
    assert_eq!(m["path"], HOST);
    assert_eq!(m["allowed_origins"], json!([EXTENSION]));
    let c = bridge::config::read(&config).unwrap();
    assert_eq!(c.certificate_origins, vec![ORIGIN.to_owned(), "https://b.example:8443".to_owned()]);
    assert_eq!(c.modules, vec![PathBuf::from("/old.so")], "keys not given are kept");
    assert!(!s.home().join(".config").exists(), "nothing written to the home folder");

    let out = s.command().args(["uninstall", "--user-data-dir"]).arg(&profile).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("removed {}", manifest.display())), "{stdout}");
    assert!(!manifest.exists());
    assert!(config.exists(), "the configuration stays without --remove-config");
    let out = s.command().args(["uninstall", "--user-data-dir"]).arg(&profile).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "nothing to remove");

    // Per-user install into the (temporary) home: every browser's folder and the user file.
    let out = s.command().args(["install", "--user", "--module", SOFTHSM]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let home = s.home();
    for dir in [
        ".config/chromium/NativeMessagingHosts",
        ".config/google-chrome/NativeMessagingHosts",
        ".config/microsoft-edge/NativeMessagingHosts",
        ".mozilla/native-messaging-hosts",
    ] {
        assert!(home.join(dir).join("jp.shikaku.bridge.json").exists(), "{dir}");
    }
    let f: Value = serde_json::from_str(
        &std::fs::read_to_string(home.join(".mozilla/native-messaging-hosts/jp.shikaku.bridge.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(f["allowed_extensions"], json!(["bridge@shikaku.jp"]));
    let user_config = home.join(".config/shikaku-bridge/config.toml");
    assert_eq!(bridge::config::read(&user_config).unwrap().modules, vec![PathBuf::from(SOFTHSM)]);
    let out = s.command().args(["uninstall", "--user", "--remove-config"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);
    assert!(!user_config.exists());
}

#[test]
fn doctor_on_a_good_and_a_broken_setup() {
    let s = Setup::card(&["doctor-auth", "doctor-sign"]);
    let profile = s.dir.path().join("profile");
    let doctor = |s: &Setup| {
        let out = s.command().args(["doctor", "--user-data-dir"]).arg(&profile).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (status, text) = doctor(&s);
    assert_eq!(status, Some(1), "{text}");
    assert!(
        text.trim_end()
            .ends_with(&format!("run `shikaku-bridge install --user-data-dir {}`", profile.display())),
        "{text}"
    );

    let out = s.command().args(["install", "--user-data-dir"]).arg(&profile).output().unwrap();
    assert!(out.status.success());
    let (status, text) = doctor(&s);
    assert_eq!(status, Some(0), "{text}");
    for line in [
        format!("host: shikaku-bridge {} ({HOST})", env!("CARGO_PKG_VERSION")),
        format!("config: {}", s.config.display()),
        format!("module {SOFTHSM}: loaded"),
        "card present (token \"HPKI TEST CARD\")".to_owned(),
        "certificate authentication: 日本　太郎 (Taro Nihon); issuer".to_owned(),
        "certificate signature: 日本　太郎 (Taro Nihon)".to_owned(),
        "2025-04-01 – 2030-03-31; valid now".to_owned(),
        "(profile): installed, OK".to_owned(),
        "verdict: OK".to_owned(),
    ] {
        assert!(text.contains(&line), "no {line:?} in\n{text}");
    }
    assert!(!text.contains("MII"), "no certificate is printed");

    s.write_config(&["/nonexistent/libnope.so"]);
    let (status, text) = doctor(&s);
    assert_eq!(status, Some(1));
    assert!(text.contains("module /nonexistent/libnope.so: not loaded: no such file"), "{text}");
    assert!(text.contains("verdict: no PKCS#11 module could be loaded"), "{text}");

    let s = Setup::unrelated_card();
    let out = s.command().args(["doctor", "--user-data-dir"]).arg(&profile).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("certificate CA:"), "{text}");
    assert!(text.contains("verdict: the card has no HPKI authentication certificate"), "{text}");
}
