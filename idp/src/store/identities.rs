//! SQL of `identity_attributes`: the registry's attributes of a card holder (registration
//! number, birth date, kana name), keyed by issuing CA and subscriber id.

use storage::Db;

/// Registry attributes of one card holder.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Identity {
    /// Issuing CA, as card sign-in records it (`cards.issuer`).
    pub issuer: String,
    /// Subject serialNumber of the card certificates.
    pub subscriber_id: String,
    /// Medical registration number (医籍登録番号), digits without leading zeros.
    pub registration_number: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// Name in katakana.
    pub kana_name: String,
}

/// The attributes of a card holder, if the registry has them.
pub async fn find_identity(
    db: &Db,
    issuer: &str,
    subscriber_id: &str,
) -> Result<Option<Identity>, sqlx::Error> {
    sqlx::query_as(
        "SELECT issuer, subscriber_id, registration_number, birth_date, kana_name FROM identity_attributes \
         WHERE issuer = $1 AND subscriber_id = $2",
    )
    .bind(issuer)
    .bind(subscriber_id)
    .fetch_optional(db.pool())
    .await
}

/// Inserts or replaces the attributes of each card holder (the registry is authoritative), in
/// one transaction.
pub async fn upsert_identities(db: &Db, identities: &[Identity], now: i64) -> Result<(), sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    for i in identities {
        sqlx::query(
            "INSERT INTO identity_attributes \
             (issuer, subscriber_id, registration_number, birth_date, kana_name, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (issuer, subscriber_id) DO UPDATE SET \
             registration_number = excluded.registration_number, birth_date = excluded.birth_date, \
             kana_name = excluded.kana_name, updated_at = excluded.updated_at",
        )
        .bind(&i.issuer)
        .bind(&i.subscriber_id)
        .bind(&i.registration_number)
        .bind(&i.birth_date)
        .bind(&i.kana_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
