//! Every `shikaku admin` change lands in the audit log with its actor (`--actor`, else the OS
//! user), a refused one with its exact error and no entry, and `admin audit verify` still
//! passes; `admin account suspend` ends the sessions of a running server (sessions in its
//! memory) and tells its relying parties over the back channel. Both backends.

use std::collections::HashMap;

use sqlx::Connection;
use storage::testing::{self, TestDb};

use crate::{Workdir, stderr, stdout};

const MASTER: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

const REGISTRY: &str = "\
registration_number,kana_name,birth_date,name
123456,ヤマダ　タロウ,1980-05-01,山田　太郎
";

const ATTENDANCE: &str = "\
registration_number,event_id,event_title,organizer,date,credits,status
123456,EV1,糖尿病の最新治療,東京都医師会,2026-06-01,jma_cme:76=1,confirmed
";

/// One audit entry.
#[derive(Debug)]
struct Audited {
    event: String,
    outcome: String,
    actor: Option<String>,
    client_id: Option<String>,
    detail: serde_json::Value,
}

/// The database URL a work folder's commands use.
fn database_url(w: &Workdir, pg: Option<&str>) -> String {
    pg.map_or_else(|| format!("sqlite://{}", w.path().join("data/shikaku.db").display()), str::to_owned)
}

/// event, outcome, actor, client_id, detail.
type Row = (String, String, Option<String>, Option<String>, String);

async fn entries(url: &str) -> Vec<Audited> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let rows: Vec<Row> =
        sqlx::query_as("SELECT event, outcome, actor, client_id, detail FROM audit_log ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.ok();
    rows.into_iter()
        .map(|(event, outcome, actor, client_id, detail)| Audited {
            event,
            outcome,
            actor,
            client_id,
            detail: serde_json::from_str(&detail).unwrap(),
        })
        .collect()
}

async fn sql(url: &str, statement: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut conn).await.unwrap();
    conn.close().await.ok();
}

/// Runs `shikaku admin ARGS` as OS user `user`; returns (exit code, stdout, stderr).
fn admin_as(w: &Workdir, user: &str, args: &[&str]) -> (Option<i32>, String, String) {
    admin_env(w, &[("USER", user), ("LOGNAME", user)], args)
}

/// Runs `shikaku admin ARGS` with more environment; returns (exit code, stdout, stderr).
fn admin_env(w: &Workdir, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let mut command = w.command(&all);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

/// Runs a command that must succeed; returns its stdout.
fn ok(w: &Workdir, args: &[&str]) -> String {
    let (code, out, err) = admin_as(w, "sato", args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
    out
}

/// Runs a command that must fail with exactly `error` and write no audit entry.
async fn refused(w: &Workdir, url: &str, args: &[&str], error: &str) {
    let before = entries(url).await.len();
    let (code, _, err) = admin_as(w, "sato", args);
    assert_eq!(code, Some(1), "{args:?}");
    assert_eq!(err.trim_end(), error, "{args:?}");
    assert_eq!(entries(url).await.len(), before, "{args:?} wrote an audit entry");
}

async fn every_change_is_audited(w: Workdir, pg: Option<&str>) {
    let url = database_url(&w, pg);
    assert!(w.run(&["hpki", "testpki", "--out", "pki"]).status.success());
    w.file("registry.csv", REGISTRY);
    w.file("attendance.csv", ATTENDANCE);

    // Clients: the actor is --actor when given, else the OS user.
    let added = ok(
        &w,
        &[
            "--actor",
            "alice",
            "client",
            "add",
            "--client-id",
            "rp1",
            "--name",
            "RP",
            "--redirect-uri",
            "https://rp.example.jp/cb",
        ],
    );
    let secret = serde_json::from_str::<serde_json::Value>(added.trim()).unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&w, &["client", "update", "rp1", "--name", "RP 2", "--scope", "openid", "--actor", "bob"]);
    let rotated = ok(&w, &["client", "rotate-secret", "rp1"]);
    let new_secret = serde_json::from_str::<serde_json::Value>(rotated.trim()).unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&w, &["client", "delete", "rp1"]);
    refused(&w, &url, &["client", "delete", "rp1"], "error: no client \"rp1\"").await;
    refused(&w, &url, &["client", "rotate-secret", "rp1"], "error: no client \"rp1\"").await;
    refused(&w, &url, &["client", "update", "nope", "--name", "X"], "error: no client \"nope\"").await;
    refused(
        &w,
        &url,
        &["client", "add", "--name", "RP"],
        "error: at least one --redirect-uri is required for the authorization_code grant",
    )
    .await;
    refused(
        &w,
        &url,
        &["--actor", "", "client", "delete", "x"],
        "error: --actor must be 1 to 64 characters without control characters",
    )
    .await;

    // Trust: CAs, a CRL file, a refresh.
    let cas = ok(&w, &["ca", "add", "pki/ca-root.pem", "pki/ca-jma-auth.pem"]);
    let root: serde_json::Value = serde_json::from_str(cas.lines().next().unwrap()).unwrap();
    let root_fp = root["fingerprint"].as_str().unwrap().to_owned();
    let before = entries(&url).await.len();
    ok(&w, &["ca", "add", "pki/ca-root.pem"]);
    assert_eq!(entries(&url).await.len(), before, "a CA trusted already changes nothing");
    ok(&w, &["crl", "add", "pki/crl-jma-auth.crl"]);
    let (code, _, err) = admin_env(
        &w,
        &[("USER", "sato"), ("SHIKAKU_CRL_URLS", "[\"http://crl.example.invalid/a.crl\"]")],
        &["crl", "refresh"],
    );
    assert_eq!(code, Some(1), "{err}");
    ok(&w, &["ca", "remove", &root_fp]);
    refused(
        &w,
        &url,
        &["ca", "remove", &root_fp],
        &format!("error: no trusted CA with fingerprint {root_fp}"),
    )
    .await;

    // Keys, imports (a dry run writes nothing and is not audited), documents.
    let rotated_key = ok(&w, &["keys", "rotate", "--alg", "ES256"]);
    let kid = serde_json::from_str::<serde_json::Value>(rotated_key.trim()).unwrap()["kid"].clone();
    ok(&w, &["import", "registry", "registry.csv"]);
    let before = entries(&url).await.len();
    ok(&w, &["import", "attendance", "--dry-run", "attendance.csv"]);
    assert_eq!(entries(&url).await.len(), before, "a dry run is not audited");
    ok(&w, &["import", "attendance", "attendance.csv"]);
    let issued = ok(
        &w,
        &[
            "document",
            "issue",
            "--registration-number",
            "123456",
            "--kind",
            "statement",
            "--year",
            "2026",
            "--out",
            "s.pdf",
        ],
    );
    let doc =
        serde_json::from_str::<serde_json::Value>(issued.trim()).unwrap()["id"].as_str().unwrap().to_owned();
    ok(&w, &["document", "revoke", &doc, "--reason", "誤記"]);
    refused(
        &w,
        &url,
        &["document", "revoke", "AAAAAAAAAAAAAAAAAAAAAA", "--reason", "x"],
        "error: no document with id \"AAAAAAAAAAAAAAAAAAAAAA\"",
    )
    .await;

    // Accounts (suspension of an account without sessions) and roles.
    sql(
        &url,
        "INSERT INTO accounts (id, kind, name, romaji_name, status, created_at, updated_at) \
         VALUES ('acct1', 'doctor', NULL, NULL, 'active', 0, 0)",
    )
    .await;
    let suspended = ok(&w, &["account", "suspend", "acct1"]);
    let suspended: serde_json::Value = serde_json::from_str(suspended.trim()).unwrap();
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["sessions_ended"], serde_json::json!([]));
    ok(&w, &["account", "resume", "acct1"]);
    refused(&w, &url, &["account", "suspend", "nobody"], "error: no account \"nobody\"").await;
    refused(&w, &url, &["account", "resume", "nobody"], "error: no account \"nobody\"").await;
    let issuer = "C=JP, O=Test, CN=Test CA";
    ok(&w, &["account", "grant-role", "--issuer", issuer, "--subscriber-id", "S1", "organizer"]);
    ok(&w, &["account", "revoke-role", "--issuer", issuer, "--subscriber-id", "S1", "organizer"]);
    refused(
        &w,
        &url,
        &["account", "revoke-role", "--issuer", issuer, "--subscriber-id", "S1", "organizer"],
        "error: the holder of that card has no role \"organizer\"",
    )
    .await;

    let log = entries(&url).await;
    let events: Vec<(&str, &str, Option<&str>)> =
        log.iter().map(|e| (e.event.as_str(), e.outcome.as_str(), e.actor.as_deref())).collect();
    assert_eq!(
        events,
        [
            ("admin.client.add", "success", Some("alice")),
            ("admin.client.update", "success", Some("bob")),
            ("admin.client.rotate_secret", "success", Some("sato")),
            ("admin.client.delete", "success", Some("sato")),
            ("admin.ca.add", "success", Some("sato")),
            ("admin.ca.add", "success", Some("sato")),
            ("admin.crl.add", "success", Some("sato")),
            ("admin.crl.refresh", "fetch_failed", Some("sato")),
            ("admin.ca.remove", "success", Some("sato")),
            ("admin.keys.rotate", "success", Some("sato")),
            ("admin.import.registry", "success", Some("sato")),
            ("admin.import.attendance", "success", Some("sato")),
            ("admin.document.issue", "success", Some("sato")),
            ("admin.document.revoke", "success", Some("sato")),
            ("admin.account.suspend", "success", Some("sato")),
            ("admin.account.resume", "success", Some("sato")),
            ("admin.role.grant", "success", Some("sato")),
            ("admin.role.revoke", "success", Some("sato")),
        ]
    );
    let by_event: HashMap<&str, &Audited> = log.iter().map(|e| (e.event.as_str(), e)).collect();
    for event in
        ["admin.client.add", "admin.client.update", "admin.client.rotate_secret", "admin.client.delete"]
    {
        assert_eq!(by_event[event].client_id.as_deref(), Some("rp1"), "{event}");
    }
    assert_eq!(
        by_event["admin.client.add"].detail["redirect_uris"],
        serde_json::json!(["https://rp.example.jp/cb"])
    );
    assert_eq!(
        by_event["admin.client.update"].detail,
        serde_json::json!({ "changed": { "name": "RP 2", "scopes": ["openid"] }, "new_secret": false })
    );
    assert_eq!(by_event["admin.ca.remove"].detail["fingerprint"], root_fp.as_str());
    assert_eq!(by_event["admin.crl.refresh"].detail["failed"][0]["error"], "host_not_allowed");
    assert_eq!(by_event["admin.keys.rotate"].detail["kid"], kid);
    let import = &by_event["admin.import.attendance"].detail;
    assert_eq!(
        (import["file"].as_str(), import["rows"].as_u64(), import["inserted"].as_u64()),
        (Some("attendance.csv"), Some(1), Some(1))
    );
    assert_eq!(by_event["admin.document.revoke"].detail, serde_json::json!({ "id": doc, "reason": "誤記" }));
    assert_eq!(by_event["admin.account.suspend"].detail["account_id"], "acct1");
    // No secret, nor its hash, is ever written to the log.
    let text: String = log.iter().map(|e| e.detail.to_string()).collect();
    for s in [secret.as_str(), new_secret.as_str(), "secret_hash"] {
        assert!(!text.contains(s), "{s} in the audit log");
    }

    let verified: serde_json::Value = serde_json::from_str(ok(&w, &["audit", "verify"]).trim()).unwrap();
    assert_eq!(verified, serde_json::json!({ "chain": "intact", "entries": log.len() }));
}

#[tokio::test]
async fn admin_changes_are_audited_on_sqlite() {
    every_change_is_audited(Workdir::new(), None).await;
}

#[tokio::test]
async fn admin_changes_are_audited_on_postgres() {
    let Some(pg) = testing::postgres_url() else {
        eprintln!("note: SHIKAKU_TEST_POSTGRES_URL not set; PostgreSQL variant not run");
        return;
    };
    let db = TestDb::postgres_empty(&pg).await;
    let w = Workdir::new().env("SHIKAKU_DATABASE_URL", db.url()).env("SHIKAKU_MASTER_KEY", MASTER);
    every_change_is_audited(w, Some(db.url())).await;
}

/// A relying party's back-channel logout endpoint; returns its URI and the tokens it receives.
async fn rp_listener() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |axum::Form(form): axum::Form<HashMap<String, String>>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(form.get("logout_token").cloned().unwrap_or_default());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (uri, rx)
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// Until the redirect to the relying party: follows the idp's own redirects.
async fn to_rp(b: &reqwest::Client, idp: &str, mut url: String) -> (u16, String) {
    for _ in 0..10 {
        let res = b.get(&url).send().await.unwrap();
        if !res.status().is_redirection() {
            return (res.status().as_u16(), url);
        }
        let next = location(&res);
        if next.starts_with("https://rp.example.jp/") {
            return (303, next);
        }
        url = if next.starts_with("http") { next } else { format!("{idp}{next}") };
    }
    panic!("too many redirects");
}

/// Signs in with a virtual card on the sign-in page at `login_url`; returns the response.
async fn virtual_card(b: &reqwest::Client, idp: &str, login_url: &str, card: &str) -> reqwest::Response {
    let html = b.get(login_url).send().await.unwrap().text().await.unwrap();
    let at = html.find("name=\"csrf_token\" value=\"").expect("a form with a CSRF token") + 25;
    let request = login_url.split("request=").nth(1).unwrap().to_owned();
    b.post(format!("{idp}/login/virtual-card"))
        .header("origin", idp)
        .form(&[("csrf_token", html[at..at + 43].to_owned()), ("request", request), ("card", card.into())])
        .send()
        .await
        .unwrap()
}

// Multi-threaded: the relying party's listener answers while the test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_ends_the_sessions_of_a_running_server() {
    let (backchannel, mut received) = rp_listener().await;
    // The relying party listens on loopback, which the idp calls only when allowed.
    let w = Workdir::new().env("SHIKAKU_OUTBOUND_ALLOW_ADDRESSES", "[\"127.0.0.1\"]");
    let server = w.start(&["demo"]).await;
    let idp = server.idp("");
    ok(
        &w,
        &[
            "client",
            "add",
            "--client-id",
            "rp",
            "--name",
            "RP",
            "--redirect-uri",
            "https://rp.example.jp/cb",
            "--skip-consent",
            "--backchannel-logout-uri",
            &backchannel,
        ],
    );
    let authorize = |extra: &str| {
        format!(
            "{idp}/authorize?response_type=code&client_id=rp&redirect_uri=https%3A%2F%2Frp.example.jp%2Fcb\
             &scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256{extra}"
        )
    };
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_, login) = to_rp(&b, &idp, authorize("")).await;
    assert!(login.starts_with(&format!("{idp}/login?request=")), "{login}");
    let res = virtual_card(&b, &idp, &login, "doctor-auth").await;
    assert_eq!(res.status(), 303);
    let (_, back) = to_rp(&b, &idp, format!("{idp}{}", location(&res))).await;
    assert!(back.starts_with("https://rp.example.jp/cb?code="), "{back}");
    let (_, again) = to_rp(&b, &idp, authorize("&prompt=none")).await;
    assert!(again.contains("code="), "the session is alive: {again}");

    let accounts = ok(&w, &["account", "list"]);
    let account: serde_json::Value = serde_json::from_str(accounts.lines().next().unwrap()).unwrap();
    let account_id = account["id"].as_str().unwrap();
    let (code, out, err) = tokio::task::block_in_place(|| {
        admin_as(&w, "sato", &["--actor", "alice", "account", "suspend", account_id])
    });
    assert_eq!(code, Some(0), "{err}");
    let done: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(done["backchannel_logout"], serde_json::json!([{ "client_id": "rp", "delivered": true }]));
    assert_eq!(done["sessions_ended"].as_array().unwrap().len(), 1, "{done}");
    let token =
        tokio::time::timeout(std::time::Duration::from_secs(30), received.recv()).await.unwrap().unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!((claims["aud"].as_str(), &claims["sid"]), (Some("rp"), &done["sessions_ended"][0]));

    // The server keeps sessions in its memory, yet the browser is signed out there...
    let (_, again) = to_rp(&b, &idp, authorize("&prompt=none")).await;
    assert!(again.contains("error=login_required"), "{again}");
    // ...and the card is refused.
    let (_, login) = to_rp(&b, &idp, authorize("")).await;
    let res = virtual_card(&b, &idp, &login, "doctor-auth").await;
    assert_eq!(res.status(), 403);

    let log = entries(&database_url(&w, None)).await;
    let suspend = log.iter().find(|e| e.event == "admin.account.suspend").expect("audited");
    assert_eq!(suspend.actor.as_deref(), Some("alice"));
    assert_eq!(suspend.detail["account_id"], account_id);
    assert!(log.iter().any(|e| e.event == "backchannel_logout" && e.outcome == "success"));
    ok(&w, &["audit", "verify"]);
    assert_eq!(server.terminate(), Some(0));
}

/// Under load, the server killed with SIGKILL loses no audit entry it acknowledged: every
/// refused sign-in that got its answer (written before the answer) is in the log afterwards,
/// and the chain still verifies.
async fn the_audit_log_keeps_every_acknowledged_entry_through_a_kill(w: Workdir, url: String) {
    let w = w.env("SHIKAKU_RATE_LIMIT_SIGN_IN_PER_IP", "0/60");
    let server = w.start(&["serve"]).await;
    let idp = server.idp("");
    let b = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let html = b.get(server.idp("/login")).send().await.unwrap().text().await.unwrap();
    let at = html.find("name=\"csrf-token\" content=\"").unwrap() + 27;
    let csrf = html[at..at + 43].to_owned();
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (b, idp, csrf, acknowledged) = (b.clone(), idp.clone(), csrf.clone(), acknowledged.clone());
        load.spawn(async move {
            loop {
                // No challenge was fetched: refused as `nonce_unknown`, audited first.
                let sent = b
                    .post(format!("{idp}/login/card"))
                    .header("origin", &idp)
                    .header("x-csrf-token", &csrf)
                    .json(&serde_json::json!({ "auth_token": {} }))
                    .send()
                    .await;
                match sent {
                    Ok(res) if res.status() == 400 => {
                        acknowledged.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Ok(res) => panic!("unexpected {}", res.status()),
                    Err(_) => return,
                }
            }
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    drop(server); // SIGKILL
    while load.join_next().await.is_some() {}
    let acknowledged = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    assert!(acknowledged > 50, "the load ran: {acknowledged}");

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let logged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE outcome = 'nonce_unknown'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    assert!(logged as u64 >= acknowledged, "{logged} entries for {acknowledged} acknowledged refusals");
    let out = w.run(&["admin", "audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"chain\":\"intact\""), "{}", stdout(&out));
}

#[tokio::test]
async fn the_audit_log_keeps_every_acknowledged_entry_through_a_kill_on_sqlite() {
    let w = Workdir::new();
    let url = format!("sqlite://{}", w.path().join("data/shikaku.db").display());
    the_audit_log_keeps_every_acknowledged_entry_through_a_kill(w, url).await;
}

#[tokio::test]
async fn the_audit_log_keeps_every_acknowledged_entry_through_a_kill_on_postgres() {
    let Some(pg) = testing::postgres_url() else {
        eprintln!("note: SHIKAKU_TEST_POSTGRES_URL not set; PostgreSQL variant not run");
        return;
    };
    let db = TestDb::postgres_empty(&pg).await;
    let w = Workdir::new().env("SHIKAKU_DATABASE_URL", db.url()).env("SHIKAKU_MASTER_KEY", MASTER);
    the_audit_log_keeps_every_acknowledged_entry_through_a_kill(w, db.url().to_owned()).await;
}
