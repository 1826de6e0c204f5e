//! The operator's document page: find issued documents, revoke one with a reason; only the
//! `operator` role gets in.

use axum::body::Body;
use axum::http::Request;
use portal::store::documents::find_document;
use storage::testing::TestEnv;

use crate::{TestApp, text};

storage::each_backend!(only_operators_see_the_document_page, operators_find_and_revoke_documents);

async fn only_operators_see_the_document_page(env: TestEnv) {
    let app = TestApp::new(env).await;
    let (_, id) = app.issued_statement("doc-op").await;
    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let doctor = app.sign_in("doc-1", "山田　太郎", &[], None).await;
    for cookie in [&organizer, &doctor] {
        let (status, _, html) = app.get("/operator/documents?q=123456", cookie).await;
        assert_eq!(status, 403);
        assert!(html.contains("このページを表示する権限がありません"), "{html}");
        let (status, _, _) =
            app.post_form("/operator/documents/revoke", cookie, &[("id", &id), ("reason", "誤り")]).await;
        assert_eq!(status, 403);
        let (_, _, home) = app.get("/", cookie).await;
        assert!(!home.contains("href=\"/operator/documents\""), "{home}");
    }
    let (status, location, _) = app.get("/operator/documents", "portal_session=unknown").await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    assert_eq!(find_document(app.db(), &id).await.unwrap().unwrap().revoked_at, None);

    let operator = app.sign_in("op-1", "運用　一郎", &["operator"], None).await;
    let (_, _, home) = app.get("/", &operator).await;
    assert!(home.contains("href=\"/operator/documents\""), "{home}");
    assert!(home.contains("href=\"/organizer/events\""), "operators are organizers too: {home}");
}

async fn operators_find_and_revoke_documents(env: TestEnv) {
    let app = TestApp::new(env).await;
    let (_, id) = app.issued_statement("doc-op").await;
    let operator = app.sign_in("op-1", "運用　一郎", &["operator"], None).await;

    // By registration number (full-width digits and zero padding accepted) and by id.
    for q in ["123456", "０１２３４５６", id.as_str()] {
        let uri = format!(
            "/operator/documents?q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let (status, _, html) = app.get(&uri, &operator).await;
        assert_eq!(status, 200, "{q}");
        let row =
            &html[html.find(&format!("<tr id=\"doc-{id}\">")).unwrap_or_else(|| panic!("{q}: {html}"))..];
        assert!(row.contains("<td>単位取得状況証明書</td>") && row.contains("<td>123456</td>"), "{row}");
        assert!(row.contains("name=\"reason\""), "{row}");
    }
    let (status, _, html) = app.get("/operator/documents?q=654321", &operator).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"no-documents\""), "{html}");
    let (status, _, html) = app.get("/operator/documents?q=abc%21", &operator).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("<p class=\"field-error\" id=\"q_error\">文書ID（22文字）または医籍登録番号（1〜8桁の数字）を入力してください。</p>"),
        "{html}"
    );

    // No reason: refused next to the field, nothing revoked.
    let (status, _, html) = app
        .post_form("/operator/documents/revoke", &operator, &[("id", &id), ("reason", "  "), ("q", "123456")])
        .await;
    assert_eq!(status, 422);
    assert!(
        html.contains(&format!(
            "<p class=\"field-error\" id=\"reason-{id}_error\">失効理由を入力してください。</p>"
        )),
        "{html}"
    );
    assert_eq!(find_document(app.db(), &id).await.unwrap().unwrap().revoked_at, None);
    let long = "あ".repeat(501);
    let (status, _, html) =
        app.post_form("/operator/documents/revoke", &operator, &[("id", &id), ("reason", &long)]).await;
    assert_eq!(status, 422);
    assert!(html.contains("失効理由は500文字以内で入力してください。"), "{html}");

    // Revoked: back to the search with a notice; the verification JSON says so.
    let (status, location, _) = app
        .post_form(
            "/operator/documents/revoke",
            &operator,
            &[("id", &id), ("reason", "発行内容の誤り"), ("q", "123456")],
        )
        .await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert_eq!(location, format!("/operator/documents?q=123456&revoked={id}"));
    let (_, _, html) = app.get(&location, &operator).await;
    assert!(html.contains(&format!("文書 {id} を失効させました。")), "{html}");
    let row = &html[html.find(&format!("<tr id=\"doc-{id}\">")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("失効（") && row.contains("<small>発行内容の誤り</small>"), "{row}");
    assert!(!row.contains("name=\"reason\""), "no second revocation form: {row}");
    let res = app
        .send(
            Request::get(format!("/v/{id}"))
                .header("accept", "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let body: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["revoked_reason"].as_str()),
        (Some("revoked"), Some("発行内容の誤り"))
    );

    // Again: already revoked, the first reason stays; an unknown id is 404.
    let (status, _, html) =
        app.post_form("/operator/documents/revoke", &operator, &[("id", &id), ("reason", "別の理由")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("この文書はすでに失効しています。"), "{html}");
    assert_eq!(
        find_document(app.db(), &id).await.unwrap().unwrap().revoked_reason.as_deref(),
        Some("発行内容の誤り")
    );
    let unknown = "A".repeat(22);
    let (status, _, _) =
        app.post_form("/operator/documents/revoke", &operator, &[("id", &unknown), ("reason", "誤り")]).await;
    assert_eq!(status, 404);
}
