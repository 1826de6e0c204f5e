//! `shikaku admin account …` and `shikaku admin audit …`.

use anyhow::bail;
use idp::store::accounts as store;
use serde_json::json;
use storage::Db;

/// `admin account …`.
#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// List accounts with their cards, one JSON object per line.
    List,
    /// Suspend an account: its sign-ins and new tokens are refused.
    Suspend {
        /// Account id.
        account_id: String,
    },
    /// Resume a suspended account.
    Resume {
        /// Account id.
        account_id: String,
    },
}

/// `admin audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the audit log; exit 1 when an entry was changed or removed.
    Verify,
}

/// Runs one `admin account` subcommand.
pub async fn run_account(cmd: AccountCommand, db: &Db, now: i64) -> anyhow::Result<String> {
    let (id, status) = match cmd {
        AccountCommand::List => {
            let mut out = Vec::new();
            for a in store::find_accounts(db).await? {
                let cards = store::find_cards(db, &a.id).await?;
                let mut v = serde_json::to_value(&a)?;
                v["cards"] = serde_json::to_value(cards)?;
                out.push(v.to_string());
            }
            return Ok(out.join("\n"));
        }
        AccountCommand::Suspend { account_id } => (account_id, "suspended"),
        AccountCommand::Resume { account_id } => (account_id, "active"),
    };
    if !store::update_account_status(db, &id, status, now).await? {
        bail!("no account {id:?}");
    }
    Ok(json!({ "account_id": id, "status": status }).to_string())
}

/// Runs one `admin audit` subcommand.
pub async fn run_audit(cmd: AuditCommand, db: &Db) -> anyhow::Result<String> {
    match cmd {
        AuditCommand::Verify => {
            let v = idp::audit::verify(db).await?;
            if let Some((seq, why)) = v.broken {
                bail!("audit log broken at entry {seq}: {why} ({} entries before it verify)", v.entries);
            }
            Ok(json!({ "entries": v.entries, "chain": "intact" }).to_string())
        }
    }
}
