//! The main form of each portal page submitted by a real headless Chromium (through
//! chromedriver): the browser itself clicks the submit button, so it sends its own `Origin`,
//! `Sec-Fetch-Site`, cookies and body encoding (multipart with a real file for the upload).
//! Each test checks what the person sees on the next page, and that it is not an error page
//! (the 403 of a refused CSRF check, for instance).

use portal::store::attendance::Status;
use portal::store::documents::find_document;
use portal::store::events::find_event;
use portal::store::links::{LinkStatus, find_link};
use portal::store::organizer::find_event_attendances;
use storage::testing::TestEnv;
use time::macros::date;

use crate::served::Served;
use crate::webdriver::WebDriver;
use crate::{TestApp, seed};

storage::each_backend!(
    doctor_links_a_registration_number_in_chromium,
    organizer_confirms_attendance_in_chromium,
    organizer_uploads_an_import_file_in_chromium,
    doctor_issues_a_document_in_chromium,
    operator_revokes_a_document_in_chromium,
    doctor_makes_and_revokes_a_share_in_chromium,
);

/// A doctor signed in with a card opens `/shares`, ticks the registration number besides the
/// default fields, chooses one hour and "any number", makes the share (the link, QR code and code
/// are shown), then revokes it with its button.
async fn doctor_makes_and_revokes_a_share_in_chromium(env: TestEnv) {
    let app = TestApp::new(env).await;
    app.linked_doctor("doc-share", "123456", "山田　太郎").await;
    let doctor = app.sign_in_with_card("doc-share", "山田　太郎", "TESTJ00001").await;
    let served = Served::signed_in(app.router(), &sid(&doctor)).await;
    let wd = WebDriver::start().await;

    wd.goto(&served.url("/shares?lang=ja")).await.assert_not_error();
    wd.click(&wd.find("input[name=field][value=registration_number]").await).await;
    wd.click(&wd.find("input[name=uses][value=many]").await).await;
    wd.execute("document.getElementById('share-lifetime').value = '3600';", vec![]).await;
    let page = wd.submit("#share-create").await;
    page.assert_not_error();
    page.assert_text("共有を作成しました");
    let link = wd.text_of(&wd.find("#share-link").await).await;
    assert!(link.starts_with(&format!("{}/verify/", crate::PUBLIC_URL)), "{link}");
    assert_eq!(wd.text_of(&wd.find("#share-code").await).await.len(), 9);
    let stored = portal::store::shares::find_shares(app.db(), "doc-share").await.unwrap();
    assert_eq!(stored.len(), 1, "{page}");
    assert_eq!(stored[0].disclose, ["name", "qualification", "registration_number", "validity"]);
    assert_eq!((stored[0].max_uses, stored[0].expires_at - stored[0].created_at), (None, 3600));

    let page = wd.submit("#share-list form button[type=submit]").await;
    page.assert_not_error();
    page.assert_text("取り消し済み");
    let stored = portal::store::shares::find_shares(app.db(), "doc-share").await.unwrap();
    assert!(stored[0].revoked_at.is_some());
}

/// The session id of a `name=sid` cookie header.
fn sid(cookie: &str) -> String {
    cookie.split_once('=').unwrap().1.to_owned()
}

/// A doctor enters their registration number on `/me/registration`; the organizer confirms it
/// on `/organizer/links`; the doctor then sees it confirmed.
async fn doctor_links_a_registration_number_in_chromium(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    let doctor = app.sign_in("doc-link", "山田　太郎", &[], None).await;
    let organizer = app.sign_in("org-link", "事務局　花子", &["organizer"], None).await;
    let served = Served::signed_in(app.router(), &sid(&doctor)).await;
    let wd = WebDriver::start().await;

    wd.goto(&served.url("/me/registration?lang=ja")).await.assert_not_error();
    wd.fill("#registration_number", "123456").await;
    let page = wd.submit("form[action='/me/registration'] button[type=submit]").await;
    page.assert_not_error();
    page.assert_text("医籍登録番号 123456 は事務局の確認待ちです。");
    assert_eq!(find_link(app.db(), "doc-link").await.unwrap().unwrap().status, LinkStatus::Pending, "{page}");

    wd.goto(&served.url_as(&organizer, "/organizer/links")).await.assert_not_error();
    wd.click(&wd.find("input[name=sub][value='doc-link']").await).await;
    let page = wd.submit("button[name=action][value=confirm]").await;
    page.assert_not_error();
    page.assert_text("1件を承認しました。");
    assert_eq!(
        find_link(app.db(), "doc-link").await.unwrap().unwrap().status,
        LinkStatus::Confirmed,
        "{page}"
    );

    let page = wd.goto(&served.url_as(&doctor, "/me/registration")).await;
    page.assert_text("医籍登録番号 123456 で登録済みです。");
}

/// The organizer ticks a provisional record on the event page and confirms it.
async fn organizer_confirms_attendance_in_chromium(env: TestEnv) {
    let app = TestApp::new(env).await;
    let db = app.db();
    seed::doctor(db, "123456", "山田　太郎").await;
    seed::doctor(db, "234567", "佐藤　次郎").await;
    seed::attend(db, "123456", "E1", date!(2026 - 06 - 01), Status::Provisional, &[("jma_cme", "76", 100)])
        .await;
    seed::attend(db, "234567", "E1", date!(2026 - 06 - 01), Status::Provisional, &[("jma_cme", "76", 100)])
        .await;
    let organizer = app.sign_in("org-ev", "事務局　花子", &["organizer"], None).await;
    let served = Served::signed_in(app.router(), &sid(&organizer)).await;
    let wd = WebDriver::start().await;

    let page = wd.goto(&served.url("/organizer/events/E1?lang=ja")).await;
    page.assert_not_error();
    let boxes = wd.find_all("#attendance input[type=checkbox][name=id]").await;
    assert_eq!(boxes.len(), 2, "{page}");
    wd.click(&boxes[0]).await;
    let page = wd.submit("button[name=action][value=confirm]").await;
    page.assert_not_error();
    page.assert_text("1件の出席記録を確定しました。");
    assert!(page.path().starts_with("/organizer/events/E1?done=confirm&count=1"), "{page}");
    let statuses: Vec<Status> =
        find_event_attendances(db, "E1").await.unwrap().into_iter().map(|a| a.status).collect();
    let confirmed = statuses.iter().filter(|s| **s == Status::Confirmed).count();
    assert_eq!((statuses.len(), confirmed), (2, 1), "{page}");
    assert_eq!(wd.find_all("#attendance input[type=checkbox][name=id]").await.len(), 1, "{page}");
    assert_eq!(wd.find_all("#attendance td.status-confirmed").await.len(), 1, "{page}");
}

/// The organizer picks a CSV file in the file input (a real upload) and imports it; the job
/// page shows the report.
async fn organizer_uploads_an_import_file_in_chromium(env: TestEnv) {
    let app = TestApp::new(env).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    let organizer = app.sign_in("org-up", "事務局　花子", &["organizer"], None).await;
    let served = Served::signed_in(app.router(), &sid(&organizer)).await;
    let wd = WebDriver::start().await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("出席.csv");
    std::fs::write(
        &file,
        "record_id,registration_number,event_id,date,event_title,organizer,venue,online,credits,status\n\
         W1,123456,W,2026-06-01,在宅医療研修会,東京都医師会,東京,0,jma_cme:76=1,\n\
         W2,999999,W,2026-06-01,,,,,,\n",
    )
    .unwrap();

    wd.goto(&served.url("/organizer/import?lang=ja")).await.assert_not_error();
    wd.choose_file("input[type=file][name=file]", &file).await;
    let dry_run = wd.find("#dry_run").await;
    if wd.property(&dry_run, "checked").await == true {
        wd.click(&dry_run).await;
    }
    let page = wd.submit("form[action='/organizer/import'] button[type=submit]").await;
    page.assert_not_error();
    assert!(page.path().starts_with("/organizer/import/"), "{page}");
    // The job page reloads itself while the job runs.
    wd.wait_for("#report").await;
    let page = wd.page().await;
    page.assert_not_error();
    page.assert_text("ファイル: 出席.csv");
    page.assert_text("2行を読み込み、1件を追加、0件は登録済み、1行を除外しました。 (UTF-8)");
    page.assert_text("登録番号 999999 は名簿にありません（先に名簿を取り込んでください）");
    assert!(!page.text.contains("試行のため"), "{page}");
    assert_eq!(find_event(app.db(), "W").await.unwrap().unwrap().title, "在宅医療研修会", "{page}");
}

/// A linked doctor with a confirmed record chooses the yearly statement on `/documents` and
/// issues it; the page says so and lists it.
async fn doctor_issues_a_document_in_chromium(env: TestEnv) {
    let app = TestApp::new(env).await;
    let doctor = app.linked_doctor("doc-iss", "123456", "山田　太郎").await;
    let credits = [("jma_cme", "74", 300), ("jma_cme", "76", 200)];
    seed::attend(app.db(), "123456", "B1", date!(2026 - 06 - 01), Status::Confirmed, &credits).await;
    let served = Served::signed_in(app.router(), &sid(&doctor)).await;
    let wd = WebDriver::start().await;

    let page = wd.goto(&served.url("/documents?lang=ja")).await;
    page.assert_not_error();
    assert!(wd.try_find("#documents").await.is_none(), "nothing issued yet: {page}");
    wd.click(&wd.find("input[name=kind][value=statement]").await).await;
    wd.click(&wd.find("#fiscal_year option[value='2026']").await).await;
    let page = wd.submit("form.issue button[type=submit]").await;
    page.assert_not_error();
    page.assert_text("文書を発行しました。");
    let id = page
        .path()
        .strip_prefix("/documents?issued=")
        .unwrap_or_else(|| panic!("not the issued notice: {page}"))
        .to_owned();
    let row = wd.find(&format!("#documents tr.document.valid[data-id='{id}']")).await;
    assert!(wd.text_of(&row).await.contains("単位取得状況証明書"), "{page}");
    assert!(find_document(app.db(), &id).await.unwrap().is_some(), "{page}");
}

/// The operator finds an issued document, gives a reason and revokes it.
async fn operator_revokes_a_document_in_chromium(env: TestEnv) {
    let app = TestApp::new(env).await;
    let (_, id) = app.issued_statement("doc-rev").await;
    let operator = app.sign_in("op-rev", "運用　一郎", &["operator"], None).await;
    let served = Served::signed_in(app.router(), &sid(&operator)).await;
    let wd = WebDriver::start().await;

    let page = wd.goto(&served.url("/operator/documents?q=123456&lang=ja")).await;
    page.assert_not_error();
    let row = format!("tr[id='doc-{id}']");
    wd.fill(&format!("{row} input[name=reason]"), "発行内容の誤り").await;
    let page = wd.submit(&format!("{row} button[type=submit]")).await;
    page.assert_not_error();
    page.assert_text(&format!("文書 {id} を失効させました。"));
    let cells = wd.text_of(&wd.find(&row).await).await;
    assert!(cells.contains("失効（") && cells.contains("発行内容の誤り"), "{cells}: {page}");
    assert!(wd.try_find(&format!("{row} input[name=reason]")).await.is_none(), "{page}");
    let doc = find_document(app.db(), &id).await.unwrap().unwrap();
    assert_eq!(doc.revoked_reason.as_deref(), Some("発行内容の誤り"), "{page}");
}
