//! Shares and the verification log (portal::store::shares) on both storage backends: a share is
//! found by its link token or its short code, never by anything else; single-use, expiry and
//! revocation refuse with the reason; concurrent views of a single-use share show it once.

use portal::store::shares::{
    LogEntry, Refusal, Secret, Share, create_share, find_shares, find_verifications, new_secrets,
    normalize_code, record_verification, revoke_share, use_share,
};
use storage::testing::TestEnv;

storage::each_backend!(
    a_share_is_viewed_by_token_or_code_until_it_is_used_up_expired_or_revoked,
    concurrent_views_of_a_single_use_share_show_it_once,
);

const NOW: i64 = 1_796_346_000;

fn share(id: &str, max_uses: Option<i64>) -> Share {
    Share {
        id: id.into(),
        owner_sub: "doc-1".into(),
        registration_number: Some("123456".into()),
        card_issuer: "C=JP, O=JMA, CN=HPKI Test CA".into(),
        card_subscriber: "TESTJ00001".into(),
        disclose: vec!["name".into(), "qualification".into(), "validity".into()],
        max_uses,
        uses: 0,
        created_at: NOW,
        expires_at: NOW + 600,
        revoked_at: None,
    }
}

async fn a_share_is_viewed_by_token_or_code_until_it_is_used_up_expired_or_revoked(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    let (token, code) = new_secrets();
    create_share(db, &share("s-multi", Some(2)), &token, &code).await.unwrap();

    let seen = use_share(db, Secret::Token(&token), NOW + 1).await.unwrap().unwrap();
    assert_eq!((seen.id.as_str(), seen.uses), ("s-multi", 1));
    assert_eq!(seen.disclose, ["name", "qualification", "validity"]);
    let typed = normalize_code(&code.to_lowercase().replace('-', " ")).unwrap();
    assert_eq!(use_share(db, Secret::Code(&typed), NOW + 2).await.unwrap().unwrap().uses, 2);
    assert_eq!(use_share(db, Secret::Token(&token), NOW + 3).await.unwrap(), Err(Refusal::UsedUp));
    // The secrets are stored hashed: neither is in the row, and the hash is not a secret.
    let stored: (String, String) =
        sqlx::query_as("SELECT token_hash, code_hash FROM shares WHERE id = 's-multi'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(!stored.0.contains(&token) && stored.0.len() == 64);
    assert_eq!(use_share(db, Secret::Token(&stored.0), NOW).await.unwrap(), Err(Refusal::Unknown));
    assert_eq!(use_share(db, Secret::Code("0000-0000"), NOW).await.unwrap(), Err(Refusal::Unknown));

    // Any number of views until expiry; revoked by its owner only.
    let (token2, code2) = new_secrets();
    create_share(db, &share("s-open", None), &token2, &code2).await.unwrap();
    for i in 0..3 {
        assert!(use_share(db, Secret::Token(&token2), NOW + i).await.unwrap().is_ok());
    }
    assert_eq!(use_share(db, Secret::Token(&token2), NOW + 600).await.unwrap(), Err(Refusal::Expired));
    assert!(!revoke_share(db, "s-open", "doc-2", NOW).await.unwrap(), "not theirs");
    assert!(revoke_share(db, "s-open", "doc-1", NOW + 10).await.unwrap());
    assert!(!revoke_share(db, "s-open", "doc-1", NOW + 11).await.unwrap(), "once");
    assert_eq!(use_share(db, Secret::Token(&token2), NOW + 12).await.unwrap(), Err(Refusal::Revoked));
    let mine = find_shares(db, "doc-1").await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine.iter().find(|s| s.id == "s-open").unwrap().revoked_at, Some(NOW + 10));
    assert!(find_shares(db, "doc-2").await.unwrap().is_empty());

    // The log, newest first, per doctor.
    for (at, outcome) in [(NOW + 1, "shown"), (NOW + 3, "used_up")] {
        let entry = LogEntry {
            owner_sub: "doc-1".into(),
            share_id: Some("s-multi".into()),
            kind: "share".into(),
            outcome: outcome.into(),
            shown: if outcome == "shown" { vec!["name".into(), "validity".into()] } else { vec![] },
            verifier_ip: "203.0.113.7".into(),
            verifier: None,
            at,
        };
        record_verification(db, &entry).await.unwrap();
    }
    let log = find_verifications(db, "doc-1", 10).await.unwrap();
    let got: Vec<(&str, usize, i64)> =
        log.iter().map(|e| (e.outcome.as_str(), e.shown.len(), e.at)).collect();
    assert_eq!(got, [("used_up", 0, NOW + 3), ("shown", 2, NOW + 1)]);
    assert!(find_verifications(db, "doc-2", 10).await.unwrap().is_empty());
}

async fn concurrent_views_of_a_single_use_share_show_it_once(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    let (token, code) = new_secrets();
    create_share(db, &share("s-once", Some(1)), &token, &code).await.unwrap();
    let mut views = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (db, token) = (db.clone(), token.clone());
        views.spawn(async move { use_share(&db, Secret::Token(&token), NOW + 1).await });
    }
    let results = views.join_all().await;
    let shown = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let used_up = results.iter().filter(|r| matches!(r, Ok(Err(Refusal::UsedUp)))).count();
    assert_eq!((shown, used_up), (1, 7), "{results:?}");
}
