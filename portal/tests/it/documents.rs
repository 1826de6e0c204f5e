//! Verifiable documents on both backends: issuing, the PDF (text, pagination, QR code), the
//! verification page and JSON (genuine, revoked, altered, unknown), offline verification with
//! the published keys, and the certificate's eligibility boundary.

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keys::{KeyPair, SigningAlg};
use portal::credits::Units;
use portal::documents::jws::{self, JwsError, TYP};
use portal::documents::routes::DocumentService;
use portal::documents::{DocumentError, Issued, Kind, Request as Doc, issue};
use portal::store::attendance::{NewAttendance, Status, create_attendances};
use portal::store::doctors::{Doctor, create_doctors};
use portal::store::documents::update_document_revoked;
use portal::store::events::{Credit, Event, create_event};
use storage::Db;
use storage::testing::TestEnv;
use time::Date;
use time::macros::date;

use crate::{TestApp, font_path, text};

storage::each_backend!(
    pdf_shows_the_japanese_name_and_rows_and_its_qr_code_opens_the_verify_url,
    pdf_paginates_long_tables,
    verify_page_and_json_for_genuine_revoked_altered_and_unknown_documents,
    jws_verifies_offline_with_the_key_published_at_jwks,
    jma_certificate_only_from_sixty,
    statement_covers_one_fiscal_year_and_empty_periods_are_refused,
    verify_page_screenshot_in_chromium,
    owner_pdf_only_for_the_owner_of_a_document_in_force,
    pdf_and_verify_page_name_the_codes_and_fit_long_system_names,
    qualification_certificate_pdf_and_its_verify_page,
);

const NUMBER: &str = "123456";
const NAME: &str = "山田　太郎";
const LONG_TITLE: &str = "地域包括ケアシステムにおける在宅医療と介護の連携推進のための多職種協働研修会（第三回・総合討論を含む長い題名）";

/// 2027-04-10 12:00 in Japan.
const NOW: i64 = 1_807_326_000;

fn jst(date: Date) -> i64 {
    date.with_hms(12, 0, 0)
        .unwrap()
        .assume_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap())
        .unix_timestamp()
}

async fn add_doctor(db: &Db) {
    let mut conn = db.pool().acquire().await.unwrap();
    let doctor = Doctor {
        registration_number: NUMBER.into(),
        name: Some(NAME.into()),
        kana_name: "ヤマダ　タロウ".into(),
        birth_date: date!(1980 - 05 - 01),
        source: "registry".into(),
    };
    create_doctors(&mut conn, &[doctor], NOW).await.unwrap();
}

/// An event on `day` granting `credits` (JMA codes and units in hundredths), attended by the
/// doctor with `status`.
async fn attend(db: &Db, id: &str, title: &str, day: Date, credits: &[(&str, i64)], status: Status) {
    let mut conn = db.pool().acquire().await.unwrap();
    let credits: Vec<Credit> = credits
        .iter()
        .map(|(code, units)| Credit {
            system_id: "jma_cme".into(),
            code: (*code).into(),
            units: Units(*units),
        })
        .collect();
    let event = Event {
        id: id.into(),
        title: title.into(),
        organizer: "東京都医師会".into(),
        starts_on: day,
        ends_on: day,
        venue: None,
        online: false,
        credits: credits.clone(),
    };
    create_event(&mut conn, &event, NOW).await.unwrap();
    let a = NewAttendance {
        idempotency_key: format!("{id}/{NUMBER}"),
        registration_number: NUMBER.into(),
        event_id: id.into(),
        attended_on: day,
        status,
        source: "import".into(),
        credits,
    };
    create_attendances(&mut conn, &[a], NOW).await.unwrap();
}

async fn seed_three(db: &Db) {
    add_doctor(db).await;
    attend(
        db,
        "EV1",
        "糖尿病の最新治療",
        date!(2026 - 05 - 10),
        &[("76", 100), ("74", 50)],
        Status::Confirmed,
    )
    .await;
    attend(db, "EV2", LONG_TITLE, date!(2026 - 09 - 01), &[("80", 200)], Status::Confirmed).await;
    attend(db, "EV3", "脂質異常症の診療", date!(2027 - 02 - 20), &[("75", 100)], Status::Confirmed).await;
    attend(db, "EV4", "未確認の講演会", date!(2026 - 10 - 01), &[("1", 100)], Status::Provisional).await;
}

fn fy2026() -> Doc {
    Doc::Attendance { from: date!(2026 - 04 - 01), to: date!(2027 - 03 - 31) }
}

fn service(app: &TestApp) -> DocumentService {
    DocumentService::new(app.signer.clone(), font_path())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn write_pdf(db: &Db, dir: &Path, issued: &Issued, service: &DocumentService) -> PathBuf {
    let path = dir.join("doc.pdf");
    std::fs::write(&path, service.pdf(db, issued).await.unwrap()).unwrap();
    path
}

/// Copies `file` to `target/screenshots/name` (through a rename, so parallel tests never leave a
/// half-written file).
fn keep_screenshot(file: &Path, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::copy(file, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

async fn pdf_shows_the_japanese_name_and_rows_and_its_qr_code_opens_the_verify_url(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    seed_three(&app.db).await;
    let issued = issue(&app.db, &app.signer, fy2026(), NUMBER, NOW).await.unwrap();
    assert_eq!(issued.content.kind, Kind::Attendance);
    assert_eq!(issued.content.rows.len(), 3, "provisional attendance left out: {:?}", issued.content.rows);
    assert_eq!(issued.record.id.len(), 22);
    assert_eq!(issued.content.verify_url, format!("http://127.0.0.1:8081/v/{}", issued.record.id));

    let dir = tempfile::tempdir().unwrap();
    let pdf = write_pdf(&app.db, dir.path(), &issued, &service(&app)).await;
    let text = run(Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"));
    // pdftotext -layout turns the full-width space between family and given name into spaces.
    for expected in [
        "受講証明書",
        "山田",
        "太郎（ヤマダ",
        "タロウ）",
        NUMBER,
        "2026-05-10",
        "糖尿病の最新治療",
        "74, 76",
        "脂質異常症の診療",
        "地域包括ケアシステム",
        "4.5 単位",
        issued.record.id.as_str(),
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert!(!text.contains("未確認の講演会"), "provisional rows never print:\n{text}");
    assert!(!text.contains("総合討論を含む長い題名"), "long titles are cut:\n{text}");
    assert!(text.contains('…'), "a cut title ends with an ellipsis:\n{text}");

    let png = dir.path().join("page");
    run(Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf)
        .arg(&png));
    let png = png.with_extension("png");
    let decoded = run(Command::new("zbarimg").args(["--raw", "-q"]).arg(&png));
    assert_eq!(decoded.trim(), issued.content.verify_url);
    keep_screenshot(&png, "certificate.png");
}

async fn pdf_paginates_long_tables(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    add_doctor(&app.db).await;
    let first = date!(2026 - 04 - 01);
    for i in 0..70_i64 {
        let day = first.saturating_add(time::Duration::days(i * 3));
        attend(
            &app.db,
            &format!("EV{i:03}"),
            &format!("生涯教育講座 第{i:03}回"),
            day,
            &[("10", 50)],
            Status::Confirmed,
        )
        .await;
    }
    let issued = issue(&app.db, &app.signer, fy2026(), NUMBER, NOW).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pdf = write_pdf(&app.db, dir.path(), &issued, &service(&app)).await;
    let info = run(Command::new("pdfinfo").arg(&pdf));
    let pages = 70_usize.div_ceil(portal::documents::pdf::ROWS_PER_PAGE);
    let found = info.lines().find_map(|l| l.strip_prefix("Pages:")).map(str::trim);
    assert_eq!(found, Some(pages.to_string().as_str()), "{info}");
    let text = run(Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"));
    for i in 0..70 {
        assert!(text.contains(&format!("生涯教育講座 第{i:03}回")), "row {i} missing");
    }
    assert!(text.contains("35 単位"), "{text}");
    assert_eq!(text.matches("発行番号 Issue ID").count(), pages, "the issue id on every page");
}

async fn get(app: &TestApp, uri: &str, accept: &str) -> (u16, String) {
    let res = app.send(Request::get(uri).header("accept", accept).body(Body::empty()).unwrap()).await;
    let status = res.status().as_u16();
    (status, text(res).await)
}

async fn json(app: &TestApp, uri: &str) -> (u16, serde_json::Value) {
    let (status, body) = get(app, uri, "application/json").await;
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

async fn set_jws(db: &Db, id: &str, jws: &str) {
    sqlx::query("UPDATE documents SET jws = $1 WHERE id = $2")
        .bind(jws)
        .bind(id)
        .execute(db.pool())
        .await
        .unwrap();
}

async fn verify_page_and_json_for_genuine_revoked_altered_and_unknown_documents(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    seed_three(&app.db).await;
    let issued = issue(&app.db, &app.signer, fy2026(), NUMBER, app.clock.now()).await.unwrap();
    let id = issued.record.id.clone();

    // Genuine: the page (Japanese first), JSON by Accept and by suffix.
    let (status, html) = get(&app, &format!("/v/{id}"), "text/html").await;
    assert_eq!(status, 200);
    for expected in ["真正な文書です", NAME, NUMBER, "受講証明書", "糖尿病の最新治療", id.as_str()]
    {
        assert!(html.contains(expected), "{expected:?} missing: {html}");
    }
    let (status, html_en) = get(&app, &format!("/v/{id}?lang=en"), "text/html").await;
    assert_eq!(status, 200);
    assert!(html_en.contains("Genuine document"), "{html_en}");
    let (status, by_accept) = json(&app, &format!("/v/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(by_accept["status"], "genuine");
    assert_eq!(by_accept["jws"], issued.record.jws.as_str());
    assert_eq!(by_accept["content"]["doctor"]["name"], NAME);
    assert_eq!(by_accept["content"]["rows"].as_array().unwrap().len(), 3);
    let (_, by_suffix) = json(&app, &format!("/v/{id}.json")).await;
    assert_eq!(by_suffix, by_accept);

    // Unknown and malformed ids.
    for unknown in ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "%27%3B--"] {
        let (status, html) = get(&app, &format!("/v/{unknown}"), "text/html").await;
        assert_eq!(status, 404, "{unknown}");
        assert!(html.contains("真正な文書ではありません"), "{html}");
        let (status, body) = json(&app, &format!("/v/{unknown}.json")).await;
        assert_eq!(status, 404);
        assert_eq!(body["status"], "not_genuine");
    }
    // An id that is not even UTF-8: the localized 400 page, or problem+json.
    let (status, html) = get(&app, "/v/%FF%FE", "text/html").await;
    assert_eq!(status, 400);
    assert!(html.contains("リクエストを読み取れませんでした") && !html.contains("Invalid URL"), "{html}");
    let (status, body) = json(&app, "/v/%FF%FE").await;
    assert_eq!((status, body["type"].as_str()), (400, Some("/problems/bad-request")), "{body}");

    // Altered: the payload changed after signing.
    let parts: Vec<&str> = issued.record.jws.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["rows"][0]["units"] = "10".into();
    let altered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    set_jws(&app.db, &id, &altered).await;
    let (status, html) = get(&app, &format!("/v/{id}"), "text/html").await;
    assert_eq!(status, 200);
    assert!(html.contains("真正な文書ではありません") && !html.contains("糖尿病の最新治療"), "{html}");
    let (_, body) = json(&app, &format!("/v/{id}.json")).await;
    assert_eq!(body["status"], "not_genuine");
    assert_eq!(body["reason"], "the signature does not match");

    // Signed by another key, under its own kid and under the portal's kid.
    let other = KeyPair::generate(SigningAlg::ES256);
    set_jws(&app.db, &id, &other.sign_jws(TYP, &payload).unwrap()).await;
    let (_, body) = json(&app, &format!("/v/{id}.json")).await;
    assert_eq!(
        (body["status"].as_str(), body["reason"].as_str()),
        (Some("not_genuine"), Some("signed by an unknown key"))
    );
    let header =
        serde_json::from_slice::<serde_json::Value>(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1]);
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(other.sign(input.as_bytes())));
    set_jws(&app.db, &id, &forged).await;
    let (_, body) = json(&app, &format!("/v/{id}.json")).await;
    assert_eq!(body["reason"], "the signature does not match");

    // A genuine record of another document moved under this id.
    let second = issue(&app.db, &app.signer, fy2026(), NUMBER, app.clock.now()).await.unwrap();
    set_jws(&app.db, &id, &second.record.jws).await;
    let (_, body) = json(&app, &format!("/v/{id}.json")).await;
    assert_eq!(body["status"], "not_genuine");

    // Revoked: genuine and unchanged, but withdrawn, with its date and reason.
    set_jws(&app.db, &id, &issued.record.jws).await;
    update_document_revoked(&app.db, &id, "発行内容の誤りのため", jst(date!(2027 - 05 - 01))).await.unwrap();
    let (status, html) = get(&app, &format!("/v/{id}"), "text/html").await;
    assert_eq!(status, 200);
    for expected in ["失効した文書です", "2027-05-01", "発行内容の誤りのため", NAME] {
        assert!(html.contains(expected), "{expected:?} missing: {html}");
    }
    let (_, body) = json(&app, &format!("/v/{id}.json")).await;
    assert_eq!(body["status"], "revoked");
    assert_eq!(body["revoked_reason"], "発行内容の誤りのため");
    assert_eq!(body["jws"], issued.record.jws.as_str());
    assert!(matches!(
        update_document_revoked(&app.db, &id, "again", NOW).await,
        Err(portal::store::StoreError::Conflict(_))
    ));
}

async fn jws_verifies_offline_with_the_key_published_at_jwks(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    seed_three(&app.db).await;
    let issued = issue(&app.db, &app.signer, fy2026(), NUMBER, NOW).await.unwrap();
    let res = app.send(Request::get("/jwks").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jwk-set+json");
    let set: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0]["kty"].as_str(), keys[0]["alg"].as_str()), (Some("EC"), Some("ES256")));
    assert!(keys[0].get("d").is_none(), "no private part");

    // Offline: only the JWS and the published set.
    let content = jws::verify(&issued.record.jws, &set).unwrap();
    assert_eq!(content, issued.content);

    // Another key's set does not verify it, even under the same kid.
    let other = KeyPair::generate(SigningAlg::ES256);
    let other_set = serde_json::json!({ "keys": [other.public_jwk()] });
    assert_eq!(jws::verify(&issued.record.jws, &other_set), Err(JwsError::UnknownKey));
    let mut spoofed = other.public_jwk();
    spoofed["kid"] = keys[0]["kid"].clone();
    let spoofed_set = serde_json::json!({ "keys": [spoofed] });
    assert_eq!(jws::verify(&issued.record.jws, &spoofed_set), Err(JwsError::BadSignature));
    assert_eq!(jws::verify("a.b", &set), Err(JwsError::Malformed));

    // The key survives a restart: a signer opened again on the database publishes the same set.
    let (master, _) = keys::MasterKey::generate();
    assert!(
        portal::documents::Signer::open(app.db.clone(), master, "http://x", NOW).await.is_err(),
        "another master key cannot open the stored key"
    );
}

async fn jma_certificate_only_from_sixty(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    add_doctor(&app.db).await;
    // Ten distinct codes and 49.5 units within FY2024–FY2026: 59.5.
    for i in 0..10_i64 {
        let day = date!(2025 - 06 - 01).saturating_add(time::Duration::days(i * 20));
        let units = if i == 0 { 450 } else { 500 };
        attend(
            &app.db,
            &format!("C{i}"),
            &format!("講習会{i}"),
            day,
            &[(&(i + 1).to_string(), units)],
            Status::Confirmed,
        )
        .await;
    }
    // Outside the window (FY2023): never counts.
    attend(&app.db, "OLD", "古い講習会", date!(2024 - 03 - 31), &[("50", 1000)], Status::Confirmed).await;
    let now = jst(date!(2027 - 03 - 01));
    match issue(&app.db, &app.signer, Doc::JmaCertificate, NUMBER, now).await {
        Err(DocumentError::NotEligible { achieved, minimum, remaining, from, to }) => {
            assert_eq!((achieved, minimum, remaining), (Units(5950), Units(6000), Units(50)));
            assert_eq!((from, to), (date!(2024 - 04 - 01), date!(2027 - 03 - 31)));
        }
        other => panic!("expected NotEligible, got {other:?}"),
    }
    let err = issue(&app.db, &app.signer, Doc::JmaCertificate, NUMBER, now).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "not eligible for the JMA lifelong-education certificate: 59.5 of 60 (units + distinct codes) between 2024-04-01 and 2027-03-31, 0.5 missing"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM documents").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(stored, 0, "a refusal stores nothing");

    attend(&app.db, "C10", "講習会10", date!(2026 - 12 - 01), &[("1", 50)], Status::Confirmed).await;
    let issued = issue(&app.db, &app.signer, Doc::JmaCertificate, NUMBER, now).await.unwrap();
    let cert = issued.content.certificate.clone().unwrap();
    assert_eq!((cert.achieved, cert.minimum), (Units(6000), Units(6000)));
    assert_eq!(issued.content.rows.len(), 11, "only rows within the window");
    assert_eq!(issued.content.totals[0].units, Units(5000));
    assert_eq!(issued.content.totals[0].distinct_codes, 10);
    let dir = tempfile::tempdir().unwrap();
    let pdf = write_pdf(&app.db, dir.path(), &issued, &service(&app)).await;
    let text = run(Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"));
    assert!(text.contains("日医生涯教育認定証") && text.contains("60（基準 60）"), "{text}");
}

async fn statement_covers_one_fiscal_year_and_empty_periods_are_refused(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    seed_three(&app.db).await;
    attend(&app.db, "EV5", "翌年度の講演会", date!(2027 - 04 - 01), &[("74", 100)], Status::Confirmed).await;
    let issued =
        issue(&app.db, &app.signer, Doc::Statement { fiscal_year: 2026 }, NUMBER, NOW).await.unwrap();
    assert_eq!(issued.content.kind, Kind::Statement);
    assert_eq!(
        (issued.content.period.from, issued.content.period.to),
        (date!(2026 - 04 - 01), date!(2027 - 03 - 31))
    );
    assert_eq!(issued.content.rows.len(), 3);
    assert_eq!(issued.content.totals[0].units, Units(450));
    assert_eq!(issued.content.totals[0].distinct_codes, 4);
    assert_eq!((issued.record.period_from, issued.record.period_to), (20_260_401, 20_270_331));

    let none = issue(&app.db, &app.signer, Doc::Statement { fiscal_year: 2020 }, NUMBER, NOW).await;
    assert!(matches!(none, Err(DocumentError::NoRecords { .. })), "{none:?}");
    let backwards = Doc::Attendance { from: date!(2027 - 01 - 01), to: date!(2026 - 01 - 01) };
    let err = issue(&app.db, &app.signer, backwards, NUMBER, NOW).await;
    assert!(matches!(err, Err(DocumentError::BadPeriod { .. })), "{err:?}");
    let err = issue(&app.db, &app.signer, fy2026(), "999999", NOW).await;
    assert!(matches!(err, Err(DocumentError::UnknownDoctor(_))), "{err:?}");
}

async fn verify_page_screenshot_in_chromium(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    seed_three(&app.db).await;
    let issued = issue(&app.db, &app.signer, fy2026(), NUMBER, app.clock.now()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app.router()).into_future());
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("verify.png");
    let url = format!("http://{addr}/v/{}?lang=ja", issued.record.id);
    let status = tokio::process::Command::new("/usr/bin/chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1200,1600",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    server.abort();
    assert!(status.success(), "chromium failed");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");
    keep_screenshot(&shot, "verify.png");
}

async fn owner_pdf_only_for_the_owner_of_a_document_in_force(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    seed_three(&app.db).await;
    let issued = issue(&app.db, &app.signer, fy2026(), NUMBER, NOW).await.unwrap();
    let id = issued.record.id.as_str();
    let service = service(&app);
    let pdf = service.owned_pdf(&app.db, id, NUMBER, NOW).await.unwrap().expect("the owner's PDF");
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(service.owned_pdf(&app.db, id, "234567", NOW).await.unwrap(), None, "someone else's");
    assert_eq!(service.owned_pdf(&app.db, "AAAAAAAAAAAAAAAAAAAAAA", NUMBER, NOW).await.unwrap(), None);
    update_document_revoked(&app.db, id, "誤り", NOW).await.unwrap();
    assert_eq!(service.owned_pdf(&app.db, id, NUMBER, NOW).await.unwrap(), None, "revoked");

    let missing = DocumentService::with_font_search(
        app.signer.clone(),
        "/nonexistent/font.ttc".into(),
        portal::documents::pdf::FontSearch::Dirs(vec![]),
    );
    let again = issue(&app.db, &app.signer, fy2026(), NUMBER, NOW).await.unwrap();
    let err = missing.owned_pdf(&app.db, &again.record.id, NUMBER, NOW).await.unwrap_err();
    assert!(err.to_string().contains("install Debian package fonts-noto-cjk"), "{err}");
}

async fn pdf_and_verify_page_name_the_codes_and_fit_long_system_names(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    add_doctor(&app.db).await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    let credits =
        vec![Credit { system_id: "jma_kakaritsuke".into(), code: "applied".into(), units: Units(100) }];
    let event = Event {
        id: "K1".into(),
        title: "かかりつけ医応用研修".into(),
        organizer: "日本医師会".into(),
        starts_on: date!(2026 - 06 - 01),
        ends_on: date!(2026 - 06 - 01),
        venue: None,
        online: false,
        credits: credits.clone(),
    };
    create_event(&mut conn, &event, NOW).await.unwrap();
    let a = NewAttendance {
        idempotency_key: format!("K1/{NUMBER}"),
        registration_number: NUMBER.into(),
        event_id: "K1".into(),
        attended_on: date!(2026 - 06 - 01),
        status: Status::Confirmed,
        source: "import".into(),
        credits,
    };
    create_attendances(&mut conn, &[a], NOW).await.unwrap();
    drop(conn);
    let issued = issue(&app.db, &app.signer, fy2026(), NUMBER, NOW).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let pdf = write_pdf(&app.db, dir.path(), &issued, &service(&app)).await;
    let text = run(Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"));
    let row = text.lines().find(|l| l.contains("2026-06-01")).unwrap_or_else(|| panic!("no row:\n{text}"));
    assert!(row.contains("日医かかりつけ医機能研修制度"), "the whole system name, set smaller:\n{text}");
    assert!(row.contains("応用研修") && !row.contains("applied"), "the code by its name:\n{text}");

    let id = issued.record.id.as_str();
    let (status, html) = get(&app, &format!("/v/{id}"), "text/html").await;
    assert_eq!(status, 200);
    assert!(html.contains("<td class=\"num\">1</td><td>応用研修</td>"), "{html}");
    let (_, html_en) = get(&app, &format!("/v/{id}?lang=en"), "text/html").await;
    assert!(html_en.contains("<td class=\"num\">1</td><td>Applied training</td>"), "{html_en}");
}

/// The 資格確認書: the card's qualification as the idp checked it, in the PDF with its QR code;
/// the verification page shows it and asks the idp about the card again (unreachable here: the
/// page says the card's state cannot be checked now); revoked, it says so. The doctor's form
/// refuses without a card, and with the idp unreachable.
async fn qualification_certificate_pdf_and_its_verify_page(env: TestEnv) {
    let app = TestApp::at(env, NOW).await;
    add_doctor(&app.db).await;
    let q = portal::documents::Qualification {
        hc_roles: vec!["Medical Doctor".into()],
        card_issuer: "C=JP, O=JMA, CN=HPKI Test CA".into(),
        card_subscriber: "TESTJ00001".into(),
        card_valid_until: date!(2030 - 03 - 31),
        checked_at: NOW - 5,
    };
    let issued =
        portal::documents::issue_qualification(&app.db, &app.signer, q.clone(), NUMBER, NOW).await.unwrap();
    assert_eq!((issued.content.kind, issued.record.kind.as_str()), (Kind::Qualification, "qualification"));
    assert_eq!(issued.content.period.from, issued.content.period.to);

    let dir = tempfile::tempdir().unwrap();
    let pdf = write_pdf(&app.db, dir.path(), &issued, &service(&app)).await;
    let text = run(Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-"));
    for expected in [
        "資格確認書",
        "Certificate of qualification",
        "太郎（ヤマダ",
        NUMBER,
        "医師（Medical Doctor）",
        "2030-03-31",
        "2027-04-10 11:59（日本時間）",
        "医師資格証により確認したことを証明します",
        issued.record.id.as_str(),
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let png = dir.path().join("page");
    run(Command::new("pdftoppm").args(["-r", "150", "-png", "-singlefile"]).arg(&pdf).arg(&png));
    let png = png.with_extension("png");
    let url = run(Command::new("zbarimg").args(["--raw", "-q"]).arg(&png));
    assert_eq!(url.trim(), issued.content.verify_url);
    keep_screenshot(&png, "qualification.png");

    let path = url.trim().trim_start_matches(crate::PUBLIC_URL).to_owned();
    let (status, _, html) = app.get(&path, "").await;
    assert_eq!(status, 200);
    assert!(html.contains("真正な文書です") && html.contains("資格確認書"), "{html}");
    assert!(html.contains("id=\"doc-qualification\">医師<"), "{html}");
    assert!(html.contains("data-card-now=\"unavailable\""), "the idp is not running here: {html}");
    let (_, _, json) = app.get(&format!("{path}.json"), "").await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["card_now"], "unavailable");
    assert_eq!(json["content"]["qualification"]["card_valid_until"], "2030-03-31");
    assert_eq!(json["content"]["qualification"]["hc_roles"][0], "Medical Doctor");

    update_document_revoked(&app.db, &issued.record.id, "資格確認の誤り", NOW).await.unwrap();
    let (_, _, html) = app.get(&path, "").await;
    assert!(html.contains("失効した文書です") && !html.contains("data-card-now"), "{html}");

    // The form: a doctor signed in without a card, then with one (the idp unreachable).
    let doctor = app.linked_doctor("doc-q", "654321", "佐藤　花子").await;
    let form = [("kind", "qualification")];
    let (status, _, html) = app.post_form("/documents", &doctor, &form).await;
    assert!(status == 422 && html.contains("医師資格証でサインインしてください"), "{status} {html}");
    let (_, _, html) = app.get("/documents", &doctor).await;
    assert!(html.contains("value=\"qualification\" disabled"), "{html}");
    let with_card = app.sign_in_with_card("doc-q", "佐藤　花子", "TESTJ00002").await;
    let (status, _, html) = app.post_form("/documents", &with_card, &form).await;
    assert!(status == 422 && html.contains("現在、医師資格証を確認できないため"), "{status} {html}");
}
