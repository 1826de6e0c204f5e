-- Staff accounts (accounts.kind = 'staff'): office staff without an HPKI card. Their roles are
-- held per account (card holders' roles are per card, card_roles); an invitation, one per link
-- an operator hands out, is stored as the hash of its token and used once before it expires.
CREATE TABLE account_roles (
    account_id TEXT NOT NULL,
    role       TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, role)
);
CREATE TABLE staff_invitations (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX staff_invitations_account ON staff_invitations (account_id);
