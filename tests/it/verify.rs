//! Staff verify a doctor, end to end through the binary (`serve demo`) in headless Chromium: the
//! doctor signs in with the (virtual) card and makes a share on `/shares`; a clerk with no
//! account opens its link, confirms, and sees the card checked at the idp as of now — name,
//! kana, qualification, registration number, validity, credits — on a printable page
//! (screenshot); the short code works from another browser; the doctor revokes the share and the
//! link is refused; the doctor's `/account` lists every check with the clerk's address.

use std::path::PathBuf;

use base64::Engine;
use serde_json::Value;

use crate::Workdir;
use crate::webdriver::WebDriver;

fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("screenshots")
}

#[tokio::test]
async fn a_clerk_confirms_a_doctor_from_a_shared_link_and_the_doctor_sees_the_check() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let portal = server.portal("");

    let doctor = WebDriver::start().await;
    let page = doctor.goto(&format!("{portal}/login")).await;
    assert!(page.url.contains("/login?request="), "{page}");
    let card = "form[action='/login/virtual-card']:has(input[name=card][value=doctor-auth]) button";
    let page = doctor.submit(card).await;
    assert_eq!(page.url, format!("{portal}/"), "{page}");
    let page = doctor.click_to_next_page("#shares-link").await;
    page.assert_not_error();
    for field in ["kana", "registration_number", "credits"] {
        doctor.click(&doctor.find(&format!("input[name=field][value={field}]")).await).await;
    }
    doctor.click(&doctor.find("input[name=uses][value=many]").await).await;
    let page = doctor.submit("#share-create").await;
    page.assert_not_error();
    let link = doctor.execute("return document.getElementById('share-link').href;", vec![]).await;
    let link = link.as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{portal}/verify/")), "{link}");
    let code = doctor.text_of(&doctor.find("#share-code").await).await;

    // The clerk: no account, a fresh browser.
    let clerk = WebDriver::start().await;
    let page = clerk.goto(&format!("{link}?lang=ja")).await;
    page.assert_not_error();
    page.assert_text("医師が資格の確認を共有しています");
    let page = clerk.submit("#confirm-form button[type=submit]").await;
    page.assert_not_error();
    page.assert_text("医師資格証は有効です");
    let fact = |id: &'static str| {
        let clerk = &clerk;
        async move { clerk.text_of(&clerk.find(id).await).await }
    };
    assert!(fact("#fact-name").await.starts_with("日本　太郎"), "{page}");
    assert_eq!(fact("#fact-kana").await, "ニホン　タロウ");
    assert_eq!(fact("#fact-qualification").await, "医師");
    assert_eq!(fact("#fact-registration").await, "512345");
    let validity = fact("#fact-validity").await;
    assert!(validity.starts_with("有効・失効していません（証明書の有効期限 20"), "{validity}");
    let credits = fact("#fact-credits").await;
    let year = portal::credits::FiscalYear::of(keys::Clock::system().today()).0;
    assert!(credits.contains(&format!("{year}年度")), "{credits}");
    assert!(
        credits.contains("日医生涯教育制度") && credits.contains("日医かかりつけ医機能研修制度"),
        "{credits}"
    );
    let shot: Value = clerk.command("GET", "/screenshot", Value::Null).await;
    let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap()).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a screenshot");
    std::fs::create_dir_all(screenshot_dir()).unwrap();
    std::fs::write(screenshot_dir().join("verify-share.png"), png).unwrap();

    // The short code, typed in another browser (lower case, without the dash), in English.
    let other = WebDriver::start().await;
    other.goto(&format!("{portal}/verify?lang=en")).await.assert_not_error();
    other.fill("#share-code-input", &code.replace('-', "").to_lowercase()).await;
    let page = other.submit("#code-form button[type=submit]").await;
    page.assert_text("The doctor card is valid");
    page.assert_text("Medical Doctor");

    // The doctor revokes the share: the link is refused, unmistakably.
    doctor.goto(&format!("{portal}/shares?lang=ja")).await;
    let page = doctor.submit("#share-list tr[data-status=active] button[type=submit]").await;
    page.assert_not_error();
    let page = clerk.goto(&format!("{link}?lang=ja")).await;
    page.assert_text("この共有は取り消されています");
    assert_eq!(
        clerk.execute("return document.getElementById('check-result').dataset.result;", vec![]).await,
        "revoked"
    );

    // Every check on the doctor's account page, with the clerk's address.
    doctor.goto(&format!("{portal}/")).await;
    let page = doctor.click_to_next_page("#account-link").await;
    page.assert_not_error();
    let rows = doctor
        .execute(
            "return Array.from(document.querySelectorAll('#verification-log tbody tr')).map(r => r.innerText);",
            vec![],
        )
        .await;
    let rows: Vec<String> = rows.as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[0].contains("取り消し済み") && rows[0].contains("127.0.0.1"), "{rows:?}");
    assert!(rows[1..].iter().all(|r| r.contains("表示") && r.contains("医籍登録番号")), "{rows:?}");
    drop((doctor, clerk, other));
    assert_eq!(server.terminate(), Some(0));
}

/// The in-person check with real parts: the clerk's Chromium has the card bridge extension and
/// the real host, the reader is SoftHSM2 holding the demo doctor's card; the doctor enters the
/// PIN in the bridge's PIN window; the page shows who it is; a revoked card is refused; the check
/// is in the doctor's log.
#[tokio::test]
async fn a_clerk_checks_a_doctor_in_person_with_the_card_and_pin() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let portal = server.portal("");

    // The doctor has signed in to the portal with this card before (it is theirs).
    let doctor = WebDriver::start().await;
    doctor.goto(&format!("{portal}/login")).await;
    let card = "form[action='/login/virtual-card']:has(input[name=card][value=doctor-auth]) button";
    let page = doctor.submit(card).await;
    assert_eq!(page.url, format!("{portal}/"), "{page}");

    let reader = crate::kiosk::Reader::new().await;
    let (clerk, _config, _lock) = crate::kiosk::kiosk_browser(&reader, &portal).await;
    let prompt_url = "chrome-extension://fagohgkpphfndknmajceahcohidaebje/prompt.html";
    clerk.goto(&format!("{portal}/verify?lang=ja")).await.assert_not_error();
    let page = clerk.click_to_next_page("#in-person-link").await;
    page.assert_text("医師ご本人が暗証番号を入力します");

    reader.hold("doctor-auth");
    clerk.click(&clerk.find("#card-login button[type=submit]").await).await;
    let mut pin = crate::cdp::wait_for_page(clerk.debugger_address(), prompt_url).await;
    pin.wait_for("document.activeElement && document.activeElement.id === 'pin'").await;
    let asked = pin.text().await;
    let host = portal.trim_start_matches("http://");
    assert!(asked.contains(host), "the PIN window names the page asking: {asked}");
    pin.type_text(crate::kiosk::PIN).await;
    pin.press("Enter", 13).await;
    let result = clerk.wait_for("#check-result").await;
    let page = clerk.page().await;
    assert_eq!(clerk.property(&result, "dataset").await["result"], "in_person", "{page}");
    page.assert_text("医師資格証と暗証番号で本人を確認しました");
    assert!(clerk.text_of(&clerk.find("#fact-name").await).await.starts_with("日本　太郎"), "{page}");
    assert_eq!(clerk.text_of(&clerk.find("#fact-qualification").await).await, "医師");
    let validity = clerk.text_of(&clerk.find("#fact-validity").await).await;
    assert!(validity.starts_with("有効・失効していません"), "{validity}");

    // The doctor cancels in the PIN window: the page says so, and nothing is checked.
    clerk.goto(&format!("{portal}/verify/in-person?lang=ja")).await;
    clerk.click(&clerk.find("#card-login button[type=submit]").await).await;
    let mut pin = crate::cdp::wait_for_page(clerk.debugger_address(), prompt_url).await;
    pin.click("#cancel").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status =
            clerk.execute("return document.getElementById('card-status').textContent;", vec![]).await;
        if status.as_str().is_some_and(|s| s == "確認を中止しました。 (ERR_WEBEID_USER_CANCELLED)")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no cancel text: {status}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // A revoked card, with the right PIN: refused, unmistakably.
    reader.take_away();
    reader.hold("revoked-doctor-auth");
    clerk.goto(&format!("{portal}/verify/in-person?lang=ja")).await;
    clerk.click(&clerk.find("#card-login button[type=submit]").await).await;
    let mut pin = crate::cdp::wait_for_page(clerk.debugger_address(), prompt_url).await;
    pin.wait_for("document.activeElement && document.activeElement.id === 'pin'").await;
    pin.type_text(crate::kiosk::PIN).await;
    pin.press("Enter", 13).await;
    clerk.wait_for("#check-result[data-result=card_revoked]").await;
    clerk.page().await.assert_text("医師資格証は失効しています");

    // The doctor's log: the check, in person, with what was shown.
    let page = doctor.goto(&format!("{portal}/account?lang=ja")).await;
    page.assert_not_error();
    let rows = doctor
        .execute(
            "return Array.from(document.querySelectorAll('#verification-log tbody tr')).map(r => r.innerText);",
            vec![],
        )
        .await;
    let rows: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("対面（医師資格証）") && rows[0].contains("表示"), "{rows:?}");
    assert!(rows[0].contains("資格（医師資格証の資格名）") && rows[0].contains("127.0.0.1"), "{rows:?}");
    drop((doctor, clerk));
    assert_eq!(server.terminate(), Some(0));
}

/// The 資格確認書 end to end: the doctor, signed in with the (virtual) card, issues it on
/// `/documents`; the PDF's QR code (pdftotext, pdftoppm, zbarimg) leads a clerk to its page,
/// which shows the card still valid now (asked at the idp); the operator revokes it with the CLI
/// and the page says so.
#[tokio::test]
async fn a_doctor_issues_a_qualification_certificate_a_clerk_checks_it_and_the_operator_revokes_it() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let portal = server.portal("");
    let doctor = WebDriver::start().await;
    doctor.goto(&format!("{portal}/login")).await;
    let card = "form[action='/login/virtual-card']:has(input[name=card][value=doctor-auth]) button";
    doctor.submit(card).await.assert_not_error();
    let page = doctor.goto(&format!("{portal}/documents?lang=ja")).await;
    page.assert_text("資格確認書");
    doctor.click(&doctor.find("input[name=kind][value=qualification]").await).await;
    let page = doctor.submit("form.issue button[type=submit]").await;
    page.assert_not_error();
    doctor.find("#issued-notice").await;
    let id = doctor
        .execute(
            "return document.querySelector('#documents tr[data-kind=qualification]').dataset.id;",
            vec![],
        )
        .await;
    let id = id.as_str().unwrap().to_owned();
    let pdf = doctor
        .execute(
            "return fetch('/documents/' + arguments[0] + '.pdf').then(r => r.arrayBuffer()).then(b => {\
               let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x)); return btoa(s); });",
            vec![Value::String(id.clone())],
        )
        .await;
    let pdf = base64::engine::general_purpose::STANDARD.decode(pdf.as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(std::process::Command::new("pdftotext").arg("-layout").arg(&file).arg("-"));
    assert!(text.contains("資格確認書") && text.contains("医師（Medical Doctor）"), "{text}");
    assert!(text.contains("512345"), "{text}");
    let png = dir.path().join("q");
    run(std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(&file)
        .arg(&png));
    let url = run(std::process::Command::new("zbarimg").args(["--raw", "-q"]).arg(png.with_extension("png")));
    assert_eq!(url.trim(), format!("{portal}/v/{id}"));

    let clerk = WebDriver::start().await;
    let page = clerk.goto(&format!("{}?lang=ja", url.trim())).await;
    page.assert_text("真正な文書です");
    page.assert_text("現在も医師資格証は有効です");
    assert_eq!(clerk.text_of(&clerk.find("#doc-qualification").await).await, "医師");

    let out = w.run(&["admin", "document", "revoke", &id, "--reason", "資格確認書の記載誤り"]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let page = clerk.goto(&format!("{}?lang=ja", url.trim())).await;
    page.assert_text("失効した文書です");
    page.assert_text("資格確認書の記載誤り");
    drop((doctor, clerk));
    assert_eq!(server.terminate(), Some(0));
}
