//! The PIN-pad reader of the tests: `bridge/pinpad` (crate `pinpad-sim`), a PKCS#11 module
//! that forwards to SoftHSM2 and reports `CKF_PROTECTED_AUTHENTICATION_PATH`; a login without
//! a PIN takes the one "typed on the pad" from `$SHIKAKU_PINPAD_PIN` (unset: the doctor
//! pressed cancel). Built on first use with the cargo and the target folder of this test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The PIN typed on the simulated pad.
pub const PAD_PIN_ENV: &str = "SHIKAKU_PINPAD_PIN";

/// Builds with the cargo, the target folder and the profile of this test (`args`: what to
/// build, e.g. `-p pinpad-sim`); returns the profile's folder, where the artifact is.
pub fn cargo_build(args: &[&str]) -> PathBuf {
    // <target>/<profile>/deps/<this test>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let target = profile_dir.parent().unwrap();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()).unwrap() {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    };
    let out = Command::new(env!("CARGO"))
        .args(["build", "--locked", "--quiet"])
        .args(args)
        .args(["--profile", &profile, "--target-dir"])
        .arg(target)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo build {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    profile_dir
}

/// The module's path, built once per test process.
pub fn module() -> &'static str {
    static MODULE: OnceLock<String> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = cargo_build(&["-p", "pinpad-sim"]).join("libshikaku_pinpad_sim.so");
        assert!(path.exists(), "no {}", path.display());
        path.to_str().unwrap().to_owned()
    })
}
