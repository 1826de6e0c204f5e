//! Passkeys of accounts (table `passkeys`): webauthn-rs's `Passkey` as JSON, with the name the
//! person gave it, the card whose sign-in bound it and when it was last used.

use sqlx::Row;
use sqlx::any::AnyRow;
use storage::Db;
use webauthn_rs::prelude::Passkey;

use crate::store::{from_json, json};

/// One stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    /// Random id (forms and audit use it; never the credential id).
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The WebAuthn credential id, base64url.
    pub credential_id: String,
    /// The WebAuthn user handle (UUID) registered with it.
    pub user_handle: String,
    /// The name the person gave it.
    pub name: String,
    /// The credential (public key, counter, flags).
    pub passkey: Passkey,
    /// Whether it may be synced between devices.
    pub backup_eligible: bool,
    /// The card whose sign-in bound it (issuer DN, subscriber id); none for staff.
    pub card: Option<(String, String)>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last sign-in with it.
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, account_id, credential_id, user_handle, name, credential, backup_eligible, \
                       card_issuer, card_subscriber_id, created_at, last_used_at";

fn row_to_passkey(r: &AnyRow) -> Result<PasskeyRecord, sqlx::Error> {
    let issuer: Option<String> = r.try_get("card_issuer")?;
    let subscriber: Option<String> = r.try_get("card_subscriber_id")?;
    Ok(PasskeyRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        credential_id: r.try_get("credential_id")?,
        user_handle: r.try_get("user_handle")?,
        name: r.try_get("name")?,
        passkey: from_json(&r.try_get::<String, _>("credential")?)?,
        backup_eligible: r.try_get::<i64, _>("backup_eligible")? != 0,
        card: issuer.zip(subscriber),
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// Stores a new passkey; `Ok(false)` when its credential id is already registered.
pub async fn create_passkey(db: &Db, p: &PasskeyRecord) -> Result<bool, sqlx::Error> {
    let (issuer, subscriber) = p.card.clone().unzip();
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO passkeys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )))
    .bind(&p.id)
    .bind(&p.account_id)
    .bind(&p.credential_id)
    .bind(&p.user_handle)
    .bind(&p.name)
    .bind(json(&p.passkey))
    .bind(i64::from(p.backup_eligible))
    .bind(issuer)
    .bind(subscriber)
    .bind(p.created_at)
    .bind(p.last_used_at)
    .execute(db.pool())
    .await;
    match done {
        Ok(_) => Ok(true),
        Err(e) if crate::store::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The passkeys of an account, oldest first.
pub async fn find_passkeys(db: &Db, account_id: &str) -> Result<Vec<PasskeyRecord>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM passkeys WHERE account_id = $1 ORDER BY created_at, id"
    )))
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(row_to_passkey).collect()
}

/// The passkey with a credential id (base64url).
pub async fn find_passkey_by_credential(
    db: &Db,
    credential_id: &str,
) -> Result<Option<PasskeyRecord>, sqlx::Error> {
    let row =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1")))
            .bind(credential_id)
            .fetch_optional(db.pool())
            .await?;
    row.as_ref().map(row_to_passkey).transpose()
}

/// Records a sign-in with a passkey: its updated credential (counter, backup flags) and time.
pub async fn update_passkey_use(
    db: &Db,
    id: &str,
    passkey: &Passkey,
    backup_eligible: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE passkeys SET credential = $2, backup_eligible = $3, last_used_at = $4 WHERE id = $1")
        .bind(id)
        .bind(json(passkey))
        .bind(i64::from(backup_eligible))
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Renames an account's passkey; false when the account has no such passkey.
pub async fn update_passkey_name(
    db: &Db,
    account_id: &str,
    id: &str,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE passkeys SET name = $3 WHERE account_id = $1 AND id = $2")
        .bind(account_id)
        .bind(id)
        .bind(name)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes an account's passkey; false when the account has no such passkey.
pub async fn delete_passkey(db: &Db, account_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM passkeys WHERE account_id = $1 AND id = $2")
        .bind(account_id)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}
