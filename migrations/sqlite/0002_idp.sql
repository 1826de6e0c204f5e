-- The idp's durable data. Times are Unix seconds; lists and objects are JSON text.

-- OAuth clients (relying parties). Secrets are stored as SHA-256 (base64url) of a 256-bit random
-- secret, compared in constant time.
CREATE TABLE clients (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    secret_hash               TEXT,
    auth_method               TEXT NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    skip_consent              BIGINT NOT NULL,
    subject_type              TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL,
    backchannel_logout_uri    TEXT,
    allowed_roles             TEXT NOT NULL,
    jwks                      TEXT,
    jwks_uri                  TEXT,
    tls_subject_dn            TEXT,
    require_par               BIGINT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

-- People: doctors (created at their first valid card sign-in) and staff.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT,
    romaji_name TEXT,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- HPKI cards of an account, keyed by issuing CA and subscriber id (subject serialNumber), so a
-- renewed card of the same subscriber lands in the same account.
CREATE TABLE cards (
    issuer         TEXT NOT NULL,
    subscriber_id  TEXT NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id),
    serial         TEXT NOT NULL,
    not_after      BIGINT NOT NULL,
    hc_roles       TEXT NOT NULL,
    kanji_name     TEXT,
    romaji_name    TEXT,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT NOT NULL,
    PRIMARY KEY (issuer, subscriber_id)
);
CREATE INDEX cards_account ON cards (account_id);

-- Consent remembered per account, client and scope set.
CREATE TABLE consents (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- Refresh tokens (hash only), rotated on use; a family is revoked when a used token is replayed.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family_id  TEXT NOT NULL,
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    grant_info TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- CA certificates that issue cards (issuing CAs are anchors; the root is optional).
CREATE TABLE trusted_cas (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    subject     TEXT NOT NULL,
    der         BLOB NOT NULL,
    added_at    BIGINT NOT NULL
);

-- Latest CRL per issuer, from a file or a distribution point.
CREATE TABLE crls (
    issuer      TEXT PRIMARY KEY NOT NULL,
    der         BLOB NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT,
    source      TEXT NOT NULL,
    fetched_at  BIGINT NOT NULL
);

-- Append-only, hash-chained audit log: hash = SHA-256(prev_hash || canonical entry).
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY NOT NULL,
    at        BIGINT NOT NULL,
    event     TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    actor     TEXT,
    client_id TEXT,
    ip        TEXT,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
