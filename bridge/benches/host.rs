//! Host start → `authenticate` answered: the time a browser waits for the card's signature once
//! the PIN is typed. Each sample starts the real `shikaku-bridge` (as Chromium does, with the
//! extension's origin as argument), sends one `authenticate` request with the PIN and reads
//! the answer: process start, module load (`C_Initialize`), token lookup, certificate choice
//! by HPKI profile, `C_Login`, the signature. The card is a SoftHSM2 token with the test PKI's
//! RSA-2048 (`doctor-auth`) or P-256 (`doctor-auth-p256`) card.
//!
//! `cargo bench -p bridge --bench host [-- SAMPLES]` (default 200 per card) prints p50, p99 and
//! the slowest sample.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bridge::framing;
use hpki::testpki::TestPki;
use serde_json::json;

const HOST: &str = env!("CARGO_BIN_EXE_shikaku-bridge");
const EXTENSION: &str = "chrome-extension://fagohgkpphfndknmajceahcohidaebje/";
const PIN: &str = "1234";

fn main() {
    let samples: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("SAMPLES must be a number"))
        .unwrap_or(200);
    let pki = TestPki::generate(42).expect("test PKI");
    for (auth, sign) in [("doctor-auth", "doctor-sign"), ("doctor-auth-p256", "doctor-sign-p256")] {
        let dir = tempfile::tempdir().expect("temporary folder");
        let a = &pki.card(auth).expect("test card").issued;
        let s = &pki.card(sign).expect("test card").issued;
        let conf = bridge::softhsm::provision(
            dir.path(),
            "HPKI TEST CARD",
            PIN,
            &[(&a.der, &a.key), (&s.der, &s.key)],
        )
        .unwrap_or_else(|e| panic!("SoftHSM token: {e}"));
        let config = dir.path().join("config.toml");
        std::fs::write(&config, format!("modules = [{:?}]\n", bridge::softhsm::MODULE)).expect("config");

        let mut times: Vec<Duration> = (0..samples + 5).map(|_| authenticate(&conf, &config)).collect();
        times.drain(..5); // warm-up: page cache, SoftHSM's files
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "{auth}: host start → authenticate answered, {samples} samples: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(at(0.50)),
            ms(at(0.99)),
            ms(*times.last().expect("samples")),
        );
    }
}

/// One sample: start the host, ask, read the answer (checked), let it exit.
fn authenticate(conf: &std::path::Path, config: &std::path::Path) -> Duration {
    let request = json!({
        "command": "authenticate", "origin": "https://idp.example.jp",
        "nonce": "q0bbbYzcOSJ4ECEbL9SDrTsgy3cDuf9DWWeXwN8eK0E=", "pin": PIN,
    });
    let start = Instant::now();
    let mut child = Command::new(HOST)
        .arg(EXTENSION)
        .env("SOFTHSM2_CONF", conf)
        .env("SHIKAKU_BRIDGE_CONFIG", config)
        .env_remove("SHIKAKU_BRIDGE_PKCS11")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the host");
    let mut stdin = child.stdin.take().expect("stdin");
    framing::write_message(&mut stdin, &request).expect("send");
    stdin.flush().expect("send");
    let mut stdout = child.stdout.take().expect("stdout");
    let answer = framing::read_message(&mut stdout).expect("an answer").expect("an answer");
    let elapsed = start.elapsed();
    assert_eq!(answer["format"], "web-eid:1.0", "{answer}");
    drop(stdin);
    let status = child.wait().expect("host exit");
    assert!(status.success(), "host exit: {status}");
    elapsed
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
