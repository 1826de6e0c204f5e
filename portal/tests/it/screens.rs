//! The organizer's pages and the doctor's documents page in a real headless Chromium: each is
//! loaded signed in, its DOM checked and a screenshot saved in `target/screenshots/`.

use portal::store::attendance::Status;
use storage::testing::TestEnv;
use time::macros::date;

use crate::served::Served;
use crate::{TestApp, seed};

storage::each_backend!(organizer_pages_in_headless_chromium, documents_page_in_headless_chromium);

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
