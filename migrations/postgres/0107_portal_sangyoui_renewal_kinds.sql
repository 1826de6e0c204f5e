-- 日本医師会認定産業医, renewal: of the 20 units of 生涯研修 within the 5-year validity, at least 1
-- unit each of 更新研修, 実地研修 and 専門研修 (「認定産業医の手引」). 0101 left these per-kind
-- minimums out. A requirement an operator already wrote with `admin credits apply` stays.
INSERT INTO certificate_requirements (rule_id, seq, measure, code_scope, minimum) VALUES
    ('jma_sangyoui_renewal', 2, 'units', 'life.renewal', 100),
    ('jma_sangyoui_renewal', 3, 'units', 'life.practical', 100),
    ('jma_sangyoui_renewal', 4, 'units', 'life.specialty', 100)
ON CONFLICT (rule_id, seq) DO NOTHING;
