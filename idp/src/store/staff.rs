//! SQL of staff accounts: `account_roles` (roles held per account, for staff) and
//! `staff_invitations` (single-use invitation links, by token hash).

use storage::Db;

use crate::store::accounts::{Account, insert_account};

/// A stored invitation.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    /// SHA-256 of the token (the link carries the token).
    pub token_hash: String,
    /// The staff account it registers a passkey for.
    pub account_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; unusable from then on.
    pub expires_at: i64,
    /// Unix seconds of its use, once used.
    pub used_at: Option<i64>,
}

/// Creates a staff account with its roles and first invitation, in one transaction.
pub async fn create_staff(
    db: &Db,
    account: &Account,
    roles: &[String],
    invitation: &Invitation,
) -> Result<(), sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    insert_account(&mut tx, account).await?;
    for role in roles {
        sqlx::query("INSERT INTO account_roles (account_id, role, granted_at) VALUES ($1, $2, $3)")
            .bind(&account.id)
            .bind(role)
            .bind(account.created_at)
            .execute(&mut *tx)
            .await?;
    }
    insert_invitation(&mut tx, invitation).await?;
    tx.commit().await
}

async fn insert_invitation(conn: &mut sqlx::AnyConnection, i: &Invitation) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO staff_invitations (token_hash, account_id, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&i.token_hash)
    .bind(&i.account_id)
    .bind(i.created_at)
    .bind(i.expires_at)
    .bind(i.used_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds an invitation for an existing staff account (another passkey, a lost one).
pub async fn create_invitation(db: &Db, invitation: &Invitation) -> Result<(), sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    insert_invitation(&mut conn, invitation).await
}

/// The invitation with a token hash.
pub async fn find_invitation(db: &Db, token_hash: &str) -> Result<Option<Invitation>, sqlx::Error> {
    let row: Option<(String, String, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT token_hash, account_id, created_at, expires_at, used_at FROM staff_invitations WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(token_hash, account_id, created_at, expires_at, used_at)| Invitation {
        token_hash,
        account_id,
        created_at,
        expires_at,
        used_at,
    }))
}

/// Marks an invitation used, if it is unused and unexpired at `now`; false otherwise (so two
/// uses racing cannot both succeed).
pub async fn update_invitation_used(db: &Db, token_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE staff_invitations SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The roles held by an account (staff), sorted.
pub async fn find_account_roles(db: &Db, account_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT role FROM account_roles WHERE account_id = $1 ORDER BY role")
        .bind(account_id)
        .fetch_all(db.pool())
        .await
}

/// Grants `role` to an account; false when it had it already.
pub async fn create_account_role(
    db: &Db,
    account_id: &str,
    role: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO account_roles (account_id, role, granted_at) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id, role) DO NOTHING",
    )
    .bind(account_id)
    .bind(role)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws `role` from an account; false when it did not have it.
pub async fn delete_account_role(db: &Db, account_id: &str, role: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM account_roles WHERE account_id = $1 AND role = $2")
        .bind(account_id)
        .bind(role)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes what lets a removed staff account in: its roles, passkeys and invitations.
pub async fn delete_staff_access(db: &Db, account_id: &str) -> Result<(), sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    for table in ["account_roles", "passkeys", "staff_invitations"] {
        let sql = format!("DELETE FROM {table} WHERE account_id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).execute(&mut *tx).await?;
    }
    tx.commit().await
}
