-- The official names of the JMA curriculum codes (カリキュラムコード) of 日医生涯教育制度, from
-- 日本医師会生涯教育カリキュラム〈2016〉 (2022年4月版, https://www1.med.or.jp/cme/cmepdf.html): 84 codes,
-- 0 (最新のトピックス・その他) and 1–83. The seed of 0101 listed them as 1–84: code 0 is added,
-- and code 84, which the curriculum does not have, is removed unless a record already carries
-- it (an operator then corrects the records first; the code stays, nameless, until then).
-- A name an operator already recorded is kept. English names are the portal's translations.
INSERT INTO credit_codes (system_id, code, name_ja, name_en, sort_order)
SELECT 'jma_cme', '0', '最新のトピックス・その他', 'Latest topics and other subjects', 0
WHERE EXISTS (SELECT 1 FROM credit_systems WHERE id = 'jma_cme')
  AND NOT EXISTS (SELECT 1 FROM credit_codes WHERE system_id = 'jma_cme' AND code = '0');
DELETE FROM credit_codes
WHERE system_id = 'jma_cme' AND code = '84'
  AND NOT EXISTS (SELECT 1 FROM event_credits WHERE system_id = 'jma_cme' AND code = '84')
  AND NOT EXISTS (SELECT 1 FROM attendance_credits WHERE system_id = 'jma_cme' AND code = '84')
  AND NOT EXISTS (
      SELECT 1 FROM certificate_requirements r JOIN certificate_rules c ON c.id = r.rule_id
      WHERE c.system_id = 'jma_cme' AND r.code_scope = '84');
UPDATE credit_codes SET name_ja = '医師のプロフェッショナリズム', name_en = 'Medical professionalism' WHERE system_id = 'jma_cme' AND code = '1' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '医療倫理：臨床倫理', name_en = 'Medical ethics: clinical ethics' WHERE system_id = 'jma_cme' AND code = '2' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '医療倫理：研究倫理と生命倫理', name_en = 'Medical ethics: research ethics and bioethics' WHERE system_id = 'jma_cme' AND code = '3' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '医師－患者関係とコミュニケーション', name_en = 'Doctor–patient relationship and communication' WHERE system_id = 'jma_cme' AND code = '4' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '心理社会的アプローチ', name_en = 'Psychosocial approach' WHERE system_id = 'jma_cme' AND code = '5' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '医療制度と法律', name_en = 'Health system and law' WHERE system_id = 'jma_cme' AND code = '6' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '医療の質と安全', name_en = 'Quality and safety of care' WHERE system_id = 'jma_cme' AND code = '7' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '感染対策', name_en = 'Infection control' WHERE system_id = 'jma_cme' AND code = '8' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '医療情報', name_en = 'Medical information' WHERE system_id = 'jma_cme' AND code = '9' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = 'チーム医療', name_en = 'Team care' WHERE system_id = 'jma_cme' AND code = '10' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '予防と保健', name_en = 'Prevention and health' WHERE system_id = 'jma_cme' AND code = '11' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '地域医療', name_en = 'Community medicine' WHERE system_id = 'jma_cme' AND code = '12' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '医療と介護および福祉の連携', name_en = 'Coordination of medical care, long-term care and welfare' WHERE system_id = 'jma_cme' AND code = '13' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '災害医療', name_en = 'Disaster medicine' WHERE system_id = 'jma_cme' AND code = '14' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '臨床問題解決のプロセス', name_en = 'Clinical problem solving' WHERE system_id = 'jma_cme' AND code = '15' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = 'ショック', name_en = 'Shock' WHERE system_id = 'jma_cme' AND code = '16' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '急性中毒', name_en = 'Acute poisoning' WHERE system_id = 'jma_cme' AND code = '17' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '全身倦怠感', name_en = 'General fatigue' WHERE system_id = 'jma_cme' AND code = '18' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '身体機能の低下', name_en = 'Decline of physical function' WHERE system_id = 'jma_cme' AND code = '19' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '不眠', name_en = 'Insomnia' WHERE system_id = 'jma_cme' AND code = '20' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '食欲不振', name_en = 'Loss of appetite' WHERE system_id = 'jma_cme' AND code = '21' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '体重減少・るい痩', name_en = 'Weight loss and emaciation' WHERE system_id = 'jma_cme' AND code = '22' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '体重増加・肥満', name_en = 'Weight gain and obesity' WHERE system_id = 'jma_cme' AND code = '23' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '浮腫', name_en = 'Oedema' WHERE system_id = 'jma_cme' AND code = '24' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = 'リンパ節腫脹', name_en = 'Lymphadenopathy' WHERE system_id = 'jma_cme' AND code = '25' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '発疹', name_en = 'Rash' WHERE system_id = 'jma_cme' AND code = '26' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '黄疸', name_en = 'Jaundice' WHERE system_id = 'jma_cme' AND code = '27' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '発熱', name_en = 'Fever' WHERE system_id = 'jma_cme' AND code = '28' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '認知能の障害', name_en = 'Cognitive impairment' WHERE system_id = 'jma_cme' AND code = '29' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '頭痛', name_en = 'Headache' WHERE system_id = 'jma_cme' AND code = '30' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = 'めまい', name_en = 'Dizziness' WHERE system_id = 'jma_cme' AND code = '31' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '意識障害', name_en = 'Disturbance of consciousness' WHERE system_id = 'jma_cme' AND code = '32' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '失神', name_en = 'Syncope' WHERE system_id = 'jma_cme' AND code = '33' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '言語障害', name_en = 'Speech and language disorders' WHERE system_id = 'jma_cme' AND code = '34' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = 'けいれん発作', name_en = 'Seizures' WHERE system_id = 'jma_cme' AND code = '35' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '視力障害・視野狭窄', name_en = 'Visual impairment and visual field loss' WHERE system_id = 'jma_cme' AND code = '36' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '目の充血', name_en = 'Red eye' WHERE system_id = 'jma_cme' AND code = '37' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '聴覚障害', name_en = 'Hearing impairment' WHERE system_id = 'jma_cme' AND code = '38' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '鼻漏・鼻閉', name_en = 'Rhinorrhoea and nasal obstruction' WHERE system_id = 'jma_cme' AND code = '39' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '鼻出血', name_en = 'Epistaxis' WHERE system_id = 'jma_cme' AND code = '40' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '嗄声', name_en = 'Hoarseness' WHERE system_id = 'jma_cme' AND code = '41' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '胸痛', name_en = 'Chest pain' WHERE system_id = 'jma_cme' AND code = '42' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '動悸', name_en = 'Palpitations' WHERE system_id = 'jma_cme' AND code = '43' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '心肺停止', name_en = 'Cardiopulmonary arrest' WHERE system_id = 'jma_cme' AND code = '44' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '呼吸困難', name_en = 'Dyspnoea' WHERE system_id = 'jma_cme' AND code = '45' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '咳・痰・血痰', name_en = 'Cough, sputum and haemoptysis' WHERE system_id = 'jma_cme' AND code = '46' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '誤嚥', name_en = 'Aspiration' WHERE system_id = 'jma_cme' AND code = '47' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '誤飲', name_en = 'Accidental ingestion' WHERE system_id = 'jma_cme' AND code = '48' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '嚥下困難', name_en = 'Dysphagia' WHERE system_id = 'jma_cme' AND code = '49' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '吐血・下血', name_en = 'Haematemesis and melaena' WHERE system_id = 'jma_cme' AND code = '50' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '嘔気・嘔吐', name_en = 'Nausea and vomiting' WHERE system_id = 'jma_cme' AND code = '51' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '胸やけ', name_en = 'Heartburn' WHERE system_id = 'jma_cme' AND code = '52' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '腹痛', name_en = 'Abdominal pain' WHERE system_id = 'jma_cme' AND code = '53' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '便通異常（下痢・便秘）', name_en = 'Abnormal bowel habits (diarrhoea, constipation)' WHERE system_id = 'jma_cme' AND code = '54' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '肛門・会陰部痛', name_en = 'Anal and perineal pain' WHERE system_id = 'jma_cme' AND code = '55' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '熱傷', name_en = 'Burns' WHERE system_id = 'jma_cme' AND code = '56' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '外傷', name_en = 'Trauma' WHERE system_id = 'jma_cme' AND code = '57' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '褥瘡', name_en = 'Pressure ulcers' WHERE system_id = 'jma_cme' AND code = '58' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '背部痛', name_en = 'Back pain' WHERE system_id = 'jma_cme' AND code = '59' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '腰痛', name_en = 'Low back pain' WHERE system_id = 'jma_cme' AND code = '60' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '関節痛', name_en = 'Joint pain' WHERE system_id = 'jma_cme' AND code = '61' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '歩行障害', name_en = 'Gait disturbance' WHERE system_id = 'jma_cme' AND code = '62' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '四肢のしびれ', name_en = 'Numbness of the limbs' WHERE system_id = 'jma_cme' AND code = '63' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '肉眼的血尿', name_en = 'Macroscopic haematuria' WHERE system_id = 'jma_cme' AND code = '64' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '排尿障害（尿失禁・排尿困難）', name_en = 'Voiding disorders (incontinence, difficulty voiding)' WHERE system_id = 'jma_cme' AND code = '65' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '乏尿・尿閉', name_en = 'Oliguria and urinary retention' WHERE system_id = 'jma_cme' AND code = '66' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '多尿', name_en = 'Polyuria' WHERE system_id = 'jma_cme' AND code = '67' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '精神科領域の救急', name_en = 'Psychiatric emergencies' WHERE system_id = 'jma_cme' AND code = '68' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '不安', name_en = 'Anxiety' WHERE system_id = 'jma_cme' AND code = '69' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '気分の障害（うつ）', name_en = 'Mood disorders (depression)' WHERE system_id = 'jma_cme' AND code = '70' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '流・早産および満期産', name_en = 'Miscarriage, preterm and term birth' WHERE system_id = 'jma_cme' AND code = '71' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '成長・発達の障害', name_en = 'Disorders of growth and development' WHERE system_id = 'jma_cme' AND code = '72' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '慢性疾患・複合疾患の管理', name_en = 'Management of chronic and multiple diseases' WHERE system_id = 'jma_cme' AND code = '73' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '高血圧症', name_en = 'Hypertension' WHERE system_id = 'jma_cme' AND code = '74' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '脂質異常症', name_en = 'Dyslipidaemia' WHERE system_id = 'jma_cme' AND code = '75' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '糖尿病', name_en = 'Diabetes' WHERE system_id = 'jma_cme' AND code = '76' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '骨粗鬆症', name_en = 'Osteoporosis' WHERE system_id = 'jma_cme' AND code = '77' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '脳血管障害の後遺症', name_en = 'Sequelae of cerebrovascular disease' WHERE system_id = 'jma_cme' AND code = '78' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '気管支喘息', name_en = 'Bronchial asthma' WHERE system_id = 'jma_cme' AND code = '79' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '在宅医療', name_en = 'Home medical care' WHERE system_id = 'jma_cme' AND code = '80' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '終末期のケア', name_en = 'End-of-life care' WHERE system_id = 'jma_cme' AND code = '81' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '生活習慣', name_en = 'Lifestyle' WHERE system_id = 'jma_cme' AND code = '82' AND name_ja IS NULL;
UPDATE credit_codes SET name_ja = '相談・支援・指導', name_en = 'Counselling, support and guidance' WHERE system_id = 'jma_cme' AND code = '83' AND name_ja IS NULL;
