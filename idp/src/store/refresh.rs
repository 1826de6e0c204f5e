//! SQL of `refresh_tokens`: hashes only; each use marks the token used and issues a successor in
//! the same family.

use sqlx::Row;
use storage::Db;

use crate::session::Authentication;

/// How the person signed in and in which idp session, kept with a refresh token so that the
/// tokens of a refresh carry the same `auth_time`, `acr`, `amr` and `sid` (column `grant_info`,
/// JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GrantInfo {
    /// The sign-in behind the grant.
    pub auth: Option<Authentication>,
    /// The idp session's id (logout ends its grants).
    pub sid: Option<String>,
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// SHA-256 (base64url) of the token.
    pub token_hash: String,
    /// All tokens descending from one authorization share a family.
    pub family_id: String,
    /// The person.
    pub account_id: String,
    /// The client.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// How the person signed in and in which session.
    pub grant_info: GrantInfo,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When it was exchanged (a second use is a replay).
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// Stores a new token.
pub async fn create_refresh_token(db: &Db, t: &RefreshToken) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, account_id, client_id, scopes, grant_info, created_at, \
         expires_at, used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)",
    )
    .bind(&t.token_hash)
    .bind(&t.family_id)
    .bind(&t.account_id)
    .bind(&t.client_id)
    .bind(super::json(&t.scopes))
    .bind(super::json(&t.grant_info))
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A token by hash.
pub async fn find_refresh_token(db: &Db, token_hash: &str) -> Result<Option<RefreshToken>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT token_hash, family_id, account_id, client_id, scopes, grant_info, created_at, expires_at, used_at, \
         revoked_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(RefreshToken {
        token_hash: r.try_get("token_hash")?,
        family_id: r.try_get("family_id")?,
        account_id: r.try_get("account_id")?,
        client_id: r.try_get("client_id")?,
        scopes: super::from_json(&r.try_get::<String, _>("scopes")?)?,
        grant_info: super::from_json(&r.try_get::<String, _>("grant_info")?)?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    }))
}

/// Marks a token used; false when it was already used or revoked (exactly one concurrent
/// exchange wins).
pub async fn update_refresh_used(db: &Db, token_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every token of a family; returns how many were still unrevoked.
pub async fn update_family_revoked(db: &Db, family_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
            .bind(family_id)
            .bind(now)
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected())
}

/// Revokes every refresh token an account holds for a client (consent withdrawn); returns how
/// many were still unrevoked.
pub async fn update_client_revoked(
    db: &Db,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $3 WHERE account_id = $1 AND client_id = $2 AND revoked_at IS NULL",
    )
    .bind(account_id)
    .bind(client_id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every refresh token of an account (suspension); returns how many were still
/// unrevoked.
pub async fn update_account_revoked(db: &Db, account_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
            .bind(account_id)
            .bind(now)
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected())
}
