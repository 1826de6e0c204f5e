//! The doctor's document routes on both backends: issuing each kind through `POST /documents`,
//! the PDF for its owner only, every validation message, the certificate refused at 59.5, and
//! the list with a revoked document.

use std::process::Command;

use axum::body::Body;
use axum::http::{Request, header};
use portal::store::attendance::Status;
use portal::store::documents::update_document_revoked;
use storage::testing::TestEnv;
use time::macros::date;

use crate::{TestApp, seed};

storage::each_backend!(
    doctor_issues_each_kind_and_only_the_owner_gets_the_pdf,
    every_validation_message_next_to_its_field,
    documents_page_needs_sign_in_and_a_confirmed_link,
);

const NUMBER: &str = "123456";
const NAME: &str = "山田　太郎";

/// A validation case: the form's fields, the field the message sits next to, the message.
type Case = (&'static [(&'static str, &'static str)], &'static str, &'static str);

/// 59.5 for the JMA certificate on 2026-12-01 (window FY2024–FY2026), as in the history tests.
async fn seed_59_5(app: &TestApp) {
    let db = app.db();
    let codes: Vec<String> = (2..=40).map(|c| c.to_string()).collect();
    let wide: Vec<(&str, &str, i64)> = codes.iter().map(|c| ("jma_cme", c.as_str(), 50)).collect();
    seed::attend(db, NUMBER, "A", date!(2024 - 06 - 01), Status::Confirmed, &wide).await;
    seed::attend(db, NUMBER, "B", date!(2026 - 05 - 01), Status::Confirmed, &[("jma_cme", "2", 50)]).await;
    seed::attend(db, NUMBER, "C", date!(2026 - 06 - 01), Status::Confirmed, &[("jma_cme", "3", 50)]).await;
    seed::attend(db, NUMBER, "P", date!(2026 - 07 - 01), Status::Provisional, &[("jma_cme", "1", 500)]).await;
}

/// GET returning status, headers and raw bytes.
async fn fetch(app: &TestApp, uri: &str, cookie: &str) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let req = Request::get(uri).header(header::COOKIE, cookie).header(header::ACCEPT, "text/html");
    let res = app.send(req.body(Body::empty()).unwrap()).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// Posts the form; expects 303 to `/documents?issued={id}` and returns the id.
async fn issue_ok(app: &TestApp, cookie: &str, fields: &[(&str, &str)]) -> String {
    let (status, location, body) = app.post_form("/documents", cookie, fields).await;
    assert_eq!(status, 303, "{fields:?}: {body}");
    let location = location.unwrap();
    let id = location.strip_prefix("/documents?issued=").unwrap_or_else(|| panic!("{location}")).to_owned();
    assert!(portal::documents::is_id(&id), "{id}");
    id
}

fn pdftotext(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The list's row of document `id`.
fn row<'h>(html: &'h str, id: &str) -> &'h str {
    let start = html.find(&format!("data-id=\"{id}\"")).unwrap_or_else(|| panic!("{id} not listed: {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

async fn doctor_issues_each_kind_and_only_the_owner_gets_the_pdf(env: TestEnv) {
    let mut app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let doctor = app.linked_doctor("doc-d", NUMBER, NAME).await;
    seed_59_5(&app).await;

    let (status, _, html) = app.get("/documents", &doctor).await;
    assert_eq!(status, 200);
    // Tera escapes "/" as "&#x2F;" in inserted text.
    let html = html.replace("&#x2F;", "/");
    let refusal = "日医生涯教育認定証の基準に達していません（59.5 / 60、対象期間 2024-04-01〜2027-03-31）。あと0.5単位必要です。";
    assert!(html.contains(&format!("<p class=\"warning\" id=\"jma_refusal\">{refusal}</p>")), "{html}");
    assert!(html.contains("value=\"jma_certificate\" disabled"), "not offered at 59.5: {html}");
    assert!(html.contains("<option value=\"2026\" selected>2026年度</option>"), "{html}");
    assert!(html.contains("<option value=\"2024\">2024年度</option>"), "{html}");
    assert!(html.contains("id=\"no-documents\""), "{html}");

    // The certificate at 59.5: refused next to its field, nothing stored.
    let (status, _, html) = app.post_form("/documents", &doctor, &[("kind", "jma_certificate")]).await;
    assert_eq!(status, 422);
    let html = html.replace("&#x2F;", "/");
    assert!(html.contains(&format!("<p class=\"field-error\" id=\"jma_error\">{refusal}</p>")), "{html}");
    let (_, _, en) =
        app.post_form("/documents", &format!("{doctor}; lang=en"), &[("kind", "jma_certificate")]).await;
    assert!(
        en.replace("&#x2F;", "/").contains("Not eligible for the JMA lifelong-education certificate yet (59.5 / 60, window 2024-04-01 – 2027-03-31): 0.5 more units needed."),
        "{en}"
    );

    // 受講証明書 and the yearly statement.
    let attendance =
        issue_ok(&app, &doctor, &[("kind", "attendance"), ("from", "2024-04-01"), ("to", "2026-11-30")])
            .await;
    let statement = issue_ok(&app, &doctor, &[("kind", "statement"), ("fiscal_year", "2026")]).await;
    let (status, _, html) = app.get(&format!("/documents?issued={statement}"), &doctor).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!(
            "<p class=\"ok\" role=\"status\" id=\"issued-notice\">文書を発行しました。 <a href=\"/documents/{statement}.pdf\">PDFを開く</a></p>"
        )),
        "{html}"
    );

    let (status, headers, pdf) = fetch(&app, &format!("/documents/{attendance}.pdf"), &doctor).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "inline; filename=\"attendance_2024-04-01_2026-11-30.pdf\""
    );
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    let text = pdftotext(&pdf);
    for expected in ["受講証明書", "山田", "太郎", NUMBER, "講習会 A", "講習会 C"] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert!(!text.contains("講習会 P"), "provisional records never print:\n{text}");
    let (status, headers, pdf) = fetch(&app, &format!("/documents/{statement}.pdf"), &doctor).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "inline; filename=\"statement_2026-04-01_2027-03-31.pdf\""
    );
    let text = pdftotext(&pdf);
    assert!(text.contains("単位取得状況証明書") && text.contains("山田"), "{text}");

    // Code 1 at 0.5 → 61: the certificate is offered and issued.
    seed::attend(app.db(), NUMBER, "D", date!(2027 - 01 - 10), Status::Confirmed, &[("jma_cme", "1", 50)])
        .await;
    app.set_today(date!(2027 - 01 - 10));
    let (_, _, html) = app.get("/documents", &doctor).await;
    assert!(!html.contains("jma_refusal") && !html.contains("value=\"jma_certificate\" disabled"), "{html}");
    let certificate = issue_ok(&app, &doctor, &[("kind", "jma_certificate")]).await;
    let (status, _, pdf) = fetch(&app, &format!("/documents/{certificate}.pdf"), &doctor).await;
    assert_eq!(status, 200);
    let text = pdftotext(&pdf);
    assert!(text.contains("日医生涯教育認定証") && text.contains("山田"), "{text}");

    // Another doctor, an anonymous visitor, a malformed id.
    let other = app.linked_doctor("doc-o", "654321", "佐藤　花子").await;
    let (status, _, html) = app.get(&format!("/documents/{attendance}.pdf"), &other).await;
    assert_eq!(status, 404);
    assert!(html.contains("ページが見つかりません"), "{html}");
    let (_, _, html) = app.get("/documents", &other).await;
    assert!(html.contains("id=\"no-documents\"") && !html.contains(&attendance), "{html}");
    let (status, location, _) = app.get(&format!("/documents/{attendance}.pdf"), "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    assert_eq!(app.get(&format!("/documents/{attendance}.txt"), &doctor).await.0, 404);
    assert_eq!(app.get("/documents/nope.pdf", &doctor).await.0, 404);

    // The list, with one document revoked.
    update_document_revoked(app.db(), &statement, "誤発行", app.clock.now()).await.unwrap();
    let (_, _, html) = app.get("/documents", &doctor).await;
    assert_eq!(html.matches("<tr class=\"document ").count(), 3, "{html}");
    let a = row(&html, &attendance);
    assert!(
        a.contains("class=\"document valid\"")
            || html.contains(&format!("<tr class=\"document valid\" data-id=\"{attendance}\"")),
        "{a}"
    );
    assert!(
        a.contains(
            "data-kind=\"attendance\"><td>受講証明書</td><td>2024-04-01 – 2026-11-30</td><td>2026-12-01</td>"
        ),
        "{a}"
    );
    assert!(
        a.contains("<td>有効</td>")
            && a.contains(&format!("<a href=\"/documents/{attendance}.pdf\">PDF</a>")),
        "{a}"
    );
    assert!(a.contains(&format!("<a href=\"/v/{attendance}\">検証ページ</a>")), "{a}");
    let s = row(&html, &statement);
    assert!(s.contains("<td>単位取得状況証明書</td><td>2026-04-01 – 2027-03-31</td>"), "{s}");
    assert!(s.contains("<td>失効（") && !s.contains(".pdf"), "revoked, no PDF link: {s}");
    assert!(html.contains(&format!("<tr class=\"document revoked\" data-id=\"{statement}\"")), "{html}");
    let c = row(&html, &certificate);
    assert!(
        c.contains("<td>日医生涯教育認定証</td><td>2024-04-01 – 2027-03-31</td><td>2027-01-10</td>"),
        "{c}"
    );
    let (status, _, html) = app.get(&format!("/documents/{statement}.pdf"), &doctor).await;
    assert_eq!(status, 410);
    assert!(html.contains("この文書は失効しています"), "{html}");
}

async fn every_validation_message_next_to_its_field(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let doctor = app.linked_doctor("doc-v", NUMBER, NAME).await;
    seed::attend(app.db(), NUMBER, "A", date!(2026 - 05 - 01), Status::Confirmed, &[("jma_cme", "2", 100)])
        .await;
    seed::attend(app.db(), NUMBER, "R", date!(2025 - 05 - 01), Status::Rejected, &[("jma_cme", "3", 100)])
        .await;
    let cases: &[Case] = &[
        (&[("kind", "attendance"), ("to", "2026-05-31")], "from", "開始日を入力してください。"),
        (&[("kind", "attendance"), ("from", "2026-05-01")], "to", "終了日を入力してください。"),
        (
            &[("kind", "attendance"), ("from", "2026-02-30"), ("to", "2026-05-31")],
            "from",
            "開始日は 2026-04-01 の形式で、実在する日付を入力してください。",
        ),
        (
            &[("kind", "attendance"), ("from", "2026-05-01"), ("to", "5月31日")],
            "to",
            "終了日は 2026-04-01 の形式で、実在する日付を入力してください。",
        ),
        (
            &[("kind", "attendance"), ("from", "2026-05-02"), ("to", "2026-05-01")],
            "to",
            "終了日は開始日と同じか、それより後の日付にしてください。",
        ),
        (
            &[("kind", "attendance"), ("from", "2026-06-01"), ("to", "2026-11-30")],
            "to",
            "2026-06-01〜2026-11-30に確定した受講記録がないため、発行できません。",
        ),
        (
            &[("kind", "statement"), ("fiscal_year", "2025")],
            "fiscal_year",
            "2025-04-01〜2026-03-31に確定した受講記録がないため、発行できません。",
        ),
        (&[("kind", "statement"), ("fiscal_year", "")], "fiscal_year", "年度を選んでください。"),
        (&[("kind", "certificate")], "kind", "発行する文書の種類を選んでください。"),
        (&[], "kind", "発行する文書の種類を選んでください。"),
    ];
    for (fields, field, message) in cases {
        let (status, _, html) = app.post_form("/documents", &doctor, fields).await;
        assert_eq!(status, 422, "{fields:?}");
        let expected = format!("<p class=\"field-error\" id=\"{field}_error\">{message}</p>");
        assert!(html.contains(&expected), "{fields:?}: {expected} missing from {html}");
        assert_eq!(html.matches("class=\"field-error\"").count(), 1, "{fields:?}: one message");
        assert!(html.contains("入力内容に誤りがあります。"), "{html}");
        for (name, value) in *fields {
            if matches!(*name, "from" | "to") {
                assert!(html.contains(&format!("name=\"{name}\" value=\"{value}\"")), "entry kept: {html}");
            }
        }
    }
    // Both dates missing: two messages, each next to its field.
    let (status, _, html) = app.post_form("/documents", &doctor, &[("kind", "attendance")]).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("<p class=\"field-error\" id=\"from_error\">開始日を入力してください。</p>"),
        "{html}"
    );
    assert!(
        html.contains("<p class=\"field-error\" id=\"to_error\">終了日を入力してください。</p>"),
        "{html}"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM documents").fetch_one(app.db().pool()).await.unwrap();
    assert_eq!(stored, 0, "a refusal stores nothing");
    let (_, _, en) = app
        .post_form(
            "/documents",
            &format!("{doctor}; lang=en"),
            &[("kind", "attendance"), ("from", "2026-05-02"), ("to", "2026-05-01")],
        )
        .await;
    assert!(
        en.contains(
            "<p class=\"field-error\" id=\"to_error\">The last day must be on or after the first day.</p>"
        ),
        "{en}"
    );
}

async fn documents_page_needs_sign_in_and_a_confirmed_link(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let (status, location, _) = app.get("/documents", "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    let (status, location, _) = app.post_form("/documents", "", &[("kind", "statement")]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));

    seed::doctor(app.db(), NUMBER, NAME).await;
    let doctor = app.sign_in("doc-n", NAME, &[], None).await;
    let (status, _, html) = app.get("/documents", &doctor).await;
    assert_eq!(status, 200);
    assert!(html.contains("医籍登録番号の登録が必要です") && !html.contains("name=\"kind\""), "{html}");
    let (status, _, html) =
        app.post_form("/documents", &doctor, &[("kind", "statement"), ("fiscal_year", "2026")]).await;
    assert_eq!(status, 200);
    assert!(html.contains("医籍登録番号の登録が必要です"), "{html}");
    app.post_form("/me/registration", &doctor, &[("registration_number", NUMBER)]).await;
    let (_, _, html) = app.get("/documents", &doctor).await;
    assert!(html.contains("確認待ち") || html.contains(NUMBER), "pending link: {html}");
    assert!(!html.contains("name=\"kind\""), "{html}");

    // The home page and the history page link here.
    let (_, _, home) = app.get("/", &doctor).await;
    assert!(
        home.contains("<a href=\"/documents\" id=\"documents-link\">証明書の発行・発行済み文書</a>"),
        "{home}"
    );
    let linked_doctor = app.linked_doctor("doc-l", "222222", "鈴木　一郎").await;
    let (_, _, history) = app.get("/history", &linked_doctor).await;
    assert!(history.contains("<a href=\"/documents\" id=\"documents-link\">"), "{history}");
}
