//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the client
//! signs a short-lived JWT with its own key (RS256, PS256 or ES256) and sends it as
//! `client_assertion`.
//!
//! Keys come from the client's registered JWK Set, by value (`jwks`) or by reference
//! (`jwks_uri`, fetched with a timeout and a size cap, cached in the key-value store). Checks:
//! signature, `iss` = `sub` = client id, `aud` naming this idp (issuer, token or PAR endpoint),
//! `exp` with a small leeway and a maximum lifetime, `nbf`/`iat` not in the future, and `jti`
//! used once until the assertion expires.

use std::time::Duration;

use serde_json::Value;

use crate::app::App;
use crate::clients::Client;
use crate::{ids, kv_keys, outbound};

pub use keys::jwk::{Unverified, verify_with};

/// `client_assertion_type` of a JWT assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Accepted assertion signing algorithms.
pub const ALGS: [&str; 3] = ["RS256", "PS256", "ES256"];
/// Clock leeway for `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY: i64 = 30;
/// An assertion may not be valid for longer than this from now, in seconds.
pub const MAX_LIFETIME: i64 = 300;
/// Longest accepted assertion, in bytes.
const MAX_ASSERTION: usize = 8 * 1024;
/// `jwks_uri` fetch limits and cache time.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
const JWKS_MAX_BYTES: usize = 64 * 1024;
const JWKS_CACHE: Duration = Duration::from_secs(300);
/// Shortest time between two early refetches (an unknown `kid`) of one client's `jwks_uri`.
const JWKS_REFETCH: Duration = Duration::from_secs(30);

/// Splits and decodes a compact JWS assertion without checking anything.
pub fn parse(jws: &str) -> Result<Unverified, &'static str> {
    if jws.len() > MAX_ASSERTION {
        return Err("assertion too long");
    }
    keys::jwk::parse(jws).map_err(|e| match e {
        keys::jwk::ParseError::NotCompact => "assertion is not a compact JWS",
        keys::jwk::ParseError::NotBase64 => "assertion is not base64url",
        keys::jwk::ParseError::HeaderNotJson => "assertion header is not JSON",
        keys::jwk::ParseError::ClaimsNotObject => "assertion claims are not an object",
    })
}

/// Verifies `assertion` for `client` at `now`; `audiences` are the accepted `aud` values.
/// The error is a short reason for the client developer.
pub async fn verify(
    app: &App,
    client: &Client,
    assertion: &str,
    audiences: &[String],
    now: i64,
) -> Result<(), &'static str> {
    let jws = parse(assertion)?;
    let alg =
        jws.header["alg"].as_str().filter(|a| ALGS.contains(a)).ok_or("alg must be RS256, PS256 or ES256")?;
    if jws.header.get("crit").is_some() {
        return Err("crit header parameters are not supported");
    }
    let kid = jws.header["kid"].as_str();
    let (mut jwks, cached) = client_keys(app, client, false).await?;
    if cached && kid.is_some_and(|kid| !has_kid(&jwks, kid)) && may_refetch(app, client).await {
        // The client may have rotated its keys since they were cached.
        jwks = client_keys(app, client, true).await?.0;
    }
    let candidates: Vec<&Value> = jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter(|k| kid.is_none_or(|kid| k["kid"].as_str() == Some(kid)))
                .filter(|k| k["use"].as_str().is_none_or(|u| u == "sig"))
                .filter(|k| k["alg"].as_str().is_none_or(|a| a == alg))
                .collect()
        })
        .unwrap_or_default();
    if !candidates.iter().any(|k| verify_with(k, alg, jws.signing_input.as_bytes(), &jws.signature)) {
        return Err("signature does not verify with a registered key");
    }
    let c = &jws.claims;
    if c["iss"].as_str() != Some(client.client_id.as_str()) {
        return Err("iss must be the client_id");
    }
    if c["sub"].as_str() != Some(client.client_id.as_str()) {
        return Err("sub must be the client_id");
    }
    let aud_ok = match &c["aud"] {
        Value::String(a) => audiences.contains(a),
        Value::Array(list) => {
            list.iter().any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a)))
        }
        _ => false,
    };
    if !aud_ok {
        return Err("aud must be the issuer or the token endpoint URL");
    }
    let exp = c["exp"].as_i64().ok_or("exp is required")?;
    if exp + LEEWAY <= now {
        return Err("assertion expired");
    }
    if exp > now + MAX_LIFETIME {
        return Err("assertion lifetime is too long");
    }
    if c["nbf"].as_i64().is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err("assertion not yet valid");
    }
    if c["iat"].as_i64().is_some_and(|iat| iat > now + LEEWAY) {
        return Err("iat is in the future");
    }
    let jti = c["jti"].as_str().filter(|j| !j.is_empty() && j.len() <= 256).ok_or("jti is required")?;
    let ttl = Duration::from_secs(u64::try_from(exp + LEEWAY - now).unwrap_or(1).max(1));
    let key = kv_keys::assertion_id(&ids::hash(&client.client_id), &ids::hash(jti));
    match app.kv.put_if_absent(&key, b"1", ttl).await {
        Ok(true) => Ok(()),
        Ok(false) => Err("jti already used"),
        Err(e) => {
            tracing::warn!(error = %e, "replay cache unavailable");
            Err("replay cache unavailable")
        }
    }
}

fn has_kid(jwks: &Value, kid: &str) -> bool {
    jwks["keys"].as_array().is_some_and(|keys| keys.iter().any(|k| k["kid"].as_str() == Some(kid)))
}

/// At most one early refetch of a client's `jwks_uri` per [`JWKS_REFETCH`].
async fn may_refetch(app: &App, client: &Client) -> bool {
    let key = kv_keys::jwks_refetch(&ids::hash(&client.client_id));
    app.kv.put_if_absent(&key, b"1", JWKS_REFETCH).await.unwrap_or(false)
}

/// The client's JWK Set: by value, or fetched from its `jwks_uri` (cached unless `fresh`);
/// true when it came from the cache.
async fn client_keys(app: &App, client: &Client, fresh: bool) -> Result<(Value, bool), &'static str> {
    if let Some(jwks) = &client.jwks {
        return Ok((jwks.clone(), false));
    }
    let uri = client.jwks_uri.as_deref().ok_or("the client has no registered keys")?;
    let cache_key = kv_keys::jwks(&ids::hash(uri));
    if !fresh
        && let Ok(Some(raw)) = app.kv.get(&cache_key).await
        && let Ok(v) = serde_json::from_slice(&raw)
    {
        return Ok((v, true));
    }
    let body = outbound::get_limited(uri, JWKS_TIMEOUT, JWKS_MAX_BYTES, &app.config.outbound).await.map_err(
        |e| {
            tracing::warn!(client = %client.client_id, error = %e, "jwks_uri fetch failed");
            "the client's jwks_uri could not be fetched"
        },
    )?;
    let jwks: Value = serde_json::from_slice(&body).map_err(|_| "the client's jwks_uri is not a JWK Set")?;
    if !jwks["keys"].is_array() {
        return Err("the client's jwks_uri is not a JWK Set");
    }
    if let Err(e) = app.kv.set(&cache_key, &body, JWKS_CACHE).await {
        // Only a cache: the next assertion fetches the set again.
        tracing::warn!(error = %e, "cannot cache a client's JWK Set");
    }
    Ok((jwks, false))
}

/// Checks registered keys (CLI): a JWK Set whose keys are usable for the accepted algorithms.
pub fn check_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks["keys"].as_array().ok_or("not a JWK Set: no \"keys\" array")?;
    if keys.is_empty() {
        return Err("the JWK Set has no keys".into());
    }
    for k in keys {
        if k.get("d").is_some() || k.get("p").is_some() {
            return Err("the JWK Set holds a private key: register public keys only".into());
        }
        match k["kty"].as_str() {
            Some("EC")
                if k["crv"] == "P-256"
                    && keys::jwk::member(k, "x").is_some()
                    && keys::jwk::member(k, "y").is_some() => {}
            Some("RSA")
                if keys::jwk::member(k, "n").is_some_and(|n| n.len() * 8 >= keys::jwk::MIN_RSA_BITS)
                    && keys::jwk::member(k, "e").is_some() => {}
            _ => return Err(format!("unsupported key {k}: use EC P-256 or RSA ≥ 2048 bits")),
        }
    }
    Ok(())
}
