-- Suspending an account and withdrawing a consent revoke the account's refresh tokens (of one
-- client, or all): find them without reading the whole table.
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id, client_id);
