//! `shikaku admin …`: operator commands.

use std::time::Duration;

use anyhow::bail;
use keys::{KeyPolicy, Keys, OWNER_IDP, SigningAlg};
use serde_json::json;
use storage::Db;

use crate::config::Config;
use crate::{master_key, startup};

/// `shikaku admin [--actor NAME] …`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Who is acting, as recorded in the audit log with every change (default: the OS user,
    /// from $USER or $LOGNAME).
    #[arg(long, global = true, value_name = "NAME")]
    actor: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

/// The operator running an admin command: every change it makes is audited under this name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// `--actor`, else the OS user ($USER, $LOGNAME), else `operator`.
    pub fn resolve(given: Option<&str>) -> anyhow::Result<Self> {
        let name = match given {
            Some(a) => a.trim().to_owned(),
            None => ["USER", "LOGNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
                .unwrap_or_else(|| "operator".into()),
        };
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            bail!("--actor must be 1 to 64 characters without control characters");
        }
        Ok(Self(name))
    }

    /// The operator's name as the audit log records it.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Appends `admin.<event>` (outcome `success` unless given) to the audit log; an entry that
    /// cannot be written fails the command.
    pub async fn audit(
        &self,
        db: &Db,
        now: i64,
        event: &str,
        client_id: Option<&str>,
        detail: serde_json::Value,
    ) -> anyhow::Result<()> {
        self.audit_outcome(db, now, event, "success", client_id, detail).await
    }

    /// Like [`Actor::audit`] with an outcome other than `success`.
    pub async fn audit_outcome(
        &self,
        db: &Db,
        now: i64,
        event: &str,
        outcome: &str,
        client_id: Option<&str>,
        detail: serde_json::Value,
    ) -> anyhow::Result<()> {
        let entry = idp::audit::Entry {
            event: format!("admin.{event}"),
            outcome: outcome.into(),
            actor: Some(self.0.clone()),
            client_id: client_id.map(str::to_owned),
            detail,
            ..idp::audit::Entry::default()
        };
        idp::audit::AuditLog::new(db.clone()).record(now, &entry).await?;
        Ok(())
    }
}

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
    /// Office staff without a card: invitations, list, removal.
    #[command(subcommand)]
    Staff(crate::cli::staff::StaffCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(crate::cli::accounts::AuditCommand),
    /// Bulk imports (CSV).
    #[command(subcommand)]
    Import(crate::cli::import::ImportCommand),
    /// Verifiable documents of the portal (certificates, statements).
    #[command(subcommand)]
    Document(crate::cli::documents::DocumentCommand),
    /// Credit systems of the portal and their rule for credits by time attended.
    #[command(subcommand)]
    Credits(crate::cli::credits::CreditsCommand),
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

/// The idp key set of the database.
async fn open_keys(config: &Config, db: &Db) -> anyhow::Result<Keys> {
    let master = master_key::resolve(config, db).await?;
    let policy = KeyPolicy {
        publish_lead: Duration::from_secs(config.key_publish_lead_secs),
        retention: Duration::from_secs(config.key_retention_secs),
    };
    Ok(Keys::open(db.clone(), OWNER_IDP, master, policy).await?)
}

/// Runs one `admin` subcommand.
pub async fn run(args: AdminArgs, config: &Config) -> anyhow::Result<()> {
    let actor = Actor::resolve(args.actor.as_deref())?;
    let now = keys::Clock::system().now();
    if let AdminCommand::Import(cmd) = args.command {
        return crate::cli::import::run(cmd, config, &actor).await;
    }
    let db = startup::open_database(config).await?;
    db.migrate().await?;
    let out = match args.command {
        AdminCommand::Client(c) => {
            let outbound = idp::outbound::Guard::new(config.outbound_allow_addresses.clone());
            crate::cli::clients::run(*c, &db, &config.signing_algs, &outbound, &actor, now).await
        }
        AdminCommand::Ca(c) => crate::cli::trust::run_ca(c, &db, &actor, now).await,
        AdminCommand::Crl(c) => {
            crate::cli::trust::run_crl(c, &db, startup::crl_fetch_config(config), &actor, now).await
        }
        AdminCommand::Account(c) => crate::cli::accounts::run_account(c, config, &db, &actor, now).await,
        AdminCommand::Staff(c) => crate::cli::staff::run(c, config, &db, &actor, now).await,
        AdminCommand::Audit(c) => crate::cli::accounts::run_audit(c, &db).await,
        AdminCommand::Document(c) => crate::cli::documents::run(c, config, &db, &actor, now).await,
        AdminCommand::Keys(c) => run_keys(c, config, &db, &actor, now).await,
        AdminCommand::Credits(c) => crate::cli::credits::run(c, &db, &actor, now).await,
        AdminCommand::Import(_) => Ok(String::new()),
    };
    db.close().await;
    let out = out?;
    if !out.is_empty() {
        println!("{out}");
    }
    Ok(())
}

/// Runs one `admin keys` subcommand; returns what to print.
async fn run_keys(
    cmd: KeysCommand,
    config: &Config,
    db: &Db,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<String> {
    let keys = open_keys(config, db).await?;
    let mut out = Vec::new();
    match cmd {
        KeysCommand::List => {
            for (record, state) in keys.list(now).await? {
                out.push(
                    json!({
                        "kid": record.kid,
                        "alg": record.alg,
                        "state": state,
                        "created_at": record.created_at,
                        "signs_from": record.signs_from,
                    })
                    .to_string(),
                );
            }
        }
        KeysCommand::Rotate { alg } => {
            let algs = alg.map_or_else(|| config.signing_algs.clone(), |a| vec![a]);
            // On a database that has never started, the first key must exist before a successor.
            keys.ensure(&algs, now).await?;
            for alg in algs {
                let record = keys.rotate(alg, now).await?;
                tracing::info!(kid = %record.kid, alg = %record.alg, signs_from = record.signs_from, "rotated signing key");
                let detail = json!({ "kid": record.kid, "alg": record.alg, "signs_from": record.signs_from });
                actor.audit(db, now, "keys.rotate", None, detail).await?;
                out.push(
                    json!({ "kid": record.kid, "alg": record.alg, "state": "next", "signs_from": record.signs_from })
                        .to_string(),
                );
            }
        }
    }
    Ok(out.join("\n"))
}
