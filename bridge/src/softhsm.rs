//! Provision a SoftHSM2 token as a test card: a token holding the certificates and private
//! keys of test-PKI end entities (`hpki::testpki`), for tests and the demo.
//!
//! SoftHSM reads its configuration (`SOFTHSM2_CONF`) when the module is initialized, and a
//! running process cannot safely change its own environment, so [`provision`] writes the
//! configuration and does the PKCS#11 work (`C_InitToken`, `C_InitPIN`, `C_CreateObject`)
//! in a `shikaku-bridge softhsm-provision` child started with `SOFTHSM2_CONF` set (see
//! [`helper`]). Give the returned configuration path to the host as `SOFTHSM2_CONF`.
//!
//! Each certificate and its private key share a `CKA_ID` (`01`, `02`, … in the order
//! given); labels are neutral (`certificate 1`, `key 1`), since the host chooses by profile.
//! RSA keys are `CKK_RSA` objects with modulus, exponents, primes and CRT values; EC keys
//! `CKK_EC` with `CKA_EC_PARAMS` (the named curve's OID) and `CKA_VALUE` (the scalar). Private
//! keys are private, sensitive token objects with `CKA_SIGN`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use hpki::testpki::TestKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Debian's SoftHSM2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The SO PIN [`provision`] sets.
pub const SO_PIN: &str = "12345678";
/// Environment variable naming the `shikaku-bridge` executable that does the PKCS#11 work.
pub const HELPER_ENV: &str = "SHIKAKU_BRIDGE_BIN";

/// One attribute of an object to create, in a form that travels to the helper as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attr {
    /// `CKA_CLASS`: `true` for `CKO_PRIVATE_KEY`, `false` for `CKO_CERTIFICATE`.
    PrivateKeyClass(bool),
    /// `CKA_CERTIFICATE_TYPE` `CKC_X_509`.
    X509,
    /// `CKA_KEY_TYPE`: `true` for `CKK_RSA`, `false` for `CKK_EC`.
    RsaKeyType(bool),
    /// `CKA_TOKEN`.
    Token(bool),
    /// `CKA_PRIVATE`.
    Private(bool),
    /// `CKA_SENSITIVE`.
    Sensitive(bool),
    /// `CKA_SIGN`.
    Sign(bool),
    /// `CKA_ID`.
    Id(Vec<u8>),
    /// `CKA_LABEL`.
    Label(String),
    /// `CKA_SUBJECT` (DER name).
    Subject(Vec<u8>),
    /// `CKA_VALUE` (certificate DER, or an EC private scalar).
    Value(Vec<u8>),
    /// `CKA_MODULUS`.
    Modulus(Vec<u8>),
    /// `CKA_PUBLIC_EXPONENT`.
    PublicExponent(Vec<u8>),
    /// `CKA_PRIVATE_EXPONENT`.
    PrivateExponent(Vec<u8>),
    /// `CKA_PRIME_1`.
    Prime1(Vec<u8>),
    /// `CKA_PRIME_2`.
    Prime2(Vec<u8>),
    /// `CKA_EXPONENT_1`.
    Exponent1(Vec<u8>),
    /// `CKA_EXPONENT_2`.
    Exponent2(Vec<u8>),
    /// `CKA_COEFFICIENT`.
    Coefficient(Vec<u8>),
    /// `CKA_EC_PARAMS` (DER OID of the named curve).
    EcParams(Vec<u8>),
}

impl Attr {
    fn to_cryptoki(&self) -> Attribute {
        match self.clone() {
            Attr::PrivateKeyClass(true) => Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attr::PrivateKeyClass(false) => Attribute::Class(ObjectClass::CERTIFICATE),
            Attr::X509 => Attribute::CertificateType(CertificateType::X_509),
            Attr::RsaKeyType(true) => Attribute::KeyType(KeyType::RSA),
            Attr::RsaKeyType(false) => Attribute::KeyType(KeyType::EC),
            Attr::Token(b) => Attribute::Token(b),
            Attr::Private(b) => Attribute::Private(b),
            Attr::Sensitive(b) => Attribute::Sensitive(b),
            Attr::Sign(b) => Attribute::Sign(b),
            Attr::Id(v) => Attribute::Id(v),
            Attr::Label(s) => Attribute::Label(s.into_bytes()),
            Attr::Subject(v) => Attribute::Subject(v),
            Attr::Value(v) => Attribute::Value(v),
            Attr::Modulus(v) => Attribute::Modulus(v),
            Attr::PublicExponent(v) => Attribute::PublicExponent(v),
            Attr::PrivateExponent(v) => Attribute::PrivateExponent(v),
            Attr::Prime1(v) => Attribute::Prime1(v),
            Attr::Prime2(v) => Attribute::Prime2(v),
            Attr::Exponent1(v) => Attribute::Exponent1(v),
            Attr::Exponent2(v) => Attribute::Exponent2(v),
            Attr::Coefficient(v) => Attribute::Coefficient(v),
            Attr::EcParams(v) => Attribute::EcParams(v),
        }
    }
}

/// What the helper does: initialize a free token and create objects on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Token label.
    pub label: String,
    /// SO PIN.
    pub so_pin: String,
    /// User PIN.
    pub pin: String,
    /// Objects to create, as attribute templates.
    pub objects: Vec<Vec<Attr>>,
}

/// Writes `dir/softhsm2.conf` with its own token folder `dir/tokens`; returns its path.
pub fn write_conf(dir: &Path) -> Result<PathBuf, String> {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).map_err(|e| format!("cannot create {}: {e}", tokens.display()))?;
    let conf = dir.join("softhsm2.conf");
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
        tokens.display()
    );
    std::fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    Ok(conf)
}

/// Provisions a test card in `dir`: a token `label` with user PIN `pin` (SO PIN [`SO_PIN`])
/// holding each `(certificate DER, key)` pair. Returns the `softhsm2.conf` path.
pub fn provision<D: AsRef<[u8]> + ?Sized>(
    dir: &Path,
    label: &str,
    pin: &str,
    pairs: &[(&D, &TestKey)],
) -> Result<PathBuf, String> {
    let pairs: Vec<(&[u8], &TestKey)> = pairs.iter().map(|(d, k)| ((*d).as_ref(), *k)).collect();
    let job = Job {
        label: label.to_owned(),
        so_pin: SO_PIN.to_owned(),
        pin: pin.to_owned(),
        objects: templates(&pairs)?,
    };
    let conf = write_conf(dir)?;
    run_helper(&helper()?, &conf, &job)?;
    Ok(conf)
}

/// The `shikaku-bridge` executable that runs jobs: `$SHIKAKU_BRIDGE_BIN`, else this process
/// if it is `shikaku-bridge`, else `shikaku-bridge` next to this executable or one folder up
/// (where Cargo puts it for the package's tests in `target/<profile>/deps/`).
pub fn helper() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(HELPER_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let name = format!("shikaku-bridge{}", std::env::consts::EXE_SUFFIX);
    if exe.file_name().is_some_and(|n| n == name.as_str()) {
        return Ok(exe);
    }
    let dir = exe.parent().ok_or("this executable has no folder")?;
    [dir.join(&name), dir.join("..").join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no {name} found next to {} (set {HELPER_ENV})", exe.display()))
}

/// Runs `job` in `helper softhsm-provision` with `SOFTHSM2_CONF=conf`.
pub fn run_helper(helper: &Path, conf: &Path, job: &Job) -> Result<(), String> {
    let mut child = Command::new(helper)
        .arg("softhsm-provision")
        .env("SOFTHSM2_CONF", conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", helper.display()))?;
    let json = serde_json::to_vec(job).map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&json).map_err(|e| format!("cannot write to the helper: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("the helper failed: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("provisioning failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Runs `job` in this process with `module` (SoftHSM must see the right `SOFTHSM2_CONF`):
/// initializes the first token that is not initialized, sets the user PIN and creates the
/// objects.
pub fn run_job(module: &Path, job: &Job) -> Result<(), String> {
    let p11 = |what: &str| {
        let what = what.to_owned();
        move |e: cryptoki::error::Error| format!("{what}: {e}")
    };
    let ctx = Pkcs11::new(module).map_err(p11("loading the module"))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).map_err(p11("C_Initialize"))?;
    let free = ctx
        .get_slots_with_token()
        .map_err(p11("C_GetSlotList"))?
        .into_iter()
        .find(|s| ctx.get_token_info(*s).is_ok_and(|t| !t.token_initialized()))
        .ok_or("no free token")?;
    let so_pin = SecretString::from(job.so_pin.clone());
    let pin = SecretString::from(job.pin.clone());
    ctx.init_token(free, &so_pin, &job.label).map_err(p11("C_InitToken"))?;
    // SoftHSM gives the initialized token a new slot id.
    let slot = ctx
        .get_slots_with_initialized_token()
        .map_err(p11("C_GetSlotList"))?
        .into_iter()
        .find(|s| ctx.get_token_info(*s).is_ok_and(|t| t.label().trim() == job.label.trim()))
        .ok_or("the new token is not listed")?;
    let session = ctx.open_rw_session(slot).map_err(p11("C_OpenSession"))?;
    session.login(UserType::So, Some(&so_pin)).map_err(p11("C_Login (SO)"))?;
    session.init_pin(&pin).map_err(p11("C_InitPIN"))?;
    session.logout().map_err(p11("C_Logout"))?;
    session.login(UserType::User, Some(&pin)).map_err(p11("C_Login"))?;
    for object in &job.objects {
        let template: Vec<Attribute> = object.iter().map(Attr::to_cryptoki).collect();
        session.create_object(&template).map_err(p11("C_CreateObject"))?;
    }
    session.logout().map_err(p11("C_Logout"))?;
    drop(session);
    ctx.finalize().map_err(p11("C_Finalize"))
}

/// The certificate and private-key templates of `pairs` (`CKA_ID` `01`, `02`, …).
pub fn templates(pairs: &[(&[u8], &TestKey)]) -> Result<Vec<Vec<Attr>>, String> {
    let mut out = Vec::new();
    for (i, (der, key)) in pairs.iter().enumerate() {
        let id = vec![u8::try_from(i + 1).map_err(|_| "too many objects")?];
        let n = i + 1;
        out.push(vec![
            Attr::PrivateKeyClass(false),
            Attr::X509,
            Attr::Token(true),
            Attr::Private(false),
            Attr::Id(id.clone()),
            Attr::Label(format!("certificate {n}")),
            Attr::Subject(subject_of(der).ok_or("the certificate's subject cannot be read")?.to_vec()),
            Attr::Value(der.to_vec()),
        ]);
        let mut k = vec![
            Attr::PrivateKeyClass(true),
            Attr::Token(true),
            Attr::Private(true),
            Attr::Sensitive(true),
            Attr::Sign(true),
            Attr::Id(id),
            Attr::Label(format!("key {n}")),
        ];
        k.extend(key_attributes(key)?);
        out.push(k);
    }
    Ok(out)
}

fn key_attributes(key: &TestKey) -> Result<Vec<Attr>, String> {
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    let ec = |params: &[u8], scalar: Vec<u8>| {
        vec![Attr::RsaKeyType(false), Attr::EcParams(params.to_vec()), Attr::Value(scalar)]
    };
    Ok(match key {
        TestKey::Rsa(k) => {
            let primes = k.primes();
            let [p, q] = primes else { return Err("RSA key without two primes".into()) };
            let (Some(dp), Some(dq), Some(qinv)) = (k.dp(), k.dq(), k.crt_coefficient()) else {
                return Err("RSA key without CRT values".into());
            };
            vec![
                Attr::RsaKeyType(true),
                Attr::Modulus(k.n().to_bytes_be()),
                Attr::PublicExponent(k.e().to_bytes_be()),
                Attr::PrivateExponent(k.d().to_bytes_be()),
                Attr::Prime1(p.to_bytes_be()),
                Attr::Prime2(q.to_bytes_be()),
                Attr::Exponent1(dp.to_bytes_be()),
                Attr::Exponent2(dq.to_bytes_be()),
                Attr::Coefficient(qinv.to_bytes_be()),
            ]
        }
        TestKey::P256(k) => ec(P256, k.to_bytes().to_vec()),
        TestKey::P384(k) => ec(P384, k.to_bytes().to_vec()),
        TestKey::P521(k) => ec(P521, k.to_bytes().to_vec()),
    })
}

/// One DER TLV: `(tag, whole TLV, contents, rest)`.
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Splits the first DER TLV off `input`.
fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize), &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some((tag, &input[..header + len], &rest[..len], &rest[len..]))
}

/// The DER subject name of a certificate.
fn subject_of(cert: &[u8]) -> Option<&[u8]> {
    let (_, _, certificate, _) = tlv(cert)?;
    let (_, _, tbs, _) = tlv(certificate)?;
    let mut rest = tbs;
    let (tag, _, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after; // version
    }
    for _ in 0..4 {
        rest = tlv(rest)?.3; // serial, signature, issuer, validity
    }
    Some(tlv(rest)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_of_a_certificate() {
        // A minimal structure: SEQ { SEQ { [0]{INT 2}, INT 1, SEQ{}, SEQ{issuer}, SEQ{}, SEQ{subject} } }
        let subject = [0x30, 0x03, 0x02, 0x01, 0x07];
        let mut tbs =
            vec![0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00, 0x30, 0x00];
        tbs.extend_from_slice(&subject);
        let mut t = vec![0x30, tbs.len() as u8];
        t.extend(tbs);
        let mut c = vec![0x30, t.len() as u8];
        c.extend(t);
        assert_eq!(subject_of(&c), Some(&subject[..]));
        assert_eq!(subject_of(&c[..5]), None);
    }
}
