//! `/verify` (portal::pages::verify) on both storage backends, the paths that end before or at
//! the idp: a forged, mistyped, expired, revoked or used-up share gets its own refusal page and a
//! log entry for the doctor; a link's GET takes no view; with the idp unreachable the page says
//! the card cannot be checked now and the share keeps its view; code entries are rate limited;
//! the doctor reads the log on `/account`. The shown page, with the idp's card check, runs
//! through the binary (tests/it/verify.rs at the workspace root).

use portal::store::shares::{Secret, find_share, find_verifications, use_share};
use storage::testing::TestEnv;

use crate::share_pages::text_after;

storage::each_backend!(
    refused_shares_get_their_own_page_and_a_log_entry,
    a_share_keeps_its_view_when_the_card_cannot_be_checked,
    code_entries_are_limited_per_address,
    in_person_checks_take_a_fresh_challenge_once,
    a_cards_checks_before_its_first_sign_in_reach_its_holder,
);

/// 2026-12-04 10:00 in Japan.
const NOW: i64 = 1_796_346_000;

/// Makes a share on `/shares` as `doctor`; returns its link token and short code.
async fn make_share(app: &crate::TestApp, doctor: &str, lifetime: &str, uses: &str) -> (String, String) {
    let form = [("field", "name"), ("field", "validity"), ("lifetime", lifetime), ("uses", uses)];
    let (status, _, made) = app.post_form("/shares", doctor, &form).await;
    assert_eq!(status, 200, "{made}");
    let url =
        text_after(&made, "id=\"share-link\" href=\"").split('"').next().unwrap().replace("&#x2F;", "/");
    let token = url.rsplit("/verify/").next().unwrap().to_owned();
    (token, text_after(&made, "id=\"share-code\" class=\"share-code\">").to_owned())
}

async fn refused_shares_get_their_own_page_and_a_log_entry(env: TestEnv) {
    let app = crate::TestApp::at(env, NOW).await;
    let doctor = app.sign_in_with_card("doc-v", "山田　太郎", "TESTJ00001").await;
    let (token, code) = make_share(&app, &doctor, "600", "once").await;

    // Forged or altered: the "not valid" page, 404, for the link and for a code.
    let mut altered = token.clone();
    let last = if altered.ends_with('A') { 'B' } else { 'A' };
    altered.replace_range(42.., &last.to_string());
    for path in ["/verify/not-a-token".to_owned(), format!("/verify/{altered}")] {
        let (status, _, html) = app.get(&path, "").await;
        assert_eq!(status, 404, "{path}");
        assert!(
            html.contains("data-result=\"unknown\"") && html.contains("この確認コードは無効です"),
            "{html}"
        );
    }
    let (status, _, html) = app.post_form("/verify", "", &[("code", "ZZZZ-ZZZZ")]).await;
    assert!(status == 404 && html.contains("偽造・改ざんされたリンク"), "{status} {html}");
    // Not a code at all: the form again, with what was typed and why.
    let (status, _, html) = app.post_form("/verify", "", &[("code", "K7QM-2X")]).await;
    assert!(status == 422 && html.contains("確認コードは8文字の英数字です"), "{html}");
    assert!(html.contains("value=\"K7QM-2X\"") && html.contains("aria-invalid=\"true\""), "{html}");

    // The link's GET is a confirmation step: no view is taken (a link preview uses nothing).
    for _ in 0..2 {
        let (status, _, html) = app.get(&format!("/verify/{token}"), "").await;
        assert_eq!(status, 200);
        assert!(html.contains("id=\"confirm-form\"") && html.contains("1回だけ確認できます"), "{html}");
    }
    let share = find_share(app.db(), Secret::Token(&token)).await.unwrap().unwrap();
    assert_eq!(share.uses, 0);
    assert!(find_verifications(app.db(), "doc-v", 10).await.unwrap().is_empty(), "nothing logged yet");

    // Used up (the one view taken), then expired: each refusal names itself, 410.
    use_share(app.db(), Secret::Code(&code), NOW + 1).await.unwrap().unwrap();
    let (status, _, html) = app.post_form(&format!("/verify/{token}"), "", &[]).await;
    assert!(status == 410 && html.contains("この共有は使用済みです"), "{status} {html}");
    app.clock.advance(std::time::Duration::from_secs(600));
    let (status, _, html) = app.get(&format!("/verify/{token}?lang=en"), "lang=en").await;
    assert!(status == 410 && html.contains("This share has expired"), "{status} {html}");
    app.clock.advance(std::time::Duration::from_secs(1));

    // Revoked by the doctor; a signed-in organizer is named in the log.
    let (token2, code2) = make_share(&app, &doctor, "86400", "many").await;
    let id = portal::store::shares::find_shares(app.db(), "doc-v").await.unwrap()[0].id.clone();
    let (status, _, _) = app.post_form(&format!("/shares/{id}/revoke"), &doctor, &[]).await;
    assert_eq!(status, 303);
    let clerk = app.sign_in("clerk-1", "病院事務　一郎", &["organizer"], None).await;
    let (status, _, html) = app.post_form("/verify", &clerk, &[("code", &code2.to_lowercase())]).await;
    assert!(status == 410 && html.contains("この共有は取り消されています"), "{status} {html}");
    app.clock.advance(std::time::Duration::from_secs(1));
    let (status, _, _) = app.get(&format!("/verify/{token2}"), "").await;
    assert_eq!(status, 410);

    let log = find_verifications(app.db(), "doc-v", 10).await.unwrap();
    let outcomes: Vec<&str> = log.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["revoked", "revoked", "expired", "used_up"], "{log:?}");
    assert!(log.iter().all(|e| e.kind == "share" && e.shown.is_empty() && e.verifier_ip == "unknown"));
    assert_eq!(log[1].verifier.as_deref(), Some("病院事務　一郎 (organizer)"));
    assert_eq!(log[0].verifier, None);

    // The doctor reads it on /account.
    let (status, _, html) = app.get("/account", &doctor).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("id=\"verification-log\"") && html.contains("病院事務　一郎 (organizer)"),
        "{html}"
    );
    assert!(
        html.contains("取り消し済み") && html.contains("期限切れ") && html.contains("使用済み"),
        "{html}"
    );
    assert!(html.contains("医師資格証でサインインしています") && html.contains("TESTJ00001"), "{html}");
    let (status, location, _) = app.get("/account", "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
}

async fn a_share_keeps_its_view_when_the_card_cannot_be_checked(env: TestEnv) {
    // The test portal's idp (127.0.0.1:8080) is not running.
    let app = crate::TestApp::at(env, NOW).await;
    let doctor = app.sign_in_with_card("doc-u", "山田　太郎", "TESTJ00003").await;
    let (token, code) = make_share(&app, &doctor, "600", "once").await;
    let (status, _, html) = app.post_form(&format!("/verify/{token}"), "", &[]).await;
    assert_eq!(status, 503, "{html}");
    assert!(
        html.contains("data-result=\"unavailable\"") && html.contains("共有は使われていません"),
        "{html}"
    );
    let (status, _, html) = app.post_form("/verify?lang=en", "lang=en", &[("code", &code)]).await;
    assert!(status == 503 && html.contains("The share was not used."), "{status} {html}");
    let share = find_share(app.db(), Secret::Token(&token)).await.unwrap().unwrap();
    assert_eq!(share.uses, 0, "the view is still there");
    assert!(find_verifications(app.db(), "doc-u", 10).await.unwrap().is_empty());
}

async fn code_entries_are_limited_per_address(env: TestEnv) {
    let app = crate::TestApp::at(env, NOW).await;
    let max = portal::pages::verify::CODE_LIMIT.0;
    for i in 0..max {
        let (status, _, _) = app.post_form("/verify", "", &[("code", "ZZZZ-ZZZZ")]).await;
        assert_eq!(status, 404, "entry {i}");
    }
    let (status, _, html) = app.post_form("/verify", "", &[("code", "ZZZZ-ZZZZ")]).await;
    assert!(status == 429 && html.contains("確認コードの入力が多すぎます"), "{status} {html}");
}

async fn in_person_checks_take_a_fresh_challenge_once(env: TestEnv) {
    let app = crate::TestApp::at(env, NOW).await;
    let (status, _, html) = app.get("/verify/in-person", "").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"card-login\"") && html.contains("data-post=\"form\""), "{html}");
    assert!(html.contains("http:&#x2F;&#x2F;127.0.0.1:8080&#x2F;bridge"), "the idp's bridge check: {html}");
    let (status, _, body) = app.get("/verify/in-person/challenge", "").await;
    assert_eq!(status, 200);
    let nonce =
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["nonce"].as_str().unwrap().to_owned();
    assert_eq!(nonce.len(), 44);

    // No token, or not JSON: the form again.
    for fields in [vec![("nonce", nonce.as_str())], vec![("auth_token", "[1]"), ("nonce", nonce.as_str())]] {
        let (status, _, html) = app.post_form("/verify/in-person", "", &fields).await;
        assert!(status == 422 && html.contains("カードからの応答を受け取れませんでした"), "{status} {html}");
    }
    // A nonce the portal did not give.
    let token = r#"{"format":"web-eid:1.0"}"#;
    let (status, _, html) =
        app.post_form("/verify/in-person", "", &[("auth_token", token), ("nonce", "made-up")]).await;
    assert!(status == 422 && html.contains("確認の有効時間（5分）が過ぎたか"), "{status} {html}");
    // The portal's nonce, the idp unreachable: 503, and the nonce is spent.
    let (status, _, html) =
        app.post_form("/verify/in-person", "", &[("auth_token", token), ("nonce", &nonce)]).await;
    assert!(status == 503 && html.contains("現在、医師資格証を確認できません"), "{status} {html}");
    let (status, _, _) =
        app.post_form("/verify/in-person", "", &[("auth_token", token), ("nonce", &nonce)]).await;
    assert_eq!(status, 422, "a nonce is used once");
}

async fn a_cards_checks_before_its_first_sign_in_reach_its_holder(env: TestEnv) {
    use portal::store::shares::{LogEntry, card_key, card_owner, record_card_owner, record_verification};
    let app = crate::TestApp::at(env, NOW).await;
    let db = app.db();
    let (issuer, subscriber) = ("C=JP, O=JMA, CN=HPKI Test CA", "TESTJ00005");
    let owner = card_owner(db, issuer, subscriber).await.unwrap();
    assert_eq!(owner, card_key(issuer, subscriber));
    let entry = LogEntry {
        owner_sub: owner,
        share_id: None,
        kind: "in_person".into(),
        outcome: "shown".into(),
        shown: vec!["name".into()],
        verifier_ip: "198.51.100.4".into(),
        verifier: None,
        at: NOW,
    };
    record_verification(db, &entry).await.unwrap();
    record_card_owner(db, issuer, subscriber, "doc-first", NOW + 5).await.unwrap();
    assert_eq!(card_owner(db, issuer, subscriber).await.unwrap(), "doc-first");
    let log = find_verifications(db, "doc-first", 10).await.unwrap();
    assert_eq!(log.len(), 1, "moved to the holder");
    assert_eq!((log[0].kind.as_str(), log[0].verifier_ip.as_str()), ("in_person", "198.51.100.4"));
    // Another account signs in with the card later (a re-issued account): it owns the next checks.
    record_card_owner(db, issuer, subscriber, "doc-second", NOW + 9).await.unwrap();
    assert_eq!(card_owner(db, issuer, subscriber).await.unwrap(), "doc-second");
}
