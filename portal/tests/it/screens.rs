//! The organizer's pages and the doctor's documents page in a real headless Chromium: each is
//! loaded signed in, its DOM checked and a screenshot saved in `target/screenshots/`.

use portal::store::attendance::Status;
use storage::testing::TestEnv;
use time::macros::date;

use crate::served::Served;
use crate::{TestApp, seed};

storage::each_backend!(
    organizer_pages_in_headless_chromium,
    documents_page_in_headless_chromium,
    stored_markup_is_text_and_inline_scripts_are_blocked_in_chromium,
);

/// A doctor's name holding markup (as an import could bring) shows as text on the organizer's
/// event page and runs nothing; an inline script that did get in is blocked by the CSP.
async fn stored_markup_is_text_and_inline_scripts_are_blocked_in_chromium(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let db = app.db();
    let name = "<script>window.__stored = true</script><img src=/x onerror=\"window.__stored = true\">";
    seed::doctor(db, "123456", name).await;
    seed::attend(db, "123456", "E1", date!(2026 - 06 - 01), Status::Provisional, &[("jma_cme", "76", 100)])
        .await;
    let organizer = app.sign_in("org-csp", "事務局　花子", &["organizer"], None).await;
    let sid = organizer.split_once('=').unwrap().1.to_owned();
    let served = Served::signed_in(app.router(), &sid).await;
    let wd = crate::webdriver::WebDriver::start().await;
    let page = wd.goto(&served.url("/organizer/events/E1?lang=ja")).await;
    page.assert_not_error();
    page.assert_text(name);
    assert_eq!(wd.execute("return window.__stored === undefined;", vec![]).await, true, "{page}");
    wd.assert_csp_blocks_inline_scripts().await;
}

async fn organizer_pages_in_headless_chromium(env: TestEnv) {
    let backend = env.db.db.backend().name();
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let db = app.db();
    seed::doctor(db, "123456", "山田　太郎").await;
    seed::doctor(db, "234567", "佐藤　次郎").await;
    seed::attend(db, "123456", "E1", date!(2026 - 06 - 01), Status::Provisional, &[("jma_cme", "76", 100)])
        .await;
    seed::attend(db, "234567", "E1", date!(2026 - 06 - 01), Status::Confirmed, &[("jma_cme", "76", 100)])
        .await;
    let organizer = app.sign_in("org-s", "事務局　花子", &["organizer"], None).await;
    let sid = organizer.split_once('=').unwrap().1.to_owned();
    let served = Served::signed_in(app.router(), &sid).await;

    let dom = served.capture("/organizer/events?lang=ja", "organizer-events", backend).await;
    assert!(dom.contains("<tr id=\"event-E1\">"), "{dom}");
    assert!(dom.contains("href=\"/organizer/events/E1\""), "{dom}");

    let dom = served.capture("/organizer/events/E1?lang=ja", "organizer-event", backend).await;
    assert!(dom.contains("山田　太郎") && dom.contains("佐藤　次郎"), "{dom}");
    assert!(dom.contains("href=\"/organizer/events/E1/attendance.csv\""), "{dom}");

    let dom = served.capture("/organizer/import?lang=ja", "organizer-import", backend).await;
    assert!(dom.contains("action=\"/organizer/import\""), "{dom}");
}

async fn documents_page_in_headless_chromium(env: TestEnv) {
    let backend = env.db.db.backend().name();
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let (doctor, id) = app.issued_statement("doc-s").await;
    let location = format!("/documents?issued={id}");

    let sid = doctor.split_once('=').unwrap().1.to_owned();
    let served = Served::signed_in(app.router(), &sid).await;
    let dom = served.capture(&format!("{location}&lang=ja"), "documents", backend).await;
    assert!(dom.contains("id=\"issued-notice\""), "{dom}");
    assert!(dom.contains(&format!("href=\"/documents/{id}.pdf\"")), "{dom}");
}
