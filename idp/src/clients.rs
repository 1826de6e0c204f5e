//! OAuth clients (relying parties): what each may do, and how it proves who it is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids;
use crate::store::clients as store;
use keys::SigningAlg;
use storage::Db;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's key (RFC 7523).
    PrivateKeyJwt,
    /// A TLS client certificate (RFC 8705).
    TlsClientAuth,
    /// Public client (native app, SPA): no secret, PKCE mandatory.
    None,
}

impl AuthMethod {
    /// The name used in metadata and config.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::None => "none",
        }
    }

    /// Whether the method uses a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// OAuth grant types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// Authorization code (with PKCE).
    AuthorizationCode,
    /// Refresh token.
    RefreshToken,
    /// Client credentials (machine to machine).
    ClientCredentials,
}

impl GrantType {
    /// The `grant_type` parameter value.
    pub fn name(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// Which `sub` a client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    /// The account id, the same for every client.
    Public,
    /// A per-sector pseudonym (OIDC Core §8.1).
    Pairwise,
}

/// Scopes the idp knows for people's tokens.
pub const SCOPES: [&str; 7] = ["openid", "profile", "hpki", "license", "roles", "offline_access", "email"];

/// Scopes of a service's own tokens (client credentials only): `card:read` for the idp's card
/// reads (`POST /api/v1/card-reads`), `attendance:read` / `attendance:write` for the portal's
/// attendance API.
pub const SERVICE_SCOPES: [&str; 3] = ["card:read", "attendance:read", "attendance:write"];

/// Whether `scope` is one the idp knows ([`SCOPES`] or [`SERVICE_SCOPES`]).
pub fn known_scope(scope: &str) -> bool {
    SCOPES.contains(&scope) || SERVICE_SCOPES.contains(&scope)
}

/// A registered client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Client {
    /// Public identifier.
    pub client_id: String,
    /// Display name (shown on the consent page).
    pub name: String,
    /// SHA-256 of the secret (secret-based methods only).
    #[serde(skip_serializing)]
    pub secret_hash: Option<String>,
    /// Token endpoint authentication.
    pub auth_method: AuthMethod,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grants.
    pub grant_types: Vec<GrantType>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Trusted first-party client: no consent page.
    pub skip_consent: bool,
    /// `public` or `pairwise` subject.
    pub subject_type: SubjectType,
    /// ID token signing algorithm.
    pub id_token_alg: SigningAlg,
    /// Back-channel logout endpoint.
    pub backchannel_logout_uri: Option<String>,
    /// hcRoles allowed to sign in to this client (empty: any).
    pub allowed_roles: Vec<String>,
    /// Client JWK Set by value (private_key_jwt).
    pub jwks: Option<Value>,
    /// Client JWK Set URI (private_key_jwt).
    pub jwks_uri: Option<String>,
    /// Expected certificate subject DN (tls_client_auth).
    pub tls_subject_dn: Option<String>,
    /// Authorization requests must come through PAR.
    pub require_par: bool,
    /// The weakest `acr` the client accepts (`phrh` the card, `phr` a passkey); `None`: any.
    /// A session below it is sent to sign in again (step-up).
    pub min_acr: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Client {
    /// A registration with the defaults of `shikaku admin client add`: a confidential client
    /// (`client_secret_basic`, no secret yet) using the authorization code grant with scopes
    /// `openid profile hpki`, consent asked, public `sub`, ID tokens signed with `id_token_alg`,
    /// no redirect URI yet; created and updated at `now`.
    pub fn new(client_id: &str, id_token_alg: SigningAlg, now: i64) -> Self {
        Self {
            client_id: client_id.to_owned(),
            name: String::new(),
            secret_hash: None,
            auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: vec!["openid".into(), "profile".into(), "hpki".into()],
            skip_consent: false,
            subject_type: SubjectType::Public,
            id_token_alg,
            backchannel_logout_uri: None,
            allowed_roles: Vec::new(),
            jwks: None,
            jwks_uri: None,
            tls_subject_dn: None,
            require_par: false,
            min_acr: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether `uri` is registered: exact string match, except that for a registered loopback
    /// IP redirect (`http://127.0.0.1/…`, `http://[::1]/…`) any port is allowed (RFC 8252 §7.3).
    pub fn redirect_uri_allowed(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri || loopback_match(r, uri))
    }

    /// Whether `uri` is a registered post-logout redirect (exact match).
    pub fn post_logout_uri_allowed(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether the presented secret is this client's (constant time).
    pub fn secret_matches(&self, presented: &str) -> bool {
        self.secret_hash.as_deref().is_some_and(|h| ids::ct_eq(h, &ids::hash(presented)))
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether the client is public (no credentials).
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }
}

fn loopback_match(registered: &str, requested: &str) -> bool {
    let split = |u: &str| -> Option<(String, String)> {
        let rest = u.strip_prefix("http://")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = if let Some(v6) = authority.strip_prefix("[::1]") {
            if !(v6.is_empty() || v6.starts_with(':')) {
                return None;
            }
            "[::1]"
        } else {
            let host = authority.split(':').next()?;
            if host != "127.0.0.1" {
                return None;
            }
            "127.0.0.1"
        };
        Some((host.to_owned(), path.to_owned()))
    };
    match (split(registered), split(requested)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> Client {
        Client {
            name: "c".into(),
            secret_hash: Some(ids::hash("s3cret")),
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            scopes: vec!["openid".into()],
            ..Client::new("c", SigningAlg::ES256, 0)
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(&["https://rp.example.jp/cb"]);
        assert!(c.redirect_uri_allowed("https://rp.example.jp/cb"));
        for bad in [
            "https://rp.example.jp/cb/",
            "https://rp.example.jp/cb?x=1",
            "https://rp.example.jp:443/cb",
            "http://rp.example.jp/cb",
            "https://RP.example.jp/cb",
            "https://rp.example.jp/c",
        ] {
            assert!(!c.redirect_uri_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_redirects_allow_any_port() {
        let c = client(&["http://127.0.0.1/callback", "http://[::1]/cb"]);
        assert!(c.redirect_uri_allowed("http://127.0.0.1:51234/callback"));
        assert!(c.redirect_uri_allowed("http://127.0.0.1/callback"));
        assert!(c.redirect_uri_allowed("http://[::1]:6000/cb"));
        assert!(!c.redirect_uri_allowed("http://127.0.0.1:51234/other"));
        assert!(!c.redirect_uri_allowed("http://localhost:51234/callback"));
        assert!(!c.redirect_uri_allowed("http://127.0.0.1.evil.jp:80/callback"));
        assert!(!c.redirect_uri_allowed("https://127.0.0.1:5000/callback"));
        let https = client(&["https://rp.example.jp/cb"]);
        assert!(!https.redirect_uri_allowed("https://rp.example.jp:8443/cb"));
    }

    #[test]
    fn secrets_compare_by_hash() {
        let c = client(&[]);
        assert!(c.secret_matches("s3cret"));
        assert!(!c.secret_matches("s3cret "));
        assert!(!c.secret_matches(""));
    }
}

/// How long a client registration read for a request is reused. Changes made through this
/// app's [`ClientCache`] are seen at once; changes made by another process (the `shikaku admin
/// client` commands, another node) within this time: a deleted client, a rotated secret or a
/// narrowed registration stops working at most this long after the change.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// Most registrations kept; beyond it, expired ones are dropped first.
const CACHE_MAX: usize = 10_000;

/// Client registrations read for requests (client authentication, authorization), kept for
/// [`CACHE_TTL`]; held in the app state. Unknown ids are not cached.
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: Mutex<HashMap<String, (Client, Instant)>>,
}

impl ClientCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Client, Instant)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One client by id, from the cache when younger than [`CACHE_TTL`].
    pub async fn find(&self, db: &Db, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
        {
            let mut entries = self.entries();
            match entries.get(client_id) {
                Some((c, at)) if at.elapsed() < CACHE_TTL => return Ok(Some(c.clone())),
                Some(_) => {
                    entries.remove(client_id);
                }
                None => {}
            }
        }
        let found = store::find_client(db, client_id).await?;
        if let Some(c) = &found {
            let mut entries = self.entries();
            if entries.len() >= CACHE_MAX {
                entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            }
            entries.insert(client_id.to_owned(), (c.clone(), Instant::now()));
        }
        Ok(found)
    }

    /// Drops a client from the cache: the next request reads the database.
    pub fn forget(&self, client_id: &str) {
        self.entries().remove(client_id);
    }

    /// Registers a client (a duplicate id is a unique violation), seen at once.
    pub async fn create(&self, db: &Db, c: &Client) -> Result<(), sqlx::Error> {
        store::create_client(db, c).await?;
        self.forget(&c.client_id);
        Ok(())
    }

    /// Replaces a client's registration, seen at once; false when it does not exist.
    pub async fn update(&self, db: &Db, c: &Client) -> Result<bool, sqlx::Error> {
        let done = store::update_client(db, c).await?;
        self.forget(&c.client_id);
        Ok(done)
    }

    /// Deletes a client, seen at once; false when it did not exist.
    pub async fn delete(&self, db: &Db, client_id: &str) -> Result<bool, sqlx::Error> {
        let done = store::delete_client(db, client_id).await?;
        self.forget(client_id);
        Ok(done)
    }
}
