//! SQL of `emergency_grants`: one-time emergency sign-ins issued by an operator.

use storage::Db;

/// One emergency grant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Grant {
    /// SHA-256 of the link's token.
    #[serde(skip)]
    pub token_hash: String,
    /// The doctor's account.
    pub account_id: String,
    /// Why it was issued (the operator's words).
    pub reason: String,
    /// The operator who issued it.
    pub issued_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; unusable from then on.
    pub expires_at: i64,
    /// Unix seconds of its use.
    pub used_at: Option<i64>,
    /// The client address it was used from.
    pub used_ip: Option<String>,
}

type Row = (String, String, String, String, i64, i64, Option<i64>, Option<String>);

fn from_row(
    (token_hash, account_id, reason, issued_by, created_at, expires_at, used_at, used_ip): Row,
) -> Grant {
    Grant { token_hash, account_id, reason, issued_by, created_at, expires_at, used_at, used_ip }
}

const COLUMNS: &str = "token_hash, account_id, reason, issued_by, created_at, expires_at, used_at, used_ip";

/// Stores a new grant.
pub async fn create_grant(db: &Db, g: &Grant) -> Result<(), sqlx::Error> {
    let sql = format!("INSERT INTO emergency_grants ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&g.token_hash)
        .bind(&g.account_id)
        .bind(&g.reason)
        .bind(&g.issued_by)
        .bind(g.created_at)
        .bind(g.expires_at)
        .bind(g.used_at)
        .bind(&g.used_ip)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The grant with a token hash.
pub async fn find_grant(db: &Db, token_hash: &str) -> Result<Option<Grant>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM emergency_grants WHERE token_hash = $1");
    let row: Option<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(db.pool()).await?;
    Ok(row.map(from_row))
}

/// The grants of an account, newest first.
pub async fn find_grants(db: &Db, account_id: &str) -> Result<Vec<Grant>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM emergency_grants WHERE account_id = $1 ORDER BY created_at DESC");
    let rows: Vec<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Uses a grant up if it is unused and unexpired at `now`; false otherwise (two uses racing
/// cannot both succeed).
pub async fn update_grant_used(
    db: &Db,
    token_hash: &str,
    ip: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE emergency_grants SET used_at = $2, used_ip = $3 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .bind(ip)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
