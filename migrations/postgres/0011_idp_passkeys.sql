-- Passkeys (WebAuthn credentials) of accounts. `credential` is webauthn-rs's Passkey as JSON
-- (credential id, public key, signature counter, backup flags), rewritten when a sign-in
-- updates it. A doctor's passkey is bound by a card sign-in: `card_issuer` and
-- `card_subscriber_id` name that card, whose claims a passkey session carries and whose
-- revocation stops the passkey. `user_handle` is the WebAuthn user id (a UUID) the
-- authenticator returns with a discoverable credential; `backup_eligible` (0/1) whether the
-- passkey may be synced between devices.
CREATE TABLE passkeys (
    id                 TEXT PRIMARY KEY NOT NULL,
    account_id         TEXT NOT NULL,
    credential_id      TEXT NOT NULL UNIQUE,
    user_handle        TEXT NOT NULL,
    name               TEXT NOT NULL,
    credential         TEXT NOT NULL,
    backup_eligible    BIGINT NOT NULL,
    card_issuer        TEXT,
    card_subscriber_id TEXT,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id, created_at);
