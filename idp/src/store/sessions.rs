//! SQL of `sessions`: the list of a person's idp sessions (the sessions themselves live in the
//! key-value store).

use storage::Db;

use super::{from_json, json};

/// One session as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session id.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// Unix seconds of the sign-in.
    pub created_at: i64,
    /// The absolute timeout.
    pub expires_at: i64,
}

/// Records a new session.
pub async fn create_session(db: &Db, s: &SessionRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, account_id, amr, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&s.id)
    .bind(&s.account_id)
    .bind(json(&s.amr))
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Sessions of an account that have not ended and are within their absolute timeout, newest
/// first.
pub async fn find_sessions(db: &Db, account_id: &str, now: i64) -> Result<Vec<SessionRecord>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, account_id, amr, created_at, expires_at FROM sessions \
         WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY created_at DESC",
    )
    .bind(account_id)
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(id, account_id, amr, created_at, expires_at)| {
            Ok(SessionRecord { id, account_id, amr: from_json(&amr)?, created_at, expires_at })
        })
        .collect()
}

/// Marks a session of `account_id` ended; false when there is no such open session.
pub async fn update_session_ended(
    db: &Db,
    account_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1 WHERE id = $2 AND account_id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(account_id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the clients that received tokens in a session.
pub async fn update_session_clients(db: &Db, id: &str, clients: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET clients = $2 WHERE id = $1")
        .bind(id)
        .bind(json(&clients))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Whether a session has been marked ended (false for an unknown one).
pub async fn find_session_ended(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let ended: Option<(Option<i64>,)> = sqlx::query_as("SELECT ended_at FROM sessions WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(ended.is_some_and(|(at,)| at.is_some()))
}

/// The sessions of an account not yet ended and within their absolute timeout, as their ids and
/// the clients recorded for them.
pub async fn find_open_session_clients(
    db: &Db,
    account_id: &str,
    now: i64,
) -> Result<Vec<(String, Vec<String>)>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, clients FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 \
         ORDER BY created_at",
    )
    .bind(account_id)
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(|(id, clients)| Ok((id, from_json(&clients)?))).collect()
}
