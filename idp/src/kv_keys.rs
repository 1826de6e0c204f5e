//! Every key the idp writes to the key-value store, one function per kind, so that prefixes
//! cannot collide and a reader sees in one place what lives in the KV (docs/design.md §10).
//! Secrets (codes, session ids) appear only hashed where the caller hashes them; the functions
//! take what the key is made of and add only the prefix.

/// A pending authorization request (`/authorize` → sign-in → `/authorize/resume`), by its id.
pub fn authorization_request(id: &str) -> String {
    format!("authreq:{id}")
}

/// An authorization code's grant, by the code's hash (taken once at `/token`).
pub fn code(code_hash: &str) -> String {
    format!("code:{code_hash}")
}

/// What the first use of a code minted, by the code's hash: a replay revokes it.
pub fn used_code(code_hash: &str) -> String {
    format!("code_used:{code_hash}")
}

/// A pushed authorization request (RFC 9126), by client-id hash and request reference.
pub fn pushed_request(client_id_hash: &str, reference: &str) -> String {
    format!("par:{client_id_hash}:{reference}")
}

/// A `private_key_jwt` assertion's `jti`, remembered until the assertion expires (replay).
pub fn assertion_id(client_id_hash: &str, jti_hash: &str) -> String {
    format!("jti:{client_id_hash}:{jti_hash}")
}

/// Marker that a client's `jwks_uri` was fetched again recently (at most one refetch a while).
pub fn jwks_refetch(client_id_hash: &str) -> String {
    format!("jwks_refetch:{client_id_hash}")
}

/// A client's fetched JWK Set, by the hash of its `jwks_uri`.
pub fn jwks(uri_hash: &str) -> String {
    format!("jwks:{uri_hash}")
}

/// The server-side record of an access token, by its `jti`.
pub fn access_token(jti: &str) -> String {
    format!("at:{jti}")
}

/// Certificate sign-in: the state between the main origin and the certificate listener.
pub fn certificate_state(state_id: &str) -> String {
    format!("certstate:{state_id}")
}

/// Certificate sign-in: the one-time code that brings the result back to the main origin.
pub fn certificate_code(code: &str) -> String {
    format!("certcode:{code}")
}

/// Card sign-in: the challenge nonce of one sign-in page, by its login id.
pub fn challenge(login_id: &str) -> String {
    format!("challenge:{login_id}")
}

/// A rate-limit window of `bucket` for one subject (already hashed).
pub fn rate_limit(bucket: &str, subject_hash: &str) -> String {
    format!("rl:{bucket}:{subject_hash}")
}

/// A browser session, by the hash of its id.
pub fn session(id_hash: &str) -> String {
    format!("session:{id_hash}")
}

/// Passkey registration: the ceremony state of one session's registration, by the session
/// id's hash.
pub fn passkey_registration(sid_hash: &str) -> String {
    format!("passkey_reg:{sid_hash}")
}

/// Passkey sign-in: the ceremony state of one sign-in page, by its login id (taken once).
pub fn passkey_authentication(login_id: &str) -> String {
    format!("passkey_auth:{login_id}")
}

/// Staff invitation: the ceremony state of the passkey registration, by the invitation's
/// token hash.
pub fn staff_registration(token_hash: &str) -> String {
    format!("staff_reg:{token_hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_prefix() {
        let keys = [
            authorization_request("x"),
            code("x"),
            used_code("x"),
            pushed_request("x", "y"),
            assertion_id("x", "y"),
            jwks_refetch("x"),
            jwks("x"),
            access_token("x"),
            certificate_state("x"),
            certificate_code("x"),
            challenge("x"),
            rate_limit("x", "y"),
            session("x"),
            passkey_registration("x"),
            passkey_authentication("x"),
            staff_registration("x"),
        ];
        let prefixes: std::collections::HashSet<&str> =
            keys.iter().map(|k| k.split_once(':').map_or(k.as_str(), |(p, _)| p)).collect();
        assert_eq!(prefixes.len(), keys.len(), "{keys:?}");
    }
}
