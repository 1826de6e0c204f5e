//! SQL of the `documents` table: issued documents with their signed JWS and revocation.

use storage::Db;

use crate::store::StoreError;

/// One issued document as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DocumentRecord {
    /// Random URL-safe id (22 characters, 128 bits).
    pub id: String,
    /// `attendance`, `statement` or `jma_certificate`.
    pub kind: String,
    /// The doctor.
    pub registration_number: String,
    /// First day of the period, `YYYYMMDD`.
    pub period_from: i64,
    /// Last day of the period, `YYYYMMDD`.
    pub period_to: i64,
    /// Unix seconds of issue.
    pub issued_at: i64,
    /// The compact JWS holding the whole content.
    pub jws: String,
    /// Unix seconds of revocation, if revoked.
    pub revoked_at: Option<i64>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

const COLUMNS: &str =
    "id, kind, registration_number, period_from, period_to, issued_at, jws, revoked_at, revoked_reason";

/// Stores a newly issued document.
pub async fn create_document(db: &Db, d: &DocumentRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO documents (id, kind, registration_number, period_from, period_to, issued_at, jws) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&d.id)
    .bind(&d.kind)
    .bind(&d.registration_number)
    .bind(d.period_from)
    .bind(d.period_to)
    .bind(d.issued_at)
    .bind(&d.jws)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The document with this id.
pub async fn find_document(db: &Db, id: &str) -> Result<Option<DocumentRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM documents WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(db.pool()).await?)
}

/// A doctor's documents, newest first.
pub async fn find_documents_of(
    db: &Db,
    registration_number: &str,
) -> Result<Vec<DocumentRecord>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM documents WHERE registration_number = $1 ORDER BY issued_at DESC, id");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(registration_number).fetch_all(db.pool()).await?)
}

/// Revokes a document. Revoking again changes nothing (the first date and reason stay);
/// an unknown id is [`StoreError::NotFound`].
pub async fn update_document_revoked(db: &Db, id: &str, reason: &str, now: i64) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE documents SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    match find_document(db, id).await? {
        Some(_) => Err(StoreError::Conflict("the document is already revoked".into())),
        None => Err(StoreError::NotFound),
    }
}

/// The confirmed attendances of a doctor between two days (`YYYYMMDD`, both included), oldest
/// first, one row per credit: (date, event id, title, system id, code, units).
pub async fn find_confirmed_rows(
    db: &Db,
    registration_number: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, String, String, String, String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT a.attended_on, e.id, e.title, c.system_id, c.code, c.units FROM attendances a \
         JOIN events e ON e.id = a.event_id \
         JOIN attendance_credits c ON c.attendance_id = a.id \
         JOIN credit_systems s ON s.id = c.system_id \
         JOIN credit_codes cc ON cc.system_id = c.system_id AND cc.code = c.code \
         WHERE a.registration_number = $1 AND a.status = 'confirmed' \
         AND a.attended_on >= $2 AND a.attended_on <= $3 \
         ORDER BY a.attended_on, a.id, s.sort_order, cc.sort_order",
    )
    .bind(registration_number)
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?)
}
