//! The organizers' upload page: a file (UTF-8 or Shift_JIS) or pasted text becomes a
//! background import job whose page shows progress and then the per-row report.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use portal::import::jobs::{Job, JobRowError, Phase, find_job};
use portal::import::{RowError, RowErrorKind};
use portal::store::attendance::Status;
use portal::store::events::find_event;
use portal::store::organizer::find_event_attendances;
use storage::testing::TestEnv;
use web::Lang;
use web::templates::Templates;

use crate::{TestApp, seed};

storage::each_backend!(
    the_upload_reports_bad_rows_and_imports_the_good_ones,
    a_shift_jis_file_uploads_as_multipart,
    refused_uploads_say_why_and_write_nothing,
    a_job_is_only_shown_to_its_organizer_and_shows_progress,
    row_errors_are_in_the_page_language,
    a_job_saved_before_error_codes_shows_its_english,
    broken_utf8_gets_advice_for_the_page_not_a_cli_flag,
);

const HEADER: &str =
    "record_id,registration_number,event_id,date,event_title,organizer,venue,online,credits,status";

/// Follows the upload's redirect to its job page and reloads it until the job is no longer
/// running (as the page's refresh does); returns the final page.
async fn job_page(app: &TestApp, cookie: &str, answer: (u16, Option<String>, String)) -> String {
    let (status, location, body) = answer;
    assert_eq!(status, 303, "{body}");
    let location = location.unwrap();
    assert!(location.starts_with("/organizer/import/"), "{location}");
    // Guard against a hung job only; a small file is done before the upload answers.
    for _ in 0..600 {
        let (status, _, html) = app.get(&location, cookie).await;
        assert_eq!(status, 200, "{html}");
        if !html.contains("data-state=\"running\"") {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the job at {location} did not finish");
}

async fn the_upload_reports_bad_rows_and_imports_the_good_ones(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    let doctor = app.sign_in("doc-1", "山田　太郎", &[], None).await;
    assert_eq!(app.get("/organizer/import", &doctor).await.0, 403);
    let csv = format!(
        "{HEADER}\n\
         U1,123456,U,2026-06-01,研修会U,東京都医師会,東京,0,jma_cme:76=1,\n\
         U2,123456,U,2026-02-30,,,,,,\n\
         U3,999999,U,2026-06-01,,,,,,\n\
         U4,123456,U,2026-06-02,,,,,,confirmed\n"
    );
    assert_eq!(app.post_form("/organizer/import", &doctor, &[("csv", &csv)]).await.0, 403);
    let file = [("file", Some("u.csv"), csv.as_bytes())];
    assert_eq!(app.post_multipart("/organizer/import", &doctor, &file).await.0, 403);
    assert!(find_event(app.db(), "U").await.unwrap().is_none());

    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let (status, _, html) = app.get("/organizer/import", &organizer).await;
    assert_eq!(status, 200);
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    assert!(html.contains("type=\"file\" id=\"file\" name=\"file\""), "{html}");
    assert!(html.contains("name=\"csv\""), "{html}");
    assert!(html.contains("id=\"dry_run\" name=\"dry_run\" value=\"1\" checked"), "{html}");

    // Dry run of the file: the report, nothing written.
    let dry = [("file", Some("u.csv"), csv.as_bytes()), ("dry_run", None, b"1".as_slice())];
    let html =
        job_page(&app, &organizer, app.post_multipart("/organizer/import", &organizer, &dry).await).await;
    assert!(html.contains("<p id=\"file-name\">ファイル: u.csv</p>"), "{html}");
    assert!(html.contains("試行のため、何も書き込んでいません。"), "{html}");
    assert!(html.contains("4行を読み込み、2件を追加、0件は登録済み、2行を除外しました。 (UTF-8)"), "{html}");
    assert!(find_event(app.db(), "U").await.unwrap().is_none(), "a dry run writes nothing");
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM attendances").fetch_one(app.db().pool()).await.unwrap();
    assert_eq!(count, 0);

    let html =
        job_page(&app, &organizer, app.post_multipart("/organizer/import", &organizer, &file).await).await;
    assert!(!html.contains("試行のため"), "{html}");
    assert!(html.contains("4行を読み込み、2件を追加、0件は登録済み、2行を除外しました。"), "{html}");
    let table = &html[html.find("id=\"row-errors\"").unwrap()..];
    assert!(
        table.contains(
            "<tr><td>3</td><td>date</td><td>`2026-02-30` は日付ではありません（YYYY-MM-DD）</td></tr>"
        ),
        "{table}"
    );
    assert!(
        table.contains(
            "<tr><td>4</td><td>registration_number</td><td>登録番号 999999 は名簿にありません（先に名簿を取り込んでください）</td></tr>"
        ),
        "{table}"
    );
    let statuses: Vec<(String, Status)> = find_event_attendances(app.db(), "U")
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.idempotency_key, a.status))
        .collect();
    assert_eq!(
        statuses,
        [("import:U1".to_owned(), Status::Provisional), ("import:U4".to_owned(), Status::Confirmed)]
    );
    // Again, pasted this time (a urlencoded form works as well): already present.
    let html =
        job_page(&app, &organizer, app.post_form("/organizer/import", &organizer, &[("csv", &csv)]).await)
            .await;
    assert!(html.contains("4行を読み込み、0件を追加、2件は登録済み、2行を除外しました。"), "{html}");
    assert!(!html.contains("id=\"file-name\""), "{html}");
}

async fn a_shift_jis_file_uploads_as_multipart(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let csv = format!("{HEADER}\nS1,123456,S,2026-06-01,在宅医療研修会,東京都医師会,東京,0,jma_cme:76=1,\n");
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&csv);
    assert!(!unmappable);
    let parts = [("file", Some("出席.csv"), sjis.as_ref()), ("csv", None, b"".as_slice())];
    let html =
        job_page(&app, &organizer, app.post_multipart("/organizer/import", &organizer, &parts).await).await;
    assert!(
        html.contains("1行を読み込み、1件を追加、0件は登録済み、0行を除外しました。 (Shift_JIS)"),
        "{html}"
    );
    assert_eq!(find_event(app.db(), "S").await.unwrap().unwrap().title, "在宅医療研修会");
}

async fn refused_uploads_say_why_and_write_nothing(env: TestEnv) {
    let app = TestApp::new(env).await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    // Nothing chosen, nothing pasted: the form again, with the message.
    let empty = [("file", Some(""), b"".as_slice()), ("csv", None, b" \r\n".as_slice())];
    let (status, _, html) = app.post_multipart("/organizer/import", &organizer, &empty).await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains(
            "<p class=\"field-error\" role=\"alert\" id=\"form_error\">CSVファイルを選ぶか、CSVの内容を貼り付けてください。</p>"
        ),
        "{html}"
    );
    // A file the import cannot read at all: the job says why.
    let bad = [("file", Some("bad.csv"), b"registration_number,event_id\n1,E\n".as_slice())];
    let html =
        job_page(&app, &organizer, app.post_multipart("/organizer/import", &organizer, &bad).await).await;
    assert!(html.contains("data-state=\"refused\""), "{html}");
    assert!(html.contains("ファイル全体を取り込めませんでした: line 1: missing column `date`"), "{html}");
    // Larger than the upload limit: 413 and a page saying so.
    let big = vec![b'x'; web::csrf::MAX_UPLOAD_BYTES + 1];
    let (status, _, html) =
        app.post_multipart("/organizer/import", &organizer, &[("file", Some("big.csv"), &big)]).await;
    assert_eq!(status, 413);
    assert!(html.contains("送信内容が大きすぎます"), "{html}");
    // Pasted (urlencoded) text: the same limit and the same page, with advice the organizer can
    // follow in the page — not a CSRF failure.
    let pasted = "x".repeat(web::csrf::MAX_UPLOAD_BYTES + 1);
    let (status, _, html) = app.post_form("/organizer/import", &organizer, &[("csv", &pasted)]).await;
    assert_eq!(status, 413);
    assert!(html.contains("送信内容が大きすぎます") && html.contains("ファイルを分けて"), "{html}");
    // Pasted text over a megabyte but within the limit reaches the import (which refuses it).
    let pasted = "x".repeat(1_500_000);
    let html =
        job_page(&app, &organizer, app.post_form("/organizer/import", &organizer, &[("csv", &pasted)]).await)
            .await;
    assert!(html.contains("data-state=\"refused\""), "{html}");
    // No CSRF token in the multipart body: refused before anything runs.
    let (status, _, html) = app
        .post_multipart_without_token("/organizer/import", &organizer, &[("file", Some("u.csv"), b"x")])
        .await;
    assert_eq!(status, 403, "{html}");
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(app.db().pool()).await.unwrap();
    assert_eq!(count, 0);
}

async fn a_job_is_only_shown_to_its_organizer_and_shows_progress(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let other = app.sign_in("org-2", "事務局　次郎", &["organizer"], None).await;
    let csv = format!("{HEADER}\nJ1,123456,J,2026-06-01,研修会J,東京都医師会,東京,0,jma_cme:76=1,\n");
    let (_, location, _) = app.post_form("/organizer/import", &organizer, &[("csv", &csv)]).await;
    let location = location.unwrap();
    let (status, _, html) = app.get(&location, &other).await;
    assert_eq!(status, 404, "another organizer does not see the job");
    assert!(html.contains("取り込みが見つかりません"), "{html}");
    assert_eq!(app.get("/organizer/import/0123456789abcdef0123456789abcdef", &organizer).await.0, 404);
    assert_eq!(app.get("/organizer/import/not-an-id", &organizer).await.0, 404);

    // A running job (its state as the importer writes it): the bar, and the page refreshes.
    let id = "00112233445566778899aabbccddeeff";
    let job = Job {
        owner: "org-1".into(),
        file_name: Some("large.csv".into()),
        total: 2_048_000,
        dry_run: false,
        updated_at: app.clock.now(),
        phase: Phase::Running { done: 512_000 },
    };
    app.kv()
        .set(&format!("import-job:{id}"), &serde_json::to_vec(&job).unwrap(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(find_job(app.kv().as_ref(), id).await.unwrap(), Some(job.clone()));
    let (status, _, html) = app.get(&format!("/organizer/import/{id}"), &organizer).await;
    assert_eq!(status, 200);
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"1\">"), "{html}");
    assert!(html.contains("<progress id=\"progress\" max=\"100\" value=\"25\""), "{html}");
    assert!(html.contains("取り込み中です… 25%（500 &#x2F; 2000 KiB）"), "{html}");

    // No news for a minute: stalled, no refresh.
    let stale = Job { updated_at: app.clock.now() - 60, ..job };
    app.kv()
        .set(&format!("import-job:{id}"), &serde_json::to_vec(&stale).unwrap(), Duration::from_secs(60))
        .await
        .unwrap();
    let (_, _, html) = app.get(&format!("/organizer/import/{id}"), &organizer).await;
    assert!(html.contains("data-state=\"stalled\"") && !html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(html.contains("同じファイルをもう一度取り込むと完了します"), "{html}");
}

/// The report page says each rejected row's reason in its language: Japanese by default, the
/// CLI's English with `?lang=en`.
async fn row_errors_are_in_the_page_language(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed::doctor(app.db(), "234567", "山田　太郎").await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let csv = format!(
        "{HEADER}\n\
         L1,123456,L,2026-06-01,研修会L,東京都医師会,東京,0,jma_cme:76=1,\n\
         L2,234567,L,2026-13-40,研修会L,東京都医師会,東京,0,jma_cme:76=1,\n\
         L3,234567,EV3,2026-06-01,,,,,jma_cme:76=1,\n\
         L4,234567,L,2026-06-01,研修会L,東京都医師会,東京,0,jma_cme:76=0.3,\n\
         L5,234567,L,2026-06-01,研修会L,東京都医師会,東京,0,jma_cme:76=1,done\n\
         L6,234567\n"
    );
    let dry = [("file", Some("l.csv"), csv.as_bytes()), ("dry_run", None, b"1".as_slice())];
    let answer = app.post_multipart("/organizer/import", &organizer, &dry).await;
    let location = answer.1.clone().unwrap();
    let html = job_page(&app, &organizer, answer).await;
    assert!(html.contains("6行を読み込み、0件を追加、0件は登録済み、6行を除外しました。"), "{html}");
    let table = &html[html.find("id=\"row-errors\"").unwrap()..];
    let ja = [
        "<tr><td>2</td><td>registration_number</td><td>登録番号 123456 は名簿にありません（先に名簿を取り込んでください）</td></tr>",
        "<tr><td>3</td><td>date</td><td>`2026-13-40` は日付ではありません（YYYY-MM-DD）</td></tr>",
        "<tr><td>4</td><td>event_id</td><td>講習会 `EV3` は登録されていません（新しく登録するには event_title と organizer を書いてください）</td></tr>",
        "<tr><td>5</td><td>credits</td><td>jma_cme:76: 単位数は0.5の倍数にしてください（`0.3`）</td></tr>",
        "<tr><td>6</td><td>status</td><td>`done` は状態ではありません（provisional、confirmed、rejected のいずれか）</td></tr>",
        "<tr><td>7</td><td>—</td><td>項目の数が列の数と合いません（列は10個、この行は2個）</td></tr>",
    ];
    for row in ja {
        assert!(table.contains(row), "{row}\n{table}");
    }

    let (status, _, html) = app.get(&format!("{location}?lang=en"), &organizer).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("6 rows read, 0 added, 0 already present, 6 rejected."), "{html}");
    let table = &html[html.find("id=\"row-errors\"").unwrap()..];
    let en = [
        "<tr><td>2</td><td>registration_number</td><td>unknown registration number 123456 (import the registry first)</td></tr>",
        "<tr><td>3</td><td>date</td><td>`2026-13-40` is not a date (YYYY-MM-DD)</td></tr>",
        "<tr><td>4</td><td>event_id</td><td>unknown event `EV3`: give event_title and organizer to create it</td></tr>",
        "<tr><td>5</td><td>credits</td><td>jma_cme:76: units must be a multiple of 0.5: `0.3`</td></tr>",
        "<tr><td>6</td><td>status</td><td>`done` is not a status (provisional, confirmed or rejected)</td></tr>",
        "<tr><td>7</td><td>—</td><td>expected 10 fields, found 2</td></tr>",
    ];
    for row in en {
        assert!(table.contains(row), "{row}\n{table}");
    }

    // The job's state keeps the CLI's English next to the code and its parameters.
    let id = location.rsplit('/').next().unwrap();
    let job = find_job(app.kv().as_ref(), id).await.unwrap().unwrap();
    let Phase::Finished { errors, .. } = job.phase else { panic!("{job:?}") };
    assert_eq!(
        errors[1],
        JobRowError {
            line: 3,
            column: Some("date".into()),
            reason: "`2026-13-40` is not a date (YYYY-MM-DD)".into(),
            code: Some("not_a_date".into()),
            params: BTreeMap::from([("value".into(), "2026-13-40".into())]),
        }
    );
}

/// A job saved by a version without error codes (its state in the KV for a day) still shows,
/// with the English it stored.
async fn a_job_saved_before_error_codes_shows_its_english(env: TestEnv) {
    let app = TestApp::new(env).await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let id = "00112233445566778899aabbccddeeff";
    let state = serde_json::json!({
        "owner": "org-1", "file_name": null, "total": 10, "dry_run": true, "updated_at": app.clock.now(),
        "phase": { "state": "finished", "rows": 1, "inserted": 0, "unchanged": 0, "rejected": 1,
            "encoding": "UTF-8",
            "errors": [{ "line": 2, "column": "date", "reason": "`x` is not a date (YYYY-MM-DD)" }] },
    });
    app.kv()
        .set(&format!("import-job:{id}"), &serde_json::to_vec(&state).unwrap(), Duration::from_secs(60))
        .await
        .unwrap();
    let (status, _, html) = app.get(&format!("/organizer/import/{id}"), &organizer).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<tr><td>2</td><td>date</td><td>`x` is not a date (YYYY-MM-DD)</td></tr>"),
        "{html}"
    );
}

/// Every row error has its message in both locale files: the English one exactly the CLI's
/// text, the Japanese one with the same parameters; no message is left without its error.
#[test]
fn every_row_error_has_its_message_in_both_languages() {
    let templates = Templates::load().unwrap();
    let mut codes = BTreeSet::new();
    for kind in RowErrorKind::examples() {
        let code = kind.code();
        assert!(codes.insert(code), "{code} twice");
        let key = RowErrorKind::locale_key(code);
        assert!(key.starts_with("import_"), "{key}");
        let row = JobRowError::from(&RowError::row(1, kind.clone()));
        assert_eq!(row.code.as_deref(), Some(code));
        for lang in Lang::ALL {
            let texts = templates.texts(lang);
            let text =
                texts.get(&key).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("{key} in {lang:?}"));
            for (name, _) in kind.params() {
                assert!(text.contains(&format!("{{{name}}}")), "{key} in {lang:?} lacks {{{name}}}: {text}");
            }
            let shown = row.reason_in(texts);
            assert!(!shown.contains('{'), "{key} in {lang:?} has an unknown placeholder: {shown}");
            match lang {
                Lang::En => assert_eq!(shown, kind.to_string(), "{key}: en.toml is the CLI's English"),
                Lang::Ja => assert!(!shown.is_ascii(), "{key} in Japanese: {shown}"),
            }
        }
    }
    for lang in Lang::ALL {
        let table = templates.texts(lang).as_object().unwrap();
        for key in table.keys().filter(|k| k.starts_with(portal::import::report::LOCALE_PREFIX)) {
            let code = &key[portal::import::report::LOCALE_PREFIX.len()..];
            assert!(codes.contains(code), "{key} in {lang:?} names no row error");
        }
    }
}

/// A UTF-8 file (it has the BOM) with a broken byte: the page tells the organizer what to do in
/// the page — save the file again — not the CLI's `--encoding` flag.
async fn broken_utf8_gets_advice_for_the_page_not_a_cli_flag(env: TestEnv) {
    let app = TestApp::new(env).await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let mut csv =
        format!("\u{feff}{HEADER}\nB1,123456,B,2026-06-01,研修会,東京都医師会,東京,0,jma_cme:76=1,\n")
            .into_bytes();
    let at = csv.iter().rposition(|b| *b == b'B').unwrap();
    csv[at] = 0xFF;
    let dry = [("file", Some("b.csv"), csv.as_slice()), ("dry_run", None, b"1".as_slice())];
    let answer = app.post_multipart("/organizer/import", &organizer, &dry).await;
    let location = answer.1.clone().unwrap();
    let html = job_page(&app, &organizer, answer).await;
    assert!(
        html.contains("UTF-8として正しくない文字が含まれています（ファイルをUTF-8かShift_JISで保存し直して、もう一度取り込んでください）"),
        "{html}"
    );
    assert!(!html.contains("--encoding"), "{html}");
    let (_, _, html) = app.get(&format!("{location}?lang=en"), &organizer).await;
    assert!(
        html.contains("not valid UTF-8 (save the file as UTF-8 or Shift_JIS and import it again)"),
        "{html}"
    );
}
