//! SQL of `card_roles`: staff roles of card holders (the `roles` claim).

use storage::Db;

/// Grants `role` to the holder of a card; false when they had it already.
pub async fn create_role(
    db: &Db,
    issuer: &str,
    subscriber_id: &str,
    role: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO card_roles (issuer, subscriber_id, role, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (issuer, subscriber_id, role) DO NOTHING",
    )
    .bind(issuer)
    .bind(subscriber_id)
    .bind(role)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws `role`; false when they did not have it.
pub async fn delete_role(
    db: &Db,
    issuer: &str,
    subscriber_id: &str,
    role: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM card_roles WHERE issuer = $1 AND subscriber_id = $2 AND role = $3")
        .bind(issuer)
        .bind(subscriber_id)
        .bind(role)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The roles of a card holder, sorted.
pub async fn find_roles(db: &Db, issuer: &str, subscriber_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT role FROM card_roles WHERE issuer = $1 AND subscriber_id = $2 ORDER BY role")
        .bind(issuer)
        .bind(subscriber_id)
        .fetch_all(db.pool())
        .await
}
