//! Minting tokens: ID tokens (OIDC Core §2), JWT access tokens (RFC 9068), and the claims each
//! scope releases (shared with `/userinfo`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use web::OAuthError;

use crate::app::App;
use crate::clients::{Client, SubjectType};
use crate::ids;
use crate::kv_keys;
use crate::session::Authentication;
use crate::store::accounts::AccountStatus;
use crate::store::{accounts, identities, roles, staff};

/// What a grant hands to token minting.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The person, or `None` for client credentials.
    pub account_id: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// ID token nonce.
    pub nonce: Option<String>,
    /// How the person signed in.
    pub auth: Option<Authentication>,
    /// Session id.
    pub sid: Option<String>,
    /// Refresh-token family to continue (a refresh), or `None` to start one.
    pub family_id: Option<String>,
    /// The resource server the access token is for (RFC 8707): its `aud`; `None`: the client.
    pub resource: Option<String>,
}

/// What was minted, for bookkeeping (revocation on code replay).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Minted {
    /// Access token id.
    pub jti: String,
    /// Refresh-token family, when a refresh token was issued.
    pub family_id: Option<String>,
}

/// The token endpoint's success body (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// JWT access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
    /// Granted scopes.
    pub scope: String,
    /// ID token (when `openid` was granted to a person).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Claims of a JWT access token (RFC 9068 §2.2), in the order they are written.
#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [String]>,
}

/// The server-side record of an access token, stored under [`kv_keys::access_token`] of its
/// `jti` until the token expires.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct AccessRecord {
    /// The person, or `None` for a client's own token (client credentials).
    pub account_id: Option<String>,
    /// The client the token was issued to.
    pub client_id: String,
}

impl AccessRecord {
    /// Reads a stored record.
    pub fn parse(raw: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(raw)
    }
}

/// The KV key of the record of the access token with `claims` (verified claims of one of our
/// tokens): `None` when the claims carry no `jti`, which no token we mint lacks.
pub fn record_key(claims: &Value) -> Option<String> {
    claims["jti"].as_str().map(kv_keys::access_token)
}

/// The `sub` a client sees for an account.
pub fn subject(client: &Client, account_id: &str) -> String {
    match client.subject_type {
        SubjectType::Public => account_id.to_owned(),
        SubjectType::Pairwise => {
            let sector = client
                .redirect_uris
                .first()
                .and_then(|u| u.split("://").nth(1))
                .and_then(|rest| rest.split(['/', ':']).next())
                .unwrap_or(&client.client_id);
            ids::hash(&format!("pairwise|{sector}|{account_id}"))
        }
    }
}

/// Claims released for `scopes` about an account (profile, hpki, license, roles).
pub async fn scope_claims(
    app: &App,
    account_id: &str,
    auth: Option<&Authentication>,
    scopes: &[String],
) -> Result<Map<String, Value>, sqlx::Error> {
    let mut claims = Map::new();
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let account = accounts::find_account(&app.db, account_id).await?;
    if has("profile")
        && let Some(a) = &account
    {
        if let Some(n) = &a.name {
            claims.insert("name".into(), json!(n));
        }
        if let Some(r) = &a.romaji_name {
            claims.insert("name#ja-Latn".into(), json!(r));
        }
    }
    // Staff hold roles per account and never a card's claims.
    if let Some(a) = account.as_ref().filter(|a| a.kind == accounts::AccountKind::Staff) {
        if has("roles") {
            claims.insert("roles".into(), json!(staff::find_account_roles(&app.db, &a.id).await?));
        }
        return Ok(claims);
    }
    if has("hpki") || has("license") || has("roles") {
        let card = match auth.and_then(|a| a.card.as_ref()) {
            Some((issuer, subscriber)) => accounts::find_card(&app.db, issuer, subscriber).await?,
            None => {
                accounts::find_cards(&app.db, account_id).await?.into_iter().max_by_key(|c| c.last_used_at)
            }
        };
        if let Some(c) = card {
            if has("hpki") {
                claims.insert("hc_roles".into(), json!(c.hc_roles));
                claims.insert(
                    "hpki".into(),
                    json!({ "issuer": c.issuer, "subscriber_id": c.subscriber_id, "serial": c.serial, "not_after": c.not_after }),
                );
            }
            if has("roles") {
                claims.insert(
                    "roles".into(),
                    json!(roles::find_roles(&app.db, &c.issuer, &c.subscriber_id).await?),
                );
            }
            // docs/design.md §7: registry attributes, only when the registry has them for this card.
            if has("license")
                && let Some(i) = identities::find_identity(&app.db, &c.issuer, &c.subscriber_id).await?
            {
                claims.insert("medical_registration_number".into(), json!(i.registration_number));
                claims.insert("birthdate".into(), json!(i.birth_date));
                claims.insert("name#ja-Kana-JP".into(), json!(i.kana_name));
            }
        }
    }
    Ok(claims)
}

fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Whether an access token's server-side record  still
/// stands for an active account: a person's token stops being active when their account is
/// suspended (introspection and `/userinfo` say so at once, before the token expires); a
/// client's own token (client credentials) names no account.
pub async fn record_account_active(app: &App, record: &AccessRecord) -> Result<bool, sqlx::Error> {
    match &record.account_id {
        Some(id) => account_active(app, id).await,
        None => Ok(true),
    }
}

/// Whether the account exists and is not suspended.
pub async fn account_active(app: &App, account_id: &str) -> Result<bool, sqlx::Error> {
    Ok(accounts::find_account(&app.db, account_id).await?.is_some_and(|a| a.status == AccountStatus::Active))
}

/// Mints the tokens of a grant. A refresh token is issued only with the `offline_access` scope
/// to a client allowed the refresh grant.
pub async fn mint(
    app: &App,
    client: &Client,
    grant: &Grant,
    now: i64,
) -> Result<(TokenResponse, Minted), OAuthError> {
    let issuer = app.site.public_url();
    let access_ttl = app.config.access_token_ttl.as_secs();
    let default_alg = app.config.signing_algs.first().copied().unwrap_or(keys::SigningAlg::ES256);
    let signer = app.keys.signer(default_alg, now).await.map_err(OAuthError::internal)?;
    let sub = match &grant.account_id {
        Some(a) => subject(client, a),
        None => client.client_id.clone(),
    };
    let scope = grant.scopes.join(" ");
    let jti = ids::new_id();
    let at = AccessClaims {
        iss: issuer,
        sub: &sub,
        aud: grant.resource.as_deref().unwrap_or(&client.client_id),
        client_id: &client.client_id,
        iat: now,
        exp: now + access_ttl as i64,
        jti: &jti,
        scope: &scope,
        auth_time: grant.auth.as_ref().map(|a| a.auth_time),
        acr: grant.auth.as_ref().map(|a| a.acr.as_str()),
        amr: grant.auth.as_ref().map(|a| a.amr.as_slice()),
    };
    let access_token = signer.sign_jws("at+jwt", &at).map_err(OAuthError::internal)?;
    // Server-side record of the access token: lets /userinfo find the account behind a pairwise
    // subject and lets revocation and introspection work on JWTs.
    let record = AccessRecord { account_id: grant.account_id.clone(), client_id: client.client_id.clone() };
    app.kv
        .set(&kv_keys::access_token(&jti), &storage::kv::encode(&record), app.config.access_token_ttl)
        .await
        .map_err(OAuthError::unavailable)?;

    let id_token = match (&grant.account_id, grant.scopes.iter().any(|s| s == "openid")) {
        (Some(account_id), true) => {
            let id_signer = if client.id_token_alg == default_alg {
                signer.clone()
            } else {
                app.keys.signer(client.id_token_alg, now).await.map_err(OAuthError::internal)?
            };
            let mut claims = scope_claims(app, account_id, grant.auth.as_ref(), &grant.scopes)
                .await
                .map_err(OAuthError::internal)?;
            claims.insert("iss".into(), json!(issuer));
            claims.insert("sub".into(), json!(sub));
            claims.insert("aud".into(), json!(client.client_id));
            claims.insert("azp".into(), json!(client.client_id));
            claims.insert("iat".into(), json!(now));
            claims.insert("exp".into(), json!(now + app.config.id_token_ttl.as_secs() as i64));
            claims.insert("at_hash".into(), json!(at_hash(&access_token)));
            if let Some(n) = &grant.nonce {
                claims.insert("nonce".into(), json!(n));
            }
            if let Some(auth) = &grant.auth {
                claims.insert("auth_time".into(), json!(auth.auth_time));
                claims.insert("acr".into(), json!(auth.acr));
                claims.insert("amr".into(), json!(auth.amr));
            }
            if let Some(sid) = &grant.sid {
                claims.insert("sid".into(), json!(ids::hash(sid)));
            }
            Some(id_signer.sign_jws("JWT", &Value::Object(claims)).map_err(OAuthError::internal)?)
        }
        _ => None,
    };
    let mut family_id = None;
    let refresh_token = match &grant.account_id {
        Some(account_id)
            if grant.scopes.iter().any(|s| s == "offline_access")
                && client.allows_grant(crate::clients::GrantType::RefreshToken) =>
        {
            let token = ids::new_secret();
            let family = grant.family_id.clone().unwrap_or_else(ids::new_id);
            let stored = crate::store::refresh::RefreshToken {
                token_hash: ids::hash(&token),
                family_id: family.clone(),
                account_id: account_id.clone(),
                client_id: client.client_id.clone(),
                scopes: grant.scopes.clone(),
                grant_info: crate::store::refresh::GrantInfo {
                    auth: grant.auth.clone(),
                    sid: grant.sid.clone(),
                },
                created_at: now,
                expires_at: now + app.config.refresh_token_ttl.as_secs() as i64,
                used_at: None,
                revoked_at: None,
            };
            crate::store::refresh::create_refresh_token(&app.db, &stored)
                .await
                .map_err(OAuthError::internal)?;
            family_id = Some(family);
            Some(token)
        }
        _ => None,
    };
    let response = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: access_ttl,
        scope,
        id_token,
        refresh_token,
    };
    Ok((response, Minted { jti, family_id }))
}
