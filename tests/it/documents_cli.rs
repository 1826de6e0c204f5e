//! `shikaku admin document issue|revoke` on both backends: the PDF is written, the id printed,
//! a certificate refused when not eligible, and a document signed by the CLI verifies in a
//! server started afterwards (the key survives restarts) until it is revoked.

use std::process::Command;

use storage::testing::{self, TestDb};

use crate::{Workdir, stderr, stdout};

const MASTER: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

const REGISTRY: &str = "\
registration_number,kana_name,birth_date,name
123456,ヤマダ　タロウ,1980-05-01,山田　太郎
";

const ATTENDANCE: &str = "\
registration_number,event_id,event_title,organizer,date,credits,status
123456,EV1,糖尿病の最新治療,東京都医師会,2026-06-01,jma_cme:76=1;jma_cme:74=0.5,confirmed
123456,EV2,在宅医療の実際,東京都医師会,2026-07-01,jma_cme:80=2,confirmed
";

fn admin(w: &Workdir, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let out = w.run(&all);
    (out.status.code(), stdout(&out), stderr(&out))
}

async fn issue_revoke_and_verify(w: Workdir) {
    w.file("registry.csv", REGISTRY);
    w.file("attendance.csv", ATTENDANCE);
    assert_eq!(admin(&w, &["import", "registry", "registry.csv"]).0, Some(0));
    assert_eq!(admin(&w, &["import", "attendance", "attendance.csv"]).0, Some(0));

    let (code, out, err) = admin(
        &w,
        &[
            "document",
            "issue",
            "--registration-number",
            "123456",
            "--kind",
            "attendance",
            "--from",
            "2026-04-01",
            "--to",
            "2027-03-31",
            "--out",
            "doc.pdf",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let issued: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = issued["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 22);
    assert_eq!(issued["kind"], "attendance");
    let text =
        Command::new("pdftotext").arg("-layout").arg(w.path().join("doc.pdf")).arg("-").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("受講証明書") && text.contains("在宅医療の実際") && text.contains(&id), "{text}");

    let (code, _, err) = admin(
        &w,
        &[
            "document",
            "issue",
            "--registration-number",
            "123456",
            "--kind",
            "jma_certificate",
            "--out",
            "c.pdf",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("not eligible for the JMA lifelong-education certificate"), "{err}");
    assert!(!w.path().join("c.pdf").exists());
    let (code, _, err) = admin(
        &w,
        &["document", "issue", "--registration-number", "123456", "--kind", "statement", "--out", "s.pdf"],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("--year is required"), "{err}");

    // A server started afterwards verifies what the CLI signed.
    let server = w.start(&["serve"]).await;
    let verify = |server: &crate::Server| {
        let url = server.portal(&format!("/v/{id}.json"));
        async move { reqwest::get(url).await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    assert_eq!(verify(&server).await["status"], "genuine");

    let (code, out, err) = admin(&w, &["document", "revoke", &id, "--reason", "誤記のため再発行"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("誤記のため再発行"), "{out}");
    let body = verify(&server).await;
    assert_eq!(
        (body["status"].as_str(), body["revoked_reason"].as_str()),
        (Some("revoked"), Some("誤記のため再発行"))
    );
    let (code, _, err) = admin(&w, &["document", "revoke", &id, "--reason", "again"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already revoked"), "{err}");
    let (code, _, err) = admin(&w, &["document", "revoke", "AAAAAAAAAAAAAAAAAAAAAA", "--reason", "x"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no document with id"), "{err}");
    assert_eq!(server.terminate(), Some(0));
}

#[tokio::test]
async fn document_issue_and_revoke_on_sqlite() {
    issue_revoke_and_verify(Workdir::new()).await;
}

#[tokio::test]
async fn document_issue_and_revoke_on_postgres() {
    let Some(pg) = testing::postgres_url() else {
        eprintln!("note: SHIKAKU_TEST_POSTGRES_URL not set; PostgreSQL variant not run");
        return;
    };
    let db = TestDb::postgres_empty(&pg).await;
    issue_revoke_and_verify(
        Workdir::new().env("SHIKAKU_DATABASE_URL", db.url()).env("SHIKAKU_MASTER_KEY", MASTER),
    )
    .await;
}

/// Without a Japanese font (configured file absent, nothing in the font directories) the CLI
/// stops with one clear error naming the config key and the package, before storing anything.
#[test]
fn document_issue_without_a_font_is_a_clear_error() {
    let fonts = tempfile::tempdir().unwrap();
    let dirs = serde_json::json!([fonts.path()]).to_string();
    let w = Workdir::new()
        .env("SHIKAKU_PORTAL_FONT_PATH", "/nonexistent/NotoSansCJK-Regular.ttc")
        .env("SHIKAKU_PORTAL_FONT_DIRS", &dirs);
    w.file("registry.csv", REGISTRY);
    w.file("attendance.csv", ATTENDANCE);
    assert_eq!(admin(&w, &["import", "registry", "registry.csv"]).0, Some(0));
    assert_eq!(admin(&w, &["import", "attendance", "attendance.csv"]).0, Some(0));
    let issue = ["document", "issue", "--registration-number", "123456", "--kind", "statement"];
    let (code, out, err) = admin(&w, &[&issue[..], &["--year", "2026", "--out", "doc.pdf"]].concat());
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("/nonexistent/NotoSansCJK-Regular.ttc"), "{err}");
    assert!(err.contains("install Debian package fonts-noto-cjk"), "{err}");
    assert!(err.contains("config key `portal_font_path`"), "{err}");
    assert!(!w.path().join("doc.pdf").exists());
}
