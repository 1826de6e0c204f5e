-- Card taps at a venue's kiosk (docs/portal.md, "Kiosk"). A tap is a fact: the card read, the
-- kiosk's time and the organizer whose kiosk read it. Its id is made by the kiosk, so a tap sent
-- again (a retry, the offline queue's sync) is the same row. A card the registry does not link
-- to a registration number yet is kept with registration_number NULL (unlinked) and resolved
-- when the link appears. The attendance of a doctor at an event is derived from the taps: the
-- first is the check-in, a later one (not a repeat) the check-out.
CREATE TABLE attendance_taps (
    id                  TEXT PRIMARY KEY NOT NULL,
    event_id            TEXT NOT NULL REFERENCES events (id),
    card_issuer         TEXT NOT NULL,
    card_subscriber     TEXT NOT NULL,
    holder_name         TEXT,
    registration_number TEXT,
    tapped_at           BIGINT NOT NULL,
    received_at         BIGINT NOT NULL,
    recorded_by         TEXT NOT NULL,
    method              TEXT NOT NULL
);
CREATE INDEX attendance_taps_card ON attendance_taps (card_issuer, card_subscriber, event_id, tapped_at);
CREATE INDEX attendance_taps_event ON attendance_taps (event_id, registration_number, tapped_at);

-- Check-in and check-out (Unix seconds) of attendances recorded by taps; NULL for imports.
ALTER TABLE attendances ADD COLUMN checked_in_at BIGINT;
ALTER TABLE attendances ADD COLUMN checked_out_at BIGINT;
