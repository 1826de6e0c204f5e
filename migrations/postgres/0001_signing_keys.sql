-- Signing keys of the idp (ID and access tokens) and the portal (document records).
-- The private key is AES-256-GCM encrypted with the configured master key: nonce || ciphertext,
-- with the kid as associated data. Times are Unix seconds.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL,
    alg         TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    signs_from  BIGINT NOT NULL
);
CREATE INDEX signing_keys_owner_signs_from ON signing_keys (owner, signs_from);
