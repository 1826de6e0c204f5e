//! SQL of the `signing_keys` table.

use storage::Db;

/// One stored key (private part encrypted).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRecord {
    /// Key id: the RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// `idp` or `portal`.
    pub owner: String,
    /// JWS algorithm.
    pub alg: String,
    /// Public JWK (JSON).
    pub public_jwk: String,
    /// Encrypted PKCS#8 private key.
    pub private_key: Vec<u8>,
    /// Unix seconds of creation (publication).
    pub created_at: i64,
    /// Unix seconds from which it signs.
    pub signs_from: i64,
}

pub(super) async fn find_keys(db: &Db, owner: &str) -> Result<Vec<KeyRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, owner, alg, public_jwk, private_key, created_at, signs_from \
         FROM signing_keys WHERE owner = $1 ORDER BY signs_from, kid",
    )
    .bind(owner)
    .fetch_all(db.pool())
    .await
}

pub(super) async fn create_key(db: &Db, k: &KeyRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, owner, alg, public_jwk, private_key, created_at, signs_from) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&k.kid)
    .bind(&k.owner)
    .bind(&k.alg)
    .bind(&k.public_jwk)
    .bind(&k.private_key)
    .bind(k.created_at)
    .bind(k.signs_from)
    .execute(db.pool())
    .await?;
    Ok(())
}
