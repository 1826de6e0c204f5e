//! Credit systems as data (portal::store::systems::apply_system / export_system) on both
//! storage backends: a new system with codes and a rule, its export, an update in place, and the
//! refusals that leave nothing behind.

use portal::credits::Units;
use portal::credits::definition::{CapDef, CodeDef, RequirementDef, RuleDef, SystemDef};
use portal::credits::totals;
use portal::store::attendance::{Status, find_confirmed_credits};
use portal::store::systems::{apply_system, export_system, find_codes, find_rules};
use storage::testing::TestEnv;
use time::macros::date;

storage::each_backend!(
    a_system_is_applied_exported_and_updated_in_place,
    caps_per_event_and_per_fiscal_year_change_what_counts_at_once,
);

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
        caps: None,
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
    assert_eq!(rule.requirements[0].minimum, Units(2000));

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

async fn caps_per_event_and_per_fiscal_year_change_what_counts_at_once(env: TestEnv) {
    let app = crate::TestApp::on(env, date!(2026 - 12 - 01)).await;
    let doctor = app.linked_doctor("doc-caps", "123456", "山田　太郎").await;
    let db = app.db();
    let mut def = definition();
    apply_system(db, &def).await.unwrap();
    // A 4-unit event on two codes, a 3-unit and a 2-unit one in FY2026, one in FY2025.
    let attend = |id: &'static str, on, credits: &'static [(&'static str, &'static str, i64)]| {
        crate::seed::attend(db, "123456", id, on, Status::Confirmed, credits)
    };
    attend("K1", date!(2026 - 05 - 01), &[("jmsb", "specialty", 300), ("jmsb", "common.safety", 100)]).await;
    attend("K2", date!(2026 - 06 - 01), &[("jmsb", "specialty", 300)]).await;
    attend("K3", date!(2026 - 07 - 01), &[("jmsb", "specialty", 200)]).await;
    attend("K0", date!(2025 - 07 - 01), &[("jmsb", "specialty", 300)]).await;
    let year_units = |lines: &[portal::credits::CreditLine]| -> Vec<(i32, i64, usize)> {
        totals::by_fiscal_year(lines).iter().map(|t| (t.fiscal_year.0, t.units.0, t.distinct_codes)).collect()
    };
    let lines = find_confirmed_credits(db, "123456").await.unwrap();
    assert_eq!(year_units(&lines), [(2025, 300, 1), (2026, 900, 2)]);

    // At most 2 units per event, and 4 領域講習 units per fiscal year.
    def.caps = Some(vec![
        CapDef { per: "event".into(), code: None, maximum: "2".into() },
        CapDef { per: "fiscal_year".into(), code: Some("specialty".into()), maximum: "4".into() },
    ]);
    def.validate().unwrap();
    assert_eq!(apply_system(db, &def).await.unwrap().caps, Some(2));
    assert_eq!(export_system(db, "jmsb").await.unwrap().unwrap().caps, def.caps);
    let lines = find_confirmed_credits(db, "123456").await.unwrap();
    // Oldest first, and within a day in code order. FY2026: K1 1 of common.safety and 1 of
    // specialty (the event's 2 reached), K2 2 and K3 1 of specialty (the year's 4 reached).
    // FY2025: 2 (the event's cap).
    assert_eq!(year_units(&lines), [(2025, 200, 1), (2026, 500, 2)]);
    let rules = find_rules(db).await.unwrap();
    let progress =
        portal::credits::progress::progress(&rules, "jmsb_renewal", &lines, date!(2026 - 12 - 01)).unwrap();
    assert_eq!(progress.requirements[0].achieved, Units(600));
    // The doctor's history shows the counted total at once.
    let (_, _, html) = app.get("/history", &doctor).await;
    assert!(html.contains("<td class=\"num\">7</td><td class=\"num\">2</td>"), "{html}");

    // A file without `caps` keeps them; `caps = []` removes them.
    def.caps = None;
    assert_eq!(apply_system(db, &def).await.unwrap().caps, None);
    assert_eq!(
        find_confirmed_credits(db, "123456").await.unwrap().iter().map(|l| l.units.0).sum::<i64>(),
        700
    );
    def.caps = Some(vec![]);
    apply_system(db, &def).await.unwrap();
    let lines = find_confirmed_credits(db, "123456").await.unwrap();
    assert_eq!(year_units(&lines), [(2025, 300, 1), (2026, 900, 2)]);

    // Wrong caps name the field.
    for (cap, error) in [
        (
            CapDef { per: "week".into(), code: None, maximum: "2".into() },
            "cap 1: per \"week\": event or fiscal_year",
        ),
        (
            CapDef { per: "event".into(), code: Some("nope".into()), maximum: "2".into() },
            "cap 1: code \"nope\" is not a code of the system",
        ),
        (
            CapDef { per: "event".into(), code: None, maximum: "0".into() },
            "cap 1: maximum: units must be more than 0",
        ),
    ] {
        def.caps = Some(vec![cap]);
        assert_eq!(def.validate().unwrap_err(), error);
    }
}
