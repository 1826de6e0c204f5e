-- CRL distribution points to fetch (besides those in trusted CA certificates and the
-- configured `crl_urls`): the http(s) points of card certificates seen at sign-in.
CREATE TABLE crl_sources (
    url             TEXT PRIMARY KEY NOT NULL,
    seen_at         BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_error      TEXT
);
