//! Revocation sources: CRLs fetched from a local distribution point (allow-list, size limit,
//! signer check, never older over newer) and sign-in failing closed on a stale CRL.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use hpki::testpki::{CrlSpec, TestPki, issue_crl};
use idp::trust::crl_fetch::{FetchConfig, FetchError};
use storage::testing::TestEnv;
use time::macros::datetime;

use crate::live::{self, Live, browser, pki};

storage::each_backend!(crl_refresh_fetches_only_what_it_may, stale_crl_refuses_sign_in_until_refreshed);

/// A CRL of the JMA authentication CA listing nothing, signed by `signer` (default: the CA).
fn jma_crl(this: time::OffsetDateTime, next: time::OffsetDateTime, wrong_signer: bool) -> Vec<u8> {
    let spec =
        CrlSpec { this_update: this, next_update: Some(next), revoked: vec![], number: 2, delta: false };
    let signer = wrong_signer.then_some(&pki().medis_sign.key);
    issue_crl(&spec, &pki().jma_auth, signer).unwrap()
}

/// Serves CRLs on a free port; returns its address.
async fn crl_server() -> SocketAddr {
    let fresh = jma_crl(datetime!(2026-03-01 00:00 UTC), TestPki::CRL_NEXT_UPDATE, false);
    let older = jma_crl(datetime!(2025-12-01 00:00 UTC), TestPki::CRL_NEXT_UPDATE, false);
    let wrong = jma_crl(datetime!(2026-03-01 00:00 UTC), TestPki::CRL_NEXT_UPDATE, true);
    let medis = pki().crls.iter().find(|(n, _, _)| n == "crl-medis-auth").unwrap().2.clone();
    let app = Router::new()
        .route("/jma-auth.crl", get(move || async move { fresh }))
        .route("/jma-auth-older.crl", get(move || async move { older }))
        .route("/medis-auth.crl", get(move || async move { medis }))
        .route("/wrong-signer.crl", get(move || async move { wrong }))
        .route("/big.crl", get(|| async { vec![0x30u8; 100_000] }))
        .route("/junk.crl", get(|| async { "not a CRL" }))
        .route("/moved.crl", get(|| async { Redirect::temporary("/jma-auth.crl") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn fetch_config(addr: SocketAddr, paths: &[&str]) -> FetchConfig {
    FetchConfig {
        urls: paths.iter().map(|p| format!("http://{addr}{p}")).collect(),
        allow_hosts: vec!["127.0.0.1".into()],
        max_bytes: 64 * 1024,
        timeout: Duration::from_secs(10),
        refresh_every: None,
        local: Vec::new(),
        outbound: idp::outbound::Guard::new(vec!["127.0.0.1".parse().unwrap()]),
    }
}

async fn crl_refresh_fetches_only_what_it_may(env: TestEnv) {
    let addr = crl_server().await;
    let mut config =
        fetch_config(addr, &["/jma-auth.crl", "/wrong-signer.crl", "/big.crl", "/junk.crl", "/moved.crl"]);
    // The same server under a name that is not allowed.
    config.urls.push(format!("http://localhost:{}/medis-auth.crl", addr.port()));
    config.urls.push("ftp://127.0.0.1/medis-auth.crl".into());
    let live = Live::start_opts(env, false, |c| idp::IdpConfig { crl_fetch: config, ..c }).await;
    let db = &live.env.db.db;

    let outcomes = live.app.crl_fetcher.refresh(db, crate::now()).await.unwrap();
    let outcome = |path: &str| {
        outcomes
            .iter()
            .find(|(u, _)| u.ends_with(path))
            .map(|(_, o)| o.as_ref().map_err(FetchError::code).map(|f| f.stored))
            .unwrap_or_else(|| panic!("no outcome for {path}"))
    };
    assert_eq!(outcome("/jma-auth.crl"), Ok(true));
    assert_eq!(outcome("/wrong-signer.crl"), Err("untrusted_signer"));
    assert_eq!(outcome("/big.crl"), Err("too_large"));
    assert_eq!(outcome("/junk.crl"), Err("not_a_crl"));
    assert_eq!(outcome("/moved.crl"), Err("http_status"));
    assert_eq!(outcome("ftp://127.0.0.1/medis-auth.crl"), Err("bad_url"));
    assert_eq!(outcome(&format!("localhost:{}/medis-auth.crl", addr.port())), Err("host_not_allowed"));

    let cas = idp::trust::crl_fetch::trusted_cas(db).await.unwrap();
    let older = format!("http://{addr}/jma-auth-older.crl");
    let fetched = live.app.crl_fetcher.fetch_one(db, &cas, &older, 0).await.unwrap();
    assert!(!fetched.stored, "an older CRL never replaces a newer one");

    let stored = idp::store::trust::find_crls(db).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].issuer, pki_subject(&pki().jma_auth.der));
    assert_eq!(stored[0].source, format!("http://{addr}/jma-auth.crl"));
    assert_eq!(stored[0].this_update, datetime!(2026-03-01 00:00 UTC).unix_timestamp());
    assert_eq!(stored[0].next_update, Some(TestPki::CRL_NEXT_UPDATE.unix_timestamp()));
}

fn pki_subject(der: &[u8]) -> String {
    hpki::HpkiCertificate::parse(der).unwrap().subject
}

async fn stale_crl_refuses_sign_in_until_refreshed(env: TestEnv) {
    let addr = crl_server().await;
    let config = fetch_config(addr, &["/jma-auth.crl"]);
    let live = Live::start_opts(env, true, |c| idp::IdpConfig { crl_fetch: config, ..c }).await;
    let db = &live.env.db.db;
    // The JMA CRL on file went stale long ago (same thisUpdate, so it replaces the fresh one).
    let stale = jma_crl(TestPki::CRL_THIS_UPDATE, datetime!(2026-02-01 00:00 UTC), false);
    let cas = idp::trust::crl_fetch::trusted_cas(db).await.unwrap();
    idp::trust::crl_fetch::store_verified(db, &cas, &stale, "test", 0).await.unwrap();

    let b = browser();
    let (status, body) = live::card_sign_in(&live, &b, "/login", "doctor-auth").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "revocation_unavailable");
    // The card's distribution point was recorded for the next refresh.
    let sources = idp::store::trust::find_crl_sources(db).await.unwrap();
    assert_eq!(
        sources.iter().map(|s| s.url.as_str()).collect::<Vec<_>>(),
        ["http://crl.shikaku.invalid/jma-auth.crl"]
    );

    idp::trust::crl_fetch::refresh_and_log(&live.app).await;
    let sources = idp::store::trust::find_crl_sources(db).await.unwrap();
    assert_eq!(
        sources[0].last_error.as_deref(),
        Some("host crl.shikaku.invalid is not in crl_fetch_allow_hosts")
    );
    let (status, body) = live::card_sign_in(&live, &b, "/login", "doctor-auth").await;
    assert_eq!(status, 200, "after the refresh: {body}");
}
