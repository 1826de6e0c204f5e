//! Credit systems, attendance records and certificate progress on both backends.

use portal::credits::progress::{self, Window};
use portal::credits::rules::{Measure, WindowKind};
use portal::credits::{FiscalYear, Units, coverage, totals};
use portal::store::StoreError;
use portal::store::attendance::{
    NewAttendance, Status, attendance_id, create_attendances, find_attendances, find_confirmed_credits,
    update_attendance_status,
};
use portal::store::doctors::{Doctor, create_doctors, find_doctor};
use portal::store::events::{Credit, Event, create_event, find_event};
use portal::store::systems::{find_codes, find_rules, find_systems};
use storage::Db;
use storage::testing::TestEnv;
use time::Date;
use time::macros::date;

storage::each_backend!(
    seeded_systems_codes_and_rules,
    jma_certificate_boundary_59_5_vs_60,
    fiscal_year_edges_decide_the_window,
    only_confirmed_records_count_and_decisions_hold,
    the_same_record_is_never_doubled,
);

const NOW: i64 = 1_790_000_000;

async fn seeded_systems_codes_and_rules(env: TestEnv) {
    let db = &env.db.db;
    let systems = find_systems(db).await.unwrap();
    let ids: Vec<&str> = systems.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["jma_cme", "jma_kakaritsuke", "jma_sangyoui", "jma_sports"]);
    assert_eq!(systems[0].unit_step, Units(50));
    let codes = find_codes(db).await.unwrap();
    let jma: Vec<_> = codes.iter().filter(|c| c.system_id == "jma_cme").collect();
    assert_eq!(jma.len(), 84);
    // 0 (最新のトピックス・その他) and 1–83, each with its official name and an English one.
    let numbers: Vec<String> = jma.iter().map(|c| c.code.clone()).collect();
    assert_eq!(numbers, (0..84).map(|n| n.to_string()).collect::<Vec<_>>());
    assert!(jma.iter().all(|c| c.name_ja.is_some() && c.name_en.is_some()), "{jma:?}");
    assert_eq!(jma[0].name_ja.as_deref(), Some("最新のトピックス・その他"));
    assert_eq!(jma[1].name_ja.as_deref(), Some("医師のプロフェッショナリズム"));
    assert_eq!(jma[76].name_ja.as_deref(), Some("糖尿病"));
    assert_eq!(jma[83].name_en.as_deref(), Some("Counselling, support and guidance"));
    let rules = find_rules(db).await.unwrap();
    let jma_rule = rules.iter().find(|r| r.id == "jma_cme_certificate").unwrap();
    assert_eq!(jma_rule.window, WindowKind::FiscalYears(3));
    assert_eq!(jma_rule.requirements.len(), 1);
    assert_eq!(jma_rule.requirements[0].measure, Measure::UnitsPlusDistinctCodes);
    assert_eq!(jma_rule.requirements[0].minimum, Units::whole(60));
    let basic = rules.iter().find(|r| r.id == "jma_sangyoui_basic").unwrap();
    assert_eq!(basic.requirements[0].minimum, Units::whole(50));
    assert_eq!(basic.requirements.len(), 12);
    let kakari = rules.iter().find(|r| r.id == "jma_kakaritsuke_completion").unwrap();
    assert_eq!(kakari.prerequisite.as_deref(), Some("jma_cme_certificate"));
    // Occupational-physician renewal: 20 units of 生涯研修, at least 1 of each kind.
    let renewal = rules.iter().find(|r| r.id == "jma_sangyoui_renewal").unwrap();
    let scopes: Vec<(Option<&str>, Units)> =
        renewal.requirements.iter().map(|q| (q.code_scope.as_deref(), q.minimum)).collect();
    assert_eq!(
        scopes,
        [
            (Some("life"), Units::whole(20)),
            (Some("life.renewal"), Units::whole(1)),
            (Some("life.practical"), Units::whole(1)),
            (Some("life.specialty"), Units::whole(1)),
        ]
    );
}

/// A doctor, and an event granting `credits` on `on`; returns the doctor's number.
async fn doctor_and_event(db: &Db, event_id: &str, on: Date, credits: &[(&str, &str, i64)]) {
    let known = find_doctor(db, "123456").await.unwrap().is_some();
    let mut conn = db.pool().acquire().await.unwrap();
    if !known {
        let d = Doctor {
            registration_number: "123456".into(),
            name: Some("山田　太郎".into()),
            kana_name: "ヤマダ　タロウ".into(),
            birth_date: date!(1980 - 05 - 01),
            source: "registry".into(),
        };
        create_doctors(&mut conn, &[d], NOW).await.unwrap();
    }
    let e = Event {
        id: event_id.into(),
        title: format!("講習会 {event_id}"),
        organizer: "東京都医師会".into(),
        starts_on: on,
        ends_on: on,
        venue: Some("東京".into()),
        online: false,
        credits: credits
            .iter()
            .map(|(s, c, u)| Credit { system_id: (*s).into(), code: (*c).into(), units: Units(*u) })
            .collect(),
    };
    assert!(create_event(&mut conn, &e, NOW).await.unwrap());
    assert!(!create_event(&mut conn, &e, NOW).await.unwrap(), "an event id is created once");
    drop(conn);
    assert_eq!(find_event(db, event_id).await.unwrap().unwrap(), e);
}

async fn attend(db: &Db, key: &str, event_id: &str, on: Date, status: Status) -> u64 {
    let event = find_event(db, event_id).await.unwrap().unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    let a = NewAttendance {
        idempotency_key: key.into(),
        registration_number: "123456".into(),
        event_id: event_id.into(),
        attended_on: on,
        status,
        source: "test".into(),
        credits: event.credits,
    };
    create_attendances(&mut conn, &[a], NOW).await.unwrap()
}

async fn jma_progress(db: &Db, as_of: Date) -> progress::Progress {
    let rules = find_rules(db).await.unwrap();
    let lines = find_confirmed_credits(db, "123456").await.unwrap();
    progress::progress(&rules, "jma_cme_certificate", &lines, as_of).unwrap()
}

async fn jma_certificate_boundary_59_5_vs_60(env: TestEnv) {
    let db = &env.db.db;
    let codes: Vec<String> = (2..=40).map(|c| c.to_string()).collect();
    let credits: Vec<(&str, &str, i64)> = codes.iter().map(|c| ("jma_cme", c.as_str(), 50)).collect();
    // Event A (FY2024): codes 2..=40 at 0.5 → 19.5 units + 39 codes = 58.5.
    doctor_and_event(db, "A", date!(2024 - 06 - 01), &credits).await;
    attend(db, "a", "A", date!(2024 - 06 - 01), Status::Confirmed).await;
    // Event B (FY2026): code 2 again, 0.5 → +0.5 units, no new code: 59.
    doctor_and_event(db, "B", date!(2026 - 05 - 01), &[("jma_cme", "2", 50)]).await;
    attend(db, "b", "B", date!(2026 - 05 - 01), Status::Confirmed).await;
    // Event C (FY2026): code 3, 0.5 → 59.5.
    doctor_and_event(db, "C", date!(2026 - 06 - 01), &[("jma_cme", "3", 50)]).await;
    attend(db, "c", "C", date!(2026 - 06 - 01), Status::Confirmed).await;
    let p = jma_progress(db, date!(2026 - 12 - 01)).await;
    assert_eq!(p.requirements[0].achieved, Units(5950));
    assert!(!p.met, "59.5 is not 60");
    assert_eq!(p.remaining(), Units(50));
    assert_eq!(p.deadline, Some(date!(2027 - 03 - 31)));
    assert_eq!(p.window, Some(Window { from: date!(2024 - 04 - 01), to: date!(2027 - 03 - 31) }));
    assert_eq!(
        format!("{} more to go before {}", p.remaining(), p.deadline.unwrap()),
        "0.5 more to go before 2027-03-31"
    );
    // Code 1, 0.5 units: one more half unit and one more code → 61.
    doctor_and_event(db, "D", date!(2027 - 01 - 10), &[("jma_cme", "1", 50)]).await;
    attend(db, "d", "D", date!(2027 - 01 - 10), Status::Confirmed).await;
    let p = jma_progress(db, date!(2027 - 01 - 10)).await;
    assert_eq!(p.requirements[0].achieved, Units(6100));
    assert!(p.met);
    assert_eq!(p.remaining(), Units(0));
    // Coverage over all time: 40 of 84 cells filled.
    let codes = find_codes(db).await.unwrap();
    let lines = find_confirmed_credits(db, "123456").await.unwrap();
    let grid = coverage::grid("jma_cme", &codes, &lines, None);
    assert_eq!(grid.len(), 84);
    assert_eq!(grid.iter().filter(|c| c.filled()).count(), 40);
    assert_eq!((grid[2].code.as_str(), grid[2].units), ("2", Units(100)), "code 2 earned twice 0.5");
    // Totals per fiscal year.
    let t = totals::by_fiscal_year(&lines);
    let fy: Vec<(FiscalYear, Units, usize)> =
        t.iter().map(|t| (t.fiscal_year, t.units, t.distinct_codes)).collect();
    assert_eq!(fy, [(FiscalYear(2024), Units(1950), 39), (FiscalYear(2026), Units(150), 3)]);
}

async fn fiscal_year_edges_decide_the_window(env: TestEnv) {
    let db = &env.db.db;
    // 60 points earned exactly: 30 codes at 1 unit, all on 31 March 2024 (FY2023).
    let codes: Vec<String> = (1..=30).map(|c| c.to_string()).collect();
    let credits: Vec<(&str, &str, i64)> = codes.iter().map(|c| ("jma_cme", c.as_str(), 100)).collect();
    doctor_and_event(db, "E", date!(2024 - 03 - 31), &credits).await;
    attend(db, "e", "E", date!(2024 - 03 - 31), Status::Confirmed).await;
    // On 31 March 2026 the window is FY2023–FY2025: it counts.
    let p = jma_progress(db, date!(2026 - 03 - 31)).await;
    assert!(p.met, "{p:?}");
    assert_eq!(p.requirements[0].achieved, Units(6000));
    // On 1 April 2026 the window moves to FY2024–FY2026: 31 March 2024 falls out.
    let p = jma_progress(db, date!(2026 - 04 - 01)).await;
    assert!(!p.met);
    assert_eq!(p.requirements[0].achieved, Units(0));
    assert_eq!(p.remaining(), Units::whole(60));
    assert_eq!(p.deadline, Some(date!(2027 - 03 - 31)));
    // An attendance on 1 April 2024 belongs to FY2024 and stays in that window.
    doctor_and_event(db, "F", date!(2024 - 04 - 01), &[("jma_cme", "76", 200)]).await;
    attend(db, "f", "F", date!(2024 - 04 - 01), Status::Confirmed).await;
    let p = jma_progress(db, date!(2026 - 04 - 01)).await;
    assert_eq!(p.requirements[0].achieved, Units(300), "2 units + 1 code");
    let p = jma_progress(db, date!(2027 - 04 - 01)).await;
    assert_eq!(p.requirements[0].achieved, Units(0), "FY2024 left the window on 1 April 2027");
}

async fn only_confirmed_records_count_and_decisions_hold(env: TestEnv) {
    let db = &env.db.db;
    doctor_and_event(db, "G", date!(2026 - 07 - 01), &[("jma_cme", "74", 100), ("jma_cme", "76", 50)]).await;
    assert_eq!(attend(db, "g", "G", date!(2026 - 07 - 01), Status::Provisional).await, 1);
    assert!(find_confirmed_credits(db, "123456").await.unwrap().is_empty(), "provisional does not count");
    let list = find_attendances(db, "123456").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, Status::Provisional);
    assert_eq!(list[0].credits.len(), 2);
    let id = attendance_id("g");
    assert_eq!(list[0].id, id);
    update_attendance_status(db, &id, Status::Confirmed, "organizer-1", NOW).await.unwrap();
    update_attendance_status(db, &id, Status::Confirmed, "organizer-1", NOW).await.unwrap();
    let err = update_attendance_status(db, &id, Status::Rejected, "organizer-1", NOW).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m == "the attendance is already confirmed"), "{err:?}");
    assert!(matches!(
        update_attendance_status(db, "nope", Status::Confirmed, "o", NOW).await,
        Err(StoreError::NotFound)
    ));
    let lines = find_confirmed_credits(db, "123456").await.unwrap();
    assert_eq!(lines.iter().map(|l| l.units).sum::<Units>(), Units(150));
    // A rejected record does not count either.
    doctor_and_event(db, "H", date!(2026 - 07 - 02), &[("jma_cme", "75", 100)]).await;
    attend(db, "h", "H", date!(2026 - 07 - 02), Status::Provisional).await;
    update_attendance_status(db, &attendance_id("h"), Status::Rejected, "organizer-1", NOW).await.unwrap();
    assert_eq!(find_confirmed_credits(db, "123456").await.unwrap().len(), 2);
}

async fn the_same_record_is_never_doubled(env: TestEnv) {
    let db = &env.db.db;
    doctor_and_event(db, "I", date!(2026 - 08 - 01), &[("jma_cme", "80", 100)]).await;
    assert_eq!(attend(db, "tap-1", "I", date!(2026 - 08 - 01), Status::Confirmed).await, 1);
    assert_eq!(attend(db, "tap-1", "I", date!(2026 - 08 - 01), Status::Confirmed).await, 0);
    let lines = find_confirmed_credits(db, "123456").await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].units, Units(100));
}
