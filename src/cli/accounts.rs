//! `shikaku admin account …` and `shikaku admin audit …`.

use anyhow::bail;
use idp::store::accounts as store;
use serde_json::json;
use storage::Db;

use crate::cli::admin::Actor;
use crate::config::Config;

/// `admin account …`.
#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// List accounts with their cards, one JSON object per line.
    List,
    /// Suspend an account: its sign-ins and new tokens are refused, its refresh tokens revoked
    /// and its sessions ended; each client that got tokens in one of them receives a back-channel
    /// logout token (the command waits for the deliveries, with their retries).
    Suspend {
        /// Account id (ids may begin with `-`; they are taken as the id, not an option).
        #[arg(allow_hyphen_values = true)]
        account_id: String,
    },
    /// Resume a suspended account.
    Resume {
        /// Account id (ids may begin with `-`; they are taken as the id, not an option).
        #[arg(allow_hyphen_values = true)]
        account_id: String,
    },
    /// Issue a one-time emergency sign-in for a doctor whose card is lost or broken (prints
    /// the link, once; audited with the reason). It gives the lowest `acr`, `emergency`:
    /// clients that ask for the card or a passkey do not accept it. The doctor sees it on
    /// `/account`.
    Emergency {
        /// The doctor's account id (ids may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        account_id: String,
        /// Why (recorded in the audit log and shown to the doctor), e.g. "card lost, reissue pending".
        #[arg(long)]
        reason: String,
        /// Hours the link stays valid (1 to 12).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=12))]
        valid_hours: u64,
    },
    /// Grant a staff role (the portal knows `organizer` and `operator`) to the holder of a card,
    /// named by issuing CA and subscriber id as `account list` shows them, or to a staff account
    /// (`--account ID`); released as the `roles` claim from their next sign-in, also before
    /// their first one.
    GrantRole(RoleArgs),
    /// Withdraw a staff role.
    RevokeRole(RoleArgs),
}

/// Whose role, and which: a card holder (by card) or a staff account (by id).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["issuer", "account"])))]
pub struct RoleArgs {
    /// Issuing CA of the card, exactly as `account list` prints it (`C=JP, O=…, CN=…`).
    #[arg(long, requires = "subscriber_id")]
    issuer: Option<String>,
    /// Subject serialNumber of the card certificates.
    #[arg(long, requires = "issuer")]
    subscriber_id: Option<String>,
    /// A staff account's id (`admin staff list`), instead of a card.
    #[arg(long, conflicts_with_all = ["issuer", "subscriber_id"], allow_hyphen_values = true)]
    account: Option<String>,
    /// The role: 1–32 of `a-z 0-9 _ -`.
    role: String,
}

/// Checks a role name: 1 to 32 of `a-z 0-9 _ -`.
pub fn check_role(role: &str) -> anyhow::Result<()> {
    let valid = (1..=32).contains(&role.len())
        && role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        bail!("role {role:?} must be 1 to 32 of a-z 0-9 _ -");
    }
    Ok(())
}

/// Grants or withdraws a role and audits it.
async fn change_role(
    db: &Db,
    args: RoleArgs,
    grant: bool,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<String> {
    check_role(&args.role)?;
    let role = args.role;
    let event = if grant { "role.grant" } else { "role.revoke" };
    if let Some(account_id) = args.account {
        match store::find_account(db, &account_id).await? {
            Some(a) if a.kind == store::AccountKind::Staff && a.status != store::AccountStatus::Removed => {}
            Some(a) if a.kind == store::AccountKind::Staff => {
                bail!("staff account {account_id:?} was removed")
            }
            Some(_) => {
                bail!("account {account_id:?} holds a card: give --issuer and --subscriber-id of its card")
            }
            None => bail!("no account {account_id:?}"),
        }
        let changed = if grant {
            idp::store::staff::create_account_role(db, &account_id, &role, now).await?
        } else {
            idp::store::staff::delete_account_role(db, &account_id, &role).await?
        };
        if !grant && !changed {
            bail!("staff account {account_id:?} has no role {role:?}");
        }
        actor
            .audit(
                db,
                now,
                event,
                None,
                json!({ "account_id": account_id, "role": role, "changed": changed }),
            )
            .await?;
        let roles = idp::store::staff::find_account_roles(db, &account_id).await?;
        return Ok(json!({ "account_id": account_id, "roles": roles }).to_string());
    }
    let (Some(issuer), Some(subscriber_id)) = (args.issuer, args.subscriber_id) else {
        bail!("give --issuer and --subscriber-id of a card, or --account of a staff account");
    };
    let changed = if grant {
        idp::store::roles::create_role(db, &issuer, &subscriber_id, &role, now).await?
    } else {
        idp::store::roles::delete_role(db, &issuer, &subscriber_id, &role).await?
    };
    if !grant && !changed {
        bail!("the holder of that card has no role {role:?}");
    }
    let detail =
        json!({ "issuer": issuer, "subscriber_id": subscriber_id, "role": role, "changed": changed });
    actor.audit(db, now, event, None, detail).await?;
    let roles = idp::store::roles::find_roles(db, &issuer, &subscriber_id).await?;
    Ok(json!({ "issuer": issuer, "subscriber_id": subscriber_id, "roles": roles }).to_string())
}

/// `admin audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the audit log; exit 1 when an entry was changed or removed.
    Verify,
}

/// Runs one `admin account` subcommand (each change audited); returns what to print.
pub async fn run_account(
    cmd: AccountCommand,
    config: &Config,
    db: &Db,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<String> {
    match cmd {
        AccountCommand::List => {
            let mut out = Vec::new();
            for a in store::find_accounts(db).await? {
                let cards = store::find_cards(db, &a.id).await?;
                let mut v = serde_json::to_value(&a)?;
                v["cards"] = serde_json::to_value(cards)?;
                out.push(v.to_string());
            }
            Ok(out.join("\n"))
        }
        AccountCommand::Suspend { account_id } => {
            if store::find_account(db, &account_id).await?.is_none() {
                bail!("no account {account_id:?}");
            }
            let app = crate::startup::idp_app(config, db).await?;
            let Some(done) = idp::accounts::suspension::suspend(&app, &account_id, now).await? else {
                bail!("no account {account_id:?}");
            };
            let mut detail = serde_json::to_value(&done)?;
            detail["account_id"] = json!(account_id);
            actor.audit(db, now, "account.suspend", None, detail.clone()).await?;
            detail["status"] = json!("suspended");
            Ok(detail.to_string())
        }
        AccountCommand::Resume { account_id } => {
            if store::find_account(db, &account_id)
                .await?
                .is_some_and(|a| a.status == store::AccountStatus::Removed)
            {
                bail!("account {account_id:?} was removed (admin staff remove); invite the person again");
            }
            if !store::update_account_status(db, &account_id, store::AccountStatus::Active, now).await? {
                bail!("no account {account_id:?}");
            }
            actor.audit(db, now, "account.resume", None, json!({ "account_id": account_id })).await?;
            Ok(json!({ "account_id": account_id, "status": "active" }).to_string())
        }
        AccountCommand::Emergency { account_id, reason, valid_hours } => {
            let ttl = std::time::Duration::from_secs(valid_hours * 3600);
            let issued =
                idp::signin::emergency::issue(db, &account_id, &reason, actor.name(), ttl, now).await?;
            let detail =
                json!({ "account_id": account_id, "reason": reason.trim(), "expires_at": issued.expires_at });
            actor.audit(db, now, "account.emergency", None, detail).await?;
            Ok(json!({
                "account_id": account_id,
                "reason": reason.trim(),
                "link": idp::signin::emergency::link(&config.idp_public_url, &issued.token),
                "expires_at": issued.expires_at,
            })
            .to_string())
        }
        AccountCommand::GrantRole(args) => change_role(db, args, true, actor, now).await,
        AccountCommand::RevokeRole(args) => change_role(db, args, false, actor, now).await,
    }
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
