-- Staff roles (`organizer`, `operator`, …) of card holders, released as the `roles` claim with
-- the `roles` scope. Keyed like `cards` by issuing CA and subscriber id, so an operator can
-- grant a role before the holder's first sign-in.
CREATE TABLE card_roles (
    issuer        TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    role          TEXT NOT NULL,
    granted_at    BIGINT NOT NULL,
    PRIMARY KEY (issuer, subscriber_id, role)
);
