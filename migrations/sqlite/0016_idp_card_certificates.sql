-- The latest authentication certificate of each card (base64 DER), written at card sign-in when
-- the card's serial changes: `POST /api/v1/card-status` checks it again (chain, validity,
-- revocation) when a verifier asks about the card later, with no card at hand. NULL for a card
-- not signed in with since.
ALTER TABLE cards ADD COLUMN certificate TEXT;
