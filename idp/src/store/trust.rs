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
    /// [`PURPOSE_CARD`] or [`PURPOSE_CLIENT`].
    pub purpose: String,
}

/// A CA of card (sign-in) certificates.
pub const PURPOSE_CARD: &str = "card";
/// A CA of relying parties' `tls_client_auth` certificates.
pub const PURPOSE_CLIENT: &str = "client";

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
        "SELECT fingerprint, subject, der, added_at, purpose FROM trusted_cas ORDER BY added_at, fingerprint",
    )
    .fetch_all(db.pool())
    .await
}

/// Adds a CA; false when it was already there.
pub async fn create_ca(db: &Db, ca: &TrustedCa) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO trusted_cas (fingerprint, subject, der, added_at, purpose) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (fingerprint) DO NOTHING",
    )
    .bind(&ca.fingerprint)
    .bind(&ca.subject)
    .bind(&ca.der)
    .bind(ca.added_at)
    .bind(&ca.purpose)
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

/// Removes the CRL of `issuer`; false when there was none.
pub async fn delete_crl(db: &Db, issuer: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM crls WHERE issuer = $1").bind(issuer).execute(db.pool()).await?;
    Ok(done.rows_affected() == 1)
}

/// A distribution point recorded from a card certificate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CrlSource {
    /// The http(s) URL.
    pub url: String,
    /// Unix seconds, last seen in a certificate.
    pub seen_at: i64,
    /// Unix seconds of the last fetch attempt.
    pub last_attempt_at: Option<i64>,
    /// Why the last attempt failed (absent when it succeeded or none was made).
    pub last_error: Option<String>,
}

/// Every recorded distribution point.
pub async fn find_crl_sources(db: &Db) -> Result<Vec<CrlSource>, sqlx::Error> {
    sqlx::query_as("SELECT url, seen_at, last_attempt_at, last_error FROM crl_sources ORDER BY url")
        .fetch_all(db.pool())
        .await
}

/// Records a distribution point seen at `now` (known points get a new `seen_at`).
pub async fn create_crl_source(db: &Db, url: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO crl_sources (url, seen_at) VALUES ($1, $2) \
         ON CONFLICT (url) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(url)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Notes the outcome of a fetch of a recorded point (no effect on points not recorded).
pub async fn update_crl_source_attempt(
    db: &Db,
    url: &str,
    now: i64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE crl_sources SET last_attempt_at = $1, last_error = $2 WHERE url = $3")
        .bind(now)
        .bind(error)
        .bind(url)
        .execute(db.pool())
        .await?;
    Ok(())
}
