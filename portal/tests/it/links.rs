//! Linking a signed-in doctor to a registration number: self-entry, organizer review, the
//! idp's claim, messages next to the field, and who may review.

use portal::store::attendance::Status;
use portal::store::links::{LinkStatus, find_link};
use storage::testing::TestEnv;
use time::macros::date;

use crate::{TestApp, seed};

storage::each_backend!(
    self_entry_waits_for_the_organizer_then_history_shows,
    organizer_rejects_and_the_doctor_enters_again,
    bad_numbers_get_messages_next_to_the_field,
    only_organizers_review_links,
    the_registration_claim_links_at_once_when_in_the_registry,
    signed_out_visitors_go_to_login,
);

async fn self_entry_waits_for_the_organizer_then_history_shows(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    seed::attend(
        app.db(),
        "123456",
        "E1",
        date!(2026 - 06 - 01),
        Status::Confirmed,
        &[("jma_cme", "76", 150)],
    )
    .await;
    let doctor = app.sign_in("doc-1", "山田　太郎", &[], None).await;

    let (status, _, html) = app.get("/history", &doctor).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("医籍登録番号の登録が必要です") && html.contains("href=\"/me/registration\""),
        "{html}"
    );
    assert!(!html.contains("講習会 E1"), "no records before a link");

    // Full-width digits with a leading zero, normalised as the import does.
    let (status, location, _) =
        app.post_form("/me/registration", &doctor, &[("registration_number", "０１２３４５６")]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/me/registration")));
    let link = find_link(app.db(), "doc-1").await.unwrap().unwrap();
    assert_eq!((link.registration_number.as_str(), link.status), ("123456", LinkStatus::Pending));
    assert_eq!(link.claimed_name.as_deref(), Some("山田　太郎"));
    let (_, _, html) = app.get("/me/registration", &doctor).await;
    assert!(html.contains("医籍登録番号 123456 は事務局の確認待ちです"), "{html}");
    let (_, _, html) = app.get("/history", &doctor).await;
    assert!(html.contains("確認待ち") && !html.contains("講習会 E1"), "pending shows no records: {html}");

    let organizer = app.sign_in("org-1", "事務局　花子", &["organizer"], None).await;
    let (status, _, html) = app.get("/organizer/links", &organizer).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"doc-1\"") && html.contains("123456"), "{html}");
    assert!(html.contains("ヤマダ　タロウ"), "the registry's entry is shown to compare: {html}");
    let (status, location, _) =
        app.post_form("/organizer/links", &organizer, &[("action", "confirm"), ("sub", "doc-1")]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/organizer/links?done=confirm&count=1")));
    let (_, _, html) = app.get("/organizer/links?done=confirm&count=1", &organizer).await;
    assert!(html.contains("1件を承認しました。") && html.contains("確認待ちの申請はありません。"), "{html}");
    let link = find_link(app.db(), "doc-1").await.unwrap().unwrap();
    assert_eq!(link.status, LinkStatus::Confirmed);
    assert_eq!(link.decided_by.as_deref(), Some("org-1"));

    let (status, _, html) = app.get("/history", &doctor).await;
    assert_eq!(status, 200);
    assert!(html.contains("講習会 E1") && html.contains("医籍登録番号: 123456"), "{html}");
    // A confirmed link is not replaced by a new entry.
    let (status, _, html) =
        app.post_form("/me/registration", &doctor, &[("registration_number", "654321")]).await;
    assert_eq!(status, 409, "a confirmed link shows its number, not the form: {html}");
    assert!(html.contains("医籍登録番号 123456 で登録済みです") && html.contains("変更できません"), "{html}");
    assert_eq!(find_link(app.db(), "doc-1").await.unwrap().unwrap().registration_number, "123456");
}

async fn organizer_rejects_and_the_doctor_enters_again(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    let a = app.sign_in("doc-a", "山田　太郎", &[], None).await;
    let b = app.sign_in("doc-b", "佐藤　次郎", &[], None).await;
    app.post_form("/me/registration", &a, &[("registration_number", "123456")]).await;
    app.post_form("/me/registration", &b, &[("registration_number", "999")]).await;
    let operator = app.sign_in("op-1", "運用　一郎", &["operator"], None).await;
    let (_, _, html) = app.get("/organizer/links", &operator).await;
    assert!(html.contains("名簿にありません"), "999 is not in the registry: {html}");
    // Bulk: both at once.
    let (status, location, _) = app
        .post_form("/organizer/links", &operator, &[("action", "reject"), ("sub", "doc-a"), ("sub", "doc-b")])
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/organizer/links?done=reject&count=2")));
    let (_, _, html) = app.get("/organizer/links?done=reject&count=2", &operator).await;
    assert!(html.contains("2件を却下しました。"), "{html}");
    // Deciding again changes nothing.
    let (_, location, _) =
        app.post_form("/organizer/links", &operator, &[("action", "confirm"), ("sub", "doc-a")]).await;
    assert_eq!(location.as_deref(), Some("/organizer/links?done=confirm&count=0"));
    assert_eq!(find_link(app.db(), "doc-a").await.unwrap().unwrap().status, LinkStatus::Rejected);

    let (_, _, html) = app.get("/history", &a).await;
    assert!(html.contains("医籍登録番号 123456 は承認されませんでした"), "{html}");
    let (status, _, _) = app.post_form("/me/registration", &a, &[("registration_number", "00123456")]).await;
    assert_eq!(status, 303);
    assert_eq!(find_link(app.db(), "doc-a").await.unwrap().unwrap().status, LinkStatus::Pending);

    // Nothing chosen, or no action: the page says so.
    let (status, _, html) = app.post_form("/organizer/links", &operator, &[("action", "confirm")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("申請を1件以上選択してください。"), "{html}");
    let (status, _, html) =
        app.post_form("/organizer/links", &operator, &[("action", "drop"), ("sub", "doc-a")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("承認か却下を選んでください。"), "{html}");
    assert_eq!(find_link(app.db(), "doc-a").await.unwrap().unwrap().status, LinkStatus::Pending);
}

async fn bad_numbers_get_messages_next_to_the_field(env: TestEnv) {
    let app = TestApp::new(env).await;
    let doctor = app.sign_in("doc-x", "山田　太郎", &[], None).await;
    for (entered, message) in [
        ("", "医籍登録番号を入力してください。"),
        ("12-3456", "医籍登録番号は数字だけで入力してください。"),
        ("abc", "医籍登録番号は数字だけで入力してください。"),
        ("000", "医籍登録番号は1〜8桁の数字です（先頭の0を除く）。"),
        ("123456789", "医籍登録番号は1〜8桁の数字です（先頭の0を除く）。"),
    ] {
        let (status, _, html) =
            app.post_form("/me/registration", &doctor, &[("registration_number", entered)]).await;
        assert_eq!(status, 422, "{entered}");
        let field =
            html.split("class=\"field invalid\"").nth(1).unwrap_or_else(|| panic!("{entered}: {html}"));
        assert!(
            field.contains(&format!("<p class=\"field-error\" id=\"registration_error\">{message}</p>")),
            "{entered}: {html}"
        );
        assert!(field.contains("aria-invalid=\"true\""), "{entered}");
        assert!(field.contains(&format!("value=\"{entered}\"")), "the entry is kept: {entered}");
    }
    assert!(find_link(app.db(), "doc-x").await.unwrap().is_none());
    // English.
    let (status, _, html) = app
        .post_form(
            "/me/registration?lang=en",
            &format!("{doctor}; lang=en"),
            &[("registration_number", "x1")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("Enter the registration number with digits only."), "{html}");
}

async fn only_organizers_review_links(env: TestEnv) {
    let app = TestApp::new(env).await;
    let doctor = app.sign_in("doc-y", "山田　太郎", &["verifier"], None).await;
    app.post_form("/me/registration", &doctor, &[("registration_number", "123")]).await;
    let (status, _, html) = app.get("/organizer/links", &doctor).await;
    assert_eq!(status, 403);
    assert!(html.contains("このページを表示する権限がありません"), "{html}");
    let (status, _, _) =
        app.post_form("/organizer/links", &doctor, &[("action", "confirm"), ("sub", "doc-y")]).await;
    assert_eq!(status, 403);
    assert_eq!(find_link(app.db(), "doc-y").await.unwrap().unwrap().status, LinkStatus::Pending);
    let (_, _, home) = app.get("/", &doctor).await;
    assert!(home.contains("href=\"/history\"") && !home.contains("href=\"/organizer/links\""), "{home}");
    let organizer = app.sign_in("org-y", "事務局　花子", &["organizer"], None).await;
    let (_, _, home) = app.get("/", &organizer).await;
    assert!(home.contains("href=\"/organizer/links\""), "{home}");
}

async fn the_registration_claim_links_at_once_when_in_the_registry(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    seed::doctor(app.db(), "123456", "山田　太郎").await;
    seed::attend(
        app.db(),
        "123456",
        "C1",
        date!(2026 - 05 - 01),
        Status::Confirmed,
        &[("jma_cme", "1", 100)],
    )
    .await;
    let doctor = app.sign_in("doc-c", "山田　太郎", &[], Some("00123456")).await;
    let (status, _, html) = app.get("/history", &doctor).await;
    assert_eq!(status, 200);
    assert!(html.contains("講習会 C1"), "{html}");
    let link = find_link(app.db(), "doc-c").await.unwrap().unwrap();
    assert_eq!(
        (link.status, link.source.as_str(), link.decided_by.as_deref()),
        (LinkStatus::Confirmed, "claim", Some("idp"))
    );
    // A claimed number the registry does not know: the doctor links by entry.
    let other = app.sign_in("doc-d", "佐藤　次郎", &[], Some("777777")).await;
    let (_, _, html) = app.get("/history", &other).await;
    assert!(html.contains("医籍登録番号の登録が必要です"), "{html}");
    assert!(find_link(app.db(), "doc-d").await.unwrap().is_none());
}

async fn signed_out_visitors_go_to_login(env: TestEnv) {
    let app = TestApp::new(env).await;
    for uri in ["/history", "/me/registration", "/organizer/links", "/history?year=2026"] {
        let (status, location, _) = app.get(uri, "portal_session=unknown").await;
        assert_eq!((status, location.as_deref()), (303, Some("/login")), "{uri}");
    }
}
