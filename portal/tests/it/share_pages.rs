//! `/shares` (portal::pages::shares) on both storage backends: a doctor signed in with a card
//! makes a share and sees its link, code and QR code once; lists and revokes it; reads the log of
//! checks; wrong forms are refused with the reason, and a doctor without a card is told why.

use portal::store::shares::{LogEntry, Refusal, Secret, record_verification, use_share};
use storage::testing::TestEnv;

storage::each_backend!(a_doctor_makes_lists_and_revokes_a_share, share_forms_that_cannot_be_made_say_why,);

/// 2026-12-04 10:00 in Japan.
const NOW: i64 = 1_796_346_000;

/// The text between `open` (exclusive) and the next `<`.
pub fn text_after<'h>(html: &'h str, open: &str) -> &'h str {
    let start = html.find(open).unwrap_or_else(|| panic!("{open} not in {html}")) + open.len();
    let rest = &html[start..];
    &rest[..rest.find('<').unwrap_or(rest.len())]
}

async fn a_doctor_makes_lists_and_revokes_a_share(env: TestEnv) {
    let app = crate::TestApp::at(env, NOW).await;
    app.linked_doctor("doc-s", "123456", "山田　太郎").await;
    let doctor = app.sign_in_with_card("doc-s", "山田　太郎", "TESTJ00001").await;
    let (status, _, html) = app.get("/shares", &doctor).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"share-form\"") && html.contains("id=\"share-none\""), "{html}");

    let (status, _, made) = app
        .post_form(
            "/shares",
            &doctor,
            &[
                ("field", "name"),
                ("field", "registration_number"),
                ("field", "validity"),
                ("lifetime", "600"),
                ("uses", "once"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{made}");
    assert!(made.contains("id=\"share-made\"") && made.contains("<svg"), "{made}");
    let url = text_after(&made, "id=\"share-link\" href=\"");
    let url = url.split('"').next().unwrap().replace("&#x2F;", "/");
    let token = url.rsplit("/verify/").next().unwrap().to_owned();
    assert!(url.starts_with(crate::PUBLIC_URL) && token.len() == 43, "{url}");
    let code = text_after(&made, "id=\"share-code\" class=\"share-code\">");
    assert_eq!(code.len(), 9, "{code}");
    // The list: one active share of the chosen fields, in the page's order.
    assert!(made.contains("data-status=\"active\""), "{made}");
    assert!(made.contains("氏名（漢字）、医籍登録番号、医師資格証の有効性"), "{made}");

    // The link's token and the code find the share (the verify page's store call).
    let db = app.db();
    let share = use_share(db, Secret::Token(&token), NOW + 1).await.unwrap().unwrap();
    assert_eq!(share.registration_number.as_deref(), Some("123456"));
    assert_eq!((share.card_subscriber.as_str(), share.max_uses), ("TESTJ00001", Some(1)));
    assert_eq!(use_share(db, Secret::Code(code), NOW + 2).await.unwrap(), Err(Refusal::UsedUp));
    record_verification(
        db,
        &LogEntry {
            owner_sub: "doc-s".into(),
            share_id: Some(share.id.clone()),
            kind: "share".into(),
            outcome: "shown".into(),
            shown: share.disclose.clone(),
            verifier_ip: "203.0.113.9".into(),
            verifier: None,
            at: NOW + 1,
        },
    )
    .await
    .unwrap();
    let (_, _, html) = app.get("/shares", &doctor).await;
    assert!(!html.contains("id=\"share-made\""), "the link is shown once: {html}");
    assert!(html.contains("data-status=\"used_up\""), "{html}");
    assert!(html.contains("共有リンク・コード") && html.contains("203.0.113.9"), "the log: {html}");

    // A second share, revoked by its owner; another person cannot revoke it.
    let (status, _, _) = app
        .post_form("/shares", &doctor, &[("field", "name"), ("lifetime", "604800"), ("uses", "many")])
        .await;
    assert_eq!(status, 200);
    let id = portal::store::shares::find_shares(db, "doc-s").await.unwrap()[0].id.clone();
    let other = app.sign_in_with_card("doc-x", "他人", "TESTJ00009").await;
    let (status, _, page) = app.post_form(&format!("/shares/{id}/revoke"), &other, &[]).await;
    assert!(status == 404 && page.contains("共有が見つかりません"), "{status} {page}");
    let (status, location, _) = app.post_form(&format!("/shares/{id}/revoke"), &doctor, &[]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/shares")));
    let (_, _, html) = app.get("/shares", &doctor).await;
    assert!(html.contains("data-status=\"revoked\""), "{html}");
    let (_, _, en) = app.get("/shares?lang=en", &format!("{doctor}; lang=en")).await;
    assert!(en.contains("Revoked") && en.contains("Share your qualification"), "{en}");
}

async fn share_forms_that_cannot_be_made_say_why(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    // Signed in without a card (a staff sign-in, or an idp that released no `hpki`).
    let plain = app.sign_in("doc-p", "山田　太郎", &[], None).await;
    let (_, _, html) = app.get("/shares", &plain).await;
    assert!(html.contains("id=\"share-no-card\"") && !html.contains("id=\"share-form\""), "{html}");
    let (status, _, html) =
        app.post_form("/shares", &plain, &[("field", "name"), ("lifetime", "600"), ("uses", "once")]).await;
    assert!(status == 422 && html.contains("医師資格証でサインインしてください"), "{html}");

    let doctor = app.sign_in_with_card("doc-c", "山田　太郎", "TESTJ00002").await;
    for (fields, message) in [
        (vec![("lifetime", "600"), ("uses", "once")], "開示する項目を1つ以上選んでください。"),
        (
            vec![("field", "nope"), ("lifetime", "600"), ("uses", "once")],
            "開示する項目を1つ以上選んでください。",
        ),
        (
            vec![("field", "name"), ("lifetime", "59"), ("uses", "once")],
            "有効期間と確認できる回数を選んでください。",
        ),
        (
            vec![("field", "name"), ("lifetime", "600"), ("uses", "twice")],
            "有効期間と確認できる回数を選んでください。",
        ),
        // No confirmed registration-number link: the number cannot be disclosed.
        (
            vec![("field", "registration_number"), ("lifetime", "600"), ("uses", "once")],
            "医籍登録番号の登録と確認が必要です。",
        ),
    ] {
        let (status, _, html) = app.post_form("/shares", &doctor, &fields).await;
        assert_eq!(status, 422, "{fields:?}");
        assert!(html.contains(message), "{fields:?}: {html}");
    }
    assert!(
        portal::store::shares::find_shares(app.db(), "doc-c").await.unwrap().is_empty(),
        "nothing stored"
    );
    // Signed out: the sign-in.
    let (status, location, _) = app.get("/shares", "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
}
