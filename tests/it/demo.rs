//! `shikaku demo`: from the portal's sign-in button through the idp with a virtual card and
//! back, then signing out through the idp — over real HTTP, as a browser would.

use crate::Workdir;

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").expect("a form with a CSRF token") + 25;
    html[at..at + 43].to_owned()
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") { location.to_owned() } else { format!("{base}{location}") }
}

/// Follows redirects by hand (so that every hop is visible), returning the final response.
async fn follow(
    b: &reqwest::Client,
    mut url: String,
    base_of: impl Fn(&str) -> String,
) -> (String, reqwest::Response) {
    for _ in 0..10 {
        let res = b.get(&url).send().await.unwrap();
        if !res.status().is_redirection() {
            return (url, res);
        }
        url = absolute(&base_of(&url), &location(&res));
    }
    panic!("too many redirects");
}

#[tokio::test]
async fn demo_sign_in_from_the_portal_and_out_again() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let idp = server.idp("");
    let portal = server.portal("");
    let base_of = |url: &str| if url.starts_with(&idp) { idp.clone() } else { portal.clone() };
    let b = browser();

    // The portal's home offers sign-in; /login goes to the idp's authorization endpoint.
    let home = b.get(server.portal("/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("href=\"/login\""), "{home}");
    let (url, page) = follow(&b, server.portal("/login"), base_of).await;
    assert!(url.starts_with(&format!("{idp}/login?request=")), "{url}");
    let html = page.text().await.unwrap();
    assert!(html.contains("デモ用の仮想カード"), "virtual cards offered in demo mode");
    assert!(html.contains("資格 ポータル"), "the client's name is shown");

    // The revoked virtual card is refused with a readable page.
    let request = url.split("request=").nth(1).unwrap().to_owned();
    let refused = b
        .post(server.idp("/login/virtual-card"))
        .header("origin", &idp)
        .form(&[
            ("csrf_token", csrf_of(&html)),
            ("request", request.clone()),
            ("card", "revoked-doctor-auth".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("仮想カードは受け付けられませんでした"), "{refused}");
    // The way back is the sign-in page of the same request, not the idp's root.
    // (tera escapes `/` in the attribute as `&#x2F;`; the browser reads `/login?request=…`.)
    let back = format!("<a href=\"&#x2F;login?request={request}\">ログインページへ戻る</a>");
    assert!(refused.contains(&back), "{refused}");
    assert!(html.contains("（失効）") && !html.contains("失効 / revoked"), "one language: {html}");

    // The doctor's virtual card signs in and lands back on the portal, signed in.
    let res = b
        .post(server.idp("/login/virtual-card"))
        .header("origin", &idp)
        .form(&[("csrf_token", csrf_of(&html)), ("request", request), ("card", "doctor-auth".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (url, page) = follow(&b, absolute(&idp, &location(&res)), base_of).await;
    assert_eq!(url, server.portal("/"));
    let home = page.text().await.unwrap();
    assert!(home.contains("ログイン中:"), "{home}");
    assert!(home.contains("<p>資格: 医師</p>"), "the qualification in Japanese: {home}");

    // The idp released the registration number (scope `license`), so the demo doctor's
    // history is there at once: seeded records, totals and progress toward the certificate.
    let history = b.get(server.portal("/history")).send().await.unwrap();
    assert_eq!(history.status(), 200);
    let history = history.text().await.unwrap();
    assert!(history.contains("512345"), "{history}");
    assert!(history.contains("認定までの進捗") && history.contains("糖尿病診療の最新知見"), "{history}");
    assert!(!history.contains("医籍登録番号の登録が必要です"), "{history}");

    // Sign out: the portal session ends and the idp's end-session endpoint brings us back.
    let res = b
        .post(server.portal("/logout"))
        .header("origin", &portal)
        .form(&[("csrf_token", csrf_of(&home))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to_idp = location(&res);
    assert!(to_idp.starts_with(&format!("{idp}/logout?")), "{to_idp}");
    let (url, page) = follow(&b, to_idp, base_of).await;
    assert_eq!(url, server.portal("/"));
    assert!(page.text().await.unwrap().contains("href=\"/login\""), "signed out of the portal");
    // And out of the idp: a new sign-in asks for the card again.
    let (url, _) = follow(&b, server.portal("/login"), base_of).await;
    assert!(url.starts_with(&format!("{idp}/login?request=")), "{url}");

    // The start's CRL refresh (long done) did not try the demo PKI's own distribution points
    // (`crl.shikaku.invalid`, loaded locally), and a log file gets no colour codes.
    let log = server.log();
    assert!(log.contains("idp listening"), "{log}");
    assert!(!log.contains("CRL fetch failed") && !log.contains("crl.shikaku.invalid"), "{log}");
    assert!(!log.contains('\x1b'), "ANSI escape codes in a log file: {log}");
    assert_eq!(server.terminate(), Some(0));
}

/// (doctors, idp registry entries, attendance records) in the demo's SQLite database.
async fn seeded(w: &Workdir) -> (i64, i64, i64) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", w.path().join("data/shikaku.db").display());
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let mut n = Vec::new();
    for table in ["doctors", "identity_attributes", "attendances"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        n.push(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await.unwrap());
    }
    conn.close().await.ok();
    (n[0], n[1], n[2])
}

#[tokio::test]
async fn demo_seeds_doctors_and_attendance_once() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    assert_eq!(server.terminate(), Some(0));
    // Four demo doctors with their cards in the idp's registry; 75 events attended and 11
    // family-doctor trainings.
    assert_eq!(seeded(&w).await, (4, 4, 86));
    let server = w.start(&["serve", "--demo"]).await;
    assert_eq!(server.terminate(), Some(0));
    assert_eq!(seeded(&w).await, (4, 4, 86), "a restart changes nothing");
}

#[tokio::test]
async fn the_demo_director_is_an_organizer() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let idp = server.idp("");
    let portal = server.portal("");
    let base_of = |url: &str| if url.starts_with(&idp) { idp.clone() } else { portal.clone() };
    let b = browser();
    let (url, page) = follow(&b, server.portal("/login"), base_of).await;
    let html = page.text().await.unwrap();
    let request = url.split("request=").nth(1).unwrap().to_owned();
    let res = b
        .post(server.idp("/login/virtual-card"))
        .header("origin", &idp)
        .form(&[("csrf_token", csrf_of(&html)), ("request", request), ("card", "director-auth".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (url, _) = follow(&b, absolute(&idp, &location(&res)), base_of).await;
    assert_eq!(url, server.portal("/"));
    // The `roles` claim says organizer: the organizer pages open and list the demo's events.
    let events = b.get(server.portal("/organizer/events")).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let events = events.text().await.unwrap();
    assert!(events.contains("糖尿病診療の最新知見"), "{events}");
    assert_eq!(server.terminate(), Some(0));

    // The operator withdraws the role; the holder keeps signing in but is no organizer.
    let list = w.run(&["admin", "account", "list"]);
    let accounts = crate::stdout(&list);
    let director =
        accounts.lines().find(|l| l.contains("Director of Hospital")).expect("the director's account");
    let card: serde_json::Value = serde_json::from_str(director).unwrap();
    let (issuer, subscriber) =
        (card["cards"][0]["issuer"].as_str().unwrap(), card["cards"][0]["subscriber_id"].as_str().unwrap());
    let out = w.run(&[
        "admin",
        "account",
        "revoke-role",
        "--issuer",
        issuer,
        "--subscriber-id",
        subscriber,
        "organizer",
    ]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    assert!(crate::stdout(&out).contains("\"roles\":[]"), "{}", crate::stdout(&out));
    let out = w.run(&[
        "admin",
        "account",
        "revoke-role",
        "--issuer",
        issuer,
        "--subscriber-id",
        subscriber,
        "organizer",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(crate::stderr(&out).contains("has no role \"organizer\""), "{}", crate::stderr(&out));
    let out = w.run(&[
        "admin",
        "account",
        "grant-role",
        "--issuer",
        issuer,
        "--subscriber-id",
        subscriber,
        "Bad Role",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// The same round trip in a real headless Chromium (through chromedriver), the browser
/// clicking the buttons itself: the portal's sign-in link, the idp's virtual-card form, back
/// on the portal signed in, then the portal's sign-out form through the idp's end-session
/// endpoint. The demo runs on its SQLite database (no PostgreSQL variant).
#[tokio::test]
async fn demo_sign_in_and_out_in_chromium() {
    use crate::webdriver::WebDriver;

    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let idp = server.idp("");
    let wd = WebDriver::start().await;

    let page = wd.goto(&server.portal("/?lang=ja")).await;
    page.assert_not_error();
    let page = wd.click_to_next_page("a[href='/login']").await;
    page.assert_not_error();
    assert!(page.url.starts_with(&format!("{idp}/login?request=")), "{page}");

    let card = "form[action='/login/virtual-card']:has(input[name=card][value=doctor-auth]) button";
    let page = wd.submit(card).await;
    page.assert_not_error();
    assert_eq!(page.url, server.portal("/"), "{page}");
    page.assert_text("ログイン中:");

    let page = wd.submit("form[action='/logout'] button[type=submit]").await;
    page.assert_not_error();
    assert_eq!(page.url, server.portal("/"), "back on the portal after the idp's logout: {page}");
    assert!(!page.text.contains("ログイン中:"), "signed out of the portal: {page}");
    assert!(wd.try_find("a[href='/login']").await.is_some(), "{page}");

    // Out of the idp too: signing in again asks for the card.
    let page = wd.click_to_next_page("a[href='/login']").await;
    assert!(page.url.starts_with(&format!("{idp}/login?request=")), "{page}");
    drop(wd);
    assert_eq!(server.terminate(), Some(0));
}

/// Demo mode on an address others can reach is refused before anything is opened or written,
/// unless the loudly named flag is given; the flag alone (without demo mode) is a usage error.
#[tokio::test]
async fn demo_refuses_public_addresses_without_the_flag() {
    let refused = |w: &Workdir, args: &[&str]| {
        let out = w.run(args);
        let err = crate::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(!w.path().join("data").exists(), "nothing is created: {args:?}");
        err.lines().find(|l| l.starts_with("error: ")).unwrap_or_default().to_owned()
    };
    let w = Workdir::new().env("SHIKAKU_IDP_PUBLIC_URL", "https://id.example.jp");
    assert_eq!(
        refused(&w, &["serve", "--demo"]),
        "error: demo mode refuses to start on a non-loopback address (`idp_public_url` \
         https://id.example.jp): its virtual cards sign anyone in. Use 127.0.0.1 or localhost, \
         or pass --demo-on-public-address to expose the demo on purpose"
    );
    let w = Workdir::new()
        .env("SHIKAKU_PORTAL_PUBLIC_URL", "http://[::1]:8081")
        .env("SHIKAKU_IDP_LISTEN", "0.0.0.0:8080");
    assert!(refused(&w, &["demo"]).contains(", `idp_listen` 0.0.0.0:8080):"));

    // The flag belongs to demo mode.
    let out = Workdir::new().run(&["serve", "--demo-on-public-address"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::stderr(&out).contains("--demo"), "{}", crate::stderr(&out));

    // With the flag it starts, and says so in the log. Loopback names (localhost, ::1) alone
    // need no flag.
    let w = Workdir::new().env("SHIKAKU_PORTAL_PUBLIC_URL", "https://portal.example.jp");
    let server = w.start(&["serve", "--demo", "--demo-on-public-address"]).await;
    assert!(server.log().contains("DEMO MODE ON A PUBLIC ADDRESS"), "{}", server.log());
    assert!(server.log().contains("portal.example.jp"));
    assert_eq!(server.terminate(), Some(0));
    let w = Workdir::new().env("SHIKAKU_PORTAL_PUBLIC_URL", "http://localhost:8081");
    let server = w.start(&["demo"]).await;
    assert!(!server.log().contains("PUBLIC ADDRESS"));
}
