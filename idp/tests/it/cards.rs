//! Cards and their accounts in SQL: a sign-in with a renewed certificate of a known card updates
//! the card in one statement, and the account's names only when the card's differ.

use idp::store::accounts::{
    Account, AccountKind, AccountStatus, Card, create_account_with_card, find_account, find_card_certificate,
    find_card_with_account, update_card_use,
};
use storage::testing::TestEnv;

storage::each_backend!(card_use_updates_the_account_only_when_names_change);

async fn card_use_updates_the_account_only_when_names_change(env: TestEnv) {
    let db = &env.db.db;
    let account = Account {
        id: "acct-1".into(),
        kind: AccountKind::Doctor,
        name: Some("日本　太郎".into()),
        romaji_name: Some("Taro Nihon".into()),
        status: AccountStatus::Active,
        created_at: 100,
        updated_at: 100,
    };
    let card = Card {
        issuer: "CN=Test JMA Auth CA".into(),
        subscriber_id: "TESTJ00001".into(),
        account_id: "acct-1".into(),
        serial: "1001".into(),
        not_after: 2_000,
        hc_roles: vec!["Medical Doctor".into()],
        kanji_name: Some("日本　太郎".into()),
        romaji_name: Some("Taro Nihon".into()),
        created_at: 100,
        last_used_at: 100,
    };
    assert!(create_account_with_card(db, &account, &card, "MIIB").await.unwrap());
    let found = find_card_with_account(db, &card.issuer, "TESTJ00001").await.unwrap();
    assert_eq!(found, Some((card.clone(), account.clone())));
    assert_eq!(find_card_with_account(db, &card.issuer, "TESTJ00002").await.unwrap(), None);
    let certificate = |db| find_card_certificate(db, "CN=Test JMA Auth CA", "TESTJ00001");
    assert_eq!(certificate(db).await.unwrap().as_deref(), Some("MIIB"));

    // A renewed certificate with the same names: the card changes, the account does not.
    let renewed = Card { serial: "2001".into(), not_after: 3_000, last_used_at: 200, ..card.clone() };
    update_card_use(db, &renewed, "MIIC", false).await.unwrap();
    let found = find_card_with_account(db, &card.issuer, "TESTJ00001").await.unwrap();
    assert_eq!(found, Some((renewed.clone(), account.clone())));
    assert_eq!(certificate(db).await.unwrap().as_deref(), Some("MIIC"), "a new serial, a new certificate");

    // A new kanji name on the card: the account takes it and keeps its romaji name.
    let renamed =
        Card { kanji_name: Some("山田　太郎".into()), romaji_name: None, last_used_at: 300, ..renewed };
    update_card_use(db, &renamed, "MIIX", true).await.unwrap();
    assert_eq!(
        certificate(db).await.unwrap().as_deref(),
        Some("MIIC"),
        "the same serial keeps its certificate"
    );
    let updated = find_account(db, "acct-1").await.unwrap().unwrap();
    assert_eq!(updated.name.as_deref(), Some("山田　太郎"));
    assert_eq!(updated.romaji_name.as_deref(), Some("Taro Nihon"));
    assert_eq!(updated.updated_at, 300);
}
