//! The card validator: trusted CA certificates and CRLs from the database, parsed once and
//! reloaded at most every [`RELOAD_AFTER`] (so `admin ca add` on one node reaches every node).

pub mod crl_fetch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hpki::{CardTokenValidator, CheckOptions, Crl, Profile, RevocationMode, RoleFilter, TrustStore};
use storage::Db;
use tokio::sync::RwLock;

use crate::store::trust as store;

/// How long a loaded trust set is used before the database is read again.
pub const RELOAD_AFTER: Duration = Duration::from_secs(30);

/// A validator and the CRLs it checks against.
#[derive(Debug)]
pub struct Loaded {
    /// Validates card tokens against the trusted CAs.
    pub validator: CardTokenValidator,
    /// Parsed CRLs.
    pub crls: Vec<Crl>,
    /// CAs of relying parties' `tls_client_auth` certificates.
    pub client_cas: TrustStore,
}

/// The trust set, cached.
#[derive(Debug)]
pub struct Trust {
    db: Db,
    crl_grace: Duration,
    cache: RwLock<Option<(Instant, Arc<Loaded>)>>,
}

/// Errors loading the trust set.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl Trust {
    /// A trust set read from `db`; CRLs are used until `nextUpdate + crl_grace`.
    pub fn new(db: Db, crl_grace: Duration) -> Self {
        Self { db, crl_grace, cache: RwLock::new(None) }
    }

    /// The current validator (reloaded when older than [`RELOAD_AFTER`]).
    pub async fn load(&self) -> Result<Arc<Loaded>, TrustError> {
        if let Some((at, loaded)) = self.cache.read().await.as_ref()
            && at.elapsed() < RELOAD_AFTER
        {
            return Ok(loaded.clone());
        }
        let loaded = Arc::new(self.read().await?);
        *self.cache.write().await = Some((Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// Forgets the cached set (after an admin change in this process).
    pub async fn invalidate(&self) {
        *self.cache.write().await = None;
    }

    async fn read(&self) -> Result<Loaded, TrustError> {
        let cas = store::find_cas(&self.db).await?;
        let mut certs = Vec::new();
        let mut client_certs = Vec::new();
        for ca in &cas {
            match hpki::HpkiCertificate::parse(&ca.der) {
                Ok(c) if ca.purpose == store::PURPOSE_CLIENT => client_certs.push(c),
                Ok(c) => certs.push(c),
                Err(e) => {
                    tracing::error!(fingerprint = %ca.fingerprint, error = %e, "stored CA certificate does not parse")
                }
            }
        }
        let mut crls = Vec::new();
        for stored in store::find_crls(&self.db).await? {
            match Crl::parse(&stored.der) {
                Ok(c) => crls.push(c),
                Err(e) => tracing::error!(issuer = %stored.issuer, error = %e, "stored CRL does not parse"),
            }
        }
        let mut validator =
            CardTokenValidator::new(TrustStore::new(certs), Profile::hpki_with_roles(RoleFilter::Any));
        validator.options = CheckOptions {
            crl_grace: time::Duration::try_from(self.crl_grace).unwrap_or(time::Duration::HOUR),
            revocation: RevocationMode::Require,
        };
        Ok(Loaded { validator, crls, client_cas: TrustStore::new(client_certs) })
    }
}
