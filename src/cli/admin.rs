//! `shikaku admin …`: operator commands.

use std::time::Duration;

use idp::keys::{KeyPolicy, Keys, OWNER_IDP, SigningAlg};
use serde_json::json;

use crate::config::Config;
use crate::{master_key, startup};

/// Operator commands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Token signing keys of the idp.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// OAuth clients (relying parties).
    #[command(subcommand)]
    Client(Box<crate::cli::clients::ClientCommand>),
    /// CA certificates that card certificates must chain to.
    #[command(subcommand)]
    Ca(crate::cli::trust::CaCommand),
    /// Certificate revocation lists.
    #[command(subcommand)]
    Crl(crate::cli::trust::CrlCommand),
    /// Accounts (doctors and staff).
    #[command(subcommand)]
    Account(crate::cli::accounts::AccountCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(crate::cli::accounts::AuditCommand),
    /// Bulk imports (CSV).
    #[command(subcommand)]
    Import(crate::cli::import::ImportCommand),
    /// Verifiable documents of the portal (certificates, statements).
    #[command(subcommand)]
    Document(crate::cli::documents::DocumentCommand),
}

/// `admin keys …`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state (next, active, retired, expired), one JSON object per line.
    List,
    /// Rotate: create a new key that is published now and signs after `key_publish_lead_secs`;
    /// the replaced key stays published for `key_retention_secs` after that.
    Rotate {
        /// Algorithm to rotate (default: every configured `signing_algs`).
        #[arg(long, value_parser = parse_alg)]
        alg: Option<SigningAlg>,
    },
}

fn parse_alg(s: &str) -> Result<SigningAlg, String> {
    SigningAlg::from_name(s).ok_or_else(|| format!("unknown algorithm {s:?}: use ES256, RS256 or PS256"))
}

/// The idp key set of the configured database.
async fn open_keys(config: &Config) -> anyhow::Result<Keys> {
    let db = startup::open_database(config).await?;
    let master = master_key::resolve(config, &db).await?;
    let policy = KeyPolicy {
        publish_lead: Duration::from_secs(config.key_publish_lead_secs),
        retention: Duration::from_secs(config.key_retention_secs),
    };
    Ok(Keys::open(db, OWNER_IDP, master, policy).await?)
}

/// Runs one `admin` subcommand.
pub async fn run(cmd: AdminCommand, config: &Config) -> anyhow::Result<()> {
    let now = idp::app::now();
    let db_command = |cmd: &AdminCommand| !matches!(cmd, AdminCommand::Keys(_));
    if db_command(&cmd) {
        let db = startup::open_database(config).await?;
        db.migrate().await?;
        let out = match cmd {
            AdminCommand::Client(c) => crate::cli::clients::run(*c, &db, &config.signing_algs, now).await,
            AdminCommand::Ca(c) => crate::cli::trust::run_ca(c, &db, now).await,
            AdminCommand::Crl(c) => {
                crate::cli::trust::run_crl(c, &db, startup::crl_fetch_config(config), now).await
            }
            AdminCommand::Account(c) => crate::cli::accounts::run_account(c, &db, now).await,
            AdminCommand::Audit(c) => crate::cli::accounts::run_audit(c, &db).await,
            AdminCommand::Import(cmd) => crate::cli::import::run(cmd, config).await.map(|()| String::new()),
            AdminCommand::Document(c) => crate::cli::documents::run(c, config, &db, now).await,
            AdminCommand::Keys(_) => Ok(String::new()),
        };
        db.close().await;
        let out = out?;
        if !out.is_empty() {
            println!("{out}");
        }
        return Ok(());
    }
    match cmd {
        AdminCommand::Keys(KeysCommand::List) => {
            let keys = open_keys(config).await?;
            for (record, state) in keys.list(now).await? {
                println!(
                    "{}",
                    json!({
                        "kid": record.kid,
                        "alg": record.alg,
                        "state": state,
                        "created_at": record.created_at,
                        "signs_from": record.signs_from,
                    })
                );
            }
        }
        AdminCommand::Keys(KeysCommand::Rotate { alg }) => {
            let keys = open_keys(config).await?;
            let algs = alg.map_or_else(|| config.signing_algs.clone(), |a| vec![a]);
            // On a database that has never started, the first key must exist before a successor.
            keys.ensure(&algs, now).await?;
            for alg in algs {
                let record = keys.rotate(alg, now).await?;
                tracing::info!(kid = %record.kid, alg = %record.alg, signs_from = record.signs_from, "rotated signing key");
                println!(
                    "{}",
                    json!({ "kid": record.kid, "alg": record.alg, "state": "next", "signs_from": record.signs_from })
                );
            }
        }
        _ => {}
    }
    Ok(())
}
