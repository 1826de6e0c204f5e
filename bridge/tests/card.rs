//! The card module against a real PKCS#11 module (Debian's SoftHSM2): module not found, no
//! card, a card without HPKI certificates, a wrong PIN and the right one.

use std::path::{Path, PathBuf};
use std::process::Command;

use bridge::card::{self, KeyRole};
use bridge::error::Code;
use secrecy::SecretString;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 configuration with its own token folder; SoftHSM reads `SOFTHSM2_CONF` when
/// the module is initialized, so each test binary sets it once, before any load.
fn softhsm(dir: &Path) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    conf
}

/// Set in the child process that runs the checks.
const CHILD: &str = "BRIDGE_CARD_TEST_CHILD";

/// SoftHSM reads `SOFTHSM2_CONF` when the module initializes, and the environment cannot be
/// changed safely inside a running test process: the test runs itself once more as a child
/// with the variable set, and the child does the checks.
#[test]
fn module_not_found_no_card_unknown_card_and_pins() {
    if std::env::var_os(CHILD).is_none() {
        let dir = tempfile::tempdir().unwrap();
        let conf = softhsm(dir.path());
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "module_not_found_no_card_unknown_card_and_pins",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the checks failed:\n{log}");
        assert!(log.contains("1 passed"), "the checks did not run:\n{log}");
        return;
    }
    checks(Path::new(&std::env::var_os("SOFTHSM2_CONF").unwrap()));
}

fn checks(conf: &Path) {
    let err = card::load(&[PathBuf::from("/nonexistent/pkcs11.so")]).unwrap_err();
    assert_eq!(err.0.code, Code::ModuleNotFound);
    assert!(err.0.message.contains("/nonexistent/pkcs11.so"), "{}", err.0.message);
    assert_eq!(err.1[0].1, "no such file");

    // An empty token folder: SoftHSM shows one slot with an uninitialized token.
    let module = card::load(&[PathBuf::from(SOFTHSM)]).unwrap();
    let e = card::find(&module).unwrap_err();
    assert_eq!(e.code, Code::NoCard, "{e}");
    // SoftHSM reads its token folder when initialized: finalize before looking again.
    module.finalize();

    // An initialized token without certificates is not an HPKI card.
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", conf)
        .args(["--init-token", "--free", "--label", "NOT HPKI", "--pin", "1234", "--so-pin", "000000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let module = card::load(&[PathBuf::from(SOFTHSM)]).unwrap();
    let found = card::find(&module).unwrap();
    assert!(found.certificates.is_empty());
    assert_eq!(found.certificate(KeyRole::Authentication).unwrap_err().code, Code::UnknownCard);
    assert_eq!(found.certificate(KeyRole::Signature).unwrap_err().code, Code::UnknownCard);

    // A wrong PIN, then the right one.
    let e = found.login(Some(&SecretString::from("9999"))).unwrap_err();
    assert_eq!(e.code, Code::PinInvalid, "{e}");
    assert!(e.pin_count_low, "SoftHSM 2.6 flags CKF_USER_PIN_COUNT_LOW after a wrong PIN");
    assert_eq!(e.to_json()["error"]["code"], "ERR_WEBEID_PIN_INVALID");
    assert_eq!(e.to_json()["error"]["pinCountLow"], true);
    found.login(Some(&SecretString::from("1234"))).unwrap();
    assert!(!found.pin_state().count_low, "a good PIN clears the flag");
    assert_eq!(found.login(None).unwrap_err().code, Code::InvalidArgument, "no PIN pad, no PIN");
}
