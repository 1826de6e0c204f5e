//! The CLI surface: help, `config check`, configuration errors, `migrate`.

use storage::Backend;
use storage::testing::{self, TestDb};

/// Number of embedded migrations and the latest version.
fn migrations(backend: Backend) -> (usize, i64) {
    let m = backend.migrator();
    (m.iter().count(), m.iter().map(|m| m.version).max().unwrap_or(0))
}

use crate::{Workdir, stderr, stdout};

const MASTER: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

#[test]
fn help_names_every_command() {
    let w = Workdir::new();
    let out = stdout(&w.run(&["--help"]));
    for cmd in ["serve", "idp", "portal", "migrate", "config", "admin", "hpki"] {
        assert!(out.contains(&format!("\n  {cmd} ")), "{cmd} missing from:\n{out}");
    }
    let rotate = stdout(&w.run(&["admin", "keys", "rotate", "--help"]));
    assert!(rotate.contains("key_publish_lead_secs") && rotate.contains("--alg"), "{rotate}");
    let usage = w.run(&["serve", "--bogus"]);
    assert_eq!(usage.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn config_check_prints_effective_values_with_secrets_redacted() {
    let w = Workdir::new()
        .env("SHIKAKU_MASTER_KEY", MASTER)
        .env("SHIKAKU_DATABASE_URL", "postgres://shikaku:pg-secret@db.internal:5432/shikaku")
        .env("SHIKAKU_REDIS_URL", "redis://:redis-secret@cache.internal:6379")
        .env("SHIKAKU_IDP_PUBLIC_URL", "https://id.example.jp/");
    w.file(
        "shikaku.toml",
        "portal_listen = \"0.0.0.0:9000\"\nsigning_algs = [\"ES256\", \"RS256\", \"PS256\"]\n",
    );
    let out = w.run(&["config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "master_key = \"[redacted]\"",
        "database_url = \"postgres://shikaku:***@db.internal:5432/shikaku\"",
        "redis_url = \"redis://:***@cache.internal:6379\"",
        "idp_public_url = \"https://id.example.jp\"",
        "portal_listen = \"0.0.0.0:9000\"",
        "portal_public_url = \"http://0.0.0.0:9000\"",
        "signing_algs = [\"ES256\", \"RS256\", \"PS256\"]",
        "key_publish_lead_secs = 3600",
        "database_max_connections = 10",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    for secret in [MASTER, "pg-secret", "redis-secret"] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
}

#[test]
fn the_pool_size_defaults_by_backend() {
    // SQLite: one pooled connection (README "Performance"); an explicit value wins.
    let check = |w: Workdir| stdout(&w.run(&["config", "check"]));
    assert!(check(Workdir::new()).contains("database_max_connections = 1\n"));
    let explicit = Workdir::new().env("SHIKAKU_DATABASE_MAX_CONNECTIONS", "4");
    assert!(check(explicit).contains("database_max_connections = 4\n"));
}

/// Runs `config check` with a config file and/or environment; returns the one error line.
fn config_error(toml: Option<&str>, env: &[(&str, &str)]) -> String {
    let mut w = Workdir::new();
    for (k, v) in env {
        w = w.env(k, v);
    }
    if let Some(body) = toml {
        w.file("shikaku.toml", body);
    }
    let out = w.run(&["serve"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line only: {err}");
    assert!(!w.path().join("data").exists(), "nothing is written before the config is valid");
    lines[0].to_owned()
}

#[test]
fn wrong_config_values_fail_with_one_line_naming_the_key() {
    let line = config_error(Some("idp_listen = \"nowhere\"\n"), &[]);
    assert!(line.starts_with("error: invalid config key `idp_listen`: "), "{line}");
    assert!(line.contains("shikaku.toml"), "names the file: {line}");

    let line = config_error(None, &[("SHIKAKU_PORTAL_LISTEN", "127.0.0.1:99999")]);
    assert!(line.starts_with("error: invalid config key `portal_listen`: "), "{line}");
    assert!(line.contains("SHIKAKU_"), "names the environment: {line}");

    let line = config_error(Some("databse_url = \"sqlite://x.db\"\n"), &[]);
    assert!(line.contains("unknown field") && line.contains("databse_url"), "{line}");

    let line = config_error(Some("idp_listen = \n"), &[]);
    assert!(
        line.starts_with("error: invalid config: TOML parse error at line 1, column 14: invalid string"),
        "{line}"
    );

    assert_eq!(
        config_error(Some("idp_public_url = \"ftp://id.example.jp\"\n"), &[]),
        "error: invalid config key `idp_public_url`: expected an absolute http:// or https:// URL, got \"ftp://id.example.jp\""
    );
    assert_eq!(
        config_error(None, &[("SHIKAKU_DATABASE_URL", "mysql://h/db")]),
        "error: invalid config key `database_url`: expected sqlite://PATH or postgres://USER@HOST/DB"
    );
    assert_eq!(
        config_error(None, &[("SHIKAKU_MASTER_KEY", "c2hvcnQ=")]),
        "error: invalid config key `master_key`: must be 32 bytes, got 5; generate one with `openssl rand -base64 32`"
    );
    assert_eq!(
        config_error(None, &[("SHIKAKU_REDIS_URL", "localhost:6379")]),
        "error: invalid config key `redis_url`: expected redis://HOST[:PORT] or rediss://…"
    );
    let line = config_error(Some("signing_algs = [\"HS256\"]\n"), &[]);
    assert!(line.starts_with("error: invalid config key `signing_algs"), "{line}");
    assert_eq!(
        config_error(Some("signing_algs = [\"ES256\"]\n"), &[]),
        "error: invalid config key `signing_algs`: must include RS256 (OpenID Connect requires it for ID tokens; the first algorithm signs access tokens), e.g. [\"ES256\", \"RS256\"]"
    );
    assert_eq!(
        config_error(Some("key_publish_lead_secs = 10\n"), &[]),
        "error: invalid config key `key_publish_lead_secs`: must be at least 300 (the JWKS cache time), got 10"
    );
}

#[test]
fn missing_config_file_is_an_error() {
    let w = Workdir::new();
    let out = w.run(&["--config", "nope.toml", "config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "error: config file nope.toml does not exist");
}

#[test]
fn migrate_sqlite_applies_once() {
    let w = Workdir::new();
    let out = w.run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (count, latest) = migrations(Backend::Sqlite);
    assert_eq!(stdout(&out), format!("applied {count} migration(s); sqlite database at version {latest}\n"));
    assert!(w.path().join("data/shikaku.db").exists());
    assert_eq!(
        stdout(&w.run(&["migrate"])),
        format!("applied 0 migration(s); sqlite database at version {latest}\n")
    );
}

#[tokio::test]
async fn migrate_postgres() {
    let Some(pg) = testing::postgres_url() else { return };
    let db = TestDb::postgres_empty(&pg).await;
    let w = Workdir::new().env("SHIKAKU_DATABASE_URL", db.url());
    let out = w.run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (count, latest) = migrations(Backend::Postgres);
    assert_eq!(
        stdout(&out),
        format!("applied {count} migration(s); postgres database at version {latest}\n")
    );
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys").fetch_one(db.db.pool()).await.unwrap();
    assert_eq!(n, 0);
}

#[test]
fn the_example_config_is_valid() {
    let w = Workdir::new();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shikaku.example.toml");
    let out = w.run(&["--config", example.to_str().unwrap(), "config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("signing_algs = [\"ES256\", \"RS256\"]"));
}

#[test]
fn config_check_with_defaults_only() {
    let w = Workdir::new();
    let out = w.run(&["config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("database_url = \"sqlite://./data/shikaku.db\""), "{text}");
    assert!(text.contains("master_key_file = \"./data/master.key\""), "{text}");
    assert!(
        !text.contains("redis_url") && !text.contains("master_key ="),
        "absent keys are left out: {text}"
    );
    assert!(!w.path().join("data").exists(), "config check writes nothing");
}

#[test]
fn admin_client_private_key_jwt_needs_keys() {
    let w = Workdir::new();
    let migrated = w.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}"#;
    let file = w.file("jwks.json", jwks);
    let base = ["admin", "client", "add", "--name", "RP", "--redirect-uri", "https://rp.example.jp/cb"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        w.run(&args)
    };
    let out =
        run(&["--client-id", "k1", "--auth-method", "private_key_jwt", "--jwks", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let added: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(added["auth_method"], "private_key_jwt");
    assert_eq!(added["id_token_alg"], "RS256", "the OpenID Connect default without --id-token-alg");
    assert_eq!(added["jwks"]["keys"][0]["kid"], "k1");
    assert!(added.get("client_secret").is_none(), "no secret for private_key_jwt");

    let out = w.run(&["admin", "client", "update", "k1", "--jwks-uri", "https://rp.example.jp/jwks.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let updated: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(updated["jwks_uri"], "https://rp.example.jp/jwks.json");
    assert!(updated["jwks"].is_null());

    let out = run(&["--auth-method", "private_key_jwt"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "error: private_key_jwt needs the client's public keys: --jwks FILE or --jwks-uri URL"
    );
    let out = run(&["--auth-method", "private_key_jwt", "--jwks-uri", "http://rp.example.jp/jwks"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("must be an https URL"), "{}", stderr(&out));
    let private =
        w.file("private.json", r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}]}"#);
    let out = run(&["--auth-method", "private_key_jwt", "--jwks", private.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("private key"), "{}", stderr(&out));
    let out = run(&["--jwks-uri", "https://rp.example.jp/jwks.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("only for --auth-method private_key_jwt"), "{}", stderr(&out));
}

#[test]
fn client_endpoints_on_internal_addresses_are_refused_unless_allowed() {
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    let add = ["admin", "client", "add", "--name", "RP", "--redirect-uri", "https://rp.example.jp/cb"];
    let out = w.run(&[&add[..], &["--backchannel-logout-uri", "http://127.0.0.1:9/bcl"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "error: --backchannel-logout-uri \"http://127.0.0.1:9/bcl\": 127.0.0.1 is an internal address (allow it with outbound_allow_addresses)"
    );
    let out = w
        .run(&[&add[..], &["--backchannel-logout-uri", "https://169.254.169.254/latest/meta-data"]].concat());
    assert!(stderr(&out).contains("169.254.169.254 is an internal address"), "{}", stderr(&out));
    let out = w.run(&[&add[..], &["--backchannel-logout-uri", "https://10.0.0.5/bcl"]].concat());
    assert!(stderr(&out).contains("10.0.0.5 is an internal address"), "{}", stderr(&out));
    let allowed = Workdir::new().env("SHIKAKU_OUTBOUND_ALLOW_ADDRESSES", "[\"127.0.0.1\"]");
    assert!(allowed.run(&["migrate"]).status.success());
    let out = allowed.run(&[&add[..], &["--backchannel-logout-uri", "http://127.0.0.1:9/bcl"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = Workdir::new().env("SHIKAKU_OUTBOUND_ALLOW_ADDRESSES", "[\"localhost\"]");
    let out = bad.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid config key `outbound_allow_addresses`"), "{}", stderr(&out));
}

#[test]
fn admin_client_min_acr() {
    let w = Workdir::new();
    let migrated = w.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let add = [
        "admin",
        "client",
        "add",
        "--client-id",
        "net",
        "--name",
        "RP",
        "--redirect-uri",
        "https://rp.example.jp/cb",
    ];
    let out = w.run(&[&add[..], &["--min-acr", "phrh"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let added: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(added["min_acr"], "phrh");
    let out = w.run(&["admin", "client", "update", "net", "--min-acr", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let updated: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(updated["min_acr"].is_null(), "{updated}");
    let out = w.run(&["admin", "client", "update", "net", "--min-acr", "card"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(
        stderr(&out)
            .contains("unknown acr \"card\": use phrh (the card), phr (a passkey or the card) or none"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rate_limit_keys_are_checked_and_shown() {
    assert_eq!(
        config_error(Some("rate_limit_token_per_ip = \"many\"\n"), &[]),
        "error: invalid config key `rate_limit_token_per_ip`: expected COUNT/SECONDS, e.g. 20/60, got \"many\""
    );
    assert_eq!(
        config_error(None, &[("SHIKAKU_RATE_LIMIT_SIGN_IN_PER_IP", "5/0")]),
        "error: invalid config key `rate_limit_sign_in_per_ip`: SECONDS must be at least 1, got \"5/0\""
    );
    let w = Workdir::new().env("SHIKAKU_RATE_LIMIT_TOKEN_PER_CLIENT", "100/10");
    w.file("shikaku.toml", "trusted_proxies = [\"10.0.0.1\"]\n");
    let out = w.run(&["config", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "rate_limit_sign_in_per_ip = \"20/60\"",
        "rate_limit_sign_in_per_account = \"10/300\"",
        "rate_limit_token_per_ip = \"300/60\"",
        "rate_limit_token_per_client = \"100/10\"",
        "trusted_proxies = [\"10.0.0.1\"]",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
}

#[test]
fn admin_crl_refresh_reports_each_url_and_fails_on_refusals() {
    let w = Workdir::new().env("SHIKAKU_CRL_URLS", "[\"http://crl.example.invalid/a.crl\"]");
    let out = w.run(&["admin", "crl", "refresh"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["url"], "http://crl.example.invalid/a.crl");
    assert_eq!(line["error"], "host_not_allowed");
    assert!(stderr(&out).contains("1 CRL fetch(es) failed"), "{}", stderr(&out));

    let bad =
        Workdir::new().env("SHIKAKU_CRL_URLS", "[\"ldap://x/a.crl\"]").run(&["admin", "crl", "refresh"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("`crl_urls`"), "{}", stderr(&bad));
}

#[test]
fn certificate_sign_in_keys_are_checked() {
    let err = |env: &[(&str, &str)]| {
        let mut w = Workdir::new();
        for (k, v) in env {
            w = w.env(k, v);
        }
        let out = w.run(&["config", "check"]);
        assert_eq!(out.status.code(), Some(1));
        stderr(&out)
    };
    assert!(err(&[("SHIKAKU_MTLS_TRUSTED_PROXIES", "[\"10.0.0.0/40\"]")]).contains("`mtls_trusted_proxies`"));
    assert!(err(&[("SHIKAKU_MTLS_LISTEN", "127.0.0.1:8443")]).contains("`mtls_cert_file`"));
    let ok = Workdir::new()
        .env("SHIKAKU_MTLS_TRUSTED_PROXIES", "[\"10.0.0.5\", \"fd00::/8\"]")
        .run(&["config", "check"]);
    assert!(
        stdout(&ok).contains("mtls_trusted_proxies = [\"10.0.0.5/32\", \"fd00::/8\"]"),
        "{}",
        stdout(&ok)
    );
}

#[test]
fn tls_client_auth_clients_and_client_cas() {
    let w = Workdir::new();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "admin",
            "client",
            "add",
            "--name",
            "RP",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "tls_client_auth",
        ];
        args.extend_from_slice(extra);
        w.run(&args)
    };
    let out = add(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--tls-client-auth-subject-dn"), "{}", stderr(&out));
    let out = add(&["--tls-client-auth-subject-dn", "C=JP, O=Example Network, CN=rp.example.jp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let client: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(client["auth_method"], "tls_client_auth");
    assert_eq!(client["tls_subject_dn"], "C=JP, O=Example Network, CN=rp.example.jp");
    assert!(client.get("client_secret").is_none());

    let bad = w.run(&["admin", "ca", "add", "--purpose", "server", "x.pem"]);
    assert_eq!(bad.status.code(), Some(2), "only card or client");
}

#[test]
fn crl_files_must_be_signed_by_a_trusted_ca() {
    let w = Workdir::new();
    assert!(w.run(&["hpki", "testpki", "--out", "pki"]).status.success());
    let out = w.run(&["admin", "ca", "add", "pki/ca-root.pem", "pki/ca-jma-auth.pem"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run(&["admin", "crl", "add", "pki/crl-jma-auth.crl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["stored"], true);
    let out = w.run(&["admin", "crl", "add", "pki/crl-medis-auth.crl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not signed by a trusted CA"), "{}", stderr(&out));
    let list = stdout(&w.run(&["admin", "crl", "list"]));
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("\"source\":\"file:crl-jma-auth.crl\""), "{list}");
}

#[test]
fn admin_credits_lists_systems_and_sets_the_time_rule() {
    let w = Workdir::new();
    let list = stdout(&w.run(&["admin", "credits", "list"]));
    let systems: Vec<serde_json::Value> = list.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let cme = systems.iter().find(|s| s["id"] == "jma_cme").unwrap_or_else(|| panic!("{list}"));
    assert_eq!((cme["name_ja"].as_str(), cme["unit_step"].as_str()), (Some("日医生涯教育制度"), Some("0.5")));
    assert!(cme["minutes_per_unit"].is_null(), "per event by default: {cme}");

    let out = w.run(&[
        "admin",
        "credits",
        "time-rule",
        "jma_cme",
        "--minutes-per-unit",
        "60",
        "--minimum-minutes",
        "30",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let set: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        set,
        serde_json::json!({ "system": "jma_cme", "minutes_per_unit": 60, "minimum_minutes": 30, "recomputed": 0 })
    );
    let list = stdout(&w.run(&["admin", "credits", "list"]));
    assert!(list.contains("\"minutes_per_unit\":60"), "{list}");
    let out = w.run(&["admin", "credits", "time-rule", "jma_cme", "--per-event"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"minutes_per_unit\":null"), "{}", stdout(&out));

    let out = w.run(&["admin", "credits", "time-rule", "no_such", "--minutes-per-unit", "60"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "error: no credit system \"no_such\" (see `shikaku admin credits list`)");
    let out = w.run(&["admin", "credits", "time-rule", "jma_cme"]);
    assert_eq!(out.status.code(), Some(2), "a rule or --per-event is required: {}", stderr(&out));
    let out = w.run(&["admin", "credits", "time-rule", "jma_cme", "--minutes-per-unit", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn admin_credits_apply_and_export_credit_systems_as_data() {
    let w = Workdir::new();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/credit-systems/jmsb.toml");
    let out = w.run(&["admin", "credits", "apply", shipped]);
    assert!(out.status.success(), "{}", stderr(&out));
    let applied: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        applied,
        serde_json::json!({ "system": "jmsb", "created": true, "codes": 5, "codes_kept": 0, "rules": 1,
                            "caps": null })
    );
    assert!(stdout(&w.run(&["admin", "credits", "list"])).contains("\"id\":\"jmsb\""));

    // Export, edit, apply again: updated in place; a code left out of the file is kept.
    let exported = stdout(&w.run(&["admin", "credits", "export", "jmsb"]));
    assert!(
        exported.contains("code = \"common.safety\"") && exported.contains("minimum = \"20\""),
        "{exported}"
    );
    let edited = exported
        .replace("共通講習 医療安全（必修）", "共通講習 医療安全（必修・医療事故調査を含む）")
        .replace("minimum = \"20\"", "minimum = \"25\"")
        .replace(
            "[[codes]]\ncode = \"common.other\"\nname_ja = \"共通講習 その他\"\nname_en = \"Common course: other topics\"\n",
            "",
        );
    assert_ne!(edited, exported);
    let file = w.file("jmsb.toml", &edited);
    let out = w.run(&["admin", "credits", "apply", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"created\":false") && stdout(&out).contains("\"codes_kept\":1"),
        "{}",
        stdout(&out)
    );
    let again = stdout(&w.run(&["admin", "credits", "export", "jmsb"]));
    assert!(again.contains("医療事故調査を含む") && again.contains("minimum = \"25\""), "{again}");
    assert!(again.contains("code = \"common.other\""), "kept: {again}");

    // The shipped JMA system exports and applies back unchanged.
    let cme = stdout(&w.run(&["admin", "credits", "export", "jma_cme"]));
    assert!(cme.contains("code = \"76\"\nname_ja = \"糖尿病\""), "{cme}");
    let file = w.file("cme.toml", &cme);
    assert!(w.run(&["admin", "credits", "apply", file.to_str().unwrap()]).status.success());
    assert_eq!(stdout(&w.run(&["admin", "credits", "export", "jma_cme"])), cme);

    // A cap: at most 6 units per event of the JMA system; exported with the system.
    let capped = w.file("cme-capped.toml", &format!("{cme}\n\n[[caps]]\nper = \"event\"\nmaximum = \"6\"\n"));
    let out = w.run(&["admin", "credits", "apply", capped.to_str().unwrap()]);
    assert!(stdout(&out).contains("\"caps\":1"), "{}{}", stdout(&out), stderr(&out));
    let exported = stdout(&w.run(&["admin", "credits", "export", "jma_cme"]));
    assert!(exported.trim_end().ends_with("[[caps]]\nper = \"event\"\nmaximum = \"6\""), "{exported}");

    // Refusals name the file and the field.
    let refused = |text: &str| {
        let file = w.file("bad.toml", text);
        let out = w.run(&["admin", "credits", "apply", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        stderr(&out)
    };
    let head = "name_ja = \"x\"\nname_en = \"x\"\nunit_step = \"0.5\"\n";
    assert!(refused(&format!("id = \"Bad-Id\"\n{head}")).contains("id \"Bad-Id\": 1 to 32 of a-z 0-9 _"));
    assert!(refused(&format!("id = \"x1\"\n{head}colour = \"red\"\n")).contains("unknown field `colour`"));
    let stolen = format!(
        "id = \"x1\"\n{head}[[rules]]\nid = \"jma_cme_certificate\"\nname_ja = \"x\"\nname_en = \"x\"\n\
         window = \"all_time\"\nrequirements = [{{ measure = \"units\", minimum = \"1\" }}]\n"
    );
    assert!(refused(&stolen).contains("rule \"jma_cme_certificate\" belongs to another credit system"));
    let wrong_code = format!(
        "id = \"x1\"\n{head}[[rules]]\nid = \"x1_rule\"\nname_ja = \"x\"\nname_en = \"x\"\nwindow = \"fiscal_years\"\n\
         years = 3\nrequirements = [{{ measure = \"units\", code = \"nope\", minimum = \"1\" }}]\n"
    );
    assert!(refused(&wrong_code).contains("code \"nope\" is not a code of the system"));
    let wrong_cap = format!("id = \"x1\"\n{head}[[caps]]\nper = \"day\"\nmaximum = \"1\"\n");
    assert!(refused(&wrong_cap).contains("bad.toml: cap 1: per \"day\": event or fiscal_year"));
    assert!(
        !stdout(&w.run(&["admin", "credits", "list"])).contains("\"x1\""),
        "nothing of a refused file is stored"
    );
    let out = w.run(&["admin", "credits", "export", "nope"]);
    assert_eq!(out.status.code(), Some(1));
}
