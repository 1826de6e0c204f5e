-- Caps on the credits that count toward totals and certificates: at most `maximum` units
-- (hundredths) of a system's codes within `code_scope` (NULL: every code of the system) per event
-- (`per` = 'event') or per fiscal year, April–March (`per` = 'fiscal_year'). A record keeps the
-- units its event granted; the credits past a cap count for nothing, oldest credits first.
-- Set with `shikaku admin credits apply` (the definition's `caps`).
CREATE TABLE credit_caps (
    system_id  TEXT NOT NULL REFERENCES credit_systems (id),
    seq        BIGINT NOT NULL,
    per        TEXT NOT NULL,
    code_scope TEXT,
    maximum    BIGINT NOT NULL,
    PRIMARY KEY (system_id, seq)
);
