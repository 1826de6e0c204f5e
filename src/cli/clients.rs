//! `shikaku admin client …`: registering relying parties.

use anyhow::{Context, bail};
use idp::clients::{self as idp_clients, AuthMethod, Client, GrantType, SCOPES, SERVICE_SCOPES, SubjectType};
use idp::outbound::Guard;
use idp::store::clients as store;
use keys::SigningAlg;
use serde_json::json;
use storage::Db;

use crate::cli::admin::Actor;

/// `admin client …`.
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints it as JSON with its secret (shown only this once).
    Add(ClientFields),
    /// List clients, one JSON object per line.
    List,
    /// Show one client as JSON.
    Show {
        /// The client id (ids may begin with `-`; they are taken as the id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Change a client: each given option replaces that setting (lists replace the whole list).
    Update {
        /// The client id (ids may begin with `-`; they are taken as the id, not an option).
        #[arg(value_name = "CLIENT_ID", allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        fields: ClientFields,
    },
    /// Delete a client.
    Delete {
        /// The client id (ids may begin with `-`; they are taken as the id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Replace a confidential client's secret; prints the new one (shown only this once).
    RotateSecret {
        /// The client id (ids may begin with `-`; they are taken as the id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
}

/// Settings of a client.
#[derive(Debug, Default, clap::Args)]
pub struct ClientFields {
    /// Client id (default: generated). Add only.
    #[arg(long)]
    client_id: Option<String>,
    /// Display name, shown on the consent page.
    #[arg(long)]
    name: Option<String>,
    /// Exact redirect URI (repeat for several). https, or http on 127.0.0.1 or ::1 (any port is
    /// then accepted, RFC 8252), or a private-use scheme (com.example.app:/cb).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Exact post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Token endpoint authentication: client_secret_basic (default), client_secret_post,
    /// private_key_jwt (with --jwks or --jwks-uri), tls_client_auth (with
    /// --tls-client-auth-subject-dn) or none (public client, PKCE only).
    #[arg(long, value_parser = parse_auth_method)]
    auth_method: Option<AuthMethod>,
    /// private_key_jwt: file holding the client's public JWK Set (EC P-256 or RSA ≥ 2048).
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks: Option<std::path::PathBuf>,
    /// private_key_jwt: https URL of the client's public JWK Set (fetched and cached 5 min).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Allowed grant (repeat): authorization_code (default), refresh_token (with the
    /// offline_access scope), client_credentials.
    #[arg(long = "grant-type", value_parser = parse_grant)]
    grant_types: Vec<GrantType>,
    /// Allowed scope (repeat): openid, profile, hpki, license, roles, offline_access (default:
    /// openid profile hpki); for a service's own tokens (client_credentials): card:read,
    /// attendance:read, attendance:write.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Trusted first-party client: no consent page.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    skip_consent: Option<bool>,
    /// `public` (default) or `pairwise` subject identifiers.
    #[arg(long, value_parser = parse_subject_type)]
    subject_type: Option<SubjectType>,
    /// ID token signing algorithm: RS256 (default, as OpenID Connect Registration), ES256, PS256
    /// (must be in `signing_algs`).
    #[arg(long, value_parser = parse_alg)]
    id_token_alg: Option<SigningAlg>,
    /// Back-channel logout endpoint.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// hcRole allowed to sign in (repeat; none = any), e.g. "Medical Doctor".
    #[arg(long = "allowed-role", value_name = "ROLE")]
    allowed_roles: Vec<String>,
    /// The weakest sign-in the client accepts: phrh (the doctor card), phr (a passkey or the
    /// card), or none (any; the default). A session below it is asked to sign in again with a
    /// stronger method (step-up); with prompt=none the client gets login_required.
    #[arg(long, value_name = "ACR", value_parser = parse_min_acr)]
    min_acr: Option<MinAcr>,
    /// Subject DN of the client's certificate for `tls_client_auth`, exactly as
    /// `shikaku hpki inspect` prints `subject` (e.g. "C=JP, O=Example, CN=rp.example.jp").
    #[arg(long, value_name = "DN")]
    tls_client_auth_subject_dn: Option<String>,
}

fn parse_named<T: serde::de::DeserializeOwned>(s: &str, what: &str, choices: &str) -> Result<T, String> {
    serde_json::from_value(json!(s)).map_err(|_| format!("unknown {what} {s:?}: use {choices}"))
}

fn parse_auth_method(s: &str) -> Result<AuthMethod, String> {
    parse_named(
        s,
        "auth method",
        "client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or none",
    )
}

fn parse_grant(s: &str) -> Result<GrantType, String> {
    parse_named(s, "grant type", "authorization_code, refresh_token or client_credentials")
}

fn parse_subject_type(s: &str) -> Result<SubjectType, String> {
    parse_named(s, "subject type", "public or pairwise")
}

/// `--min-acr`: an `acr` value, or none.
#[derive(Debug, Clone)]
struct MinAcr(Option<String>);

fn parse_min_acr(s: &str) -> Result<MinAcr, String> {
    match s {
        "none" => Ok(MinAcr(None)),
        "phrh" | "phr" => Ok(MinAcr(Some(s.to_owned()))),
        _ => Err(format!("unknown acr {s:?}: use phrh (the card), phr (a passkey or the card) or none")),
    }
}

fn parse_alg(s: &str) -> Result<SigningAlg, String> {
    SigningAlg::from_name(s).ok_or_else(|| format!("unknown algorithm {s:?}: use ES256, RS256 or PS256"))
}

/// Checks a redirect URI the way the authorization endpoint will use it.
fn check_redirect_uri(uri: &str) -> anyhow::Result<()> {
    if uri.contains('#') {
        bail!("redirect URI {uri:?} must not contain a fragment");
    }
    let (scheme, rest) =
        uri.split_once(':').with_context(|| format!("redirect URI {uri:?} is not absolute"))?;
    let loopback = rest.starts_with("//127.0.0.1") || rest.starts_with("//[::1]");
    match scheme {
        "https" => {}
        "http" if loopback => {}
        "http" => bail!("redirect URI {uri:?} must use https (plain http only on 127.0.0.1 or [::1])"),
        s if s.contains('.') && s.chars().all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c)) => {}
        _ => bail!("redirect URI {uri:?}: use https, loopback http, or a reverse-domain private-use scheme"),
    }
    if scheme.starts_with("http") && rest.trim_start_matches("//").split('/').next().unwrap_or("").is_empty()
    {
        bail!("redirect URI {uri:?} has no host");
    }
    Ok(())
}

/// Checks a URL the idp will call (jwks_uri, back-channel logout): https, or http on loopback.
fn check_outbound_uri(what: &str, uri: &str, outbound: &Guard) -> anyhow::Result<()> {
    let authority = |prefix: &str| {
        uri.strip_prefix(prefix).map(|rest| rest.split(['/', '?']).next().unwrap_or("").to_owned())
    };
    let ok = match (authority("https://"), authority("http://")) {
        (Some(host), _) => !host.is_empty() && !host.contains('@'),
        (None, Some(host)) => {
            host == "127.0.0.1"
                || host.starts_with("127.0.0.1:")
                || host == "[::1]"
                || host.starts_with("[::1]:")
        }
        _ => false,
    };
    if !ok || uri.contains('#') {
        bail!(
            "{what} {uri:?} must be an https URL (plain http only on 127.0.0.1 or [::1]), without fragment"
        );
    }
    // The idp would refuse to call it: say so now, not at the first sign-in.
    if let Err(e) = outbound.check_url(uri) {
        bail!("{what} {e}");
    }
    Ok(())
}

/// Applies the given fields to `c` and checks the result.
fn apply(
    c: &mut Client,
    f: ClientFields,
    signing_algs: &[SigningAlg],
    outbound: &Guard,
) -> anyhow::Result<()> {
    if let Some(n) = f.name {
        c.name = n;
    }
    if !f.redirect_uris.is_empty() {
        c.redirect_uris = f.redirect_uris;
    }
    if !f.post_logout_redirect_uris.is_empty() {
        c.post_logout_redirect_uris = f.post_logout_redirect_uris;
    }
    if let Some(m) = f.auth_method {
        c.auth_method = m;
    }
    if let Some(path) = &f.jwks {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --jwks {}", path.display()))?;
        let jwks: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("--jwks {} is not JSON", path.display()))?;
        idp::oauth::client_jwt::check_jwks(&jwks)
            .map_err(|e| anyhow::anyhow!("--jwks {}: {e}", path.display()))?;
        c.jwks = Some(jwks);
        c.jwks_uri = None;
    }
    if let Some(uri) = f.jwks_uri {
        check_outbound_uri("--jwks-uri", &uri, outbound)?;
        c.jwks_uri = Some(uri);
        c.jwks = None;
    }
    if !f.grant_types.is_empty() {
        c.grant_types = f.grant_types;
    }
    if !f.scopes.is_empty() {
        c.scopes = f.scopes;
    }
    if let Some(s) = f.skip_consent {
        c.skip_consent = s;
    }
    if let Some(s) = f.subject_type {
        c.subject_type = s;
    }
    if let Some(a) = f.id_token_alg {
        c.id_token_alg = a;
    }
    if let Some(uri) = f.backchannel_logout_uri {
        check_outbound_uri("--backchannel-logout-uri", &uri, outbound)?;
        c.backchannel_logout_uri = Some(uri);
    }
    if !f.allowed_roles.is_empty() {
        c.allowed_roles = f.allowed_roles;
    }
    if let Some(MinAcr(acr)) = f.min_acr {
        c.min_acr = acr;
    }
    if f.tls_client_auth_subject_dn.is_some() {
        c.tls_subject_dn = f.tls_client_auth_subject_dn;
    }
    if c.auth_method == AuthMethod::TlsClientAuth && c.tls_subject_dn.as_deref().is_none_or(str::is_empty) {
        bail!("--auth-method tls_client_auth needs --tls-client-auth-subject-dn");
    }
    if c.name.trim().is_empty() {
        bail!("--name is required");
    }
    if c.redirect_uris.is_empty() && c.allows_grant(GrantType::AuthorizationCode) {
        bail!("at least one --redirect-uri is required for the authorization_code grant");
    }
    for uri in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
        check_redirect_uri(uri)?;
    }
    if let Some(bad) = c.scopes.iter().find(|s| !idp_clients::known_scope(s)) {
        bail!("unknown scope {bad:?}: use {}, {}", SCOPES.join(", "), SERVICE_SCOPES.join(", "));
    }
    let has_keys = c.jwks.is_some() || c.jwks_uri.is_some();
    if c.auth_method == AuthMethod::PrivateKeyJwt && !has_keys {
        bail!("private_key_jwt needs the client's public keys: --jwks FILE or --jwks-uri URL");
    }
    if c.auth_method != AuthMethod::PrivateKeyJwt && has_keys {
        bail!("--jwks and --jwks-uri are only for --auth-method private_key_jwt");
    }
    if c.is_public() && c.allows_grant(GrantType::ClientCredentials) {
        bail!("a public client (--auth-method none) cannot use client_credentials");
    }
    if !signing_algs.contains(&c.id_token_alg) {
        bail!("--id-token-alg {} is not in the configured signing_algs", c.id_token_alg);
    }
    Ok(())
}

fn show(c: &Client, secret: Option<&str>) -> String {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    v.to_string()
}

/// The settings of a client as the audit log keeps them (no secret, no timestamps).
fn settings(c: &Client) -> serde_json::Map<String, serde_json::Value> {
    let mut v = match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    v.remove("created_at");
    v.remove("updated_at");
    v.remove("client_id");
    v
}

/// The settings that differ between two versions of a client, with their new values.
fn changes(before: &Client, after: &Client) -> serde_json::Value {
    let old = settings(before);
    let changed: serde_json::Map<_, _> =
        settings(after).into_iter().filter(|(k, v)| old.get(k) != Some(v)).collect();
    serde_json::Value::Object(changed)
}

/// Runs one `admin client` subcommand (each change audited); returns what to print.
pub async fn run(
    cmd: ClientCommand,
    db: &Db,
    signing_algs: &[SigningAlg],
    outbound: &Guard,
    actor: &Actor,
    now: i64,
) -> anyhow::Result<String> {
    match cmd {
        ClientCommand::Add(mut fields) => {
            let client_id = fields.client_id.take().unwrap_or_else(idp::ids::new_id);
            let mut c = Client::new(&client_id, SigningAlg::RS256, now);
            apply(&mut c, fields, signing_algs, outbound)?;
            let secret = c.auth_method.uses_secret().then(idp::ids::new_secret);
            c.secret_hash = secret.as_deref().map(idp::ids::hash);
            match store::create_client(db, &c).await {
                Ok(()) => {
                    let detail = serde_json::Value::Object(settings(&c));
                    actor.audit(db, now, "client.add", Some(&client_id), detail).await?;
                    Ok(show(&c, secret.as_deref()))
                }
                Err(e) if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()) => {
                    bail!("client {client_id:?} already exists")
                }
                Err(e) => Err(e.into()),
            }
        }
        ClientCommand::List => {
            let all = store::find_clients(db).await?;
            Ok(all.iter().map(|c| show(c, None)).collect::<Vec<_>>().join("\n"))
        }
        ClientCommand::Show { client_id } => {
            let c = store::find_client(db, &client_id)
                .await?
                .with_context(|| format!("no client {client_id:?}"))?;
            Ok(show(&c, None))
        }
        ClientCommand::Update { id: client_id, fields } => {
            let mut c = store::find_client(db, &client_id)
                .await?
                .with_context(|| format!("no client {client_id:?}"))?;
            let before = c.clone();
            let had_secret = c.auth_method.uses_secret();
            apply(&mut c, fields, signing_algs, outbound)?;
            c.updated_at = now;
            let secret = (!had_secret && c.auth_method.uses_secret()).then(idp::ids::new_secret);
            if let Some(s) = &secret {
                c.secret_hash = Some(idp::ids::hash(s));
            }
            if !c.auth_method.uses_secret() {
                c.secret_hash = None;
            }
            if !store::update_client(db, &c).await? {
                bail!("no client {client_id:?}");
            }
            let detail = json!({ "changed": changes(&before, &c), "new_secret": secret.is_some() });
            actor.audit(db, now, "client.update", Some(&client_id), detail).await?;
            Ok(show(&c, secret.as_deref()))
        }
        ClientCommand::Delete { client_id } => {
            if !store::delete_client(db, &client_id).await? {
                bail!("no client {client_id:?}");
            }
            actor.audit(db, now, "client.delete", Some(&client_id), json!({})).await?;
            Ok(json!({ "deleted": client_id }).to_string())
        }
        ClientCommand::RotateSecret { client_id } => {
            let mut c = store::find_client(db, &client_id)
                .await?
                .with_context(|| format!("no client {client_id:?}"))?;
            if !c.auth_method.uses_secret() {
                bail!("client {client_id:?} uses {} and has no secret", c.auth_method.name());
            }
            let secret = idp::ids::new_secret();
            c.secret_hash = Some(idp::ids::hash(&secret));
            c.updated_at = now;
            if !store::update_client(db, &c).await? {
                bail!("no client {client_id:?}");
            }
            actor.audit(db, now, "client.rotate_secret", Some(&client_id), json!({})).await?;
            Ok(json!({ "client_id": client_id, "client_secret": secret }).to_string())
        }
    }
}
