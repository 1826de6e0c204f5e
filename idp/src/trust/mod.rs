//! The card validator: trusted CA certificates and CRLs from the database, parsed once and
//! reloaded at most every [`RELOAD_AFTER`] (so `admin ca add` on one node reaches every node).

pub mod crl_fetch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hpki::{CardTokenValidator, CheckOptions, Crl, Profile, RevocationMode, RoleFilter, TrustStore};
use storage::Db;
use tokio::sync::RwLock;

use crate::app::App;
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

/// Checks an authentication certificate read from a card, with no signature from it (a TLS
/// handshake proved possession, or none is asked, as for a card read at a venue): purpose,
/// HPKI profile, validity, chain to a trusted CA and revocation (docs/design.md §5, steps 4–8
/// and 10). The outer error is the database's; the inner one the refusal, whose detail is
/// logged. Where only revocation could not be decided, the certificate's CRL distribution
/// points are recorded for fetching.
pub async fn check_certificate(
    app: &App,
    der: &[u8],
    now: i64,
) -> Result<Result<hpki::HpkiCertificate, hpki::ErrorCode>, TrustError> {
    let cert = match hpki::HpkiCertificate::from_der(der) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(code = e.code(), detail = %e.detail, "certificate refused");
            return Ok(Err(e.code));
        }
    };
    let trust = app.trust.load().await?;
    let at = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let v = &trust.validator;
    match hpki::verify_certificate(
        &cert,
        &v.trust,
        &trust.crls,
        at,
        hpki::Purpose::Authentication,
        &v.profile,
        &v.options,
    ) {
        Ok(_) => Ok(Ok(cert)),
        Err(e) => {
            if e.code == hpki::ErrorCode::RevocationUnavailable {
                // The chain held (revocation is checked last): remember where its CRL lives.
                crl_fetch::record_points(app, &cert, now).await;
            }
            tracing::info!(code = e.code(), detail = %e.detail, "certificate refused");
            Ok(Err(e.code))
        }
    }
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
