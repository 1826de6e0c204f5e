//! `shikaku hpki …`: JSON output and exit codes on the real HPKI samples, the generated test
//! PKI and real Web eID tokens.

use std::path::PathBuf;
use std::process::Output;

use hpki::testpki::TestPki;
use serde_json::Value;

use crate::{Workdir, stderr, stdout};

const SEED: u64 = 5;
const ORIGIN: &str = "https://idp.shikaku.example";
const NONCE: &str = "7Jm4cSg8Hx8bFIz2yWw0GfOQ8m6Yx6C3PZk6tWqKp0Y=";

fn real(name: &str) -> String {
    format!("{}/hpki/tests/data/real/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn webeid(name: &str) -> String {
    format!("{}/hpki/tests/data/webeid/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `shikaku hpki …` and returns (exit code, JSON of stdout).
fn hpki(w: &Workdir, args: &[&str]) -> (i32, Value) {
    let mut full = vec!["hpki"];
    full.extend_from_slice(args);
    let out: Output = w.run(&full);
    let code = out.status.code().expect("exit code");
    let json = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(&out), stderr(&out)));
    (code, json)
}

const EES: [(&str, &str, &str, &str, &str); 4] = [
    (
        "ee-medis-doctor-sign-Test117120.der",
        "medis-sign-ca2.der",
        "Medical Doctor",
        "Test117120",
        "2024-06-01T00:00:00Z",
    ),
    (
        "ee-medis-pharmacist-sign-Test317044.der",
        "medis-sign-ca2.der",
        "Pharmacist",
        "Test317044",
        "2024-06-01T00:00:00Z",
    ),
    (
        "ee-jma-doctor-sign-TESTC20766.der",
        "jma-sign-ca-jv2.der",
        "Medical Doctor",
        "TESTC20766",
        "2022-06-01T00:00:00Z",
    ),
    (
        "ee-jma-pharmacist-sign-T20024.der",
        "jma-sign-ca-jv2.der",
        "Pharmacist",
        "T20024-jpa",
        "2022-06-01T00:00:00Z",
    ),
];

#[test]
fn inspect_reads_the_real_certificates() {
    let w = Workdir::new();
    for (ee, _, role, subscriber, _) in EES {
        let (code, j) = hpki(&w, &["inspect", &real(ee)]);
        assert_eq!(code, 0, "{ee}: {j}");
        assert_eq!(j["hc_roles"], serde_json::json!([role]), "{ee}");
        assert_eq!(j["subscriber_id"], subscriber);
        assert_eq!(j["policies"], serde_json::json!(["1.2.392.100495.1.5.1.1.0.1"]));
        assert_eq!(j["policies_critical"], true);
        assert_eq!(j["kind"], "signature");
        assert_eq!(j["crl_distribution_points"][0]["type"], "uri");
    }
    let (_, j) = hpki(&w, &["inspect", &real("ee-medis-doctor-sign-Test117120.der")]);
    assert_eq!(j["romaji_name"], "Sanjushi Kagurazaka");
    assert_eq!(j["kanji_name"], "神楽坂\u{3000}三十四");
    assert_eq!(j["organization"], "MEDIS UNIVERSITY HOSPITAL");
    let (_, j) = hpki(&w, &["inspect", &real("ee-jma-doctor-sign-TESTC20766.der")]);
    assert_eq!(j["romaji_name"], "JMACombi20766");
    assert_eq!(j["kanji_name"], Value::Null);
    let (_, j) = hpki(&w, &["inspect", &real("jma-sign-ca-jv2.der")]);
    assert_eq!(j["kind"], "ca");
    let dps = j["crl_distribution_points"].as_array().unwrap();
    assert!(
        dps.iter()
            .any(|d| d["type"] == "directory_name" && d["value"].as_str().unwrap().ends_with("CN=SARL")),
        "{dps:?}"
    );
}

#[test]
fn verify_cert_validates_the_real_signature_certificates_to_the_mhlw_root() {
    let w = Workdir::new();
    let root = real("mhlw-hpki-root-ca-v2.der");
    for (ee, ca, role, _, at) in EES {
        let ca = real(ca);
        let ee = real(ee);
        let base = ["verify-cert", &ee, "--ca", &root, "--ca", &ca, "--at", at];
        let (code, j) = hpki(&w, &[&base[..], &["--purpose", "signature"]].concat());
        assert_eq!(code, 0, "{ee}: {j}");
        assert_eq!(j["valid"], true);
        assert_eq!(j["hc_roles"][0], role);
        assert!(j["chain"][1].as_str().unwrap().ends_with("OU=MHLW HPKI Root CA V2"), "{j}");
        assert_eq!(j["revocation"], "not_checked");
        // The card-login path refuses them.
        let (code, j) = hpki(&w, &base);
        assert_eq!((code, j["error"].as_str()), (1, Some("wrong_purpose")), "{ee}");
    }
    let (code, j) = hpki(
        &w,
        &[
            "verify-cert",
            &real("ee-jma-doctor-sign-TESTC20766.der"),
            "--ca",
            &root,
            "--ca",
            &real("jma-sign-ca-jv2.der"),
            "--purpose",
            "signature",
            "--at",
            "2023-02-01T00:00:00Z",
        ],
    );
    assert_eq!((code, j["error"].as_str()), (1, Some("cert_expired")));
    let (code, j) = hpki(
        &w,
        &[
            "verify-cert",
            &real("ee-jma-doctor-sign-TESTC20766.der"),
            "--ca",
            &real("medis-sign-ca2.der"),
            "--purpose",
            "signature",
            "--at",
            "2022-06-01T00:00:00Z",
        ],
    );
    assert_eq!((code, j["error"].as_str()), (1, Some("cert_untrusted")));
}

#[test]
fn malformed_input_and_usage_errors() {
    let w = Workdir::new();
    let junk = w.file("junk.der", "not a certificate");
    let (code, j) = hpki(&w, &["inspect", junk.to_str().unwrap()]);
    assert_eq!((code, j["error"].as_str()), (1, Some("cert_malformed")));
    assert!(j["message"].as_str().is_some_and(|m| !m.is_empty()));
    let (code, j) = hpki(&w, &["inspect", "missing.der"]);
    assert_eq!((code, j["error"].as_str()), (2, Some("usage")));
    let (code, j) = hpki(
        &w,
        &[
            "verify-cert",
            &real("medis-sign-ca2.der"),
            "--ca",
            &real("mhlw-hpki-root-ca-v2.der"),
            "--at",
            "yesterday",
        ],
    );
    assert_eq!((code, j["error"].as_str()), (2, Some("usage")));
    let out = w.run(&["hpki", "verify-token", "t.json", "--origin", ORIGIN]);
    assert_eq!(out.status.code(), Some(2), "missing arguments are usage errors");
    let out = w.run(&["hpki", "verify-cert", &real("medis-sign-ca2.der"), "--ca", "x", "--profile", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Writes the test PKI with the CLI and returns its directory.
fn testpki(w: &Workdir) -> PathBuf {
    let out = w.path().join("pki");
    let (code, j) = hpki(w, &["testpki", "--out", out.to_str().unwrap(), "--seed", &SEED.to_string()]);
    assert_eq!(code, 0, "{j}");
    assert!(j["files"].as_array().unwrap().len() > 40);
    out
}

fn pki_args(dir: &std::path::Path) -> Vec<String> {
    let mut args = Vec::new();
    for ca in ["ca-root.pem", "ca-jma-auth.pem", "ca-jma-sign.pem", "ca-medis-auth.pem", "ca-medis-sign.pem"]
    {
        args.extend(["--ca".to_owned(), dir.join(ca).display().to_string()]);
    }
    for crl in [
        "crl-jma-auth.crl",
        "crl-jma-sign.crl",
        "crl-medis-auth.crl",
        "crl-medis-sign.crl",
        "crl-root.crl.pem",
    ] {
        args.extend(["--crl".to_owned(), dir.join(crl).display().to_string()]);
    }
    args.extend(["--at".to_owned(), "2026-06-01T00:00:00Z".to_owned()]);
    args
}

#[test]
fn testpki_output_verifies_with_crls() {
    let w = Workdir::new();
    let dir = testpki(&w);
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["seed"], SEED);
    for name in ["doctor-auth.key.pem", "doctor-auth.der", "crl-medis-auth.crl.pem"] {
        assert!(dir.join(name).exists(), "{name}");
    }
    let common = pki_args(&dir);
    let run = |cert: &str, extra: &[&str]| {
        let mut args = vec!["verify-cert".to_owned(), dir.join(cert).display().to_string()];
        args.extend(common.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        hpki(&w, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, j) = run("doctor-auth.pem", &[]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(
        (j["revocation"].as_str(), j["kanji_name"].as_str()),
        (Some("good"), Some("日本\u{3000}太郎"))
    );
    let (code, j) = run("director-auth.der", &["--role", "Director of Hospital"]);
    assert_eq!(code, 0, "{j}");
    let (code, j) = run("director-auth.der", &["--role", "Medical Doctor"]);
    assert_eq!((code, j["error"].as_str()), (1, Some("role_not_allowed")));
    let (code, j) = run("revoked-doctor-auth.pem", &[]);
    assert_eq!((code, j["error"].as_str()), (1, Some("cert_revoked")));
    let (code, j) = run("doctor-sign.pem", &["--purpose", "signature"]);
    assert_eq!(code, 0, "{j}");
    let (code, j) = run("doctor-sign.pem", &[]);
    assert_eq!((code, j["error"].as_str()), (1, Some("wrong_purpose")));
}

#[test]
fn verify_token_with_a_virtual_card_of_the_same_seed() {
    let w = Workdir::new();
    let dir = testpki(&w);
    let pki = TestPki::generate(SEED).unwrap();
    let card = pki.card("doctor-auth").unwrap().virtual_card();
    assert_eq!(std::fs::read(dir.join("doctor-auth.der")).unwrap(), card.certificate, "same seed, same card");
    let token = w.file("token.json", &card.token(ORIGIN, NONCE, hpki::Algorithm::PS256).unwrap());
    let mut args = vec!["verify-token".to_owned(), token.display().to_string()];
    args.extend(["--origin", ORIGIN, "--nonce", NONCE].map(String::from));
    args.extend(pki_args(&dir));
    let run = |args: &[String], extra: &[&str]| {
        let mut a = args.to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        hpki(&w, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, j) = run(&args, &[]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["hc_roles"][0], "Medical Doctor");
    assert_eq!(j["subscriber_id"], "TESTJ00001");
    assert_eq!(j["algorithm"], "PS256");
    assert_eq!(j["revocation"], "good");
    assert!(j["issuer"].as_str().unwrap().contains("JMA-forAuthentication"));
    assert!(j["not_after"].as_str().unwrap().starts_with("2030-03-31"));
    let (code, j) = run(&args, &["--role", "Pharmacist"]);
    assert_eq!((code, j["error"].as_str()), (1, Some("role_not_allowed")));
    let (code, j) = run(&args, &["--role", "Medical Doctor", "--role", "Pharmacist"]);
    assert_eq!(code, 0, "{j}");
    // The origin and nonce given on the command line are what the signature must cover.
    args[3] = format!("{ORIGIN}/");
    let (code, j) = run(&args, &[]);
    assert_eq!((code, j["error"].as_str()), (1, Some("signature_invalid")));
}

#[test]
fn verify_token_accepts_reference_web_eid_tokens_under_generic() {
    let w = Workdir::new();
    let ca = webeid("eID TEST EC Citizen CA.pem");
    for (file, nonce) in [
        ("belgian-ecc.json", "iMeEwP2cgUINY2XoO/lqEpOUn7z/ysHRqGXkGKC4VXE="),
        ("belgian-rsa.json", "YPVgYc7Qds0qmK/RilPLffnsIg7IIovM4BAWqGZWwiY="),
    ] {
        let token = webeid(file);
        let base = [
            "verify-token",
            &token,
            "--origin",
            "https://47f0-46-131-86-189.ngrok-free.app",
            "--nonce",
            nonce,
            "--ca",
            &ca,
            "--at",
            "2024-12-24T12:00:00Z",
        ];
        let (code, j) = hpki(&w, &[&base[..], &["--profile", "generic"]].concat());
        assert_eq!(code, 0, "{file}: {j}");
        assert_eq!(j["romaji_name"], "Nora Specimen (Authentication)");
        let (code, j) = hpki(&w, &base);
        assert_eq!((code, j["error"].as_str()), (1, Some("policy_not_allowed")), "{file}");
    }
}
