//! Configuration: `shikaku.toml` (path by `--config`), overridden by `SHIKAKU_*` environment
//! variables (`SHIKAKU_DATABASE_URL`, `SHIKAKU_IDP_LISTEN`, …). Every key is documented in the
//! README. A wrong value stops the start with one line naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use keys::SigningAlg;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Every key, as written in the file and (upper-cased, `SHIKAKU_` before it) in the environment.
pub const KEYS: [&str; 43] = [
    "data_dir",
    "database_url",
    "database_max_connections",
    "redis_url",
    "redis_prefix",
    "master_key",
    "master_key_file",
    "idp_listen",
    "idp_public_url",
    "portal_listen",
    "portal_public_url",
    "metrics_listen",
    "signing_algs",
    "key_publish_lead_secs",
    "key_retention_secs",
    "log_format",
    "log_filter",
    "session_idle_secs",
    "session_absolute_secs",
    "access_token_ttl_secs",
    "id_token_ttl_secs",
    "crl_grace_secs",
    "refresh_token_ttl_secs",
    "portal_client_id",
    "portal_client_secret",
    "portal_font_path",
    "portal_font_dirs",
    "rate_limit_sign_in_per_ip",
    "rate_limit_sign_in_per_account",
    "rate_limit_token_per_ip",
    "rate_limit_token_per_client",
    "trusted_proxies",
    "crl_urls",
    "crl_fetch_allow_hosts",
    "crl_fetch_max_bytes",
    "crl_fetch_timeout_secs",
    "crl_refresh_secs",
    "mtls_trusted_proxies",
    "outbound_allow_addresses",
    "mtls_listen",
    "mtls_public_url",
    "mtls_cert_file",
    "mtls_key_file",
];

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The raw file/environment shape; [`Config::load`] checks and completes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    data_dir: Option<PathBuf>,
    database_url: Option<SecretString>,
    database_max_connections: Option<u32>,
    redis_url: Option<SecretString>,
    redis_prefix: Option<String>,
    master_key: Option<SecretString>,
    master_key_file: Option<PathBuf>,
    idp_listen: Option<SocketAddr>,
    idp_public_url: Option<String>,
    portal_listen: Option<SocketAddr>,
    portal_public_url: Option<String>,
    metrics_listen: Option<SocketAddr>,
    signing_algs: Option<Vec<SigningAlg>>,
    key_publish_lead_secs: Option<u64>,
    key_retention_secs: Option<u64>,
    log_format: Option<LogFormat>,
    log_filter: Option<String>,
    session_idle_secs: Option<u64>,
    session_absolute_secs: Option<u64>,
    access_token_ttl_secs: Option<u64>,
    id_token_ttl_secs: Option<u64>,
    crl_grace_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    portal_client_id: Option<String>,
    portal_client_secret: Option<SecretString>,
    portal_font_path: Option<PathBuf>,
    portal_font_dirs: Option<Vec<PathBuf>>,
    rate_limit_sign_in_per_ip: Option<String>,
    rate_limit_sign_in_per_account: Option<String>,
    rate_limit_token_per_ip: Option<String>,
    rate_limit_token_per_client: Option<String>,
    trusted_proxies: Option<Vec<std::net::IpAddr>>,
    crl_urls: Option<Vec<String>>,
    crl_fetch_allow_hosts: Option<Vec<String>>,
    crl_fetch_max_bytes: Option<u64>,
    crl_fetch_timeout_secs: Option<u64>,
    crl_refresh_secs: Option<u64>,
    mtls_trusted_proxies: Option<Vec<String>>,
    outbound_allow_addresses: Option<Vec<String>>,
    mtls_listen: Option<SocketAddr>,
    mtls_public_url: Option<String>,
    mtls_cert_file: Option<PathBuf>,
    mtls_key_file: Option<PathBuf>,
}

/// The effective configuration.
#[derive(Debug)]
pub struct Config {
    /// Folder for the SQLite database and the generated master key.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: SecretString,
    /// Pool size (default by backend: [`storage::Backend::default_max_connections`]).
    pub database_max_connections: u32,
    /// `redis://…`; absent means the in-memory store (single process only).
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key.
    pub redis_prefix: String,
    /// Base64 of the 32-byte master key.
    pub master_key: Option<SecretString>,
    /// File holding the master key; `None` means the default `DATA_DIR/master.key`.
    pub master_key_file: Option<PathBuf>,
    /// Where the idp listens.
    pub idp_listen: SocketAddr,
    /// The idp's public URL (the OIDC issuer).
    pub idp_public_url: String,
    /// Where the portal listens.
    pub portal_listen: SocketAddr,
    /// The portal's public URL.
    pub portal_public_url: String,
    /// The management listener (`/metrics`, `/healthz`, `/readyz`); loopback by default, so
    /// that metrics are not public.
    pub metrics_listen: SocketAddr,
    /// Token signing algorithms (first is the default).
    pub signing_algs: Vec<SigningAlg>,
    /// Seconds a rotated-in key is published before it signs.
    pub key_publish_lead_secs: u64,
    /// Seconds a replaced key stays published.
    pub key_retention_secs: u64,
    /// Log format.
    pub log_format: LogFormat,
    /// `tracing` filter (`RUST_LOG` syntax).
    pub log_filter: String,
    /// idp session idle timeout.
    pub session_idle_secs: u64,
    /// idp session absolute timeout.
    pub session_absolute_secs: u64,
    /// Access token lifetime.
    pub access_token_ttl_secs: u64,
    /// ID token lifetime.
    pub id_token_ttl_secs: u64,
    /// How long past nextUpdate a CRL is still used.
    pub crl_grace_secs: u64,
    /// Refresh token lifetime.
    pub refresh_token_ttl_secs: u64,
    /// The portal's client id at the idp.
    pub portal_client_id: String,
    /// The portal's client secret at the idp.
    pub portal_client_secret: Option<SecretString>,
    /// Japanese font (face 0 of a TrueType/OpenType file or collection) for document PDFs.
    pub portal_font_path: PathBuf,
    /// Where a Japanese font is looked for when `portal_font_path` is absent; `None`: the
    /// system font directories.
    pub portal_font_dirs: Option<Vec<PathBuf>>,
    /// Rate limits of the idp (`rate_limit_*` keys, `COUNT/SECONDS`).
    pub rate_limits: idp::rate_limit::RateLimits,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// CRL URLs fetched besides the distribution points found in certificates.
    pub crl_urls: Vec<String>,
    /// Hosts CRLs may be fetched from.
    pub crl_fetch_allow_hosts: Vec<String>,
    /// Largest CRL accepted, in bytes.
    pub crl_fetch_max_bytes: u64,
    /// Time limit of one CRL fetch.
    pub crl_fetch_timeout_secs: u64,
    /// Interval of the background CRL refresh; 0 turns it off.
    pub crl_refresh_secs: u64,
    /// Proxies whose client-certificate headers are believed.
    pub mtls_trusted_proxies: Vec<idp::signin::certificate::Cidr>,
    /// Internal addresses (loopback, private, link-local) the idp's outbound requests may reach:
    /// CRL distribution points, client `jwks_uri`, back-channel logout. None by default.
    pub outbound_allow_addresses: Vec<idp::signin::certificate::Cidr>,
    /// Where the certificate sign-in listener (TLS, client certificates) listens.
    pub mtls_listen: Option<SocketAddr>,
    /// Public base URL of certificate sign-in (the mTLS listener or the proxy's certificate host).
    pub mtls_public_url: Option<String>,
    /// Server certificate chain (PEM) of the mTLS listener.
    pub mtls_cert_file: Option<PathBuf>,
    /// Server private key (PEM, PKCS#8) of the mTLS listener.
    pub mtls_key_file: Option<PathBuf>,
}

impl Config {
    /// Loads `path` (if given, it must exist; else `./shikaku.toml` if present) and the
    /// environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        match path {
            Some(p) if !p.exists() => bail!("config file {} does not exist", p.display()),
            Some(p) => figment = figment.merge(Toml::file_exact(p)),
            None if Path::new("shikaku.toml").exists() => {
                figment = figment.merge(Toml::file_exact("shikaku.toml"))
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed("SHIKAKU_").only(&KEYS));
        let raw: Raw = figment.extract().map_err(|e| anyhow::anyhow!(describe(&e)))?;
        Self::complete(raw)
    }

    fn complete(raw: Raw) -> anyhow::Result<Self> {
        let data_dir = raw.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = raw.database_url.unwrap_or_else(|| {
            SecretString::from(format!("sqlite://{}", data_dir.join("shikaku.db").display()))
        });
        let backend = storage::Backend::from_url(database_url.expose_secret()).map_err(|_| {
            anyhow::anyhow!(
                "invalid config key `database_url`: expected sqlite://PATH or postgres://USER@HOST/DB"
            )
        })?;
        if let Some(url) = &raw.redis_url {
            let u = url.expose_secret();
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                bail!("invalid config key `redis_url`: expected redis://HOST[:PORT] or rediss://…");
            }
        }
        if let Some(key) = &raw.master_key {
            keys::MasterKey::from_base64(key.expose_secret())
                .map_err(|e| anyhow::anyhow!("invalid config key `master_key`: {e}"))?;
        }
        let idp_listen = raw.idp_listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let portal_listen = raw.portal_listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8081)));
        let idp_public_url = public_url("idp_public_url", raw.idp_public_url, idp_listen)?;
        let portal_public_url = public_url("portal_public_url", raw.portal_public_url, portal_listen)?;
        // The idp's defaults live in one place, `IdpConfig::new`; this file only reads them.
        let d = idp::IdpConfig::new("");
        let fetch = idp::trust::crl_fetch::FetchConfig::default();
        let signing_algs = raw.signing_algs.unwrap_or_else(|| d.signing_algs.clone());
        if signing_algs.is_empty() {
            bail!("invalid config key `signing_algs`: name at least one of ES256, RS256, PS256");
        }
        if !signing_algs.contains(&SigningAlg::RS256) {
            bail!(
                "invalid config key `signing_algs`: must include RS256 (OpenID Connect requires it for ID tokens; the first algorithm signs access tokens), e.g. [\"ES256\", \"RS256\"]"
            );
        }
        let max_connections = raw.database_max_connections.unwrap_or(backend.default_max_connections());
        if max_connections == 0 {
            bail!("invalid config key `database_max_connections`: must be at least 1");
        }
        let lead = raw.key_publish_lead_secs.unwrap_or(d.key_policy.publish_lead.as_secs());
        if lead < idp::oauth::jwks::MAX_AGE_SECS {
            bail!(
                "invalid config key `key_publish_lead_secs`: must be at least {} (the JWKS cache time), got {lead}",
                idp::oauth::jwks::MAX_AGE_SECS
            );
        }
        let defaults = idp::rate_limit::RateLimits::default();
        let limit = |key: &str, value: Option<String>, default: idp::rate_limit::Limit| match value {
            None => Ok(default),
            Some(v) => idp::rate_limit::Limit::parse(&v)
                .map_err(|e| anyhow::anyhow!("invalid config key `{key}`: {e}, got {v:?}")),
        };
        let rate_limits = idp::rate_limit::RateLimits {
            sign_in_per_ip: limit(
                "rate_limit_sign_in_per_ip",
                raw.rate_limit_sign_in_per_ip,
                defaults.sign_in_per_ip,
            )?,
            sign_in_per_account: limit(
                "rate_limit_sign_in_per_account",
                raw.rate_limit_sign_in_per_account,
                defaults.sign_in_per_account,
            )?,
            token_per_ip: limit(
                "rate_limit_token_per_ip",
                raw.rate_limit_token_per_ip,
                defaults.token_per_ip,
            )?,
            token_per_client: limit(
                "rate_limit_token_per_client",
                raw.rate_limit_token_per_client,
                defaults.token_per_client,
            )?,
        };
        let crl_urls = raw.crl_urls.unwrap_or_default();
        if let Some(bad) = crl_urls.iter().find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            bail!("invalid config key `crl_urls`: expected http:// or https:// URLs, got {bad:?}");
        }
        let mtls_trusted_proxies = raw
            .mtls_trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|p| p.parse())
            .collect::<Result<Vec<idp::signin::certificate::Cidr>, String>>()
            .map_err(|e| anyhow::anyhow!("invalid config key `mtls_trusted_proxies`: {e}"))?;
        let outbound_allow_addresses = raw
            .outbound_allow_addresses
            .unwrap_or_default()
            .iter()
            .map(|p| p.parse())
            .collect::<Result<Vec<idp::signin::certificate::Cidr>, String>>()
            .map_err(|e| anyhow::anyhow!("invalid config key `outbound_allow_addresses`: {e}"))?;
        let mtls_public_url = match raw.mtls_public_url {
            Some(u) => Some(public_url("mtls_public_url", Some(u), idp_listen)?),
            None => None,
        };
        if let Some(listen) = raw.mtls_listen {
            if raw.mtls_cert_file.is_none() || raw.mtls_key_file.is_none() {
                bail!("invalid config key `mtls_listen`: set `mtls_cert_file` and `mtls_key_file` too");
            }
            if mtls_public_url.is_none() {
                bail!(
                    "invalid config key `mtls_listen`: set `mtls_public_url` (https://…) too, got listen {listen}"
                );
            }
        }
        Ok(Self {
            rate_limits,
            trusted_proxies: raw.trusted_proxies.unwrap_or_default(),
            data_dir,
            database_url,
            database_max_connections: max_connections,
            redis_url: raw.redis_url,
            redis_prefix: raw.redis_prefix.unwrap_or_else(|| "shikaku:".into()),
            master_key: raw.master_key,
            master_key_file: raw.master_key_file,
            idp_listen,
            idp_public_url,
            portal_listen,
            portal_public_url,
            metrics_listen: raw.metrics_listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9464))),
            signing_algs,
            key_publish_lead_secs: lead,
            key_retention_secs: raw.key_retention_secs.unwrap_or(d.key_policy.retention.as_secs()),
            log_format: raw.log_format.unwrap_or(LogFormat::Human),
            log_filter: raw.log_filter.unwrap_or_else(|| "info,sqlx=warn,tower_http=warn".into()),
            session_idle_secs: positive(
                "session_idle_secs",
                raw.session_idle_secs,
                d.session_idle.as_secs(),
            )?,
            session_absolute_secs: positive(
                "session_absolute_secs",
                raw.session_absolute_secs,
                d.session_absolute.as_secs(),
            )?,
            access_token_ttl_secs: positive(
                "access_token_ttl_secs",
                raw.access_token_ttl_secs,
                d.access_token_ttl.as_secs(),
            )?,
            id_token_ttl_secs: positive(
                "id_token_ttl_secs",
                raw.id_token_ttl_secs,
                d.id_token_ttl.as_secs(),
            )?,
            crl_grace_secs: raw.crl_grace_secs.unwrap_or(d.crl_grace.as_secs()),
            refresh_token_ttl_secs: positive(
                "refresh_token_ttl_secs",
                raw.refresh_token_ttl_secs,
                d.refresh_token_ttl.as_secs(),
            )?,
            portal_client_id: raw.portal_client_id.unwrap_or_else(|| "portal".into()),
            portal_client_secret: raw.portal_client_secret,
            portal_font_path: raw
                .portal_font_path
                .unwrap_or_else(|| portal::documents::pdf::DEFAULT_FONT_PATH.into()),
            portal_font_dirs: raw.portal_font_dirs,
            crl_urls,
            crl_fetch_allow_hosts: raw.crl_fetch_allow_hosts.unwrap_or_default(),
            crl_fetch_max_bytes: positive("crl_fetch_max_bytes", raw.crl_fetch_max_bytes, fetch.max_bytes)?,
            crl_fetch_timeout_secs: positive(
                "crl_fetch_timeout_secs",
                raw.crl_fetch_timeout_secs,
                fetch.timeout.as_secs(),
            )?,
            crl_refresh_secs: raw.crl_refresh_secs.unwrap_or(fetch.refresh_every.map_or(0, |d| d.as_secs())),
            mtls_trusted_proxies,
            outbound_allow_addresses,
            mtls_listen: raw.mtls_listen,
            mtls_public_url,
            mtls_cert_file: raw.mtls_cert_file,
            mtls_key_file: raw.mtls_key_file,
        })
    }

    /// The master key file: configured, or `DATA_DIR/master.key`.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The effective configuration as TOML, secrets shown as `[redacted]`.
    pub fn redacted_toml(&self) -> anyhow::Result<String> {
        let secret = |s: &Option<SecretString>| s.as_ref().map(|_| "[redacted]".to_owned());
        let view = serde_json::json!({
            "data_dir": self.data_dir,
            "database_url": storage::db::redact_url(self.database_url.expose_secret()),
            "database_max_connections": self.database_max_connections,
            "redis_url": self.redis_url.as_ref().map(|u| storage::db::redact_url(u.expose_secret())),
            "redis_prefix": self.redis_prefix,
            "master_key": secret(&self.master_key),
            "master_key_file": self.master_key_path(),
            "idp_listen": self.idp_listen,
            "idp_public_url": self.idp_public_url,
            "portal_listen": self.portal_listen,
            "portal_public_url": self.portal_public_url,
            "signing_algs": self.signing_algs,
            "key_publish_lead_secs": self.key_publish_lead_secs,
            "key_retention_secs": self.key_retention_secs,
            "log_format": self.log_format,
            "log_filter": self.log_filter,
            "session_idle_secs": self.session_idle_secs,
            "session_absolute_secs": self.session_absolute_secs,
            "access_token_ttl_secs": self.access_token_ttl_secs,
            "id_token_ttl_secs": self.id_token_ttl_secs,
            "crl_grace_secs": self.crl_grace_secs,
            "refresh_token_ttl_secs": self.refresh_token_ttl_secs,
            "portal_client_id": self.portal_client_id,
            "portal_client_secret": secret(&self.portal_client_secret),
            "portal_font_path": self.portal_font_path,
            "portal_font_dirs": self.portal_font_dirs,
            "rate_limit_sign_in_per_ip": self.rate_limits.sign_in_per_ip.to_string(),
            "rate_limit_sign_in_per_account": self.rate_limits.sign_in_per_account.to_string(),
            "rate_limit_token_per_ip": self.rate_limits.token_per_ip.to_string(),
            "rate_limit_token_per_client": self.rate_limits.token_per_client.to_string(),
            "trusted_proxies": self.trusted_proxies,
            "crl_urls": self.crl_urls,
            "crl_fetch_allow_hosts": self.crl_fetch_allow_hosts,
            "crl_fetch_max_bytes": self.crl_fetch_max_bytes,
            "crl_fetch_timeout_secs": self.crl_fetch_timeout_secs,
            "crl_refresh_secs": self.crl_refresh_secs,
            "mtls_trusted_proxies": self.mtls_trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "mtls_listen": self.mtls_listen,
            "mtls_public_url": self.mtls_public_url,
            "mtls_cert_file": self.mtls_cert_file,
            "mtls_key_file": self.mtls_key_file,
        });
        let mut view = view;
        // Beside the others (one `json!` holds only so many keys).
        view["metrics_listen"] = serde_json::json!(self.metrics_listen);
        view["outbound_allow_addresses"] = serde_json::json!(
            self.outbound_allow_addresses.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
        if let Some(map) = view.as_object_mut() {
            // Absent optional keys are left out (TOML has no null).
            map.retain(|_, v| !v.is_null());
        }
        let table = toml::Table::try_from(view).context("config as TOML")?;
        Ok(toml::to_string(&table)?)
    }
}

/// A duration key that must be at least one second.
fn positive(key: &str, value: Option<u64>, default: u64) -> anyhow::Result<u64> {
    match value {
        Some(0) => bail!("invalid config key `{key}`: must be at least 1"),
        Some(v) => Ok(v),
        None => Ok(default),
    }
}

/// Checks a public URL, or derives `http://LISTEN` when absent.
fn public_url(key: &str, value: Option<String>, listen: SocketAddr) -> anyhow::Result<String> {
    let Some(value) = value else { return Ok(format!("http://{listen}")) };
    let invalid = |why: &str| anyhow::anyhow!("invalid config key `{key}`: {why}, got {value:?}");
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| invalid("expected an absolute http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err(invalid("expected a host name (and no user info)"));
    }
    if value.contains(['?', '#']) {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// One line for a figment error: the key, what is wrong, and where the value came from.
fn describe(e: &figment::Error) -> String {
    let mut lines = Vec::new();
    for err in e.clone() {
        let key = err.path.join(".");
        let origin = err.metadata.as_ref().map(|m| match &m.source {
            Some(figment::Source::File(p)) => format!(" (in {})", p.display()),
            _ => format!(" (from {})", m.name),
        });
        // TOML parse errors span several lines with a source excerpt; keep the prose only.
        let what = err
            .kind
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains('|'))
            .collect::<Vec<_>>()
            .join(": ");
        lines.push(if key.is_empty() {
            format!("invalid config: {what}{}", origin.unwrap_or_default())
        } else {
            format!("invalid config key `{key}`: {what}{}", origin.unwrap_or_default())
        });
    }
    lines.join("; ")
}
