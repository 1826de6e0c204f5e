-- Shares: a doctor discloses chosen facts to a verifier who has no account, by a link (and a
-- QR code) or a short code to type. Both secrets are stored only as SHA-256 hex (token_hash,
-- code_hash), as tokens are elsewhere. disclose: comma-separated fields of `/verify`
-- (name, kana, qualification, registration_number, validity, credits). max_uses NULL: any
-- number of views until expires_at. The card is named as the idp names it, so the verify page
-- asks the idp about it at view time (`POST /api/v1/card-status`).
CREATE TABLE shares (
    id                  TEXT PRIMARY KEY NOT NULL,
    token_hash          TEXT NOT NULL UNIQUE,
    code_hash           TEXT NOT NULL UNIQUE,
    owner_sub           TEXT NOT NULL,
    registration_number TEXT,
    card_issuer         TEXT NOT NULL,
    card_subscriber     TEXT NOT NULL,
    disclose            TEXT NOT NULL,
    max_uses            BIGINT,
    uses                BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    revoked_at          BIGINT
);
CREATE INDEX shares_owner ON shares (owner_sub, created_at);

-- Every view of a share and every in-person check, for the doctor's verification log.
-- kind: 'share' or 'in_person'; outcome: 'shown' or the refusal (expired, revoked, used_up,
-- card_revoked, ...); shown: the disclosed fields; verifier: the signed-in staff member or
-- organization, when known.
CREATE TABLE verification_log (
    id          TEXT PRIMARY KEY NOT NULL,
    owner_sub   TEXT NOT NULL,
    share_id    TEXT REFERENCES shares (id),
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    shown       TEXT NOT NULL,
    verifier_ip TEXT NOT NULL,
    verifier    TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX verification_log_owner ON verification_log (owner_sub, at);
