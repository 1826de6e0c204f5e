//! The audit log under concurrency: group-committed appends keep one valid chain, also with
//! writers in two processes (two pools on one database), and `verify` finds a changed or a
//! deleted entry; every entry carries the client's true address.

use idp::audit::{self, Entry};
use storage::Db;
use storage::testing::TestEnv;

use crate::live::{CLIENT_ID, CLIENT_SECRET, Live};

storage::each_backend!(
    concurrent_token_requests_keep_one_valid_chain,
    writers_in_two_processes_keep_one_valid_chain,
    verify_finds_a_changed_or_deleted_entry,
    entries_carry_the_address_the_rate_limiter_sees,
);

fn entry(n: usize, writer: &str) -> Entry {
    Entry {
        event: "test".into(),
        outcome: "success".into(),
        actor: Some(writer.into()),
        detail: serde_json::json!({ "n": n }),
        ..Entry::default()
    }
}

async fn seqs(db: &Db) -> Vec<i64> {
    sqlx::query_scalar("SELECT seq FROM audit_log ORDER BY seq").fetch_all(db.pool()).await.unwrap()
}

async fn concurrent_token_requests_keep_one_valid_chain(env: TestEnv) {
    let live = Live::start(env).await;
    let http = reqwest::Client::new();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..120 {
        let (http, url) = (http.clone(), live.url("/token"));
        requests.spawn(async move {
            http.post(url)
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let db = &live.env.db.db;
    let verified = audit::verify(db).await.unwrap();
    assert_eq!(verified.broken, None);
    let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE event = 'token'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(tokens, 120, "every token acknowledged has its entry");
    assert_eq!(verified.entries, seqs(db).await.len() as i64);
}

async fn writers_in_two_processes_keep_one_valid_chain(env: TestEnv) {
    let one = env.db.db.clone();
    // A second pool on the same database stands for another process: its own writer, its own
    // connections.
    let two = Db::connect(env.db.url(), &storage::db::DbOptions::default()).await.unwrap();
    assert_ne!(one.id(), two.id());
    let (audit_one, audit_two) = (audit::AuditLog::new(one.clone()), audit::AuditLog::new(two.clone()));
    let mut appends = tokio::task::JoinSet::new();
    for n in 0..100 {
        for (log, name) in [(audit_one.clone(), "one"), (audit_two.clone(), "two")] {
            appends.spawn(async move { log.record(1_700_000_000, &entry(n, name)).await.unwrap() });
        }
    }
    let mut returned = Vec::new();
    while let Some(seq) = appends.join_next().await {
        returned.push(seq.unwrap());
    }
    returned.sort_unstable();
    assert_eq!(returned, (1..=200).collect::<Vec<i64>>(), "each append got its own sequence number");
    assert_eq!(seqs(&one).await, returned);
    let verified = audit::verify(&one).await.unwrap();
    assert_eq!(verified, audit::Verification { entries: 200, broken: None });
    two.close().await;
}

async fn verify_finds_a_changed_or_deleted_entry(env: TestEnv) {
    let db = &env.db.db;
    let log = audit::AuditLog::new(db.clone());
    for n in 0..5 {
        log.log(1_700_000_000 + n as i64, entry(n, "operator")).await;
    }
    assert_eq!(audit::verify(db).await.unwrap(), audit::Verification { entries: 5, broken: None });

    sqlx::query("UPDATE audit_log SET detail = '{\"n\":99}' WHERE seq = 3").execute(db.pool()).await.unwrap();
    assert_eq!(
        audit::verify(db).await.unwrap(),
        audit::Verification { entries: 2, broken: Some((3, "entry was changed".into())) }
    );
    sqlx::query("UPDATE audit_log SET detail = '{\"n\":2}' WHERE seq = 3").execute(db.pool()).await.unwrap();
    assert_eq!(audit::verify(db).await.unwrap().broken, None, "restored");

    sqlx::query("DELETE FROM audit_log WHERE seq = 4").execute(db.pool()).await.unwrap();
    assert_eq!(
        audit::verify(db).await.unwrap(),
        audit::Verification { entries: 3, broken: Some((4, "entry missing".into())) }
    );
}

/// A client that claims another address in `X-Forwarded-For` (no proxy is trusted here): the
/// sign-in, the consent and the token requests are audited with the peer address it really
/// has, never the claimed one and never none.
async fn entries_carry_the_address_the_rate_limiter_sees(env: TestEnv) {
    let live = Live::start(env).await;
    let mut forged = reqwest::header::HeaderMap::new();
    forged.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(forged.clone())
        .build()
        .unwrap();
    let (code, verifier) = crate::live::code_in(&live, &browser, CLIENT_ID, "openid", &[]).await;
    let http = reqwest::Client::builder().default_headers(forged).build().unwrap();
    let res = http
        .post(live.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", crate::live::REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT event, outcome, ip FROM audit_log ORDER BY seq")
            .fetch_all(live.env.db.db.pool())
            .await
            .unwrap();
    let events: Vec<&str> = rows.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(events, ["sign_in", "consent", "token"], "{rows:?}");
    for (event, outcome, ip) in &rows {
        assert_eq!(ip.as_deref(), Some("127.0.0.1"), "{event} {outcome}");
    }
}
