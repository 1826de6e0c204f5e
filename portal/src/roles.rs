//! hcRole values of HPKI cards (`Medical Doctor`, …) as shown to people: the Japanese name of
//! the qualification in the Japanese UI, the card's English value in the English UI.

use web::Lang;

/// hcRole values and their Japanese names (HPKI certificate policy: national qualifications
/// and the administrative roles). A value not listed is shown as the card has it.
const NAMES: &[(&str, &str)] = &[
    ("Medical Doctor", "医師"),
    ("Dentist", "歯科医師"),
    ("Pharmacist", "薬剤師"),
    ("Public Health Nurse", "保健師"),
    ("Midwife", "助産師"),
    ("Nurse", "看護師"),
    ("Assistant Nurse", "准看護師"),
    ("Medical Technologist", "臨床検査技師"),
    ("Radiological Technologist", "診療放射線技師"),
    ("Physical Therapist", "理学療法士"),
    ("Occupational Therapist", "作業療法士"),
    ("Orthoptist", "視能訓練士"),
    ("Speech Therapist", "言語聴覚士"),
    ("Clinical Engineer", "臨床工学技士"),
    ("Prosthetist and Orthotist", "義肢装具士"),
    ("Dental Hygienist", "歯科衛生士"),
    ("Dental Technician", "歯科技工士"),
    ("Emergency Medical Technician", "救急救命士"),
    ("Registered Dietitian", "管理栄養士"),
    ("Dietitian", "栄養士"),
    ("Certified Social Worker", "社会福祉士"),
    ("Certified Care Worker", "介護福祉士"),
    ("Psychiatric Social Worker", "精神保健福祉士"),
    ("Director of Hospital", "病院長"),
    ("Director of Clinic", "診療所長"),
];

/// The name of hcRole `role` in `lang`.
pub fn hc_role_name(role: &str, lang: Lang) -> &str {
    match lang {
        Lang::Ja => NAMES.iter().find(|(en, _)| *en == role).map_or(role, |(_, ja)| ja),
        Lang::En => role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_in_each_language() {
        assert_eq!(hc_role_name("Medical Doctor", Lang::Ja), "医師");
        assert_eq!(hc_role_name("Director of Hospital", Lang::Ja), "病院長");
        assert_eq!(hc_role_name("Medical Doctor", Lang::En), "Medical Doctor");
        assert_eq!(hc_role_name("Space Surgeon", Lang::Ja), "Space Surgeon", "unknown: as on the card");
    }
}
