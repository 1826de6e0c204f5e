//! `shikaku admin staff …`: office staff accounts (no card). Suspension and roles are the same
//! commands as for doctors: `admin account suspend|resume`, `admin account grant-role
//! --account ID ROLE`.

use std::time::Duration;

use anyhow::bail;
use idp::accounts::staff;
use idp::store::accounts::{self as store, AccountKind, AccountStatus};
use serde_json::json;
use storage::Db;

use crate::cli::accounts::check_role;
use crate::cli::admin::Actor;
use crate::config::Config;

/// `admin staff …`.
#[derive(Debug, clap::Subcommand)]
pub enum StaffCommand {
    /// Create a staff account and print its invitation link: opened in a browser, it registers
    /// a passkey for the account and signs in. The link works once, until it expires; it is
    /// printed once and not stored (only its hash is).
    Invite {
        /// The staff member's name, as the idp shows it and sends it in the `name` claim.
        #[arg(long)]
        name: String,
        /// A role (repeat): `organizer` or `operator` for the portal, or another of 1–32
        /// `a-z 0-9 _ -`; sent as the `roles` claim.
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// Hours the link stays valid (1 to 168).
        #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u64).range(1..=168))]
        valid_hours: u64,
    },
    /// A new invitation link for an existing staff account (a further device, or a lost
    /// passkey; remove old passkeys at `/account`).
    Reinvite {
        /// The staff account's id (ids may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        account_id: String,
        /// Hours the link stays valid (1 to 168).
        #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u64).range(1..=168))]
        valid_hours: u64,
    },
    /// List staff accounts with their roles, status and passkeys, one JSON object per line.
    List,
    /// Remove a staff account: it is suspended (sessions ended, refresh tokens revoked, relying
    /// parties told by back-channel logout), its roles, passkeys and invitations are deleted,
    /// and it stays listed as `removed` for the audit trail.
    Remove {
        /// The staff account's id (ids may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        account_id: String,
    },
}

async fn staff_account(db: &Db, account_id: &str) -> anyhow::Result<store::Account> {
    match store::find_account(db, account_id).await? {
        Some(a) if a.kind == AccountKind::Staff => Ok(a),
        Some(_) => bail!("account {account_id:?} is a card holder's, not staff"),
        None => bail!("no account {account_id:?}"),
    }
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

/// Runs one `admin staff` subcommand (each change audited); returns what to print.
pub async fn run(
    cmd: StaffCommand,
    config: &Config,
    db: &Db,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<String> {
    match cmd {
        StaffCommand::Invite { name, roles, valid_hours } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 {
                bail!("--name must be 1 to 100 characters");
            }
            for role in &roles {
                check_role(role)?;
            }
            let invited = staff::invite(db, &name, &roles, hours(valid_hours), now).await?;
            let detail = json!({ "account_id": invited.account_id, "name": name, "roles": roles, "expires_at": invited.expires_at });
            actor.audit(db, now, "staff.invite", None, detail).await?;
            Ok(json!({
                "account_id": invited.account_id,
                "name": name,
                "roles": roles,
                "link": staff::link(&config.idp_public_url, &invited.token),
                "expires_at": invited.expires_at,
            })
            .to_string())
        }
        StaffCommand::Reinvite { account_id, valid_hours } => {
            let account = staff_account(db, &account_id).await?;
            if account.status != AccountStatus::Active {
                bail!("staff account {account_id:?} is {}; resume it first", account.status.as_str());
            }
            let invited = staff::reinvite(db, &account_id, hours(valid_hours), now).await?;
            let detail = json!({ "account_id": account_id, "expires_at": invited.expires_at });
            actor.audit(db, now, "staff.reinvite", None, detail).await?;
            Ok(json!({
                "account_id": account_id,
                "link": staff::link(&config.idp_public_url, &invited.token),
                "expires_at": invited.expires_at,
            })
            .to_string())
        }
        StaffCommand::List => {
            let mut out = Vec::new();
            for a in store::find_accounts(db).await?.into_iter().filter(|a| a.kind == AccountKind::Staff) {
                let roles = idp::store::staff::find_account_roles(db, &a.id).await?;
                let passkeys = idp::store::passkeys::find_passkeys(db, &a.id).await?;
                let mut v = serde_json::to_value(&a)?;
                v["roles"] = json!(roles);
                v["passkeys"] = passkeys
                    .iter()
                    .map(|p| json!({ "name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at }))
                    .collect();
                out.push(v.to_string());
            }
            Ok(out.join("\n"))
        }
        StaffCommand::Remove { account_id } => {
            staff_account(db, &account_id).await?;
            let app = crate::startup::idp_app(config, db).await?;
            let ended = idp::accounts::suspension::suspend(&app, &account_id, now).await?;
            idp::store::staff::delete_staff_access(db, &account_id).await?;
            store::update_account_status(db, &account_id, AccountStatus::Removed, now).await?;
            let mut detail = serde_json::to_value(&ended)?;
            detail["account_id"] = json!(account_id);
            actor.audit(db, now, "staff.remove", None, detail.clone()).await?;
            detail["status"] = json!("removed");
            Ok(detail.to_string())
        }
    }
}
