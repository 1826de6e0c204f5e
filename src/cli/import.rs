//! `shikaku admin import attendance|registry FILE.csv`: bulk imports into the portal's tables.
//!
//! stdout gets one line per rejected row (`line 4, column units: …`) and a summary; stderr a
//! progress bar when it is a terminal. Exit 0 when every row was taken, 1 when a row was rejected
//! (the good rows are imported all the same) or the file could not be read.

use std::path::PathBuf;

use anyhow::Context;
use idp::store::identities::{Identity, upsert_identities};
use indicatif::{ProgressBar, ProgressStyle};
use portal::import::{self, Encoding, Options, Report};

use crate::cli::admin::Actor;
use crate::config::Config;
use crate::startup;

/// `admin import …`.
#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// Attendance records: registration_number, event_id, date, credits… (see docs/import.md).
    Attendance(ImportArgs),
    /// The doctors' registry: registration_number, kana_name, birth_date, name, and the card
    /// (issuer, subscriber_id) for the idp's `license` claims.
    Registry(ImportArgs),
}

/// Options of both imports.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV file (header line first).
    file: PathBuf,
    /// `auto` (UTF-8, else Shift_JIS when the whole file is valid Shift_JIS), `utf-8` or `shift_jis`.
    #[arg(long, default_value = "auto", value_parser = parse_encoding)]
    encoding: Encoding,
    /// Check every row and print the report, but write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Rows written per transaction (1 to 1 000 000). Smaller batches hold SQLite's write lock
    /// for less time; a killed import keeps every batch it committed.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch_rows: u64,
}

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    s.parse()
}

/// Runs one import; one audit entry records what it wrote (a dry run writes nothing and is not
/// audited).
pub async fn run(cmd: ImportCommand, config: &Config, actor: &Actor) -> anyhow::Result<()> {
    let (kind, args) = match &cmd {
        ImportCommand::Attendance(a) => ("attendance", a),
        ImportCommand::Registry(a) => ("registry", a),
    };
    let data = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let db = startup::open_database(config).await?;
    db.migrate().await?;
    let opts = Options {
        encoding: args.encoding,
        dry_run: args.dry_run,
        batch_size: usize::try_from(args.batch_rows).unwrap_or(50_000),
        ..Options::new(keys::Clock::system().now())
    };
    let bar = ProgressBar::new(data.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(kind);
    let mut tick = |done: u64| bar.set_position(done);
    let result = match cmd {
        ImportCommand::Attendance(_) => import::attendance::import(&db, &data, &opts, &mut tick).await,
        ImportCommand::Registry(_) => {
            match import::registry::import_with_card_holders(&db, &data, &opts, &mut tick).await {
                Ok((report, holders)) => {
                    if !opts.dry_run && !holders.is_empty() {
                        // The idp's copy, keyed by card, for the `license` claims.
                        let identities: Vec<_> = holders.iter().map(identity).collect();
                        upsert_identities(&db, &identities, opts.now)
                            .await
                            .context("storing the registry's card holders for the idp")?;
                    }
                    Ok(report)
                }
                Err(e) => Err(e),
            }
        }
    };
    bar.finish_and_clear();
    if let Ok(r) = &result
        && !r.dry_run
    {
        let outcome = if r.errors.is_empty() { "success" } else { "rows_rejected" };
        let file = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let detail = serde_json::json!({
            "file": file, "encoding": r.encoding.to_string(), "rows": r.rows, "inserted": r.inserted,
            "updated": r.updated, "unchanged": r.unchanged, "rejected": r.errors.len(),
        });
        let audited =
            actor.audit_outcome(&db, opts.now, &format!("import.{kind}"), outcome, None, detail).await;
        if let Err(e) = audited {
            db.close().await;
            return Err(e);
        }
    }
    db.close().await;
    let report = result.with_context(|| args.file.display().to_string())?;
    for e in &report.errors {
        println!("{e}");
    }
    println!("{}", summary(kind, &report));
    match report.errors.len() {
        0 => Ok(()),
        n => anyhow::bail!("{n} row(s) rejected"),
    }
}

/// The idp's registry entry of a card holder.
pub fn identity(h: &import::registry::CardHolder) -> Identity {
    Identity {
        issuer: h.issuer.clone(),
        subscriber_id: h.subscriber_id.clone(),
        registration_number: h.doctor.registration_number.clone(),
        birth_date: h.doctor.birth_date.to_string(),
        kana_name: h.doctor.kana_name.clone(),
    }
}

/// `attendance: 12 rows, 10 added, 0 updated, 1 already present, 1 rejected (UTF-8)`.
fn summary(kind: &str, r: &Report) -> String {
    let prefix = if r.dry_run { "dry run, nothing written: " } else { "" };
    format!(
        "{prefix}{kind}: {} rows, {} added, {} updated, {} already present, {} rejected ({})",
        r.rows,
        r.inserted,
        r.updated,
        r.unchanged,
        r.errors.len(),
        r.encoding
    )
}
