-- A record of each idp browser session, so that a doctor can see and end their sessions. The
-- session itself lives in the key-value store (idle timeout); id = SHA-256 of the session id,
-- which is also the key-value key, so the raw id is never stored in SQL.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    amr        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id, created_at);
