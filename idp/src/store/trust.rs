//! SQL of `trusted_cas` and `crls`.

use storage::Db;

/// A trusted CA certificate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrustedCa {
    /// SHA-256 of the DER, hex.
    pub fingerprint: String,
    /// Subject DN.
    pub subject: String,
    /// The certificate.
    pub der: Vec<u8>,
    /// Unix seconds.
    pub added_at: i64,
}

/// A stored CRL.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCrl {
    /// Issuer DN.
    pub issuer: String,
    /// The CRL.
    pub der: Vec<u8>,
    /// Unix seconds.
    pub this_update: i64,
    /// Unix seconds.
    pub next_update: Option<i64>,
    /// `file:NAME` or the distribution point URL.
    pub source: String,
    /// Unix seconds.
    pub fetched_at: i64,
}

/// Every trusted CA.
pub async fn find_cas(db: &Db) -> Result<Vec<TrustedCa>, sqlx::Error> {
    sqlx::query_as(
        "SELECT fingerprint, subject, der, added_at FROM trusted_cas ORDER BY added_at, fingerprint",
    )
    .fetch_all(db.pool())
    .await
}

/// Adds a CA; false when it was already there.
pub async fn create_ca(db: &Db, ca: &TrustedCa) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO trusted_cas (fingerprint, subject, der, added_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (fingerprint) DO NOTHING",
    )
    .bind(&ca.fingerprint)
    .bind(&ca.subject)
    .bind(&ca.der)
    .bind(ca.added_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a CA by fingerprint; false when it was not there.
pub async fn delete_ca(db: &Db, fingerprint: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM trusted_cas WHERE fingerprint = $1")
        .bind(fingerprint)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every stored CRL.
pub async fn find_crls(db: &Db) -> Result<Vec<StoredCrl>, sqlx::Error> {
    sqlx::query_as(
        "SELECT issuer, der, this_update, next_update, source, fetched_at FROM crls ORDER BY issuer",
    )
    .fetch_all(db.pool())
    .await
}

/// Stores a CRL, replacing an older one of the same issuer (never a newer one).
pub async fn upsert_crl(db: &Db, crl: &StoredCrl) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO crls (issuer, der, this_update, next_update, source, fetched_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (issuer) DO UPDATE SET der = excluded.der, this_update = excluded.this_update, \
         next_update = excluded.next_update, source = excluded.source, fetched_at = excluded.fetched_at \
         WHERE crls.this_update <= excluded.this_update",
    )
    .bind(&crl.issuer)
    .bind(&crl.der)
    .bind(crl.this_update)
    .bind(crl.next_update)
    .bind(&crl.source)
    .bind(crl.fetched_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
