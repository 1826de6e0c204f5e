-- Documents the portal issued (受講証明書, yearly credit statements, 日医生涯教育認定証).
-- id: 22 characters of base64url (128 random bits), the id in the verification URL /v/{id}.
-- kind: 'attendance' | 'statement' | 'jma_certificate'. period_from/period_to: YYYYMMDD (Japan
-- time), both included. jws: the compact JWS (ES256, a key of the portal's series in
-- signing_keys) whose payload is the whole content; the other columns index it. Times are Unix
-- seconds; revoked_at/revoked_reason are set once by an operator.
CREATE TABLE documents (
    id                  TEXT PRIMARY KEY NOT NULL,
    kind                TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    period_from         BIGINT NOT NULL,
    period_to           BIGINT NOT NULL,
    issued_at           BIGINT NOT NULL,
    jws                 TEXT NOT NULL,
    revoked_at          BIGINT,
    revoked_reason      TEXT
);
CREATE INDEX documents_doctor ON documents (registration_number, issued_at);
