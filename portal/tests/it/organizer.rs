//! The organizer's event pages: list with counts, attendance decisions, CSV export.

use axum::body::Body;
use axum::http::{Request, header};
use portal::credits::Units;
use portal::import::{Options, attendance};
use portal::store::attendance::{NewAttendance, Status, create_attendances, find_confirmed_credits};
use portal::store::events::{Credit, Event, create_event, find_event};
use portal::store::organizer::find_event_attendances;
use storage::Db;
use storage::testing::TestEnv;
use time::Date;
use time::macros::date;

use crate::{TestApp, seed, text};

storage::each_backend!(
    only_organizers_see_event_pages,
    the_list_counts_attendance_by_status_and_filters,
    bulk_decisions_change_statuses_and_only_confirmed_records_count,
    the_export_is_the_import_format_and_reimports_unchanged,
    every_exported_row_names_its_record_and_no_cell_is_a_formula,
    titles_that_start_like_formulas_are_escaped_and_come_back_exactly,
    creating_and_editing_events_checks_every_field,
);

const HEADER: &str =
    "record_id,registration_number,event_id,date,event_title,organizer,venue,online,credits,status";

async fn import(db: &Db, csv: &str) -> portal::import::Report {
    let mut progress = |_| {};
    attendance::import(db, csv.as_bytes(), &Options::new(crate::now()), &mut progress).await.unwrap()
}

/// Event E1 with three provisional attendances of two doctors (one not in… the registry has both).
async fn seed_e1(db: &Db) {
    seed::doctor(db, "123456", "山田　太郎").await;
    seed::doctor(db, "234567", "佐藤　次郎").await;
    let csv = format!(
        "{HEADER}\n\
         R1,123456,E1,2026-06-01,在宅医療研修会,東京都医師会,東京,0,jma_cme:76=1;jma_cme:74=0.5,\n\
         R2,234567,E1,2026-06-01,,,,,,provisional\n\
         R3,123456,E1,2026-06-02,,,,,jma_cme:76=1,\n"
    );
    let report = import(db, &csv).await;
    assert_eq!((report.inserted, report.errors.len()), (3, 0), "{report:?}");
}

async fn attend(db: &Db, number: &str, event: &str, on: Date, status: Status, n: u32) {
    let mut conn = db.pool().acquire().await.unwrap();
    let records: Vec<NewAttendance> = (0..n)
        .map(|i| NewAttendance {
            idempotency_key: format!("t:{event}/{number}/{status}/{i}"),
            registration_number: number.into(),
            event_id: event.into(),
            attended_on: on,
            status,
            source: "test".into(),
            credits: vec![],
        })
        .collect();
    create_attendances(&mut conn, &records, 1).await.unwrap();
}

async fn only_organizers_see_event_pages(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed_e1(app.db()).await;
    let doctor = app.sign_in("doc-1", "山田　太郎", &["verifier"], None).await;
    for uri in ["/organizer/events", "/organizer/events/E1", "/organizer/events/E1/attendance.csv"] {
        let (status, _, html) = app.get(uri, &doctor).await;
        assert_eq!(status, 403, "{uri}");
        assert!(html.contains("このページを表示する権限がありません"), "{uri}: {html}");
        let (status, location, _) = app.get(uri, "portal_session=unknown").await;
        assert_eq!((status, location.as_deref()), (303, Some("/login")), "{uri}");
    }
    let ids: Vec<String> =
        find_event_attendances(app.db(), "E1").await.unwrap().into_iter().map(|a| a.id).collect();
    let (status, _, _) = app
        .post_form("/organizer/events/E1/attendance", &doctor, &[("action", "confirm"), ("id", &ids[0])])
        .await;
    assert_eq!(status, 403);
    assert!(
        find_event_attendances(app.db(), "E1").await.unwrap().iter().all(|a| a.status == Status::Provisional)
    );
    let (_, _, home) = app.get("/", &doctor).await;
    assert!(
        !home.contains("href=\"/organizer/events\"") && !home.contains("href=\"/organizer/import\""),
        "{home}"
    );
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let (_, _, home) = app.get("/", &organizer).await;
    assert!(
        home.contains("href=\"/organizer/events\"") && home.contains("href=\"/organizer/import\""),
        "{home}"
    );
    let (status, _, _) = app.get("/organizer/events/NOPE", &organizer).await;
    assert_eq!(status, 404);
}

fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("<tr id=\"event-{id}\">")).unwrap_or_else(|| panic!("{id}: {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

async fn the_list_counts_attendance_by_status_and_filters(env: TestEnv) {
    let app = TestApp::new(env).await;
    let db = app.db();
    seed::doctor(db, "123456", "山田　太郎").await;
    seed::event(db, "Alpha", date!(2026 - 06 - 01), &[("jma_cme", "76", 100)]).await;
    seed::event(db, "Beta", date!(2026 - 03 - 31), &[("jma_cme", "76", 100)]).await;
    seed::event(db, "Gamma", date!(2026 - 10 - 01), &[("jma_cme", "76", 100)]).await;
    attend(db, "123456", "Alpha", date!(2026 - 06 - 01), Status::Provisional, 2).await;
    attend(db, "123456", "Alpha", date!(2026 - 06 - 01), Status::Confirmed, 3).await;
    attend(db, "123456", "Alpha", date!(2026 - 06 - 01), Status::Rejected, 1).await;
    attend(db, "123456", "Beta", date!(2026 - 03 - 31), Status::Confirmed, 1).await;
    let organizer = app.sign_in("op-1", "運用　一郎", &["operator"], None).await;

    let (status, _, html) = app.get("/organizer/events", &organizer).await;
    assert_eq!(status, 200);
    let (g, a, b) = (
        html.find("event-Gamma").unwrap(),
        html.find("event-Alpha").unwrap(),
        html.find("event-Beta").unwrap(),
    );
    assert!(g < a && a < b, "newest first: {html}");
    let alpha = row_of(&html, "Alpha");
    assert!(alpha.contains("<td class=\"num provisional\">2</td>"), "{alpha}");
    assert!(alpha.contains("<td class=\"num confirmed\">3</td>"), "{alpha}");
    assert!(alpha.contains("<td class=\"num rejected\">1</td>"), "{alpha}");
    assert!(
        alpha.contains("2026-06-01") && alpha.contains("東京都医師会") && alpha.contains("東京"),
        "{alpha}"
    );
    assert!(alpha.contains("href=\"/organizer/events/Alpha\""), "{alpha}");
    let gamma = row_of(&html, "Gamma");
    assert!(
        gamma.contains("<td class=\"num provisional\">0</td>")
            && gamma.contains("<td class=\"num confirmed\">0</td>"),
        "{gamma}"
    );

    // Fiscal year 2025 runs to 31 March 2026: only Beta.
    let (_, _, html) = app.get("/organizer/events?year=2025", &organizer).await;
    assert!(
        html.contains("event-Beta") && !html.contains("event-Alpha") && !html.contains("event-Gamma"),
        "{html}"
    );
    let (_, _, html) = app.get("/organizer/events?year=2026&q=alpha", &organizer).await;
    assert!(
        html.contains("event-Alpha") && !html.contains("event-Beta") && !html.contains("event-Gamma"),
        "{html}"
    );
    let (_, _, html) = app.get("/organizer/events?q=%25", &organizer).await;
    assert!(html.contains("該当する講習会はありません。"), "`%` is matched literally: {html}");
    let (status, _, html) = app.get("/organizer/events?year=20x6", &organizer).await;
    assert_eq!(status, 200);
    assert!(html.contains("年度は西暦4桁で入力してください（例: 2026）。"), "{html}");
}

async fn bulk_decisions_change_statuses_and_only_confirmed_records_count(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    seed_e1(app.db()).await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let (status, _, html) = app.get("/organizer/events/E1", &organizer).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("在宅医療研修会") && html.contains("山田　太郎") && html.contains("佐藤　次郎"),
        "{html}"
    );
    assert_eq!(html.matches("name=\"id\"").count(), 3, "{html}");
    // Credits as a list, not the import's `jma_cme:74=0.5;jma_cme:76=1`.
    assert!(html.contains("<td>カリキュラムコード74: 0.5単位、76: 1単位</td>"), "{html}");
    assert!(!html.contains("jma_cme:"), "{html}");
    let (_, _, en) = app.get("/organizer/events/E1?lang=en", &organizer).await;
    assert!(en.contains("<td>Curriculum code 74: 0.5 units, 76: 1 unit</td>"), "{en}");
    let records = find_event_attendances(app.db(), "E1").await.unwrap();
    let id_of = |key: &str| records.iter().find(|a| a.idempotency_key == key).unwrap().id.clone();
    let (r1, r2, r3) = (id_of("import:R1"), id_of("import:R2"), id_of("import:R3"));

    // Nothing chosen, or no action.
    let (status, _, html) =
        app.post_form("/organizer/events/E1/attendance", &organizer, &[("action", "confirm")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("出席記録を1件以上選択してください。"), "{html}");
    let (status, _, html) =
        app.post_form("/organizer/events/E1/attendance", &organizer, &[("action", "x"), ("id", &r1)]).await;
    assert_eq!(status, 422);
    assert!(html.contains("確定か却下を選んでください。"), "{html}");

    let (status, location, _) = app
        .post_form(
            "/organizer/events/E1/attendance",
            &organizer,
            &[("action", "confirm"), ("id", &r1), ("id", &r2)],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/organizer/events/E1?done=confirm&count=2")));
    let (_, _, html) = app.get("/organizer/events/E1?done=confirm&count=2", &organizer).await;
    assert!(html.contains("2件の出席記録を確定しました。"), "{html}");
    assert_eq!(html.matches("name=\"id\"").count(), 1, "only the provisional record keeps a checkbox");
    let (_, location, _) = app
        .post_form(
            "/organizer/events/E1/attendance",
            &organizer,
            &[("action", "reject"), ("id", &r3), ("id", &r1)],
        )
        .await;
    assert_eq!(
        location.as_deref(),
        Some("/organizer/events/E1?done=reject&count=1"),
        "a decided record stays"
    );

    let statuses: Vec<(String, Status)> = find_event_attendances(app.db(), "E1")
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.idempotency_key, a.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("import:R1".to_owned(), Status::Confirmed),
            ("import:R2".to_owned(), Status::Confirmed),
            ("import:R3".to_owned(), Status::Rejected)
        ]
    );
    let decided: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT idempotency_key, decided_by, decided_at FROM attendances ORDER BY idempotency_key",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    let noon = keys::Clock::on_day(date!(2026 - 12 - 01)).now();
    for (key, by, at) in decided {
        assert_eq!((by.as_deref(), at), (Some("org-1"), Some(noon)), "{key}");
    }
    // Only the confirmed R1 counts for 123456 (R3 was rejected).
    let lines = find_confirmed_credits(app.db(), "123456").await.unwrap();
    let got: Vec<(String, i64)> = lines.iter().map(|l| (l.code.clone(), l.units.0)).collect();
    assert_eq!(got, [("74".to_owned(), 50), ("76".to_owned(), 100)]);
    let (_, _, html) = app.get("/organizer/events", &organizer).await;
    let e1 = row_of(&html, "E1");
    assert!(
        e1.contains("<td class=\"num confirmed\">2</td>") && e1.contains("<td class=\"num rejected\">1</td>"),
        "{e1}"
    );
}

async fn the_export_is_the_import_format_and_reimports_unchanged(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed_e1(app.db()).await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let r3 = find_event_attendances(app.db(), "E1")
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.idempotency_key == "import:R3")
        .unwrap()
        .id;
    app.post_form("/organizer/events/E1/attendance", &organizer, &[("action", "reject"), ("id", &r3)]).await;

    let req = Request::get("/organizer/events/E1/attendance.csv")
        .header(header::COOKIE, &organizer)
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(res.headers()[header::CONTENT_DISPOSITION], "attachment; filename=\"attendance-E1.csv\"");
    let body = text(res).await;
    assert_eq!(
        body,
        format!(
            "\u{feff}{HEADER}\r\n\
             R1,123456,E1,2026-06-01,在宅医療研修会,東京都医師会,東京,0,jma_cme:74=0.5;jma_cme:76=1,provisional\r\n\
             R2,234567,E1,2026-06-01,在宅医療研修会,東京都医師会,東京,0,jma_cme:74=0.5;jma_cme:76=1,provisional\r\n\
             R3,123456,E1,2026-06-02,在宅医療研修会,東京都医師会,東京,0,jma_cme:76=1,rejected\r\n"
        )
    );
    let before = find_event_attendances(app.db(), "E1").await.unwrap();
    let report = import(app.db(), &body).await;
    assert_eq!(
        (report.rows, report.inserted, report.unchanged, report.errors.len()),
        (3, 0, 3, 0),
        "{report:?}"
    );
    assert_eq!(find_event_attendances(app.db(), "E1").await.unwrap(), before);
}

async fn export(app: &TestApp, cookie: &str, event: &str) -> String {
    let req = Request::get(format!("/organizer/events/{event}/attendance.csv"))
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status(), 200);
    text(res).await
}

async fn attendance_count(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM attendances").fetch_one(db.pool()).await.unwrap()
}

/// Records written by other writers than an import (card tap, UI), and values that start like
/// spreadsheet formulas: the export names every record and escapes every formula start, and
/// importing it gives back exactly the same records.
async fn every_exported_row_names_its_record_and_no_cell_is_a_formula(env: TestEnv) {
    let app = TestApp::new(env).await;
    let db = app.db();
    seed::doctor(db, "123456", "山田　太郎").await;
    seed::doctor(db, "234567", "佐藤　次郎").await;
    let credit =
        |code: &str, units| Credit { system_id: "jma_cme".into(), code: code.into(), units: Units(units) };
    let event = Event {
        id: "E2".into(),
        title: "=HYPERLINK(\"http://evil.example/\",\"研修\")".into(),
        organizer: "'=1+2".into(),
        starts_on: date!(2026 - 07 - 01),
        ends_on: date!(2026 - 07 - 01),
        venue: Some("@会場".into()),
        online: false,
        credits: vec![credit("76", 100)],
    };
    create_event(&mut db.pool().acquire().await.unwrap(), &event, 1).await.unwrap();
    // A card tap, an entry in the UI, imports with and without a formula-like record_id, and an
    // import from before `key:` was reserved.
    let record = |key: &str, number: &str, status, source: &str, credits| NewAttendance {
        idempotency_key: key.into(),
        registration_number: number.into(),
        event_id: "E2".into(),
        attended_on: date!(2026 - 07 - 01),
        status,
        source: source.into(),
        credits,
    };
    let records = [
        record("tap:card-9/2026-07-01", "123456", Status::Provisional, "tap", vec![credit("76", 100)]),
        record(
            "entry:org-1/5",
            "234567",
            Status::Confirmed,
            "entry",
            vec![credit("76", 100), credit("1", 50)],
        ),
        record("import:-5", "123456", Status::Rejected, "import", vec![credit("76", 50)]),
        record("import:R1", "234567", Status::Provisional, "import", vec![credit("76", 100)]),
        record("import:key:legacy", "234567", Status::Confirmed, "import", vec![credit("2", 100)]),
    ];
    create_attendances(&mut db.pool().acquire().await.unwrap(), &records, 1).await.unwrap();
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;

    let body = export(&app, &organizer, "E2").await;
    let stored = find_event_attendances(db, "E2").await.unwrap();
    let id_of = |key: &str| portal::store::attendance::attendance_id(key);
    // Rows by date, number, record id; every value that starts like a formula gets one `'`.
    let mut expected = vec![
        ("123456", id_of("tap:card-9/2026-07-01"), "key:tap:card-9/2026-07-01", "jma_cme:76=1,provisional"),
        ("123456", id_of("import:-5"), "'-5", "jma_cme:76=0.5,rejected"),
        ("234567", id_of("entry:org-1/5"), "key:entry:org-1/5", "jma_cme:1=0.5;jma_cme:76=1,confirmed"),
        ("234567", id_of("import:R1"), "R1", "jma_cme:76=1,provisional"),
        ("234567", id_of("import:key:legacy"), "key:import:key:legacy", "jma_cme:2=1,confirmed"),
    ];
    expected.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut want = format!("\u{feff}{HEADER}\r\n");
    for (number, _, record_id, tail) in &expected {
        want.push_str(&format!(
            "{record_id},{number},E2,2026-07-01,\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"研修\"\")\",''=1+2,'@会場,0,{tail}\r\n"
        ));
    }
    assert_eq!(body, want);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(body.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let cell = cell.trim_start_matches('\u{feff}');
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
        }
    }

    // Importing the export changes nothing.
    let count = attendance_count(db).await;
    let report = import(db, &body).await;
    assert_eq!(
        (report.rows, report.inserted, report.unchanged, report.errors.len()),
        (5, 0, 5, 0),
        "{report:?}"
    );
    assert_eq!(find_event_attendances(db, "E2").await.unwrap(), stored);
    assert_eq!(attendance_count(db).await, count);
    assert_eq!(find_event(db, "E2").await.unwrap().unwrap().title, event.title);

    // Into a database without those records (nor the event), the import recreates them exactly:
    // same keys, ids, statuses and credits, and the same export.
    for sql in [
        "DELETE FROM attendance_credits WHERE attendance_id IN (SELECT id FROM attendances WHERE event_id = 'E2')",
        "DELETE FROM attendances WHERE event_id = 'E2'",
        "DELETE FROM event_credits WHERE event_id = 'E2'",
        "DELETE FROM events WHERE id = 'E2'",
    ] {
        sqlx::query(sql).execute(db.pool()).await.unwrap();
    }
    let report = import(db, &body).await;
    assert_eq!((report.rows, report.inserted, report.errors.len()), (5, 5, 0), "{report:?}");
    let again = find_event_attendances(db, "E2").await.unwrap();
    assert_eq!(again, stored);
    let keys: Vec<&str> = again.iter().map(|a| a.idempotency_key.as_str()).collect();
    for r in &records {
        assert!(keys.contains(&r.idempotency_key.as_str()), "{}", r.idempotency_key);
    }
    let recreated = find_event(db, "E2").await.unwrap().unwrap();
    assert_eq!(
        (&recreated.title, &recreated.organizer, &recreated.venue),
        (&event.title, &event.organizer, &event.venue)
    );
    assert_eq!(export(&app, &organizer, "E2").await, body);
}

/// Each title, its exported cell: one more `'` exactly when the title is `'*[=+\-@\t\r].*`.
async fn titles_that_start_like_formulas_are_escaped_and_come_back_exactly(env: TestEnv) {
    let app = TestApp::new(env).await;
    let db = app.db();
    seed::doctor(db, "123456", "山田　太郎").await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let cases = [
        ("=HYPERLINK(\"http://evil.example/\")", "\"'=HYPERLINK(\"\"http://evil.example/\"\")\""),
        ("'=1", "''=1"),
        ("''+2", "'''+2"),
        ("-", "'-"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("'x", "'x"),
        ("1-2", "1-2"),
    ];
    for (i, (title, cell)) in cases.iter().enumerate() {
        let id = format!("F{i}");
        let on = date!(2026 - 08 - 01);
        let e = Event {
            id: id.clone(),
            title: (*title).into(),
            organizer: "東京都医師会".into(),
            starts_on: on,
            ends_on: on,
            venue: None,
            online: true,
            credits: vec![],
        };
        create_event(&mut db.pool().acquire().await.unwrap(), &e, 1).await.unwrap();
        let credits = vec![Credit { system_id: "jma_cme".into(), code: "5".into(), units: Units(50) }];
        let a = NewAttendance {
            idempotency_key: format!("import:{id}"),
            registration_number: "123456".into(),
            event_id: id.clone(),
            attended_on: on,
            status: Status::Confirmed,
            source: "import".into(),
            credits,
        };
        create_attendances(&mut db.pool().acquire().await.unwrap(), &[a], 1).await.unwrap();
        let body = export(&app, &organizer, &id).await;
        assert_eq!(
            body,
            format!(
                "\u{feff}{HEADER}\r\n{id},123456,{id},2026-08-01,{cell},東京都医師会,,1,jma_cme:5=0.5,confirmed\r\n"
            ),
            "{title:?}"
        );
        for sql in [
            "DELETE FROM attendance_credits WHERE attendance_id IN (SELECT id FROM attendances WHERE event_id = $1)",
            "DELETE FROM attendances WHERE event_id = $1",
            "DELETE FROM events WHERE id = $1",
        ] {
            sqlx::query(sql).bind(&id).execute(db.pool()).await.unwrap();
        }
        let report = import(db, &body).await;
        assert_eq!((report.inserted, report.errors.len()), (1, 0), "{report:?}");
        assert_eq!(find_event(db, &id).await.unwrap().unwrap().title, *title);
        assert_eq!(export(&app, &organizer, &id).await, body);
    }
}

/// The message shown in the field block of `field`.
fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("<p class=\"field-error\" id=\"{field}_error\">");
    let start = html.find(&marker)? + marker.len();
    Some(&html[start..start + html[start..].find("</p>")?])
}

async fn creating_and_editing_events_checks_every_field(env: TestEnv) {
    let app = TestApp::new(env).await;
    let doctor = app.sign_in("doc-1", "山田　太郎", &[], None).await;
    for uri in ["/organizer/events/new", "/organizer/events/E1/edit"] {
        assert_eq!(app.get(uri, &doctor).await.0, 403, "{uri}");
        assert_eq!(app.post_form(uri, &doctor, &[("id", "E9")]).await.0, 403, "{uri}");
    }
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let (status, _, html) = app.get("/organizer/events/new", &organizer).await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"credits\""), "{html}");

    let (status, _, html) = app
        .post_form(
            "/organizer/events/new",
            &organizer,
            &[
                ("id", "E 1"),
                ("title", ""),
                ("organizer", ""),
                ("starts_on", "2026-13-01"),
                ("ends_on", "x"),
                ("credits", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&html, "id"), Some("講習会IDは半角英数字と「- _ .」で1〜64文字です。"));
    assert_eq!(field_error(&html, "title"), Some("講習会名を入力してください（200文字以内）。"));
    assert_eq!(field_error(&html, "organizer"), Some("主催者を入力してください（200文字以内）。"));
    assert_eq!(field_error(&html, "starts_on"), Some("日付を YYYY-MM-DD の形式で入力してください。"));
    assert_eq!(field_error(&html, "ends_on"), Some("日付を YYYY-MM-DD の形式で入力してください。"));
    assert_eq!(field_error(&html, "venue"), Some("会場を入力するか、オンライン開催を選んでください。"));
    assert_eq!(field_error(&html, "credits"), Some("単位を入力してください。"));
    assert!(
        html.contains("value=\"E 1\"") && html.contains("aria-invalid=\"true\""),
        "entries are kept: {html}"
    );

    let good = [
        ("id", "N1"),
        ("title", "新しい研修会"),
        ("organizer", "大阪府医師会"),
        ("starts_on", "2026-07-01"),
        ("ends_on", "2026-07-02"),
        ("venue", ""),
        ("online", "1"),
        ("credits", "jma_cme:76=1"),
    ];
    let with = |k: &str, v: &'static str| -> Vec<(&'static str, &'static str)> {
        good.iter().map(|(gk, gv)| if *gk == k { (*gk, v) } else { (*gk, *gv) }).collect()
    };
    for (field, value, message) in [
        ("ends_on", "2026-06-30", "終了日は開始日以降の日付にしてください。"),
        (
            "credits",
            "jma_cme:76=0.3",
            "単位の形式が正しくありません。 (jma_cme:76: units must be a multiple of 0.5: `0.3`)",
        ),
        ("credits", "nope:1=1", "単位の形式が正しくありません。 (unknown credit system `nope`)"),
    ] {
        let (status, _, html) = app.post_form("/organizer/events/new", &organizer, &with(field, value)).await;
        assert_eq!(status, 422, "{value}");
        assert_eq!(field_error(&html, field), Some(message), "{value}");
    }
    assert!(find_event(app.db(), "N1").await.unwrap().is_none(), "nothing written on error");

    let (status, location, _) = app.post_form("/organizer/events/new", &organizer, &good).await;
    assert_eq!((status, location.as_deref()), (303, Some("/organizer/events/N1")));
    let e = find_event(app.db(), "N1").await.unwrap().unwrap();
    assert_eq!(
        (e.title.as_str(), e.venue, e.online, e.ends_on),
        ("新しい研修会", None, true, date!(2026 - 07 - 02))
    );
    let (status, _, html) = app.post_form("/organizer/events/new", &organizer, &good).await;
    assert_eq!(status, 422);
    assert_eq!(field_error(&html, "id"), Some("この講習会IDはすでに使われています。"));

    // Edit: the form shows the event; the id cannot change.
    let (status, _, html) = app.get("/organizer/events/N1/edit", &organizer).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"jma_cme:76=1\"") && html.contains("value=\"新しい研修会\""), "{html}");
    let (status, _, html) =
        app.post_form("/organizer/events/N1/edit", &organizer, &with("venue", "")[..6]).await;
    assert_eq!(status, 422, "no venue and not online");
    assert_eq!(field_error(&html, "venue"), Some("会場を入力するか、オンライン開催を選んでください。"));
    let mut edited = with("venue", "大阪");
    edited.retain(|(k, _)| *k != "online");
    edited.push(("credits", "jma_cme:74=0.5;jma_cme:76=2"));
    edited.retain(|(k, v)| *k != "credits" || *v != "jma_cme:76=1");
    edited.push(("id", "OTHER"));
    let (status, location, _) = app.post_form("/organizer/events/N1/edit", &organizer, &edited).await;
    assert_eq!((status, location.as_deref()), (303, Some("/organizer/events/N1")));
    let e = find_event(app.db(), "N1").await.unwrap().unwrap();
    assert_eq!((e.venue.as_deref(), e.online), (Some("大阪"), false));
    let credits: Vec<(String, i64)> = e.credits.iter().map(|c| (c.code.clone(), c.units.0)).collect();
    assert_eq!(credits, [("74".to_owned(), 50), ("76".to_owned(), 200)]);
    assert!(find_event(app.db(), "OTHER").await.unwrap().is_none());
    assert_eq!(app.get("/organizer/events/NOPE/edit", &organizer).await.0, 404);
}
