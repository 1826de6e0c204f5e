-- The portal's credit data: credit systems as data (systems, codes, certificate rules), doctors
-- keyed by medical registration number (医籍登録番号), events with the credits they grant, and
-- attendance records with the credits they carry.
--
-- Conventions: instants are Unix seconds (BIGINT); calendar dates are Japan-time dates stored as
-- BIGINT YYYYMMDD (20270331), so that fiscal years (April–March) are integer arithmetic; units
-- are BIGINT hundredths (1.5 単位 = 150); flags are BIGINT 0/1.

-- A credit system: JMA lifelong education, occupational physician, ... Adding one is an INSERT.
CREATE TABLE credit_systems (
    id         TEXT PRIMARY KEY NOT NULL,
    name_ja    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    -- Smallest step of units, in hundredths (50: units come in 0.5 steps).
    unit_step  BIGINT NOT NULL,
    sort_order BIGINT NOT NULL
);

-- The codes of a system (JMA curriculum codes 1–84, occupational-physician training kinds...).
-- Codes are dotted paths ("basic.early.general"), so that a rule can name a whole branch.
-- name_ja is NULL where the official name is not recorded yet.
CREATE TABLE credit_codes (
    system_id  TEXT NOT NULL REFERENCES credit_systems (id),
    code       TEXT NOT NULL,
    name_ja    TEXT,
    name_en    TEXT,
    sort_order BIGINT NOT NULL,
    PRIMARY KEY (system_id, code)
);

-- A certificate (or completion) rule of a system: every requirement holds within one window.
-- window_kind: 'fiscal_years' (N consecutive April–March years), 'calendar_years' (N consecutive
-- January–December years), 'rolling_years' (the N years up to the day of evaluation),
-- 'all_time' (no window; window_years 0).
CREATE TABLE certificate_rules (
    id                   TEXT PRIMARY KEY NOT NULL,
    system_id            TEXT NOT NULL REFERENCES credit_systems (id),
    name_ja              TEXT NOT NULL,
    name_en              TEXT NOT NULL,
    window_kind          TEXT NOT NULL,
    window_years         BIGINT NOT NULL,
    -- Another rule that must hold as well (かかりつけ医: the JMA certificate).
    prerequisite_rule_id TEXT REFERENCES certificate_rules (id),
    sort_order           BIGINT NOT NULL
);

-- One requirement of a rule. measure: 'units', 'distinct_codes' or 'units_plus_distinct_codes'
-- (each distinct code counts as 1.00); minimum in hundredths. code_scope: NULL = every code of
-- the system, else a code and its dotted descendants ("basic" covers "basic.late").
-- seq 1 is the headline requirement shown as "N more to go".
CREATE TABLE certificate_requirements (
    rule_id    TEXT NOT NULL REFERENCES certificate_rules (id),
    seq        BIGINT NOT NULL,
    measure    TEXT NOT NULL,
    code_scope TEXT,
    minimum    BIGINT NOT NULL,
    PRIMARY KEY (rule_id, seq)
);

-- Doctors as the registry knows them, keyed by medical registration number (digits, no leading
-- zeros). source: 'registry' (import) or 'self' (entered by the doctor, confirmed by an organizer).
CREATE TABLE doctors (
    registration_number TEXT PRIMARY KEY NOT NULL,
    name                TEXT,
    kana_name           TEXT NOT NULL,
    birth_date          BIGINT NOT NULL,
    source              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

-- Training events. id: the organizer's event code (imports) or a generated id.
CREATE TABLE events (
    id         TEXT PRIMARY KEY NOT NULL,
    title      TEXT NOT NULL,
    organizer  TEXT NOT NULL,
    starts_on  BIGINT NOT NULL,
    ends_on    BIGINT NOT NULL,
    venue      TEXT,
    online     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Units and codes an event grants, per system.
CREATE TABLE event_credits (
    event_id  TEXT NOT NULL REFERENCES events (id),
    system_id TEXT NOT NULL,
    code      TEXT NOT NULL,
    units     BIGINT NOT NULL,
    PRIMARY KEY (event_id, system_id, code),
    FOREIGN KEY (system_id, code) REFERENCES credit_codes (system_id, code)
);

-- One doctor's attendance at one event. status: 'provisional' → 'confirmed' | 'rejected'; only
-- confirmed records count. idempotency_key: the writer's key (import: record id or
-- event/number/date); id is derived from it, so a repeated write never doubles a record.
-- fiscal_year is derived from attended_on (April–March; FY 2026 = 2026-04-01..2027-03-31).
CREATE TABLE attendances (
    id                  TEXT PRIMARY KEY NOT NULL,
    idempotency_key     TEXT NOT NULL UNIQUE,
    registration_number TEXT NOT NULL REFERENCES doctors (registration_number),
    event_id            TEXT NOT NULL REFERENCES events (id),
    attended_on         BIGINT NOT NULL,
    fiscal_year         BIGINT NOT NULL,
    status              TEXT NOT NULL,
    source              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    decided_at          BIGINT,
    decided_by          TEXT
);
CREATE INDEX attendances_doctor ON attendances (registration_number, status, attended_on);
CREATE INDEX attendances_event ON attendances (event_id, status);

-- The credits one attendance carries (usually the event's).
CREATE TABLE attendance_credits (
    attendance_id TEXT NOT NULL REFERENCES attendances (id),
    system_id     TEXT NOT NULL,
    code          TEXT NOT NULL,
    units         BIGINT NOT NULL,
    PRIMARY KEY (attendance_id, system_id, code),
    FOREIGN KEY (system_id, code) REFERENCES credit_codes (system_id, code)
);

-- Seed: 日医生涯教育制度 (JMA lifelong education). 1 単位 per hour of lecture, minimum 30 minutes
-- = 0.5 単位; each lecture topic carries one of the 84 curriculum codes (カリキュラムコード,
-- 日本医師会生涯教育カリキュラム<2016>); a code counts once. 日医生涯教育認定証 when 単位 +
-- distinct codes >= 60 over 3 consecutive fiscal years.
INSERT INTO credit_systems (id, name_ja, name_en, unit_step, sort_order) VALUES
    ('jma_cme', '日医生涯教育制度', 'JMA lifelong education', 50, 1);
-- Names are recorded only where checked against a published source; the others stay NULL until
-- a later migration fills them from the official curriculum.
INSERT INTO credit_codes (system_id, code, name_ja, name_en, sort_order) VALUES
    ('jma_cme', '1', NULL, NULL, 1),
    ('jma_cme', '2', NULL, NULL, 2),
    ('jma_cme', '3', NULL, NULL, 3),
    ('jma_cme', '4', NULL, NULL, 4),
    ('jma_cme', '5', NULL, NULL, 5),
    ('jma_cme', '6', NULL, NULL, 6),
    ('jma_cme', '7', NULL, NULL, 7),
    ('jma_cme', '8', NULL, NULL, 8),
    ('jma_cme', '9', NULL, NULL, 9),
    ('jma_cme', '10', NULL, NULL, 10),
    ('jma_cme', '11', NULL, NULL, 11),
    ('jma_cme', '12', NULL, NULL, 12),
    ('jma_cme', '13', NULL, NULL, 13),
    ('jma_cme', '14', NULL, NULL, 14),
    ('jma_cme', '15', NULL, NULL, 15),
    ('jma_cme', '16', NULL, NULL, 16),
    ('jma_cme', '17', NULL, NULL, 17),
    ('jma_cme', '18', NULL, NULL, 18),
    ('jma_cme', '19', NULL, NULL, 19),
    ('jma_cme', '20', NULL, NULL, 20),
    ('jma_cme', '21', NULL, NULL, 21),
    ('jma_cme', '22', NULL, NULL, 22),
    ('jma_cme', '23', NULL, NULL, 23),
    ('jma_cme', '24', NULL, NULL, 24),
    ('jma_cme', '25', NULL, NULL, 25),
    ('jma_cme', '26', NULL, NULL, 26),
    ('jma_cme', '27', NULL, NULL, 27),
    ('jma_cme', '28', NULL, NULL, 28),
    ('jma_cme', '29', NULL, NULL, 29),
    ('jma_cme', '30', NULL, NULL, 30),
    ('jma_cme', '31', NULL, NULL, 31),
    ('jma_cme', '32', NULL, NULL, 32),
    ('jma_cme', '33', NULL, NULL, 33),
    ('jma_cme', '34', NULL, NULL, 34),
    ('jma_cme', '35', NULL, NULL, 35),
    ('jma_cme', '36', NULL, NULL, 36),
    ('jma_cme', '37', NULL, NULL, 37),
    ('jma_cme', '38', NULL, NULL, 38),
    ('jma_cme', '39', NULL, NULL, 39),
    ('jma_cme', '40', NULL, NULL, 40),
    ('jma_cme', '41', NULL, NULL, 41),
    ('jma_cme', '42', NULL, NULL, 42),
    ('jma_cme', '43', NULL, NULL, 43),
    ('jma_cme', '44', NULL, NULL, 44),
    ('jma_cme', '45', NULL, NULL, 45),
    ('jma_cme', '46', NULL, NULL, 46),
    ('jma_cme', '47', NULL, NULL, 47),
    ('jma_cme', '48', NULL, NULL, 48),
    ('jma_cme', '49', NULL, NULL, 49),
    ('jma_cme', '50', NULL, NULL, 50),
    ('jma_cme', '51', NULL, NULL, 51),
    ('jma_cme', '52', NULL, NULL, 52),
    ('jma_cme', '53', NULL, NULL, 53),
    ('jma_cme', '54', NULL, NULL, 54),
    ('jma_cme', '55', NULL, NULL, 55),
    ('jma_cme', '56', NULL, NULL, 56),
    ('jma_cme', '57', NULL, NULL, 57),
    ('jma_cme', '58', NULL, NULL, 58),
    ('jma_cme', '59', NULL, NULL, 59),
    ('jma_cme', '60', NULL, NULL, 60),
    ('jma_cme', '61', NULL, NULL, 61),
    ('jma_cme', '62', NULL, NULL, 62),
    ('jma_cme', '63', NULL, NULL, 63),
    ('jma_cme', '64', NULL, NULL, 64),
    ('jma_cme', '65', NULL, NULL, 65),
    ('jma_cme', '66', NULL, NULL, 66),
    ('jma_cme', '67', NULL, NULL, 67),
    ('jma_cme', '68', NULL, NULL, 68),
    ('jma_cme', '69', NULL, NULL, 69),
    ('jma_cme', '70', NULL, NULL, 70),
    ('jma_cme', '71', NULL, NULL, 71),
    ('jma_cme', '72', NULL, NULL, 72),
    ('jma_cme', '73', NULL, NULL, 73),
    ('jma_cme', '74', '高血圧症', 'Hypertension', 74),
    ('jma_cme', '75', '脂質異常症', 'Dyslipidaemia', 75),
    ('jma_cme', '76', '糖尿病', 'Diabetes', 76),
    ('jma_cme', '77', NULL, NULL, 77),
    ('jma_cme', '78', NULL, NULL, 78),
    ('jma_cme', '79', NULL, NULL, 79),
    ('jma_cme', '80', '在宅医療', 'Home medical care', 80),
    ('jma_cme', '81', NULL, NULL, 81),
    ('jma_cme', '82', NULL, NULL, 82),
    ('jma_cme', '83', NULL, NULL, 83),
    ('jma_cme', '84', NULL, NULL, 84);
INSERT INTO certificate_rules (id, system_id, name_ja, name_en, window_kind, window_years, prerequisite_rule_id, sort_order) VALUES
    ('jma_cme_certificate', 'jma_cme', '日医生涯教育認定証', 'JMA lifelong-education certificate', 'fiscal_years', 3, NULL, 1);
INSERT INTO certificate_requirements (rule_id, seq, measure, code_scope, minimum) VALUES
    ('jma_cme_certificate', 1, 'units_plus_distinct_codes', NULL, 6000);

-- Seed: 日医かかりつけ医機能研修制度 (since April 2016). Completion (修了証, valid 3 years) needs
-- 基本研修 = the JMA lifelong-education certificate, 応用研修 = at least 10 units of the
-- prescribed lectures within 3 years (counted January–December by prefectural associations),
-- and 実地研修 = two prescribed local activities. Not expressed here: the per-category lecture
-- minimums of 応用研修 and the 実地研修 activities (not attendance records).
INSERT INTO credit_systems (id, name_ja, name_en, unit_step, sort_order) VALUES
    ('jma_kakaritsuke', '日医かかりつけ医機能研修制度', 'JMA family-doctor function training', 50, 2);
INSERT INTO credit_codes (system_id, code, name_ja, name_en, sort_order) VALUES
    ('jma_kakaritsuke', 'applied', '応用研修', 'Applied training', 1),
    ('jma_kakaritsuke', 'practice', '実地研修', 'Practical activities', 2);
INSERT INTO certificate_rules (id, system_id, name_ja, name_en, window_kind, window_years, prerequisite_rule_id, sort_order) VALUES
    ('jma_kakaritsuke_completion', 'jma_kakaritsuke', 'かかりつけ医機能研修制度 修了証', 'Family-doctor function training completion', 'calendar_years', 3, 'jma_cme_certificate', 2);
INSERT INTO certificate_requirements (rule_id, seq, measure, code_scope, minimum) VALUES
    ('jma_kakaritsuke_completion', 1, 'units', 'applied', 1000);

-- Seed: 日本医師会認定産業医 (occupational physician). 1 hour = 1 unit. 基礎研修: 50 units or
-- more, of which 前期 14 (with a minimum per subject), 実地 10 and 後期 26, with no time limit.
-- 生涯研修: 20 units within the 5-year validity of the certificate (更新研修, 実地研修, 専門研修).
-- The validity period runs from each doctor's certification date, which the portal does not hold
-- yet: the rule counts the 5 years up to the day of evaluation. Per-kind minimums of 生涯研修 are
-- not expressed.
INSERT INTO credit_systems (id, name_ja, name_en, unit_step, sort_order) VALUES
    ('jma_sangyoui', '日本医師会認定産業医制度', 'JMA occupational physician', 50, 3);
INSERT INTO credit_codes (system_id, code, name_ja, name_en, sort_order) VALUES
    ('jma_sangyoui', 'basic', '基礎研修', 'Basic training', 1),
    ('jma_sangyoui', 'basic.early', '基礎研修 前期', 'Basic training, first part', 2),
    ('jma_sangyoui', 'basic.early.general', '総論', 'General', 3),
    ('jma_sangyoui', 'basic.early.health_management', '健康管理', 'Health management', 4),
    ('jma_sangyoui', 'basic.early.mental_health', 'メンタルヘルス対策', 'Mental health', 5),
    ('jma_sangyoui', 'basic.early.health_promotion', '健康保持増進', 'Health promotion', 6),
    ('jma_sangyoui', 'basic.early.work_environment', '作業環境管理', 'Work environment management', 7),
    ('jma_sangyoui', 'basic.early.work_management', '作業管理', 'Work management', 8),
    ('jma_sangyoui', 'basic.early.hazardous_work', '有害業務管理', 'Hazardous work management', 9),
    ('jma_sangyoui', 'basic.early.practice', '産業医活動の実際', 'Occupational physician practice', 10),
    ('jma_sangyoui', 'basic.practical', '基礎研修 実地', 'Basic training, practical', 11),
    ('jma_sangyoui', 'basic.late', '基礎研修 後期', 'Basic training, second part', 12),
    ('jma_sangyoui', 'life', '生涯研修', 'Lifelong training', 13),
    ('jma_sangyoui', 'life.renewal', '生涯研修 更新', 'Lifelong training, renewal', 14),
    ('jma_sangyoui', 'life.practical', '生涯研修 実地', 'Lifelong training, practical', 15),
    ('jma_sangyoui', 'life.specialty', '生涯研修 専門', 'Lifelong training, specialty', 16);
INSERT INTO certificate_rules (id, system_id, name_ja, name_en, window_kind, window_years, prerequisite_rule_id, sort_order) VALUES
    ('jma_sangyoui_basic', 'jma_sangyoui', '認定産業医 基礎研修修了', 'Occupational physician basic training', 'all_time', 0, NULL, 3),
    ('jma_sangyoui_renewal', 'jma_sangyoui', '認定産業医 更新', 'Occupational physician renewal', 'rolling_years', 5, NULL, 4);
INSERT INTO certificate_requirements (rule_id, seq, measure, code_scope, minimum) VALUES
    ('jma_sangyoui_basic', 1, 'units', 'basic', 5000),
    ('jma_sangyoui_basic', 2, 'units', 'basic.early', 1400),
    ('jma_sangyoui_basic', 3, 'units', 'basic.practical', 1000),
    ('jma_sangyoui_basic', 4, 'units', 'basic.late', 2600),
    ('jma_sangyoui_basic', 5, 'units', 'basic.early.general', 200),
    ('jma_sangyoui_basic', 6, 'units', 'basic.early.health_management', 200),
    ('jma_sangyoui_basic', 7, 'units', 'basic.early.mental_health', 100),
    ('jma_sangyoui_basic', 8, 'units', 'basic.early.health_promotion', 100),
    ('jma_sangyoui_basic', 9, 'units', 'basic.early.work_environment', 200),
    ('jma_sangyoui_basic', 10, 'units', 'basic.early.work_management', 200),
    ('jma_sangyoui_basic', 11, 'units', 'basic.early.hazardous_work', 200),
    ('jma_sangyoui_basic', 12, 'units', 'basic.early.practice', 200),
    ('jma_sangyoui_renewal', 1, 'units', 'life', 2000);

-- Seed: 日本医師会認定健康スポーツ医. New: the 25 subjects of the 健康スポーツ医学講習会 (前期 and
-- 後期). Renewal: 再研修会 of 5 units or more (1 unit = 60 minutes) within the 5-year validity,
-- plus practical activity (not an attendance record, not expressed). As for the occupational
-- physician, the 5 years are counted up to the day of evaluation.
INSERT INTO credit_systems (id, name_ja, name_en, unit_step, sort_order) VALUES
    ('jma_sports', '日本医師会認定健康スポーツ医制度', 'JMA health sports physician', 50, 4);
INSERT INTO credit_codes (system_id, code, name_ja, name_en, sort_order) VALUES
    ('jma_sports', 'course', '健康スポーツ医学講習会', 'Health sports medicine course', 1),
    ('jma_sports', 'course.early', '健康スポーツ医学講習会 前期', 'Course, first part', 2),
    ('jma_sports', 'course.late', '健康スポーツ医学講習会 後期', 'Course, second part', 3),
    ('jma_sports', 'refresher', '再研修会', 'Refresher training', 4);
INSERT INTO certificate_rules (id, system_id, name_ja, name_en, window_kind, window_years, prerequisite_rule_id, sort_order) VALUES
    ('jma_sports_renewal', 'jma_sports', '認定健康スポーツ医 更新', 'Health sports physician renewal', 'rolling_years', 5, NULL, 5);
INSERT INTO certificate_requirements (rule_id, seq, measure, code_scope, minimum) VALUES
    ('jma_sports_renewal', 1, 'units', 'refresher', 500);
