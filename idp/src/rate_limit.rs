//! Rate limits (fixed windows in the key-value store, `incr_window`): card sign-in per client IP
//! and per card account, the token endpoint per client IP and per client.
//!
//! Over a limit the answer is 429 with `Retry-After`, in the form of its surface: OAuth JSON
//! `slow_down` at `/token`, problem+json (`rate_limited`) at `POST /login/card`, the localized
//! error page for the demo virtual-card form. When the store is down the limit is not applied
//! (logged): sign-in and tokens then depend on the store anyway.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::{App, AppState};
use crate::ids;
use crate::kv_keys;

/// At most `max` hits per `window`; `max` 0 turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Hits allowed in one window.
    pub max: u64,
    /// Window length.
    pub window: Duration,
}

impl Limit {
    /// `max` hits per `secs` seconds.
    pub const fn per(max: u64, secs: u64) -> Self {
        Self { max, window: Duration::from_secs(secs) }
    }

    /// Parses `COUNT/SECONDS` (`20/60`); `0/…` turns the limit off.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (max, secs) = text.split_once('/').ok_or("expected COUNT/SECONDS, e.g. 20/60")?;
        let max = max.trim().parse().map_err(|_| "COUNT must be a whole number".to_owned())?;
        let secs: u64 = secs.trim().parse().map_err(|_| "SECONDS must be a whole number".to_owned())?;
        if secs == 0 {
            return Err("SECONDS must be at least 1".into());
        }
        Ok(Self::per(max, secs))
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.max, self.window.as_secs())
    }
}

/// Every limit of the idp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Card sign-in attempts per client IP.
    pub sign_in_per_ip: Limit,
    /// Card sign-ins per card (issuer and subscriber id), counted once the card is validated.
    pub sign_in_per_account: Limit,
    /// Token requests per client IP.
    pub token_per_ip: Limit,
    /// Token requests per authenticated client.
    pub token_per_client: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            sign_in_per_ip: Limit::per(20, 60),
            sign_in_per_account: Limit::per(10, 300),
            token_per_ip: Limit::per(300, 60),
            token_per_client: Limit::per(600, 60),
        }
    }
}

/// Over the limit: seconds until the window closes (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// `Retry-After` seconds.
    pub retry_after: u64,
}

/// Counts one hit of `subject` in `bucket`.
pub async fn hit(app: &App, bucket: &str, subject: &str, limit: Limit) -> Result<(), Limited> {
    if limit.max == 0 {
        return Ok(());
    }
    let key = kv_keys::rate_limit(bucket, &ids::hash(subject));
    match app.kv.incr_window(&key, limit.window).await {
        Ok(w) if w.count > limit.max => {
            let retry_after = w.resets_in.as_secs() + u64::from(w.resets_in.subsec_nanos() > 0);
            tracing::info!(bucket, count = w.count, "rate limit reached");
            Err(Limited { retry_after: retry_after.max(1) })
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, bucket, "rate limit not applied: key-value store unavailable");
            Ok(())
        }
    }
}

/// The client's IP address: the peer address, or, when the peer is a configured trusted proxy,
/// the last `X-Forwarded-For` address that is not one. `None` when unknown (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The address as the audit log records it (`None` when unknown: in-process tests).
    pub fn audit(&self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }

    /// The address as a rate-limit subject.
    pub fn subject(&self) -> String {
        self.0.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(web::client_ip(parts, &state.0.config.trusted_proxies)))
    }
}
