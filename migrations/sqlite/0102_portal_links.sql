-- Links from a signed-in doctor (the idp's `sub` for the portal) to a medical registration
-- number (医籍登録番号), under which the training records are kept.
--
-- A link comes from the idp's `medical_registration_number` claim (source 'claim', confirmed at
-- once when the number is in the registry) or from the doctor's own entry (source 'self',
-- 'pending' until an organizer confirms or rejects it). Only a confirmed link shows records.
-- status: 'pending' → 'confirmed' | 'rejected'. One link per subject; a doctor whose entry was
-- rejected (or is still pending) may enter a number again, which starts a new pending link.
-- claimed_name: the name the idp gave at the time of the entry, for the organizer to compare
-- with the registry. Times are Unix seconds.
CREATE TABLE portal_links (
    sub                 TEXT PRIMARY KEY NOT NULL,
    registration_number TEXT NOT NULL,
    status              TEXT NOT NULL,
    source              TEXT NOT NULL,
    claimed_name        TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    decided_at          BIGINT,
    decided_by          TEXT
);
CREATE INDEX portal_links_status ON portal_links (status, created_at);
CREATE INDEX portal_links_number ON portal_links (registration_number);
