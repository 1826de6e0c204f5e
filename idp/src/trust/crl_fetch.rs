//! Revocation sources (docs/design.md §5): CRLs fetched from distribution points, only from hosts on
//! the operator's allow-list, with a size and a time limit, verified against a trusted CA
//! before they are stored (an older CRL never replaces a newer one).
//!
//! The points fetched are the configured `crl_urls`, the http(s) distribution points of the
//! trusted CA certificates, and those of card certificates seen at sign-in (`crl_sources`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use hpki::{Crl, DistributionPoint, HpkiCertificate};
use serde::Serialize;
use storage::Db;

use crate::app::App;
use crate::store::trust::{self as store, StoredCrl};

/// Where and how CRLs are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// URLs fetched besides the distribution points found in certificates.
    pub urls: Vec<String>,
    /// Hosts (exact names or IP addresses, case-insensitive) that may be fetched from.
    pub allow_hosts: Vec<String>,
    /// Largest CRL accepted, in bytes.
    pub max_bytes: u64,
    /// Time limit of one fetch (connect and download).
    pub timeout: Duration,
    /// Interval of the background refresh; `None` turns it off.
    pub refresh_every: Option<Duration>,
    /// Distribution points whose CRLs are loaded locally and never fetched (the demo PKI's,
    /// whose host under `.invalid` cannot resolve).
    pub local: Vec<String>,
    /// Which internal addresses fetches may reach (`outbound_allow_addresses`).
    pub outbound: crate::outbound::Guard,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            allow_hosts: Vec::new(),
            max_bytes: 20 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            refresh_every: Some(Duration::from_secs(3600)),
            local: Vec::new(),
            outbound: crate::outbound::Guard::default(),
        }
    }
}

/// Why one CRL was not stored.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not an http:// or https:// URL.
    #[error("not an http(s) URL")]
    BadUrl,
    /// The host is not on `crl_fetch_allow_hosts`.
    #[error("host {0} is not in crl_fetch_allow_hosts")]
    HostNotAllowed(String),
    /// The URL names an internal address that `outbound_allow_addresses` does not allow.
    #[error("{0}")]
    AddressNotAllowed(String),
    /// The server answered with an error (redirects are not followed).
    #[error("HTTP status {0}")]
    Status(u16),
    /// The body exceeds `crl_fetch_max_bytes`.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    /// Connecting or reading failed, or took too long.
    #[error("request failed: {0}")]
    Http(String),
    /// The body is not a CRL we accept.
    #[error("not a usable CRL: {0}")]
    NotACrl(String),
    /// No trusted CA signed it.
    #[error("not signed by a trusted CA (issuer {0})")]
    UntrustedSigner(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl FetchError {
    /// A short machine-readable name.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::BadUrl => "bad_url",
            FetchError::HostNotAllowed(_) => "host_not_allowed",
            FetchError::AddressNotAllowed(_) => "address_not_allowed",
            FetchError::Status(_) => "http_status",
            FetchError::TooLarge(_) => "too_large",
            FetchError::Http(_) => "http_error",
            FetchError::NotACrl(_) => "not_a_crl",
            FetchError::UntrustedSigner(_) => "untrusted_signer",
            FetchError::Db(_) => "database",
        }
    }
}

/// A CRL fetched and verified.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    /// Subject of the CA that signed it.
    pub issuer: String,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: Option<i64>,
    /// Revoked entries.
    pub entries: usize,
    /// Whether it was stored (false: the stored one is newer or the same age).
    pub stored: bool,
}

/// Fetches CRLs under a [`FetchConfig`].
#[derive(Debug)]
pub struct CrlFetcher {
    http: reqwest::Client,
    config: FetchConfig,
    /// Distribution points this process recorded, with when: a sign-in writes a point's
    /// `seen_at` again only after [`SEEN_REFRESH`], not at every card use.
    recorded: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

/// Seconds after which a distribution point seen again is written again (its `seen_at`).
pub const SEEN_REFRESH: i64 = 3600;

impl CrlFetcher {
    /// A fetcher; no redirects are followed and no cookies kept.
    pub fn new(config: FetchConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .dns_resolver(Arc::new(config.outbound.clone()))
            .user_agent(concat!("shikaku/", env!("CARGO_PKG_VERSION"), " (CRL fetch)"))
            .build()?;
        Ok(Self { http, config, recorded: Default::default() })
    }

    fn recorded(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, i64>> {
        self.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `url` is due to be written (not recorded by this process in the last
    /// [`SEEN_REFRESH`] seconds); if so, notes it as recorded at `now`.
    fn claim_point(&self, url: &str, now: i64) -> bool {
        let mut recorded = self.recorded();
        match recorded.get(url) {
            Some(at) if now.saturating_sub(*at) < SEEN_REFRESH => false,
            _ => {
                recorded.insert(url.to_owned(), now);
                true
            }
        }
    }

    /// The settings.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Checks scheme and host of `url` against the allow-list.
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| FetchError::BadUrl)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl);
        }
        let host = parsed.host_str().ok_or(FetchError::BadUrl)?.to_ascii_lowercase();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if !self
            .config
            .allow_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(bare) || h.eq_ignore_ascii_case(&host))
        {
            return Err(FetchError::HostNotAllowed(host));
        }
        self.config.outbound.check_url(url).map_err(FetchError::AddressNotAllowed)?;
        Ok(parsed)
    }

    /// Downloads `url` within the size and time limits.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let parsed = self.check_url(url)?;
        let max = self.config.max_bytes;
        let http_err = |e: reqwest::Error| FetchError::Http(e.without_url().to_string());
        let mut res = self.http.get(parsed).send().await.map_err(http_err)?;
        if !res.status().is_success() {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        if res.content_length().is_some_and(|n| n > max) {
            return Err(FetchError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(http_err)? {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Fetches one CRL, verifies it against the trusted CAs and stores it.
    pub async fn fetch_one(
        &self,
        db: &Db,
        cas: &[HpkiCertificate],
        url: &str,
        now: i64,
    ) -> Result<Fetched, FetchError> {
        let bytes = self.download(url).await?;
        store_verified(db, cas, &bytes, url, now).await
    }

    /// Every point to fetch: configured URLs, the trusted CAs' http(s) distribution points and
    /// the recorded card points, without duplicates, and without the local ones.
    pub async fn urls(&self, db: &Db, cas: &[HpkiCertificate]) -> Result<Vec<String>, sqlx::Error> {
        let recorded = store::find_crl_sources(db).await?.into_iter().map(|s| s.url);
        Ok(points_to_fetch(&self.config, cas.iter().flat_map(http_points).chain(recorded)))
    }

    /// Fetches every point once; the outcome per URL.
    pub async fn refresh(
        &self,
        db: &Db,
        now: i64,
    ) -> Result<Vec<(String, Result<Fetched, FetchError>)>, sqlx::Error> {
        let cas = trusted_cas(db).await?;
        let mut out = Vec::new();
        for url in self.urls(db, &cas).await? {
            let outcome = self.fetch_one(db, &cas, &url, now).await;
            let error = outcome.as_ref().err().map(ToString::to_string);
            store::update_crl_source_attempt(db, &url, now, error.as_deref()).await?;
            out.push((url, outcome));
        }
        Ok(out)
    }
}

/// The configured URLs and `found` (distribution points of CAs and cards), sorted, without
/// duplicates, and without the points of `config.local`.
fn points_to_fetch(config: &FetchConfig, found: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut urls: BTreeSet<String> = config.urls.iter().cloned().collect();
    urls.extend(found);
    urls.into_iter().filter(|u| !config.local.contains(u)).collect()
}

/// The trusted CA certificates that parse.
pub async fn trusted_cas(db: &Db) -> Result<Vec<HpkiCertificate>, sqlx::Error> {
    Ok(store::find_cas(db).await?.iter().filter_map(|c| HpkiCertificate::parse(&c.der).ok()).collect())
}

/// Verifies CRL bytes against the trusted CAs and stores them (never over a newer CRL).
pub async fn store_verified(
    db: &Db,
    cas: &[HpkiCertificate],
    bytes: &[u8],
    source: &str,
    now: i64,
) -> Result<Fetched, FetchError> {
    let crl = Crl::parse(bytes).map_err(|e| FetchError::NotACrl(e.detail))?;
    let issuer = cas
        .iter()
        .find(|ca| crl.is_issued_by_name(ca) && crl.verify_signature(ca).is_ok())
        .ok_or_else(|| FetchError::UntrustedSigner(crl.issuer.clone()))?;
    let stored = StoredCrl {
        issuer: issuer.subject.clone(),
        der: bytes.to_vec(),
        this_update: crl.this_update.unix_timestamp(),
        next_update: crl.next_update.map(|t| t.unix_timestamp()),
        source: source.to_owned(),
        fetched_at: now,
    };
    let replaced = store::upsert_crl(db, &stored).await?;
    Ok(Fetched {
        issuer: stored.issuer,
        this_update: stored.this_update,
        next_update: stored.next_update,
        entries: crl.len(),
        stored: replaced,
    })
}

/// The http(s) URIs among a certificate's CRL distribution points.
pub fn http_points(cert: &HpkiCertificate) -> Vec<String> {
    cert.crl_distribution_points
        .iter()
        .filter_map(|dp| match dp {
            DistributionPoint::Uri(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Some(u.clone())
            }
            _ => None,
        })
        .collect()
}

/// Records the http(s) distribution points of a card certificate that chained to a trusted CA,
/// so the next refresh fetches its issuer's CRL. Failures are logged only.
/// A point this process recorded less than [`SEEN_REFRESH`] ago is not written again.
pub async fn record_points(app: &App, cert: &HpkiCertificate, now: i64) {
    for url in http_points(cert) {
        if !app.crl_fetcher.claim_point(&url, now) {
            continue;
        }
        if let Err(e) = store::create_crl_source(&app.db, &url, now).await {
            tracing::warn!(error = %e, "cannot record a CRL distribution point");
            app.crl_fetcher.recorded().remove(&url);
        }
    }
}

/// Refreshes once, logs the outcome and drops the cached trust set if anything was stored.
pub async fn refresh_and_log(app: &App) {
    match app.crl_fetcher.refresh(&app.db, app.clock.now()).await {
        Ok(outcomes) => {
            let mut changed = false;
            for (url, outcome) in outcomes {
                match outcome {
                    Ok(f) => {
                        changed |= f.stored;
                        tracing::info!(%url, issuer = %f.issuer, next_update = ?f.next_update, stored = f.stored, "fetched CRL");
                    }
                    Err(e) => tracing::warn!(%url, code = e.code(), error = %e, "CRL fetch failed"),
                }
            }
            if changed {
                app.trust.invalidate().await;
            }
        }
        Err(e) => tracing::error!(error = %e, "CRL refresh failed"),
    }
}

/// Runs [`refresh_and_log`] now and then again after [`next_delay`], until the task is dropped.
/// Does nothing when the refresh is turned off.
pub async fn run_schedule(app: Arc<App>) {
    let Some(every) = app.crl_fetcher.config.refresh_every else { return };
    loop {
        refresh_and_log(&app).await;
        let next_updates = match store::find_crls(&app.db).await {
            Ok(crls) => crls.iter().filter_map(|c| c.next_update).collect(),
            Err(_) => Vec::new(),
        };
        tokio::time::sleep(next_delay(every, &next_updates, app.clock.now())).await;
    }
}

/// The shortest pause between refreshes.
pub const MIN_REFRESH_DELAY: Duration = Duration::from_secs(60);

/// When to refresh next: after `every`, or sooner when a stored CRL's nextUpdate comes first —
/// halfway to the earliest nextUpdate still ahead (so a new CRL is fetched before the old one
/// lapses, with a retry in between), never sooner than [`MIN_REFRESH_DELAY`].
pub fn next_delay(every: Duration, next_updates: &[i64], now: i64) -> Duration {
    let soonest = next_updates.iter().copied().min();
    let ahead = match soonest {
        Some(next) if next > now => Duration::from_secs(((next - now) / 2).unsigned_abs()),
        // Already past nextUpdate (within the grace, or stale): try again soon.
        Some(_) => MIN_REFRESH_DELAY,
        None => every,
    };
    ahead.min(every).max(MIN_REFRESH_DELAY.min(every))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_points_are_not_fetched() {
        let config = FetchConfig {
            urls: vec!["http://crl.example.jp/a.crl".into()],
            local: vec![
                "http://crl.shikaku.invalid/root.crl".into(),
                "http://crl.shikaku.invalid/jma-auth.crl".into(),
            ],
            ..FetchConfig::default()
        };
        let found = [
            "http://crl.shikaku.invalid/root.crl",
            "http://crl.example.jp/b.crl",
            "http://crl.example.jp/a.crl",
            "http://crl.shikaku.invalid/jma-auth.crl",
        ];
        assert_eq!(
            points_to_fetch(&config, found.map(String::from)),
            ["http://crl.example.jp/a.crl", "http://crl.example.jp/b.crl"]
        );
        assert_eq!(points_to_fetch(&FetchConfig::default(), found.map(String::from)).len(), 4);
    }

    #[test]
    fn refreshes_before_the_earliest_next_update() {
        let hour = Duration::from_secs(3600);
        assert_eq!(next_delay(hour, &[], 0), hour);
        assert_eq!(next_delay(hour, &[100_000], 0), hour, "far ahead: the interval");
        assert_eq!(next_delay(hour, &[100_000, 1_200], 0), Duration::from_secs(600), "halfway");
        assert_eq!(next_delay(hour, &[30], 0), MIN_REFRESH_DELAY, "never sooner than a minute");
        assert_eq!(next_delay(hour, &[-5], 0), MIN_REFRESH_DELAY, "stale: retry soon");
        assert_eq!(
            next_delay(Duration::from_secs(10), &[], 0),
            Duration::from_secs(10),
            "a shorter interval wins"
        );
    }
}
