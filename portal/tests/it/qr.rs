//! QR check-in (portal::pages::qr_check_in) on both storage backends: the organizer's rotating
//! code, the doctor's scan, sign-in detour and confirmation, the record it makes (once), and
//! the refusals: an expired code (a screenshot), another event's code, a doctor without a
//! confirmed link, and a day that is not the event's.

use storage::testing::TestEnv;
use time::macros::date;

use crate::{TestApp, seed};

storage::each_backend!(a_doctor_checks_in_by_scanning_the_current_code, old_and_foreign_codes_are_refused,);

/// The URL in the organizer's QR page (the same text the QR code encodes), as a path.
async fn current_code(app: &TestApp, organizer: &str, event: &str) -> String {
    let (status, _, html) = app.get(&format!("/organizer/events/{event}/qr"), organizer).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<svg") && html.contains("class=\"qr\""), "{html}");
    assert!(html.contains("http-equiv=\"refresh\""), "the page reloads itself for the next code: {html}");
    let at = html.find("id=\"qr-link\" href=\"").unwrap() + 19;
    let url = &html[at..at + html[at..].find('"').unwrap()];
    let url = url.replace("&#x2F;", "/").replace("&amp;", "&");
    url.strip_prefix(crate::PUBLIC_URL).unwrap_or_else(|| panic!("{url}")).to_owned()
}

async fn a_doctor_checks_in_by_scanning_the_current_code(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 05)).await;
    seed::event(app.db(), "Q1", date!(2026 - 12 - 05), &[("jma_cme", "76", 100)]).await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let doctor = app.linked_doctor("doc-1", "512345", "日本　太郎").await;
    let code = current_code(&app, &organizer, "Q1").await;
    assert!(code.starts_with("/attend/Q1?c="), "{code}");

    // Signed out, the scan leads through the sign-in and back.
    let (status, location, _) = app.get(&code, "").await;
    assert_eq!(status, 303);
    let proof = location.unwrap();
    assert!(proof.starts_with("/attend/Q1?s="), "{proof}");
    let (status, location, _) = app.get(&proof, "").await;
    assert_eq!(status, 303);
    let login = location.unwrap();
    assert!(login.starts_with("/login?next=%2Fattend%2FQ1%3Fs%3D"), "{login}");

    // Signed in: a confirmation button, then the record.
    let (status, _, html) = app.get(&proof, &doctor).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("日本　太郎 さん、この講習会への出席を記録します。"), "{html}");
    let s = proof.strip_prefix("/attend/Q1?s=").unwrap();
    let (status, _, html) = app.post_form("/attend/Q1", &doctor, &[("s", s)]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("出席を記録しました"), "{html}");
    let (status, _, html) = app.post_form("/attend/Q1", &doctor, &[("s", s)]).await;
    assert_eq!(status, 200);
    assert!(html.contains("出席は記録済みです"), "{html}");
    let rows: Vec<(String, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT registration_number, status, source, checked_in_at FROM attendances WHERE event_id = 'Q1'",
    )
    .fetch_all(app.db().pool())
    .await
    .unwrap();
    assert_eq!(rows, [("512345".into(), "provisional".into(), "qr".into(), Some(app.clock.now()))]);
}

async fn old_and_foreign_codes_are_refused(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 05)).await;
    seed::event(app.db(), "Q1", date!(2026 - 12 - 05), &[("jma_cme", "76", 100)]).await;
    seed::event(app.db(), "Q2", date!(2026 - 12 - 06), &[("jma_cme", "76", 100)]).await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let doctor = app.linked_doctor("doc-1", "512345", "日本　太郎").await;
    let unlinked = app.sign_in("doc-2", "日本　次郎", &[], None).await;
    let code = current_code(&app, &organizer, "Q1").await;

    // Another event's address with this code.
    let (status, _, html) = app.get(&code.replace("/attend/Q1", "/attend/Q2"), &doctor).await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("QRコードの有効期限が切れています"), "{html}");
    // A doctor without a confirmed registration number is told how to link.
    let (_, location, _) = app.get(&code, &unlinked).await;
    let (status, _, html) = app.get(&location.unwrap(), &unlinked).await;
    assert_eq!(status, 200);
    assert!(html.contains("医籍登録番号の登録と確認が必要です"), "{html}");

    // A minute later the code (a photo of the screen) no longer works; the new one does.
    app.clock.set(app.clock.now() + 61);
    let (status, _, html) = app.get(&code, &doctor).await;
    assert_eq!(status, 410, "{html}");
    let fresh = current_code(&app, &organizer, "Q1").await;
    assert_ne!(fresh, code);
    let (status, _, _) = app.get(&fresh, &doctor).await;
    assert_eq!(status, 303);
    // A forged proof is refused too.
    let (status, _, _) =
        app.post_form("/attend/Q1", &doctor, &[("s", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA")]).await;
    assert_eq!(status, 410);

    // On a day that is not the event's: no record.
    let q2 = current_code(&app, &organizer, "Q2").await;
    let (_, location, _) = app.get(&q2, &doctor).await;
    let proof = location.unwrap();
    let (status, _, html) = app.get(&proof, &doctor).await;
    assert_eq!(status, 200);
    assert!(html.contains("開催日ではないため"), "{html}");
    let s = proof.strip_prefix("/attend/Q2?s=").unwrap();
    let (status, _, _) = app.post_form("/attend/Q2", &doctor, &[("s", s)]).await;
    assert_eq!(status, 422);
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM attendances").fetch_one(app.db().pool()).await.unwrap();
    assert_eq!(count, 0);
}
