-- Emergency access (break-glass): a one-time sign-in an operator issues for a doctor whose
-- card is lost or broken. Stored as the hash of the link's token, with the reason and who
-- issued it; used once before it expires, giving a session with acr `emergency`.
CREATE TABLE emergency_grants (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    reason     TEXT NOT NULL,
    issued_by  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    used_ip    TEXT
);
CREATE INDEX emergency_grants_account ON emergency_grants (account_id, created_at);
