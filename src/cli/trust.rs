//! `shikaku admin ca …` and `shikaku admin crl …`: what card certificates are checked against.

use anyhow::{Context, bail};
use idp::store::trust::{self as store, TrustedCa};
use serde_json::json;
use sha2::{Digest, Sha256};
use storage::Db;

use crate::cli::admin::Actor;

/// `admin ca …`.
#[derive(Debug, clap::Subcommand)]
pub enum CaCommand {
    /// Trust CA certificates (PEM or DER; a PEM file may hold several): the issuing CAs of cards
    /// and, optionally, their root.
    Add {
        /// Certificate files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// `card`: CAs of sign-in certificates (default); `client`: CAs of relying parties'
        /// certificates for `tls_client_auth` (RFC 8705).
        #[arg(long, default_value = "card", value_parser = ["card", "client"])]
        purpose: String,
    },
    /// List trusted CAs, one JSON object per line.
    List,
    /// Stop trusting a CA, by the fingerprint `list` shows.
    Remove {
        /// SHA-256 fingerprint (hex).
        fingerprint: String,
    },
}

/// `admin crl …`.
#[derive(Debug, clap::Subcommand)]
pub enum CrlCommand {
    /// Load CRLs from files (DER or PEM); each must be signed by a trusted CA. An older CRL never
    /// replaces a newer one.
    Add {
        /// CRL files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// List stored CRLs, one JSON object per line.
    List,
    /// Fetch the CRLs now: the configured `crl_urls`, the http(s) distribution points of trusted
    /// CA certificates and of cards seen at sign-in, from `crl_fetch_allow_hosts` only. One JSON
    /// object per URL; exit status 1 when any fetch failed.
    Refresh,
    /// List distribution points recorded from card certificates, one JSON object per line.
    Sources,
}

/// Runs one `admin ca` subcommand (each change audited); returns what to print.
pub async fn run_ca(cmd: CaCommand, db: &Db, actor: &Actor, now: i64) -> anyhow::Result<String> {
    match cmd {
        CaCommand::Add { files, purpose } => {
            let mut out = Vec::new();
            for file in files {
                let bytes =
                    std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
                let certs = hpki::parse_bundle(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.detail))?;
                for cert in certs {
                    if !cert.is_ca {
                        bail!("{}: {} is not a CA certificate", file.display(), cert.subject);
                    }
                    let fingerprint = hpki::hex(&Sha256::digest(cert.der()));
                    let ca = TrustedCa {
                        fingerprint: fingerprint.clone(),
                        subject: cert.subject.clone(),
                        der: cert.der().to_vec(),
                        added_at: now,
                        purpose: purpose.clone(),
                    };
                    let added = store::create_ca(db, &ca).await?;
                    if added {
                        let detail = json!({ "fingerprint": fingerprint, "subject": cert.subject, "purpose": purpose });
                        actor.audit(db, now, "ca.add", None, detail).await?;
                    }
                    out.push(
                        json!({ "fingerprint": fingerprint, "subject": cert.subject, "purpose": purpose, "added": added })
                            .to_string(),
                    );
                }
            }
            Ok(out.join("\n"))
        }
        CaCommand::List => {
            let cas = store::find_cas(db).await?;
            Ok(cas
                .iter()
                .map(|c| {
                    json!({ "fingerprint": c.fingerprint, "subject": c.subject, "purpose": c.purpose, "added_at": c.added_at })
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
        CaCommand::Remove { fingerprint } => {
            let fp = fingerprint.to_ascii_lowercase();
            let subject =
                store::find_cas(db).await?.into_iter().find(|c| c.fingerprint == fp).map(|c| c.subject);
            if !store::delete_ca(db, &fp).await? {
                bail!("no trusted CA with fingerprint {fingerprint}");
            }
            actor.audit(db, now, "ca.remove", None, json!({ "fingerprint": fp, "subject": subject })).await?;
            Ok(json!({ "removed": fingerprint }).to_string())
        }
    }
}

/// Runs one `admin crl` subcommand (each change audited); returns what to print.
pub async fn run_crl(
    cmd: CrlCommand,
    db: &Db,
    fetch: idp::trust::crl_fetch::FetchConfig,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<String> {
    match cmd {
        CrlCommand::Add { files } => {
            let cas = idp::trust::crl_fetch::trusted_cas(db).await?;
            let mut out = Vec::new();
            for file in files {
                let bytes =
                    std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
                let source = format!(
                    "file:{}",
                    file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                );
                let f = idp::trust::crl_fetch::store_verified(db, &cas, &bytes, &source, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                if f.stored {
                    let detail = json!({ "issuer": f.issuer, "this_update": f.this_update,
                                         "next_update": f.next_update, "entries": f.entries, "source": source });
                    actor.audit(db, now, "crl.add", None, detail).await?;
                }
                out.push(
                    json!({ "issuer": f.issuer, "entries": f.entries, "this_update": f.this_update,
                            "next_update": f.next_update, "stored": f.stored })
                    .to_string(),
                );
            }
            Ok(out.join("\n"))
        }
        CrlCommand::Refresh => {
            let fetcher = idp::trust::crl_fetch::CrlFetcher::new(fetch)?;
            let mut out = Vec::new();
            let (mut fetched, mut errors) = (Vec::new(), Vec::new());
            for (url, outcome) in fetcher.refresh(db, now).await? {
                out.push(match outcome {
                    Ok(f) => {
                        fetched.push(json!({ "url": url, "issuer": f.issuer, "stored": f.stored }));
                        json!({ "url": url, "issuer": f.issuer, "this_update": f.this_update,
                                "next_update": f.next_update, "entries": f.entries, "stored": f.stored })
                        .to_string()
                    }
                    Err(e) => {
                        errors.push(json!({ "url": url, "error": e.code() }));
                        json!({ "url": url, "error": e.code(), "detail": e.to_string() }).to_string()
                    }
                });
            }
            // Each source's last attempt (and any CRL stored) changed: one entry per refresh.
            let failed = errors.len();
            let outcome = if failed == 0 { "success" } else { "fetch_failed" };
            let detail = json!({ "fetched": fetched, "failed": errors });
            actor.audit_outcome(db, now, "crl.refresh", outcome, None, detail).await?;
            if failed > 0 {
                println!("{}", out.join("\n"));
                bail!("{failed} CRL fetch(es) failed");
            }
            Ok(out.join("\n"))
        }
        CrlCommand::Sources => {
            let sources = store::find_crl_sources(db).await?;
            Ok(sources
                .iter()
                .map(|s| {
                    json!({ "url": s.url, "seen_at": s.seen_at, "last_attempt_at": s.last_attempt_at,
                            "last_error": s.last_error })
                    .to_string()
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
        CrlCommand::List => {
            let crls = store::find_crls(db).await?;
            Ok(crls
                .iter()
                .map(|c| {
                    json!({ "issuer": c.issuer, "this_update": c.this_update, "next_update": c.next_update,
                            "source": c.source, "fetched_at": c.fetched_at })
                    .to_string()
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}
