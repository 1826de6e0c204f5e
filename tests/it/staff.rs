//! Office staff without a card and emergency sign-ins, end to end through the binary: `admin staff invite` prints a
//! link; in headless Chromium with a virtual authenticator (DevTools WebAuthn domain) the
//! invitee registers a passkey there, then signs in to the portal with it and runs its
//! organizer pages; `admin staff list`, `admin account grant-role --account` and
//! `admin staff remove`. The idp's public URL is `http://localhost:PORT`, as passkeys need.

use serde_json::{Value, json};

use crate::webdriver::WebDriver;
use crate::{Workdir, stderr, stdout};

fn json_out(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(stdout(out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

async fn cdp(wd: &WebDriver, cmd: &str, params: Value) -> Value {
    wd.command("POST", "/goog/cdp/execute", json!({ "cmd": cmd, "params": params })).await
}

#[tokio::test]
async fn an_invited_organizer_signs_in_with_a_passkey_and_runs_the_organizer_pages() {
    let (idp_port, portal_port) = (storage::testing::free_port(), storage::testing::free_port());
    let idp = format!("http://localhost:{idp_port}");
    let w = Workdir::new().env("SHIKAKU_IDP_PUBLIC_URL", &idp);
    let server = w.start_on(&["demo"], idp_port, portal_port).await;

    let out = w.run(&["admin", "staff", "invite", "--name", "事務局 花子", "--role", "organizer"]);
    let invited = json_out(&out);
    let account = invited["account_id"].as_str().unwrap().to_owned();
    let link = invited["link"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{idp}/staff/invite#")), "{invited}");
    assert_eq!(invited["roles"], json!(["organizer"]));
    let bad = w.run(&["admin", "staff", "invite", "--name", "x", "--role", "Bad Role"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("must be 1 to 32 of a-z 0-9 _ -"), "{}", stderr(&bad));

    // A browser without passkey autofill, so the sign-in page's button asks.
    let wd = WebDriver::start().await;
    let source = "if (window.PublicKeyCredential) \
                  PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);";
    cdp(&wd, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": source })).await;
    cdp(&wd, "WebAuthn.enable", json!({})).await;
    let options = json!({ "options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
        "hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true } });
    cdp(&wd, "WebAuthn.addVirtualAuthenticator", options).await;

    wd.goto(&format!("{idp}/?lang=ja")).await.assert_not_error();
    wd.goto(&link).await;
    wd.wait_for("#staff-register:not([hidden])").await;
    wd.fill("#passkey-name", "事務局の端末").await;
    let page = wd.click_to_next_page("#staff-register button[type=submit]").await;
    assert_eq!(page.url, format!("{idp}/account"), "{page}");
    page.assert_text("事務局の端末");
    let page = wd.submit("form[action='/account/sessions/end'] button[type=submit]").await;
    page.assert_not_error();

    // The portal: its sign-in goes to the idp, where the passkey signs in; the organizer pages
    // open with the demo's events.
    let portal = server.portal("");
    wd.goto(&format!("{portal}/organizer/events?lang=ja")).await;
    let page = wd.goto(&format!("{portal}/login")).await;
    assert!(page.url.starts_with(&format!("{idp}/login?request=")), "{page}");
    wd.wait_for("#passkey-login:not([hidden]) button[type=submit]").await;
    let page = wd.click_to_next_page("#passkey-login button[type=submit]").await;
    assert_eq!(page.url, format!("{portal}/"), "{page}");
    page.assert_text("事務局 花子");
    let page = wd.goto(&format!("{portal}/organizer/events")).await;
    page.assert_not_error();
    page.assert_text("糖尿病診療の最新知見");

    // Listed with role and passkey; a role granted the same way as to card holders.
    let list = stdout(&w.run(&["admin", "staff", "list"]));
    let listed: Value = serde_json::from_str(list.lines().next().expect("one staff account")).unwrap();
    assert_eq!(listed["id"], account.as_str());
    assert_eq!(listed["kind"], "staff");
    assert_eq!(listed["roles"], json!(["organizer"]));
    assert_eq!(listed["passkeys"][0]["name"], "事務局の端末");
    let granted = json_out(&w.run(&["admin", "account", "grant-role", "--account", &account, "operator"]));
    assert_eq!(granted["roles"], json!(["operator", "organizer"]));
    let doctor = w.run(&["admin", "staff", "remove", "no-such-account"]);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(stderr(&doctor).contains("no account \"no-such-account\""), "{}", stderr(&doctor));

    // Removed: its passkey no longer signs in, and the account stays listed as removed.
    let removed = json_out(&w.run(&["admin", "staff", "remove", &account]));
    assert_eq!(removed["status"], "removed");
    let listed: Value = serde_json::from_str(stdout(&w.run(&["admin", "staff", "list"])).trim()).unwrap();
    assert_eq!(listed["status"], "removed");
    assert_eq!(listed["passkeys"], json!([]));
    let resumed = w.run(&["admin", "account", "resume", &account]);
    assert_eq!(resumed.status.code(), Some(1));
    assert!(stderr(&resumed).contains("was removed"), "{}", stderr(&resumed));
    wd.goto(&format!("{idp}/login?lang=ja")).await;
    wd.wait_for("#passkey-login:not([hidden]) button[type=submit]").await;
    let button = wd.find("#passkey-login button[type=submit]").await;
    wd.click(&button).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status =
            wd.execute("return document.getElementById('passkey-status').textContent;", vec![]).await;
        if status.as_str().is_some_and(|s| s.contains("passkey_unknown")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not refused: {status}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(wd);
    assert_eq!(server.terminate(), Some(0));
}

/// `admin account emergency`: the link it prints signs the doctor in once; refusals name the
/// problem.
#[tokio::test]
async fn an_operator_issues_an_emergency_sign_in_that_works_once() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let idp = server.idp("");
    // The doctor's account exists once they have signed in with the (virtual) card.
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = b.get(server.idp("/login")).send().await.unwrap().text().await.unwrap();
    let at = html.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    let csrf = html[at..at + 43].to_owned();
    let res = b
        .post(server.idp("/login/virtual-card"))
        .header("origin", &idp)
        .form(&[("csrf_token", csrf.as_str()), ("card", "doctor-auth")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let accounts = stdout(&w.run(&["admin", "account", "list"]));
    let account: Value = serde_json::from_str(accounts.lines().next().unwrap()).unwrap();
    let id = account["id"].as_str().unwrap();

    let missing = w.run(&["admin", "account", "emergency", id]);
    assert_eq!(missing.status.code(), Some(2), "--reason is required");
    let blank = w.run(&["admin", "account", "emergency", id, "--reason", " "]);
    assert_eq!(blank.status.code(), Some(1));
    assert_eq!(stderr(&blank).trim(), "error: the reason must be 1 to 500 characters");
    let nobody = w.run(&["admin", "account", "emergency", "nobody", "--reason", "lost"]);
    assert_eq!(stderr(&nobody).trim(), "error: no account \"nobody\"");
    let issued = json_out(&w.run(&[
        "admin",
        "--actor",
        "operator-suzuki",
        "account",
        "emergency",
        id,
        "--reason",
        "card lost",
        "--valid-hours",
        "2",
    ]));
    let link = issued["link"].as_str().unwrap();
    // The link is on the configured public URL (the default here; the server got other ports).
    let token =
        link.strip_prefix("http://127.0.0.1:8080/login/emergency#").unwrap_or_else(|| panic!("{issued}"));
    let log = stdout(&w.run(&["admin", "audit", "verify"]));
    assert!(log.contains("intact"), "{log}");

    let page = b.get(server.idp("/login/emergency")).send().await.unwrap().text().await.unwrap();
    let at = page.find("name=\"csrf-token\" content=\"").unwrap() + 27;
    let csrf = page[at..at + 43].to_owned();
    let post = || {
        b.post(server.idp("/login/emergency"))
            .header("origin", &idp)
            .header("x-csrf-token", &csrf)
            .header("accept-language", "en")
            .json(&json!({ "token": token }))
            .send()
    };
    let res = post().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["next"], "/account");
    let again = post().await.unwrap();
    assert_eq!(again.status(), 410);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["code"], "grant_unusable", "{body}");
    assert_eq!(
        body["detail"],
        "This emergency sign-in has been used or has expired. Please contact the operator."
    );
    assert_eq!(server.terminate(), Some(0));
}
