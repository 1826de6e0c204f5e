-- The history page reads a doctor's records newest first (the listed page, and the fiscal years
-- a doctor has records in) and the confirmed records with their ids (joined to their credits);
-- both now come from one index each. (SQLite also stores attendance_credits WITHOUT ROWID in
-- this migration; PostgreSQL tables have no rowid to drop.)
DROP INDEX attendances_doctor;
CREATE INDEX attendances_doctor ON attendances (registration_number, status, attended_on, id);
CREATE INDEX attendances_doctor_recent ON attendances (registration_number, attended_on DESC, id, fiscal_year);
