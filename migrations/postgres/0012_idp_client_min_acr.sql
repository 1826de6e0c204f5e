-- The weakest `acr` a client accepts (`phrh`: the card; `phr`: a passkey or the card); NULL
-- accepts any sign-in. A session below it is sent to sign in again (step-up).
ALTER TABLE clients ADD COLUMN min_acr TEXT;
