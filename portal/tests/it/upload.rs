//! The organizers' upload page: a file (UTF-8 or Shift_JIS) or pasted text becomes a
//! background import job whose page shows progress and then the per-row report.

use std::time::Duration;

use portal::import::jobs::{Job, Phase, find_job};
use portal::store::attendance::Status;
use portal::store::events::find_event;
use portal::store::organizer::find_event_attendances;
use storage::testing::TestEnv;

use crate::{TestApp, seed};

storage::each_backend!(
    the_upload_reports_bad_rows_and_imports_the_good_ones,
    a_shift_jis_file_uploads_as_multipart,
    refused_uploads_say_why_and_write_nothing,
    a_job_is_only_shown_to_its_organizer_and_shows_progress,
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
        table.contains("<tr><td>3</td><td>date</td><td>`2026-02-30` is not a date (YYYY-MM-DD)</td></tr>"),
        "{table}"
    );
    assert!(
        table.contains(
            "<tr><td>4</td><td>registration_number</td><td>unknown registration number 999999 (import the registry first)</td></tr>"
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
