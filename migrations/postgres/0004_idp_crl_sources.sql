-- CRL distribution points to fetch (besides those in trusted CA certificates and the
-- configured `crl_urls`): the http(s) points of card certificates seen at sign-in.
CREATE TABLE crl_sources (
    url             TEXT PRIMARY KEY NOT NULL,
    seen_at         BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_error      TEXT
);

-- What a trusted CA is trusted for: `card` (sign-in certificates) or `client` (RFC 8705
-- tls_client_auth certificates of relying parties).
ALTER TABLE trusted_cas ADD COLUMN purpose TEXT NOT NULL DEFAULT 'card';
