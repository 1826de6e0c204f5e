//! Credit systems as data (portal::store::systems::apply_system / export_system) on both
//! storage backends: a new system with codes and a rule, its export, an update in place, and the
//! refusals that leave nothing behind.

use portal::credits::definition::{CodeDef, RequirementDef, RuleDef, SystemDef};
use portal::store::systems::{apply_system, export_system, find_codes, find_rules};
use storage::testing::TestEnv;

storage::each_backend!(a_system_is_applied_exported_and_updated_in_place,);

fn definition() -> SystemDef {
    let code = |code: &str, ja: &str| CodeDef { code: code.into(), name_ja: Some(ja.into()), name_en: None };
    SystemDef {
        id: "jmsb".into(),
        name_ja: "日本専門医機構 専門医更新".into(),
        name_en: "JMSB renewal".into(),
        unit_step: "0.5".into(),
        sort_order: 20,
        codes: vec![
            code("common.safety", "医療安全"),
            code("common.other", "その他"),
            code("specialty", "領域講習"),
        ],
        rules: vec![RuleDef {
            id: "jmsb_renewal".into(),
            name_ja: "専門医更新".into(),
            name_en: "Renewal".into(),
            window: "rolling_years".into(),
            years: 5,
            prerequisite: None,
            requirements: vec![
                RequirementDef {
                    measure: "units".into(),
                    code: Some("specialty".into()),
                    minimum: "20".into(),
                },
                RequirementDef { measure: "units".into(), code: Some("common".into()), minimum: "3".into() },
            ],
        }],
    }
}

async fn a_system_is_applied_exported_and_updated_in_place(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    let def = definition();
    def.validate().unwrap();
    let applied = apply_system(db, &def).await.unwrap();
    assert!(applied.created);
    assert_eq!((applied.codes, applied.codes_kept, applied.rules), (3, 0, 1));
    assert_eq!(export_system(db, "jmsb").await.unwrap().as_ref(), Some(&def));
    let rules = find_rules(db).await.unwrap();
    let rule = rules.iter().find(|r| r.id == "jmsb_renewal").unwrap();
    assert_eq!(rule.requirements.len(), 2);
    assert_eq!(rule.requirements[0].minimum, portal::credits::Units(2000));

    // Renamed, a minimum raised, one code left out (kept), one requirement dropped.
    let mut changed = def.clone();
    changed.codes[0].name_ja = Some("医療安全（必修）".into());
    changed.codes.remove(1);
    changed.rules[0].requirements[0].minimum = "25".into();
    changed.rules[0].requirements.truncate(1);
    let applied = apply_system(db, &changed).await.unwrap();
    assert!(!applied.created);
    assert_eq!(applied.codes_kept, 1);
    let exported = export_system(db, "jmsb").await.unwrap().unwrap();
    assert_eq!(exported.rules, changed.rules);
    let names: Vec<(String, Option<String>)> = find_codes(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.system_id == "jmsb")
        .map(|c| (c.code, c.name_ja))
        .collect();
    assert!(names.contains(&("common.safety".into(), Some("医療安全（必修）".into()))), "{names:?}");
    assert!(names.iter().any(|n| n.0 == "common.other"), "kept: {names:?}");

    // A rule id of another system is refused, and the whole file with it.
    let mut thief = definition();
    thief.id = "thief".into();
    thief.rules[0].id = "jma_cme_certificate".into();
    let err = apply_system(db, &thief).await.unwrap_err();
    assert!(err.to_string().contains("belongs to another credit system"), "{err}");
    assert!(export_system(db, "thief").await.unwrap().is_none());
    // A prerequisite that exists nowhere.
    let mut orphan = definition();
    orphan.id = "orphan".into();
    orphan.rules[0].id = "orphan_rule".into();
    orphan.rules[0].prerequisite = Some("no_such_rule".into());
    assert!(apply_system(db, &orphan).await.unwrap_err().to_string().contains("no_such_rule"));
    assert!(export_system(db, "orphan").await.unwrap().is_none());
}
