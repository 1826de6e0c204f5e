//! Serving: both backends, readiness, shutdown, start-up failures, keys across restarts.

use storage::testing::{self, TestDb};

use crate::{Workdir, stderr, stdout};

fn one_line(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    lines[0].to_owned()
}

#[tokio::test]
async fn serve_on_sqlite_and_memory_then_sigterm_exits_zero() {
    let w = Workdir::new();
    let server = w.start(&["serve"]).await;
    for url in [server.idp("/readyz"), server.portal("/readyz")] {
        let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(body["status"], "ready", "{url}");
        assert_eq!(body["checks"]["database"]["backend"], "sqlite");
        assert_eq!(body["checks"]["kv"]["backend"], "memory");
    }
    let jwks: serde_json::Value = reqwest::get(server.idp("/jwks")).await.unwrap().json().await.unwrap();
    // One key per default algorithm: ES256 (access tokens) and RS256 (OpenID Connect's default).
    let mut algs: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "RS256"]);
    let discovery: serde_json::Value =
        reqwest::get(server.idp("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(discovery["id_token_signing_alg_values_supported"], serde_json::json!(["ES256", "RS256"]));
    let page = reqwest::get(server.portal("/")).await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains("受講履歴"));
    // Metrics are on the management listener only, for the whole process.
    for public in [server.idp("/metrics"), server.portal("/metrics")] {
        assert_eq!(reqwest::get(&public).await.unwrap().status(), 404, "{public}");
    }
    let metrics = reqwest::get(server.metrics("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("service=\"portal\"") && metrics.contains("service=\"idp\""), "{metrics}");
    let ready: serde_json::Value =
        reqwest::get(server.metrics("/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(server.terminate(), Some(0));

    use std::os::unix::fs::PermissionsExt;
    let key = w.path().join("data/master.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn json_logs_with_the_flag() {
    let w = Workdir::new();
    let server = w.start(&["--log-format", "json", "serve"]).await;
    assert_eq!(server.terminate(), Some(0));
    let log = std::fs::read_dir(w.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("server-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert!(lines.iter().any(|l| l["message"] == "idp listening"), "{log}");
    assert!(
        !log.contains(&std::fs::read_to_string(w.path().join("data/master.key")).unwrap().trim().to_string())
    );
}

#[tokio::test]
async fn idp_and_portal_run_alone() {
    let w = Workdir::new();
    let idp = w.start(&["idp"]).await;
    assert!(reqwest::get(idp.portal("/healthz")).await.is_err(), "no portal listener");
    assert_eq!(idp.terminate(), Some(0));
    let portal = w.start(&["portal"]).await;
    assert!(reqwest::get(portal.idp("/healthz")).await.is_err(), "no idp listener");
    assert_eq!(reqwest::get(portal.portal("/healthz")).await.unwrap().status(), 200);
    assert_eq!(portal.terminate(), Some(0));
}

#[tokio::test]
async fn serve_on_postgres_and_redis() {
    let (Some(pg), Some(redis)) = (testing::postgres_url(), testing::redis_url()) else { return };
    let db = TestDb::postgres_empty(&pg).await;
    let w = Workdir::new()
        .env("SHIKAKU_DATABASE_URL", db.url())
        .env("SHIKAKU_REDIS_URL", &redis)
        .env("SHIKAKU_REDIS_PREFIX", &testing::unique_prefix())
        .env("SHIKAKU_MASTER_KEY", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=")
        .env("SHIKAKU_SIGNING_ALGS", "[ES256, RS256]");
    let server = w.start(&["serve"]).await;
    let body: serde_json::Value = reqwest::get(server.idp("/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(body["checks"]["database"]["backend"], "postgres");
    assert_eq!(body["checks"]["kv"]["backend"], "redis");
    let jwks: serde_json::Value = reqwest::get(server.idp("/jwks")).await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(server.terminate(), Some(0));
    assert!(!w.path().join("data/master.key").exists(), "master_key from config, no key file");
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT owner, alg FROM signing_keys ORDER BY owner, alg")
            .fetch_all(db.db.pool())
            .await
            .unwrap();
    let stored: Vec<(&str, &str)> = stored.iter().map(|(o, a)| (o.as_str(), a.as_str())).collect();
    // The idp's two series, and the portal's key for signing documents.
    assert_eq!(stored, [("idp", "ES256"), ("idp", "RS256"), ("portal", "ES256")]);
}

#[test]
fn corrupt_sqlite_file_fails_and_is_left_unchanged() {
    let w = Workdir::new();
    std::fs::create_dir(w.path().join("data")).unwrap();
    let garbage = "this is not a database\n".repeat(200);
    let db = w.file("data/shikaku.db", &garbage);
    let line = one_line(&w.run(&["serve"]));
    assert!(line.starts_with("error: cannot open database sqlite://./data/shikaku.db: "), "{line}");
    assert!(line.contains("file is not a database"), "{line}");
    assert_eq!(std::fs::read_to_string(db).unwrap(), garbage);
    assert!(!w.path().join("data/master.key").exists());
}

#[test]
fn unreachable_database_fails_with_one_line() {
    let w = Workdir::new().env("SHIKAKU_DATABASE_URL", "postgres://shikaku:pw@127.0.0.1:1/shikaku");
    let line = one_line(&w.run(&["serve"]));
    assert!(
        line.starts_with("error: cannot open database postgres://shikaku:***@127.0.0.1:1/shikaku: "),
        "{line}"
    );
}

#[test]
fn unreachable_redis_fails_with_one_line() {
    let port = testing::free_port();
    let w = Workdir::new().env("SHIKAKU_REDIS_URL", &format!("redis://127.0.0.1:{port}"));
    let line = one_line(&w.run(&["serve"]));
    assert!(line.starts_with("error: cannot connect to the key-value store (config key `redis_url`): key-value store unavailable: "), "{line}");
}

#[tokio::test]
async fn master_key_missing_or_wrong_is_refused_and_changes_nothing() {
    let w = Workdir::new();
    let server = w.start(&["serve"]).await;
    assert_eq!(server.terminate(), Some(0));
    let key_file = w.path().join("data/master.key");
    let key_text = std::fs::read_to_string(&key_file).unwrap();

    let wrong = Workdir::new();
    let other = wrong.run(&["serve", "--help"]);
    assert!(other.status.success());
    let w_wrong = w
        .command(&["serve"])
        .env("SHIKAKU_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .output()
        .unwrap();
    let line = one_line(&w_wrong);
    assert!(line.starts_with("error: the master key does not decrypt signing key "), "{line}");

    std::fs::remove_file(&key_file).unwrap();
    let line = one_line(&w.run(&["serve"]));
    // The idp's ES256 and RS256 keys and the portal's document-signing key.
    assert_eq!(
        line,
        "error: the database holds 3 encrypted signing key(s) but no master key is configured: set master_key or master_key_file to the key this database was created with"
    );
    assert!(!key_file.exists(), "no new key is generated over existing keys");

    std::fs::write(&key_file, &key_text).unwrap();
    let listed = w.run(&["admin", "keys", "list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(stdout(&listed).lines().count(), 2, "still the two original keys");
}

#[tokio::test]
async fn admin_keys_rotate_publishes_the_next_key() {
    let w = Workdir::new();
    let server = w.start(&["serve"]).await;
    assert_eq!(server.terminate(), Some(0));
    let out = w.run(&["admin", "keys", "rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Without --alg every configured series is rotated: one line each.
    let rotated: Vec<serde_json::Value> =
        stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let algs: Vec<&str> = rotated.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["ES256", "RS256"]);
    assert!(rotated.iter().all(|k| k["state"] == "next"), "{rotated:?}");

    let listed: Vec<serde_json::Value> = stdout(&w.run(&["admin", "keys", "list"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut states: Vec<(&str, &str)> =
        listed.iter().map(|k| (k["alg"].as_str().unwrap(), k["state"].as_str().unwrap())).collect();
    states.sort_unstable();
    assert_eq!(states, [("ES256", "active"), ("ES256", "next"), ("RS256", "active"), ("RS256", "next")]);

    let server = w.start(&["serve"]).await;
    let jwks: serde_json::Value = reqwest::get(server.idp("/jwks")).await.unwrap().json().await.unwrap();
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 4);
    assert!(rotated.iter().all(|k| kids.contains(&k["kid"].as_str().unwrap())));
    assert_eq!(server.terminate(), Some(0));

    let bad = w.run(&["admin", "keys", "rotate", "--alg", "HS256"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unknown algorithm \"HS256\": use ES256, RS256 or PS256"));
}

/// A throwaway P-256 server certificate and key (PEM) for 127.0.0.1.
fn server_pem() -> (String, String) {
    use hpki::testpki::{CertSpec, KeyKind, TestKey, issue, name, pem};
    let key = TestKey::generate(KeyKind::P256, 1, "serve-mtls").unwrap();
    let mut spec = CertSpec::ca(name(&[("CN", "127.0.0.1")]), 9, None, "1.2.3.4");
    spec.ca = None;
    spec.key_usage = Some(vec![0]);
    spec.policies = Vec::new();
    spec.crl_uri = None;
    let cert = issue(&spec, &key, None).unwrap();
    (cert.pem(), pem("PRIVATE KEY", &key.pkcs8_der().unwrap()))
}

#[tokio::test]
async fn serve_with_the_mtls_listener() {
    let (cert, key) = server_pem();
    let port = testing::free_port();
    let w = Workdir::new()
        .env("SHIKAKU_MTLS_LISTEN", &format!("127.0.0.1:{port}"))
        .env("SHIKAKU_MTLS_PUBLIC_URL", &format!("https://127.0.0.1:{port}"))
        .env("SHIKAKU_MTLS_CERT_FILE", "server.pem")
        .env("SHIKAKU_MTLS_KEY_FILE", "server.key");
    w.file("server.pem", &cert);
    w.file("server.key", &key);
    let server = w.start(&["idp"]).await;
    let tls = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let res = tls.get(format!("https://127.0.0.1:{port}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res =
        tls.get(format!("https://127.0.0.1:{port}/login/certificate/tls?state=x")).send().await.unwrap();
    assert_eq!(res.status(), 400, "no client certificate: a page");
    assert!(res.text().await.unwrap().contains("certificate_missing"));
    // The login page offers certificate sign-in.
    let page = reqwest::get(server.idp("/login")).await.unwrap().text().await.unwrap();
    assert!(page.contains("/login/certificate"));
    assert_eq!(server.terminate(), Some(0), "SIGTERM stops the mTLS listener too");
}
