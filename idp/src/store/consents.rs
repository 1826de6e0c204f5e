//! SQL of `consents`.

use storage::Db;

use super::{from_json, json};

/// Scopes an account granted a client, if any.
pub async fn find_consent(
    db: &Db,
    account_id: &str,
    client_id: &str,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let scopes: Option<String> =
        sqlx::query_scalar("SELECT scopes FROM consents WHERE account_id = $1 AND client_id = $2")
            .bind(account_id)
            .bind(client_id)
            .fetch_optional(db.pool())
            .await?;
    scopes.map(|s| from_json(&s)).transpose()
}

/// Records (or widens) a consent.
pub async fn upsert_consent(
    db: &Db,
    account_id: &str,
    client_id: &str,
    scopes: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consents (account_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind(account_id)
    .bind(client_id)
    .bind(json(&scopes))
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Withdraws a consent; false when there was none.
pub async fn delete_consent(db: &Db, account_id: &str, client_id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM consents WHERE account_id = $1 AND client_id = $2")
        .bind(account_id)
        .bind(client_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every consent of an account: (client id, scopes, granted at), most recent first.
pub async fn find_consents(
    db: &Db,
    account_id: &str,
) -> Result<Vec<(String, Vec<String>, i64)>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT client_id, scopes, granted_at FROM consents WHERE account_id = $1 ORDER BY granted_at DESC, client_id",
    )
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(|(c, s, at)| Ok((c, from_json(&s)?, at))).collect()
}
