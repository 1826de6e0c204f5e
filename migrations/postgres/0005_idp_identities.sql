-- Identity attributes of card holders from the issuing body's registry (DESIGN §7), keyed like
-- `cards` by issuing CA and subscriber id, so they apply to an account as soon as it signs in
-- with that card. Released only with the `license` scope. birth_date: YYYY-MM-DD.
CREATE TABLE identity_attributes (
    issuer              TEXT NOT NULL,
    subscriber_id       TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    birth_date          TEXT NOT NULL,
    kana_name           TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (issuer, subscriber_id)
);
CREATE INDEX identity_attributes_number ON identity_attributes (registration_number);
