//! The portal as a client of the idp's service API: an access token of its own (client
//! credentials with the scopes `card:read license`, kept until shortly before it expires) and
//! the card read `POST /api/v1/card-reads` (docs/idp.md, "Card reads"), which tells whether a
//! certificate read from a card is genuine and current, and whose it is, and the card status
//! `POST /api/v1/card-status`, which checks a card that is not at hand (a doctor's share).

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::App;

/// Scopes of the portal's own token.
pub const SCOPES: &str = "card:read license";

/// Largest certificate sent, as base64 (the idp's limit).
pub const MAX_CERTIFICATE_CHARS: usize = 16 * 1024;

/// A token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(30);

/// The holder of a card the idp accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct CardHolder {
    /// Issuing CA (DN).
    pub issuer: String,
    /// Subscriber id (or the certificate serial when the certificate has none).
    pub subscriber_id: String,
    /// Kanji name.
    #[serde(default)]
    pub name: Option<String>,
    /// Romaji name.
    #[serde(default, rename = "name#ja-Latn")]
    pub name_latin: Option<String>,
    /// 医籍登録番号, when the idp's registry names the card.
    #[serde(default)]
    pub medical_registration_number: Option<String>,
    /// Serial of the certificate checked (hex).
    #[serde(default)]
    pub serial: Option<String>,
    /// End of the certificate's validity, Unix seconds.
    #[serde(default)]
    pub not_after: Option<i64>,
    /// hcRole values of the certificate (`Medical Doctor`, …).
    #[serde(default)]
    pub hc_roles: Vec<String>,
    /// When the idp checked the certificate (chain, validity, revocation), Unix seconds.
    #[serde(default)]
    pub checked_at: Option<i64>,
}

/// Why a card read gave no holder.
#[derive(Debug, thiserror::Error)]
pub enum CardReadError {
    /// The idp refused the card: its code (`cert_revoked`, `cert_expired`, `cert_untrusted`,
    /// `revocation_unavailable`, …).
    #[error("the idp refused the card: {0}")]
    Refused(String),
    /// The idp could not be asked (down, or refusing the portal's token).
    #[error("the idp is unavailable: {0}")]
    Unavailable(String),
}

/// How long the idp's JWK Set is used before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// Shortest time between two early fetches of the JWK Set (a token signed by an unknown key).
const JWKS_REFETCH: Duration = Duration::from_secs(30);

/// The idp API client with its cached token and the idp's JWK Set (to verify the access tokens
/// that programs present to the portal's API).
#[derive(Debug)]
pub struct IdpApi {
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
    jwks: Mutex<Option<(serde_json::Value, Instant)>>,
}

impl Default for IdpApi {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self { http, token: Mutex::new(None), jwks: Mutex::new(None) }
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    code: Option<String>,
}

impl IdpApi {
    async fn token(&self, app: &App) -> Result<String, CardReadError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let unavailable = |e: String| CardReadError::Unavailable(e);
        let metadata =
            app.provider.metadata(&app.config.idp_url).await.map_err(|_| unavailable("discovery".into()))?;
        let endpoint = metadata.token_endpoint().ok_or_else(|| unavailable("no token endpoint".into()))?;
        let res = self
            .http
            .post(endpoint.as_str())
            .basic_auth(&app.config.client_id, app.config.client_secret.as_deref())
            .form(&[("grant_type", "client_credentials"), ("scope", SCOPES)])
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !res.status().is_success() {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            tracing::error!(%status, %body, "the idp refused the portal's client credentials token request");
            return Err(unavailable(format!("token request: {status}")));
        }
        let answer: TokenAnswer = res.json().await.map_err(|e| unavailable(e.to_string()))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(60)).saturating_sub(RENEW_BEFORE);
        *cached = Some((answer.access_token.clone(), Instant::now() + lifetime));
        Ok(answer.access_token)
    }

    /// The idp's JWK Set: cached for five minutes; with `kid` not in the cached set, fetched
    /// again (at most every 30 s), as after a key rotation.
    pub async fn jwks(&self, app: &App, kid: &str) -> Result<serde_json::Value, CardReadError> {
        let mut cached = self.jwks.lock().await;
        if let Some((set, at)) = cached.as_ref() {
            let has_kid = set["keys"].as_array().is_some_and(|k| k.iter().any(|k| k["kid"] == kid));
            if at.elapsed() < JWKS_TTL && (has_kid || at.elapsed() < JWKS_REFETCH) {
                return Ok(set.clone());
            }
        }
        let unavailable = |e: String| CardReadError::Unavailable(e);
        let metadata =
            app.provider.metadata(&app.config.idp_url).await.map_err(|_| unavailable("discovery".into()))?;
        let res = self
            .http
            .get(metadata.jwks_uri().as_str())
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(unavailable(format!("jwks: {}", res.status())));
        }
        let set: serde_json::Value = res.json().await.map_err(|e| unavailable(e.to_string()))?;
        *cached = Some((set.clone(), Instant::now()));
        Ok(set)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// Asks the idp about `certificate` (base64 DER, as the bridge's `get-certificate` gives).
    pub async fn read_card(&self, app: &App, certificate: &str) -> Result<CardHolder, CardReadError> {
        self.ask(app, "/api/v1/card-reads", &serde_json::json!({ "certificate": certificate })).await
    }

    /// Asks the idp whether the card `issuer`/`subscriber_id` is valid now (its latest
    /// certificate checked again: chain, validity, revocation; `card_unknown` when it never
    /// signed in at the idp).
    pub async fn card_status(
        &self,
        app: &App,
        issuer: &str,
        subscriber_id: &str,
    ) -> Result<CardHolder, CardReadError> {
        let body = serde_json::json!({ "issuer": issuer, "subscriber_id": subscriber_id });
        self.ask(app, "/api/v1/card-status", &body).await
    }

    /// Has the idp validate a Web eID token the card made on the portal's page `origin` for
    /// `nonce` (the PIN proved at the verifier's computer): signature, then the card-read
    /// checks.
    pub async fn card_proof(
        &self,
        app: &App,
        auth_token: &serde_json::Value,
        origin: &str,
        nonce: &str,
    ) -> Result<CardHolder, CardReadError> {
        let body = serde_json::json!({ "auth_token": auth_token, "origin": origin, "nonce": nonce });
        self.ask(app, "/api/v1/card-proofs", &body).await
    }

    /// POSTs `body` to the idp's `path` with the portal's token (renewed once on a 401).
    async fn ask(
        &self,
        app: &App,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<CardHolder, CardReadError> {
        let url = format!("{}{path}", app.config.idp_url.trim_end_matches('/'));
        for attempt in 0..2 {
            let token = self.token(app).await?;
            let res = self
                .http
                .post(&url)
                .bearer_auth(&token)
                .json(body)
                .send()
                .await
                .map_err(|e| CardReadError::Unavailable(e.to_string()))?;
            let status = res.status();
            if status.is_success() {
                return res.json().await.map_err(|e| CardReadError::Unavailable(e.to_string()));
            }
            if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                // Expired or revoked early: one new token.
                self.forget_token().await;
                continue;
            }
            let code = res.json::<Problem>().await.ok().and_then(|p| p.code);
            return match code {
                Some(code)
                    if status.is_client_error() || status == reqwest::StatusCode::SERVICE_UNAVAILABLE =>
                {
                    Err(CardReadError::Refused(code))
                }
                _ => Err(CardReadError::Unavailable(format!("{path}: {status}"))),
            };
        }
        Err(CardReadError::Unavailable("the idp refused the portal's token".into()))
    }
}
