//! The authorization code grant (RFC 6749 §4.1.3) with PKCE S256 (RFC 7636): single-use codes;
//! a replayed code revokes what its first use minted.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use web::{OAuthError, OAuthErrorCode};

use super::{TokenForm, invalid_grant};
use crate::app::App;
use crate::clients::{Client, GrantType};
use crate::oauth::authorize::CodeGrant;
use crate::oauth::mint::{self, Grant};
use crate::rate_limit::ClientIp;
use crate::{audit, ids, kv_keys};

/// How long a used code is remembered, to refuse its replay.
const USED_CODE_TTL: Duration = Duration::from_secs(600);

fn verify_pkce(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && ids::ct_eq(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), challenge)
}

/// Exchanges an authorization code (single use, PKCE S256) for tokens.
pub(super) async fn exchange(
    app: &App,
    client: &Client,
    f: &TokenForm,
    ip: &ClientIp,
    now: i64,
) -> Result<mint::TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "the client may not use the authorization code grant",
        ));
    }
    let code = f
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "code is required"))?;
    let key = ids::hash(code);
    let taken = app.kv.take(&kv_keys::code(&key)).await.map_err(OAuthError::unavailable)?;
    let Some(raw) = taken else {
        let replay = app.kv.get(&kv_keys::used_code(&key)).await.ok().flatten();
        if let Some(minted) = replay {
            // RFC 6749 §4.1.2: tokens issued from a replayed code are revoked.
            if let Ok(minted) = serde_json::from_slice::<mint::Minted>(&minted) {
                revoke_minted(app, &minted, now).await;
            }
            tracing::warn!(client = %client.client_id, "authorization code replayed");
            app.audit
                .log(
                    now,
                    audit::Entry {
                        event: "token".into(),
                        outcome: "code_replayed".into(),
                        client_id: Some(client.client_id.clone()),
                        ip: ip.audit(),
                        ..audit::Entry::default()
                    },
                )
                .await;
            return Err(invalid_grant("authorization code already used"));
        }
        return Err(invalid_grant("authorization code is invalid or expired"));
    };
    let placeholder = storage::kv::encode(&mint::Minted { jti: String::new(), family_id: None });
    // Replay detection: without this record a replay is still refused (the code is gone) but
    // does not revoke what the first use minted.
    if let Err(e) = app.kv.set(&kv_keys::used_code(&key), &placeholder, USED_CODE_TTL).await {
        tracing::warn!(error = %e, "cannot record a used authorization code");
    }
    let grant: CodeGrant = serde_json::from_slice(&raw).map_err(OAuthError::internal)?;
    if grant.client_id != client.client_id {
        return Err(invalid_grant("authorization code was issued to another client"));
    }
    if f.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri does not match the authorization request"));
    }
    let verifier = f
        .code_verifier
        .as_deref()
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "code_verifier is required (PKCE)"))?;
    if !verify_pkce(verifier, &grant.code_challenge) {
        return Err(invalid_grant("PKCE verification failed"));
    }
    let g = Grant {
        account_id: Some(grant.account_id),
        scopes: grant.scopes,
        nonce: grant.nonce,
        auth: Some(grant.auth),
        sid: Some(grant.sid),
        family_id: None,
        resource: None,
    };
    let (response, minted) = mint::mint(app, client, &g, now).await?;
    let record = storage::kv::encode(&minted);
    if let Err(e) = app.kv.set(&kv_keys::used_code(&key), &record, USED_CODE_TTL).await {
        tracing::warn!(error = %e, "cannot record what a used authorization code minted");
    }
    Ok(response)
}

/// Revokes what one grant minted: its access token record and its refresh-token family.
pub async fn revoke_minted(app: &App, minted: &mint::Minted, now: i64) {
    if !minted.jti.is_empty()
        && let Err(e) = app.kv.delete(&kv_keys::access_token(&minted.jti)).await
    {
        tracing::error!(error = %e, "cannot revoke the access token of a replayed code");
    }
    if let Some(family) = &minted.family_id
        && let Err(e) = crate::store::refresh::update_family_revoked(&app.db, family, now).await
    {
        tracing::error!(error = %e, "revoking a refresh-token family failed");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pkce_s256() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(super::verify_pkce(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!super::verify_pkce(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!super::verify_pkce("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }
}
