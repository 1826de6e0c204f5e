//! `shikaku admin document issue|revoke`: issue a verifiable document for a doctor (the PDF to a
//! file) and revoke one, for operators.

use std::path::PathBuf;

use anyhow::{Context, bail};
use portal::documents::{self, Request};
use portal::store::StoreError;
use portal::store::documents::update_document_revoked;
use serde_json::json;
use storage::Db;

use crate::cli::admin::Actor;
use crate::config::Config;
use crate::{master_key, startup};

/// `admin document …`.
#[derive(Debug, clap::Subcommand)]
pub enum DocumentCommand {
    /// Issue a document; prints its id and verification URL as JSON and writes the PDF.
    Issue(IssueArgs),
    /// Revoke a document: its verification page shows it revoked, with the date and reason.
    Revoke {
        /// The document id (ids may begin with `-`; they are taken as the id, not an option).
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Why (shown on the verification page).
        #[arg(long)]
        reason: String,
    },
}

/// What to issue.
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// The doctor's medical registration number (医籍登録番号).
    #[arg(long)]
    registration_number: String,
    /// `attendance` (受講証明書, needs --from and --to), `statement` (yearly credit statement,
    /// needs --year) or `jma_certificate` (日医生涯教育認定証, only when eligible).
    #[arg(long)]
    kind: String,
    /// First day (attendance), YYYY-MM-DD.
    #[arg(long)]
    from: Option<String>,
    /// Last day (attendance), YYYY-MM-DD.
    #[arg(long)]
    to: Option<String>,
    /// Fiscal year (statement): 2026 = April 2026 – March 2027.
    #[arg(long)]
    year: Option<i32>,
    /// Where to write the PDF.
    #[arg(long)]
    out: PathBuf,
}

fn request(a: &IssueArgs) -> anyhow::Result<Request> {
    let day = |name: &str, v: &Option<String>| -> anyhow::Result<time::Date> {
        let text = v.as_deref().with_context(|| format!("--{name} YYYY-MM-DD is required for this kind"))?;
        portal::credits::dates::parse(text)
            .with_context(|| format!("--{name} {text:?} is not a date (YYYY-MM-DD)"))
    };
    match a.kind.as_str() {
        "attendance" => Ok(Request::Attendance { from: day("from", &a.from)?, to: day("to", &a.to)? }),
        "statement" => {
            Ok(Request::Statement { fiscal_year: a.year.context("--year is required for a statement")? })
        }
        "jma_certificate" => Ok(Request::JmaCertificate),
        "qualification" => bail!(
            "a qualification certificate is issued by the doctor on the portal's /documents page, signed in with \
             the card: the card is checked at the idp then"
        ),
        other => bail!("unknown --kind {other:?}: use attendance, statement or jma_certificate"),
    }
}

/// Runs one `admin document` command (each change audited); returns what to print.
pub async fn run(
    cmd: DocumentCommand,
    config: &Config,
    db: &Db,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<String> {
    match cmd {
        DocumentCommand::Issue(args) => {
            let request = request(&args)?;
            let master = master_key::resolve(config, db).await?;
            let service = startup::portal_documents(config, db, master, now).await?;
            // Check the font before anything is stored.
            service.font().map_err(|e| anyhow::anyhow!("{e}"))?;
            let issued =
                documents::issue(db, &service.signer, request, &args.registration_number, now).await?;
            let pdf = service.pdf(db, &issued).await?;
            std::fs::write(&args.out, pdf).with_context(|| format!("cannot write {}", args.out.display()))?;
            let detail = json!({ "id": issued.record.id, "kind": issued.record.kind,
                                 "registration_number": args.registration_number });
            actor.audit(db, now, "document.issue", None, detail).await?;
            Ok(json!({
                "id": issued.record.id,
                "kind": issued.record.kind,
                "verify_url": issued.content.verify_url,
                "pdf": args.out,
            })
            .to_string())
        }
        DocumentCommand::Revoke { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason must not be empty");
            }
            match update_document_revoked(db, &id, reason.trim(), now).await {
                Ok(()) => {
                    actor
                        .audit(db, now, "document.revoke", None, json!({ "id": id, "reason": reason.trim() }))
                        .await?;
                    Ok(json!({ "id": id, "revoked_at": now, "reason": reason.trim() }).to_string())
                }
                Err(StoreError::NotFound) => bail!("no document with id {id:?}"),
                Err(e) => Err(e.into()),
            }
        }
    }
}
