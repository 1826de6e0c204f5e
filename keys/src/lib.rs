//! Signing keys, the master key that encrypts them at rest, JWS/JWK encoding, and the one
//! [`Clock`] of a process — what the idp (tokens) and the portal (document records) share.
//!
//! Keys are created at first start, stored encrypted, published at `/jwks`, rotated with
//! overlap.
//!
//! Keys form one series per algorithm. A key is *published* from its creation, *signs* from its
//! `signs_from` time (a rotation puts that `lead` after creation, so relying parties see the new
//! key before any token uses it) until the next key of its series signs, and stays published for
//! `retention` after that, so tokens it signed still verify.

pub mod clock;
mod crypto;
pub mod jwk;
mod master;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use storage::Db;

pub use clock::Clock;
pub use crypto::{KeyPair, SigningAlg};
pub use master::{MasterKey, MasterKeyError};
pub use store::KeyRecord;

/// Who owns a key series: the idp (tokens) or the portal (document records).
pub const OWNER_IDP: &str = "idp";

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Keys exist but no master key was given.
    #[error(
        "the database holds {0} encrypted signing key(s) but no master key is configured: set master_key or master_key_file to the key this database was created with"
    )]
    MasterKeyMissing(usize),
    /// The master key does not decrypt a stored key.
    #[error(
        "the master key does not decrypt signing key {0}: master_key/master_key_file is not the key this database was created with"
    )]
    WrongMasterKey(String),
    /// A stored key is damaged.
    #[error("signing key {kid} is damaged: {reason}")]
    Corrupt {
        /// The key.
        kid: String,
        /// What is wrong.
        reason: String,
    },
    /// Claims to sign do not serialize to JSON.
    #[error("claims do not serialize: {0}")]
    Claims(#[from] serde_json::Error),
    /// A token of ours did not verify.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// No key of this algorithm signs at this time.
    #[error("no {0} signing key is active")]
    NoActiveKey(SigningAlg),
}

/// Rotation timing.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// How long a rotated-in key is published before it signs.
    pub publish_lead: Duration,
    /// How long a replaced key stays published (at least the longest token lifetime).
    pub retention: Duration,
}

/// How long the key list read from the database is reused. A key made by another process
/// (`shikaku admin keys rotate`, another node) is seen within this time; a rotation publishes
/// its key `publish_lead` before it signs, far longer than this, and an unknown `kid` in a token
/// to verify reloads the list at once. Keys made through this [`Keys`] are seen at once.
pub const RECORDS_TTL: Duration = Duration::from_secs(5);

/// The key list as last read, and the JWK Set text last built from it.
#[derive(Debug, Default)]
struct Listed {
    records: Option<(Arc<Vec<KeyRecord>>, Instant)>,
    /// Published kids and the JWK Set text of exactly those keys.
    jwks: Option<(Vec<String>, Arc<str>)>,
}

/// The signing keys of one owner, with decrypted private keys cached in memory.
#[derive(Debug, Clone)]
pub struct Keys {
    db: Db,
    owner: &'static str,
    master: Arc<MasterKey>,
    policy: KeyPolicy,
    cache: Arc<Mutex<HashMap<String, Arc<KeyPair>>>>,
    listed: Arc<Mutex<Listed>>,
}

/// Whole seconds of `d`.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Keys {
    /// Opens the key set, checking that the master key decrypts every stored key.
    pub async fn open(
        db: Db,
        owner: &'static str,
        master: MasterKey,
        policy: KeyPolicy,
    ) -> Result<Self, KeyError> {
        let keys = Self {
            db,
            owner,
            master: Arc::new(master),
            policy,
            cache: Arc::default(),
            listed: Arc::default(),
        };
        for record in store::find_keys(&keys.db, owner).await? {
            keys.decrypt(&record)?;
        }
        Ok(keys)
    }

    /// Number of stored keys of `owner` (used before a master key exists).
    pub async fn count(db: &Db, owner: &str) -> Result<usize, KeyError> {
        Ok(store::find_keys(db, owner).await?.len())
    }

    /// Creates a key, signing at once, for every algorithm in `algs` that has no key signing by
    /// `now` (a first start, a newly configured algorithm, or a rotation run before the first
    /// start).
    pub async fn ensure(&self, algs: &[SigningAlg], now: i64) -> Result<Vec<KeyRecord>, KeyError> {
        let existing = store::find_keys(&self.db, self.owner).await?;
        let mut created = Vec::new();
        for alg in algs {
            if !existing.iter().any(|k| k.alg == alg.name() && k.signs_from <= now) {
                created.push(self.create(*alg, now, now).await?);
            }
        }
        Ok(created)
    }

    /// Starts a rotation of `alg`: a new key, published now, signing after the publish lead.
    pub async fn rotate(&self, alg: SigningAlg, now: i64) -> Result<KeyRecord, KeyError> {
        self.create(alg, now, now + secs(self.policy.publish_lead)).await
    }

    async fn create(&self, alg: SigningAlg, now: i64, signs_from: i64) -> Result<KeyRecord, KeyError> {
        let pair = tokio::task::spawn_blocking(move || KeyPair::generate(alg))
            .await
            .map_err(|e| KeyError::Corrupt { kid: "new".into(), reason: e.to_string() })?;
        let kid = pair.kid();
        let sealed = self.master.seal(&kid, &pair.to_pkcs8_der());
        let record = KeyRecord {
            kid: kid.clone(),
            owner: self.owner.to_owned(),
            alg: alg.name().to_owned(),
            public_jwk: pair.public_jwk().to_string(),
            private_key: sealed,
            created_at: now,
            signs_from,
        };
        store::create_key(&self.db, &record).await?;
        self.cache().insert(kid, Arc::new(pair));
        self.forget_records();
        Ok(record)
    }

    fn listed(&self) -> std::sync::MutexGuard<'_, Listed> {
        self.listed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops the cached key list: the next use reads the database.
    pub fn forget_records(&self) {
        self.listed().records = None;
    }

    /// The stored keys, from the cache when it is younger than [`RECORDS_TTL`].
    async fn records(&self) -> Result<Arc<Vec<KeyRecord>>, KeyError> {
        if let Some((records, at)) = &self.listed().records
            && at.elapsed() < RECORDS_TTL
        {
            return Ok(records.clone());
        }
        let records = Arc::new(store::find_keys(&self.db, self.owner).await?);
        self.listed().records = Some((records.clone(), Instant::now()));
        Ok(records)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<KeyPair>>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn decrypt(&self, record: &KeyRecord) -> Result<Arc<KeyPair>, KeyError> {
        if let Some(pair) = self.cache().get(&record.kid) {
            return Ok(pair.clone());
        }
        let der = self
            .master
            .open(&record.kid, &record.private_key)
            .ok_or_else(|| KeyError::WrongMasterKey(record.kid.clone()))?;
        let alg = SigningAlg::from_name(&record.alg).ok_or_else(|| KeyError::Corrupt {
            kid: record.kid.clone(),
            reason: format!("unknown alg {}", record.alg),
        })?;
        let pair = KeyPair::from_pkcs8_der(alg, &der)
            .map_err(|reason| KeyError::Corrupt { kid: record.kid.clone(), reason })?;
        let pair = Arc::new(pair);
        self.cache().insert(record.kid.clone(), pair.clone());
        Ok(pair)
    }

    /// Every stored key with its state at `now`.
    pub async fn list(&self, now: i64) -> Result<Vec<(KeyRecord, KeyState)>, KeyError> {
        let records = self.records().await?;
        Ok(states(&records, now, secs(self.policy.retention))
            .into_iter()
            .map(|(r, s)| (r.clone(), s))
            .collect())
    }

    /// The public keys to publish at `now`, as a JWK Set.
    pub async fn jwks(&self, now: i64) -> Result<Value, KeyError> {
        let keys: Vec<Value> = self
            .list(now)
            .await?
            .into_iter()
            .filter(|(_, s)| s.published())
            .filter_map(|(r, _)| serde_json::from_str(&r.public_jwk).ok())
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// [`jwks`](Self::jwks) as JSON text, rebuilt only when the set of published keys changes
    /// (a rotation, a key reaching the end of its retention).
    pub async fn jwks_text(&self, now: i64) -> Result<Arc<str>, KeyError> {
        let records = self.records().await?;
        let published: Vec<&KeyRecord> = states(&records, now, secs(self.policy.retention))
            .into_iter()
            .filter(|(_, s)| s.published())
            .map(|(r, _)| r)
            .collect();
        let kids: Vec<String> = published.iter().map(|r| r.kid.clone()).collect();
        if let Some((cached, text)) = &self.listed().jwks
            && *cached == kids
        {
            return Ok(text.clone());
        }
        let keys: Vec<Value> =
            published.iter().filter_map(|r| serde_json::from_str(&r.public_jwk).ok()).collect();
        let text: Arc<str> = serde_json::json!({ "keys": keys }).to_string().into();
        self.listed().jwks = Some((kids, text.clone()));
        Ok(text)
    }

    /// The key that signs `alg` tokens at `now`.
    pub async fn signer(&self, alg: SigningAlg, now: i64) -> Result<Arc<KeyPair>, KeyError> {
        let records = self.records().await?;
        let retention = secs(self.policy.retention);
        let found = states(&records, now, retention)
            .into_iter()
            .find(|(r, s)| *s == KeyState::Active && r.alg == alg.name())
            .map(|(r, _)| r.clone());
        let record = match found {
            Some(r) => r,
            None => {
                // A key another process just created (a newly configured algorithm).
                self.forget_records();
                let records = self.records().await?;
                let active = states(&records, now, retention)
                    .into_iter()
                    .find(|(r, s)| *s == KeyState::Active && r.alg == alg.name())
                    .map(|(r, _)| r.clone());
                match active {
                    Some(r) => r,
                    // The series exists but none of its keys signs at `now` (the clock was set
                    // back before the first key's start): a key signing from now keeps the
                    // series usable instead of failing every signature.
                    None if records.iter().any(|r| r.alg == alg.name()) => {
                        let created = self.create(alg, now, now).await?;
                        tracing::warn!(
                            owner = self.owner, kid = %created.kid, alg = %alg,
                            "no signing key was active at this time; created one"
                        );
                        created
                    }
                    None => return Err(KeyError::NoActiveKey(alg)),
                }
            }
        };
        self.decrypt(&record)
    }
}

impl Keys {
    /// Verifies a compact JWS signed by one of our published keys, with header `typ` and an
    /// `exp` after `now`; returns its claims.
    pub async fn verify_jws(&self, jws: &str, typ: &str, now: i64) -> Result<Value, KeyError> {
        let claims = self.verify_jws_any_age(jws, typ, now).await?;
        if claims["exp"].as_i64().is_none_or(|exp| exp <= now) {
            return Err(KeyError::InvalidToken("expired"));
        }
        Ok(claims)
    }

    /// Like [`verify_jws`](Self::verify_jws) but accepting an expired token (an ID token used
    /// as a logout hint). `now` decides which keys are still published.
    pub async fn verify_jws_any_age(&self, jws: &str, typ: &str, now: i64) -> Result<Value, KeyError> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::InvalidToken("not a compact JWS"));
        };
        let decode =
            |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| KeyError::InvalidToken("bad base64url"));
        let header: Value =
            serde_json::from_slice(&decode(h)?).map_err(|_| KeyError::InvalidToken("bad header"))?;
        if header["typ"].as_str() != Some(typ) {
            return Err(KeyError::InvalidToken("wrong typ"));
        }
        let kid = header["kid"].as_str().ok_or(KeyError::InvalidToken("no kid"))?;
        let mut listed = self.list(now).await?;
        if !listed.iter().any(|(r, _)| r.kid == kid) {
            // Perhaps a key another process created since the list was read.
            self.forget_records();
            listed = self.list(now).await?;
        }
        let (record, _) = listed
            .iter()
            .find(|(r, s)| r.kid == kid && s.published())
            .ok_or(KeyError::InvalidToken("unknown kid"))?;
        if header["alg"].as_str() != Some(record.alg.as_str()) {
            return Err(KeyError::InvalidToken("alg does not match the key"));
        }
        let pair = self.decrypt(record)?;
        if !pair.verify(format!("{h}.{p}").as_bytes(), &decode(s)?) {
            return Err(KeyError::InvalidToken("bad signature"));
        }
        let claims: Value =
            serde_json::from_slice(&decode(p)?).map_err(|_| KeyError::InvalidToken("bad payload"))?;
        if claims["exp"].as_i64().is_none_or(|exp| exp <= now) {
            return Err(KeyError::InvalidToken("expired"));
        }
        Ok(claims)
    }
}

/// Where a key is in its life at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Published and signing.
    Active,
    /// Replaced; still published so that tokens it signed verify.
    Retired,
    /// Replaced longer than the retention ago; no longer published.
    Expired,
}

impl KeyState {
    /// Whether the key is in the JWK Set.
    pub fn published(self) -> bool {
        !matches!(self, KeyState::Expired)
    }
}

/// States of `records` at `now`: per algorithm, the latest key whose `signs_from` has come is
/// active; a key is replaced when the next key of its series starts signing.
fn states(records: &[KeyRecord], now: i64, retention: i64) -> Vec<(&KeyRecord, KeyState)> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let successor = records
            .iter()
            .filter(|o| o.alg == r.alg && (o.signs_from, &o.kid) > (r.signs_from, &r.kid))
            .map(|o| o.signs_from)
            .min();
        let state = if r.signs_from > now {
            KeyState::Next
        } else {
            match successor {
                Some(s) if s <= now && s.saturating_add(retention) <= now => KeyState::Expired,
                Some(s) if s <= now => KeyState::Retired,
                _ => KeyState::Active,
            }
        };
        out.push((r, state));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kid: &str, alg: &str, signs_from: i64) -> KeyRecord {
        KeyRecord {
            kid: kid.into(),
            owner: "idp".into(),
            alg: alg.into(),
            public_jwk: "{}".into(),
            private_key: vec![],
            created_at: 0,
            signs_from,
        }
    }

    fn state_of(records: &[KeyRecord], kid: &str, now: i64) -> KeyState {
        states(records, now, 100).into_iter().find(|(r, _)| r.kid == kid).unwrap().1
    }

    #[test]
    fn rotation_timeline() {
        let keys = [rec("old", "ES256", 0), rec("new", "ES256", 1000), rec("rsa", "RS256", 0)];
        assert_eq!(state_of(&keys, "old", 999), KeyState::Active);
        assert_eq!(state_of(&keys, "new", 999), KeyState::Next);
        assert_eq!(state_of(&keys, "new", 1000), KeyState::Active);
        assert_eq!(state_of(&keys, "old", 1000), KeyState::Retired);
        assert_eq!(state_of(&keys, "old", 1099), KeyState::Retired);
        assert_eq!(state_of(&keys, "old", 1100), KeyState::Expired);
        assert_eq!(state_of(&keys, "rsa", 5000), KeyState::Active, "other series untouched");
    }
}
