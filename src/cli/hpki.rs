//! `shikaku hpki …`: certificate and card-token tools for operators and integrators.
//!
//! Output is one JSON document on stdout. Exit codes: 0 valid, 1 invalid (the JSON is
//! `{"error": "<code>", "message": "…"}` with a code of docs/design.md §5), 2 usage (bad arguments,
//! unreadable files; the JSON has `"error": "usage"`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hpki::time::OffsetDateTime;
use hpki::time::format_description::well_known::Rfc3339;
use hpki::{
    CardTokenValidator, CheckOptions, Crl, HpkiCertificate, Profile, Purpose, RevocationMode, RoleFilter,
    TrustStore,
};
use serde_json::{Value, json};

/// HPKI certificate tools (output is JSON on stdout; exit 0 valid, 1 invalid, 2 usage).
#[derive(Debug, clap::Subcommand)]
pub enum HpkiCommand {
    /// Print the parsed HPKI profile of a certificate (DER or PEM).
    Inspect {
        /// Certificate file.
        cert: PathBuf,
    },
    /// Validate a certificate against CA certificates (and CRLs) at a time.
    VerifyCert {
        /// Certificate file (DER or PEM).
        cert: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
        /// What the certificate must be for.
        #[arg(long, value_enum, default_value = "auth")]
        purpose: PurposeArg,
    },
    /// Validate a Web eID (`web-eid:1.0`) card token for a challenge.
    VerifyToken {
        /// File holding the token JSON.
        token: PathBuf,
        /// The origin the token must be signed for (e.g. `https://idp.example`).
        #[arg(long)]
        origin: String,
        /// The challenge nonce, as issued (base64 text).
        #[arg(long)]
        nonce: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Write a deterministic test PKI (certificates, PKCS#8 keys, CRLs, manifest.json) to DIR.
    Testpki {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Seed; the same seed gives the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// Arguments shared by `verify-cert` and `verify-token`.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// CA certificate file (DER, PEM or a PEM bundle); repeat for several.
    #[arg(long = "ca", value_name = "FILE", required = true)]
    cas: Vec<PathBuf>,
    /// CRL file (DER or PEM); repeat for several. With any CRL, the issuer's CRL is required.
    #[arg(long = "crl", value_name = "FILE")]
    crls: Vec<PathBuf>,
    /// Validation time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// `hpki` (policies, hcRole) or `generic` (Web eID rules only).
    #[arg(long, value_enum, default_value = "hpki")]
    profile: ProfileArg,
    /// Allowed hcRole (e.g. "Medical Doctor"); repeat for several. Default: any hcRole.
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
}

/// `--profile`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProfileArg {
    /// HPKI policies and hcRole.
    Hpki,
    /// Web eID rules only.
    Generic,
}

/// `--purpose`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PurposeArg {
    /// Authentication (sign-in).
    Auth,
    /// Signature (non-repudiation).
    Signature,
}

/// A usage problem: printed as `{"error":"usage",…}` with exit code 2.
struct Usage(String);

/// Runs one `hpki` subcommand and returns the process exit code.
pub fn run(cmd: HpkiCommand) -> ExitCode {
    let outcome = match cmd {
        HpkiCommand::Inspect { cert } => inspect(&cert),
        HpkiCommand::VerifyCert { cert, common, purpose } => verify_cert(&cert, &common, purpose),
        HpkiCommand::VerifyToken { token, origin, nonce, common } => {
            verify_token(&token, &origin, &nonce, &common)
        }
        HpkiCommand::Testpki { out, seed } => testpki(&out, seed),
    };
    match outcome {
        Ok(Ok(value)) => {
            print_json(&value);
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            let body = json!({
                "error": e.code(),
                "message": format!("{} ({})", e.code.message_en(), e.detail),
                "message_ja": e.code.message_ja(),
            });
            print_json(&body);
            ExitCode::from(1)
        }
        Err(Usage(message)) => {
            print_json(&json!({"error": "usage", "message": message}));
            ExitCode::from(2)
        }
    }
}

/// Prints pretty JSON; a closed stdout (e.g. `| head`) is not an error worth a panic.
fn print_json(value: &Value) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{value:#}");
}

type Outcome = Result<Result<Value, hpki::Error>, Usage>;

fn read(path: &Path) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))
}

fn inspect(path: &Path) -> Outcome {
    let bytes = read(path)?;
    Ok(HpkiCertificate::parse(&bytes).map(|c| json!(c)))
}

/// Trust store, CRLs, time, profile and options from the shared arguments.
struct Setup {
    trust: TrustStore,
    crls: Vec<Crl>,
    at: OffsetDateTime,
    profile: Profile,
    options: CheckOptions,
}

fn setup(args: &CommonArgs) -> Result<Result<Setup, hpki::Error>, Usage> {
    let at = match &args.at {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| Usage(format!("--at {text:?} is not RFC 3339: {e}")))?,
        None => OffsetDateTime::now_utc(),
    };
    let mut cas = Vec::new();
    for path in &args.cas {
        match hpki::parse_bundle(&read(path)?) {
            Ok(mut certs) => cas.append(&mut certs),
            Err(e) => {
                return Ok(Err(hpki::Error::new(
                    e.code,
                    format!("CA file {}: {}", path.display(), e.detail),
                )));
            }
        }
    }
    let mut crls = Vec::new();
    for path in &args.crls {
        match Crl::parse(&read(path)?) {
            Ok(crl) => crls.push(crl),
            Err(e) => {
                return Ok(Err(hpki::Error::new(
                    e.code,
                    format!("CRL file {}: {}", path.display(), e.detail),
                )));
            }
        }
    }
    let profile = match args.profile {
        ProfileArg::Generic => Profile::generic(),
        ProfileArg::Hpki if args.roles.is_empty() => Profile::hpki(),
        ProfileArg::Hpki => Profile::hpki_with_roles(RoleFilter::Only(args.roles.clone())),
    };
    let options = CheckOptions {
        revocation: if args.crls.is_empty() { RevocationMode::IfSupplied } else { RevocationMode::Require },
        ..CheckOptions::default()
    };
    Ok(Ok(Setup { trust: TrustStore::new(cas), crls, at, profile, options }))
}

fn identity(cert: &HpkiCertificate) -> Value {
    json!({
        "romaji_name": cert.romaji_name,
        "kanji_name": cert.kanji_name,
        "hc_roles": cert.hc_roles,
        "subscriber_id": cert.subscriber_id,
        "organization": cert.organization,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "not_after": cert.not_after.format(&Rfc3339).unwrap_or_default(),
        "kind": cert.kind,
    })
}

fn verify_cert(path: &Path, args: &CommonArgs, purpose: PurposeArg) -> Outcome {
    let bytes = read(path)?;
    let setup = match setup(args)? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let cert = match HpkiCertificate::parse(&bytes) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let purpose = match purpose {
        PurposeArg::Auth => Purpose::Authentication,
        PurposeArg::Signature => Purpose::Signature,
    };
    Ok(hpki::verify_certificate(
        &cert,
        &setup.trust,
        &setup.crls,
        setup.at,
        purpose,
        &setup.profile,
        &setup.options,
    )
    .map(|v| {
        let mut out = identity(&v.certificate);
        out["valid"] = json!(true);
        out["chain"] = json!(v.chain);
        out["revocation"] = json!(v.revocation);
        out["at"] = json!(setup.at.format(&Rfc3339).unwrap_or_default());
        out
    }))
}

fn verify_token(path: &Path, origin: &str, nonce: &str, args: &CommonArgs) -> Outcome {
    let bytes = read(path)?;
    let token = String::from_utf8(bytes).map_err(|_| Usage(format!("{} is not UTF-8", path.display())))?;
    let setup = match setup(args)? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let mut validator = CardTokenValidator::new(setup.trust, setup.profile);
    validator.options = setup.options;
    Ok(validator.validate(token.trim(), origin, nonce, &setup.crls, setup.at).map(|id| {
        let mut out = identity(&id.certificate);
        out["valid"] = json!(true);
        out["algorithm"] = json!(id.algorithm);
        out["chain"] = json!(id.chain);
        out["revocation"] = json!(id.revocation);
        out["at"] = json!(setup.at.format(&Rfc3339).unwrap_or_default());
        out
    }))
}

fn testpki(out: &Path, seed: u64) -> Outcome {
    let pki = hpki::testpki::TestPki::generate(seed).map_err(|e| Usage(format!("test PKI: {e}")))?;
    let files = pki.files().map_err(|e| Usage(format!("test PKI: {e}")))?;
    std::fs::create_dir_all(out).map_err(|e| Usage(format!("cannot create {}: {e}", out.display())))?;
    let mut names = Vec::new();
    for (name, bytes) in &files {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|e| Usage(format!("cannot write {}: {e}", path.display())))?;
        names.push(name.clone());
    }
    let manifest: Value = files
        .iter()
        .find(|(n, _)| n == "manifest.json")
        .and_then(|(_, b)| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null);
    Ok(Ok(json!({
        "out": out.display().to_string(),
        "seed": seed,
        "files": names,
        "manifest": manifest,
    })))
}
