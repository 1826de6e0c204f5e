-- Whose card is it: the portal account (idp subject) that last signed in with each card, so an
-- in-person check of a card lands in its holder's verification log.
CREATE TABLE card_owners (
    card_issuer     TEXT NOT NULL,
    card_subscriber TEXT NOT NULL,
    owner_sub       TEXT NOT NULL,
    seen_at         BIGINT NOT NULL,
    PRIMARY KEY (card_issuer, card_subscriber)
);
