//! `shikaku admin import attendance|registry`: per-row reports, encodings, idempotency, dry runs.

use std::path::Path;

use sqlx::Connection;
use storage::testing::{self, TestDb};

use crate::{Workdir, stderr, stdout};

const REGISTRY: &str = "\
registration_number,kana_name,birth_date,name
123456,ヤマダ　タロウ,1980-05-01,山田　太郎
０２３４５６７,スズキ　ハナコ,1975/12/3,
12a,ヤマダ,1980-01-01,
345678,山田,1980-01-01,
456789,サトウ,1980-02-30,
123456,ヤマダ,1980-05-01,
";

const ATTENDANCE: &str = "\
registration_number,event_id,event_title,organizer,date,credits,status
123456,EV1,糖尿病の最新治療,東京都医師会,2026-06-01,jma_cme:76=1;jma_cme:74=0.5,confirmed
234567,EV1,,,2026-06-01,,confirmed
999999,EV1,,,2026-06-01,,
123456,EV2,講演会,東京都医師会,2026-13-01,jma_cme:1=1,
123456,EV2,講演会,東京都医師会,2026-07-01,jma_cme:1=-1,
123456,EV2,講演会,東京都医師会,2026-07-01,jma_cme:1=0.3,
123456,EV2,講演会,東京都医師会,2026-07-01,jma_cme:85=1,
123456,EV2,講演会,東京都医師会,2026-07-01,other:1=1,
123456,EV3,,,2026-07-01,jma_cme:1=1,
123456,EV2
123456,EV1,,,2026-06-01,,confirmed
";

const ATTENDANCE_REPORT: &str = "\
line 4, column registration_number: unknown registration number 999999 (import the registry first)
line 5, column date: `2026-13-01` is not a date (YYYY-MM-DD)
line 6, column credits: jma_cme:1: units must not be negative: `-1`
line 7, column credits: jma_cme:1: units must be a multiple of 0.5: `0.3`
line 8, column credits: unknown code `85` in system `jma_cme`
line 9, column credits: unknown credit system `other`
line 10, column event_id: unknown event `EV3`: give event_title and organizer to create it
line 11: expected 7 fields, found 2
line 12: same record as line 2
";

fn import(w: &Workdir, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["admin", "import"];
    all.extend_from_slice(args);
    let out = w.run(&all);
    (out.status.code(), stdout(&out), stderr(&out))
}

/// (attendances, attendance credits, doctors, events) in the database at `url`.
async fn counts(url: &str) -> (i64, i64, i64, i64) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut out = Vec::new();
    for table in ["attendances", "attendance_credits", "doctors", "events"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        out.push(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await.unwrap());
    }
    conn.close().await.ok();
    (out[0], out[1], out[2], out[3])
}

fn sqlite_url(w: &Workdir) -> String {
    format!("sqlite://{}", w.path().join("data/shikaku.db").display())
}

#[tokio::test]
async fn registry_then_attendance_with_a_report_per_bad_row() {
    let w = Workdir::new();
    w.file("registry.csv", REGISTRY);
    w.file("attendance.csv", ATTENDANCE);
    let (code, out, err) = import(&w, &["registry", "registry.csv"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        out,
        "line 4, column registration_number: `12a` is not a registration number (1 to 8 digits)\n\
         line 5, column kana_name: `山田` is not a katakana name\n\
         line 6, column birth_date: `1980-02-30` is not a date (YYYY-MM-DD)\n\
         line 7, column registration_number: same registration number as line 2\n\
         registry: 6 rows, 2 added, 0 updated, 0 already present, 4 rejected (UTF-8)\n"
    );
    assert!(err.ends_with("error: 4 row(s) rejected\n"), "{err}");

    let (code, out, err) = import(&w, &["attendance", "attendance.csv"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        out,
        format!(
            "{ATTENDANCE_REPORT}attendance: 11 rows, 2 added, 0 updated, 0 already present, 9 rejected (UTF-8)\n"
        )
    );
    // Row 3 took the event's credits (2), row 2 its own (2); one event was created.
    assert_eq!(counts(&sqlite_url(&w)).await, (2, 4, 2, 1));
}

#[tokio::test]
async fn importing_again_changes_nothing_and_a_dry_run_writes_nothing() {
    let w = Workdir::new();
    w.file("registry.csv", REGISTRY);
    w.file("attendance.csv", ATTENDANCE);
    let (_, out, _) = import(&w, &["registry", "registry.csv", "--dry-run"]);
    assert!(out.ends_with("dry run, nothing written: registry: 6 rows, 2 added, 0 updated, 0 already present, 4 rejected (UTF-8)\n"), "{out}");
    assert_eq!(counts(&sqlite_url(&w)).await, (0, 0, 0, 0));
    import(&w, &["registry", "registry.csv"]);
    let (_, out, _) = import(&w, &["registry", "registry.csv"]);
    assert!(
        out.ends_with("registry: 6 rows, 0 added, 0 updated, 2 already present, 4 rejected (UTF-8)\n"),
        "{out}"
    );

    let (_, out, _) = import(&w, &["attendance", "attendance.csv", "--dry-run"]);
    assert!(out.ends_with("dry run, nothing written: attendance: 11 rows, 2 added, 0 updated, 0 already present, 9 rejected (UTF-8)\n"), "{out}");
    assert_eq!(counts(&sqlite_url(&w)).await, (0, 0, 2, 0), "the dry run created neither events nor records");
    import(&w, &["attendance", "attendance.csv"]);
    let before = counts(&sqlite_url(&w)).await;
    let (_, out, _) = import(&w, &["attendance", "attendance.csv"]);
    assert_eq!(
        out,
        format!(
            "{ATTENDANCE_REPORT}attendance: 11 rows, 0 added, 0 updated, 2 already present, 9 rejected (UTF-8)\n"
        )
    );
    assert_eq!(counts(&sqlite_url(&w)).await, before);

    // A corrected registry row updates the doctor; a clean file exits 0.
    w.file("fix.csv", "registration_number,kana_name,birth_date\n123456,ヤマダ　タロウ,1980-05-02\n");
    let (code, out, _) = import(&w, &["registry", "fix.csv"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "registry: 1 rows, 0 added, 1 updated, 0 already present, 0 rejected (UTF-8)\n");
}

#[tokio::test]
async fn shift_jis_files_are_detected_or_chosen() {
    let w = Workdir::new();
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(REGISTRY);
    assert!(!unmappable);
    std::fs::write(w.path().join("registry-sjis.csv"), &sjis).unwrap();
    // Read as UTF-8 on purpose: every row with Japanese text is rejected, nothing is garbled in.
    let (code, out, _) = import(&w, &["registry", "registry-sjis.csv", "--encoding", "utf-8"]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with(
        "line 2, column kana_name: not valid UTF-8 (save the file as UTF-8 or Shift_JIS and import it again)\n\
         line 3, column registration_number: not valid UTF-8 (save the file as UTF-8 or Shift_JIS and import it again)\n"
    ), "{out}");
    assert!(
        out.ends_with("registry: 6 rows, 0 added, 0 updated, 0 already present, 6 rejected (UTF-8)\n"),
        "{out}"
    );
    let (code, out, _) = import(&w, &["registry", "registry-sjis.csv"]);
    assert_eq!(code, Some(1));
    assert!(
        out.ends_with("registry: 6 rows, 2 added, 0 updated, 0 already present, 4 rejected (Shift_JIS)\n"),
        "{out}"
    );
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(ATTENDANCE);
    std::fs::write(w.path().join("attendance-sjis.csv"), &sjis).unwrap();
    let (_, out, _) = import(&w, &["attendance", "attendance-sjis.csv", "--encoding", "shift_jis"]);
    assert_eq!(
        out,
        format!(
            "{ATTENDANCE_REPORT}attendance: 11 rows, 2 added, 0 updated, 0 already present, 9 rejected (Shift_JIS)\n"
        )
    );
    // The kanji title arrived intact.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&sqlite_url(&w)).await.unwrap();
    let title: String =
        sqlx::query_scalar("SELECT title FROM events WHERE id = 'EV1'").fetch_one(&mut conn).await.unwrap();
    assert_eq!(title, "糖尿病の最新治療");
}

#[test]
fn a_file_without_a_required_column_is_refused_whole() {
    let w = Workdir::new();
    w.file("a.csv", "registration_number,event_id,credits\n123456,EV1,jma_cme:1=1\n");
    let (code, out, err) = import(&w, &["attendance", "a.csv"]);
    assert_eq!(code, Some(1));
    assert_eq!(out, "");
    assert_eq!(err.lines().last(), Some("error: a.csv: line 1: missing column `date`"));
    let (code, _, err) = import(&w, &["attendance", "missing.csv"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("error: cannot read missing.csv"), "{err}");
    let (code, _, err) = import(&w, &["attendance", "a.csv", "--encoding", "latin1"]);
    assert_eq!(code, Some(2), "{err}");
}

#[tokio::test]
async fn postgres_import_and_reimport() {
    let Some(pg) = testing::postgres_url() else {
        eprintln!("note: SHIKAKU_TEST_POSTGRES_URL not set; PostgreSQL variant not run");
        return;
    };
    let db = TestDb::postgres_empty(&pg).await;
    let w = Workdir::new().env("SHIKAKU_DATABASE_URL", db.url());
    w.file("registry.csv", REGISTRY);
    w.file("attendance.csv", ATTENDANCE);
    import(&w, &["registry", "registry.csv"]);
    let (_, out, err) = import(&w, &["attendance", "attendance.csv"]);
    assert_eq!(
        out,
        format!(
            "{ATTENDANCE_REPORT}attendance: 11 rows, 2 added, 0 updated, 0 already present, 9 rejected (UTF-8)\n"
        ),
        "{err}"
    );
    let (_, out, _) = import(&w, &["attendance", "attendance.csv"]);
    assert!(
        out.ends_with("attendance: 11 rows, 0 added, 0 updated, 2 already present, 9 rejected (UTF-8)\n"),
        "{out}"
    );
    assert_eq!(counts(db.url()).await, (2, 4, 2, 1));
    assert!(!Path::new(&w.path().join("data/shikaku.db")).exists());
}

const REGISTRY_WITH_CARDS: &str = "\
registration_number,kana_name,birth_date,issuer,subscriber_id
123456,ヤマダ　タロウ,1980-05-01,\"C=JP, O=JMA, CN=HPKI Auth CA\",TESTJ00001
234567,スズキ　ハナコ,1975-12-03,,
345678,サトウ　ジロウ,1970-01-02,\"C=JP, O=JMA, CN=HPKI Auth CA\",
";

/// (issuer, subscriber id, registration number, birth date, kana) rows of the idp's registry.
async fn identities(url: &str) -> Vec<(String, String, String, String, String)> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT issuer, subscriber_id, registration_number, birth_date, kana_name FROM identity_attributes \
         ORDER BY registration_number",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    rows
}

/// Registry rows that name a card also reach the idp (for the `license` claims); a row with
/// half a card is refused; a dry run writes neither; a changed row replaces the idp's copy.
async fn registry_rows_with_a_card_reach_the_idp(w: Workdir, url: String) {
    w.file("registry.csv", REGISTRY_WITH_CARDS);
    let (code, out, _) = import(&w, &["registry", "registry.csv", "--dry-run"]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("line 4: give both issuer and subscriber_id, or neither\n"), "{out}");
    assert!(identities(&url).await.is_empty(), "a dry run writes nothing");

    let (code, out, _) = import(&w, &["registry", "registry.csv"]);
    assert_eq!(code, Some(1));
    assert!(
        out.ends_with("registry: 3 rows, 2 added, 0 updated, 0 already present, 1 rejected (UTF-8)\n"),
        "{out}"
    );
    let expected = (
        "C=JP, O=JMA, CN=HPKI Auth CA".to_owned(),
        "TESTJ00001".to_owned(),
        "123456".to_owned(),
        "1980-05-01".to_owned(),
        "ヤマダ　タロウ".to_owned(),
    );
    assert_eq!(identities(&url).await, vec![expected.clone()]);

    w.file(
        "fix.csv",
        "registration_number,kana_name,birth_date,issuer,subscriber_id\n\
         123456,ヤマダ　タロウ,1980-05-02,\"C=JP, O=JMA, CN=HPKI Auth CA\",TESTJ00001\n",
    );
    let (code, _, err) = import(&w, &["registry", "fix.csv"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        identities(&url).await,
        vec![(expected.0, expected.1, expected.2, "1980-05-02".into(), expected.4)]
    );
}

#[tokio::test]
async fn registry_cards_on_sqlite() {
    let w = Workdir::new();
    let url = sqlite_url(&w);
    registry_rows_with_a_card_reach_the_idp(w, url).await;
}

#[tokio::test]
async fn registry_cards_on_postgres() {
    let Some(pg) = testing::postgres_url() else {
        eprintln!("note: SHIKAKU_TEST_POSTGRES_URL not set; PostgreSQL variant not run");
        return;
    };
    let db = TestDb::postgres_empty(&pg).await;
    let w = Workdir::new().env("SHIKAKU_DATABASE_URL", db.url());
    registry_rows_with_a_card_reach_the_idp(w, db.url().to_owned()).await;
}

/// A registry of `doctors` and `rows` attendance rows over `events` events, each row with two
/// JMA curriculum codes (the shape of `bench/import-attendance`).
fn big_files(w: &Workdir, doctors: usize, events: usize, rows: usize) {
    let mut registry = String::from("registration_number,kana_name,birth_date\n");
    for i in 1..=doctors {
        registry.push_str(&format!("{},ヤマダ　タロウ,1980-01-{:02}\n", 100_000 + i, i % 28 + 1));
    }
    w.file("registry.csv", &registry);
    let mut attendance =
        String::from("registration_number,event_id,event_title,organizer,date,credits,status\n");
    for i in 0..rows {
        let (e, d) = (i % events, 100_001 + (i / events) % doctors);
        attendance.push_str(&format!(
            "{d},EV{e},講習会 {e},東京都医師会,2026-{:02}-{:02},jma_cme:{}=1;jma_cme:{}=0.5,confirmed\n",
            e % 12 + 1,
            e % 28 + 1,
            e % 84 + 1,
            (e + 1) % 84 + 1
        ));
    }
    w.file("attendance.csv", &attendance);
}

/// Imports killed with SIGKILL at random moments (in batches of 2 000 rows, so that most kills
/// land between two commits), then one import to the end, leave exactly the rows of one
/// uninterrupted import; an import after that adds nothing.
async fn killed_imports_leave_the_rows_of_one_import(
    clean: Workdir,
    clean_url: String,
    killed: Workdir,
    killed_url: String,
) {
    const ROWS: usize = 20_000;
    for w in [&clean, &killed] {
        big_files(w, 500, 40, ROWS);
        let (code, out, err) = import(w, &["registry", "registry.csv"]);
        assert_eq!(code, Some(0), "{out}{err}");
    }
    let started = std::time::Instant::now();
    let (code, out, err) = import(&clean, &["attendance", "attendance.csv"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let whole = started.elapsed();
    let expected = counts(&clean_url).await;
    assert_eq!(expected.0, ROWS as i64, "{expected:?}");

    // Moments within the time one import takes, from a seed printed for a rerun.
    let mut seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("kill moments seed: {seed} (one import took {whole:?})");
    for round in 0..5 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        // Mostly in the later part of the run, where the batches are written.
        let at = whole.mul_f64(0.3 + 0.7 * (seed >> 11) as f64 / (1u64 << 53) as f64);
        let mut child = killed
            .command(&["admin", "import", "attendance", "attendance.csv", "--batch-rows", "2000"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(at).await;
        child.kill().unwrap();
        let status = child.wait().unwrap();
        eprintln!("round {round}: killed after {at:?} ({status:?}); {:?}", counts(&killed_url).await);
    }
    let (code, out, err) = import(&killed, &["attendance", "attendance.csv"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(counts(&killed_url).await, expected, "the same rows as one whole import");
    let (code, out, _) = import(&killed, &["attendance", "attendance.csv"]);
    assert_eq!(code, Some(0));
    assert!(
        out.ends_with(&format!("0 added, 0 updated, {ROWS} already present, 0 rejected (UTF-8)\n")),
        "{out}"
    );
}

#[tokio::test]
async fn killed_imports_leave_the_rows_of_one_import_on_sqlite() {
    let (clean, killed) = (Workdir::new(), Workdir::new());
    for w in [&clean, &killed] {
        assert!(w.run(&["migrate"]).status.success());
    }
    let (clean_url, killed_url) = (sqlite_url(&clean), sqlite_url(&killed));
    killed_imports_leave_the_rows_of_one_import(clean, clean_url, killed, killed_url).await;
}

#[tokio::test]
async fn killed_imports_leave_the_rows_of_one_import_on_postgres() {
    let Some(pg) = testing::postgres_url() else {
        eprintln!("note: SHIKAKU_TEST_POSTGRES_URL not set; PostgreSQL variant not run");
        return;
    };
    let (a, b) = (TestDb::postgres_empty(&pg).await, TestDb::postgres_empty(&pg).await);
    let clean = Workdir::new().env("SHIKAKU_DATABASE_URL", a.url());
    let killed = Workdir::new().env("SHIKAKU_DATABASE_URL", b.url());
    for w in [&clean, &killed] {
        let out = w.run(&["migrate"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    killed_imports_leave_the_rows_of_one_import(clean, a.url().to_owned(), killed, b.url().to_owned()).await;
}
