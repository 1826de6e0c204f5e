-- The history page reads a doctor's records three ways; each now finds what it needs in one
-- index without visiting the table:
-- * newest first (the listed page, and the fiscal years a doctor has records in);
-- * confirmed records with their ids (joined to their credits for totals and progress);
-- * a record's credits, stored in primary-key order (WITHOUT ROWID: one b-tree instead of a
--   table plus its key index, so imports write less too).
DROP INDEX attendances_doctor;
CREATE INDEX attendances_doctor ON attendances (registration_number, status, attended_on, id);
CREATE INDEX attendances_doctor_recent ON attendances (registration_number, attended_on DESC, id, fiscal_year);

CREATE TABLE attendance_credits_new (
    attendance_id TEXT NOT NULL REFERENCES attendances (id),
    system_id     TEXT NOT NULL,
    code          TEXT NOT NULL,
    units         BIGINT NOT NULL,
    PRIMARY KEY (attendance_id, system_id, code),
    FOREIGN KEY (system_id, code) REFERENCES credit_codes (system_id, code)
) WITHOUT ROWID;
INSERT INTO attendance_credits_new (attendance_id, system_id, code, units)
    SELECT attendance_id, system_id, code, units FROM attendance_credits;
DROP TABLE attendance_credits;
ALTER TABLE attendance_credits_new RENAME TO attendance_credits;
