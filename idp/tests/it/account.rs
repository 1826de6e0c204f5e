//! `/account`: a person sees their sessions and the services they consented to, ends a session
//! (here or in another browser) and withdraws a consent (which revokes its refresh tokens).

use idp::clients::{AuthMethod, GrantType};
use storage::testing::TestEnv;

use crate::live::{self, Live, REDIRECT, browser, csrf_of, post_as};

storage::each_backend!(sessions_and_consents_on_the_account_page, account_page_needs_a_session);

const APP: &str = "offline-app";

/// The session ids of the page's session rows: (this browser's, the others).
fn session_ids(html: &str) -> (Option<String>, Vec<String>) {
    let mut current = None;
    let mut others = Vec::new();
    for row in html.split("<tr>").skip(1) {
        let Some(at) = row.find("name=\"id\" value=\"") else { continue };
        let id: String = row[at + 17..].chars().take_while(|c| *c != '"').collect();
        if row.contains("このブラウザ") { current = Some(id) } else { others.push(id) }
    }
    (current, others)
}

async fn page(live: &Live, b: &reqwest::Client) -> (u16, String) {
    let res = b.get(live.url("/account")).send().await.unwrap();
    // Signed in or not, the page is never cached.
    assert_eq!(res.headers()["cache-control"], "no-store");
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn post(live: &Live, b: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    b.post(live.url(path)).header("origin", live.app.site.origin()).form(form).send().await.unwrap()
}

async fn sessions_and_consents_on_the_account_page(env: TestEnv) {
    let live = Live::start(env).await;
    let mut c = live::client(APP, AuthMethod::ClientSecretBasic);
    c.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    c.scopes = vec!["openid".into(), "profile".into(), "offline_access".into()];
    live::register(&live.env.db.db, c).await;

    // Two browsers signed in with the same card; the first one got a refresh token.
    let (one, two) = (browser(), browser());
    let (code, verifier) = live::code_in(&live, &one, APP, "openid profile offline_access", &[]).await;
    let (status, tokens) = post_as(
        &live,
        "/token",
        APP,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    live::code_in(&live, &two, APP, "openid profile offline_access", &[]).await;

    let (status, html) = page(&live, &one).await;
    assert_eq!(status, 200, "{html}");
    let (current, others) = session_ids(&html);
    assert!(current.is_some(), "this browser's session is marked: {html}");
    assert_eq!(others.len(), 1, "{html}");
    assert!(html.contains("医師資格証（カード＋PIN）"), "{html}");
    assert!(html.contains("ログイン中： <strong>日本　太郎</strong>"), "who is signed in: {html}");
    assert!(html.contains("地域医療連携ネットワーク") && html.contains("offline_access"), "{html}");

    // End the other browser's session: it is signed out, this one is not.
    let res =
        post(&live, &one, "/account/sessions/end", &[("csrf_token", &csrf_of(&html)), ("id", &others[0])])
            .await;
    assert_eq!(res.status(), 303);
    assert_eq!(live::location(&res), "/account");
    assert_eq!(page(&live, &two).await.0, 401);
    let (status, html) = page(&live, &one).await;
    assert_eq!(status, 200);
    assert_eq!(session_ids(&html).1.len(), 0, "{html}");
    // Ending it again, or a session that is not theirs, is a readable 404.
    let res =
        post(&live, &one, "/account/sessions/end", &[("csrf_token", &csrf_of(&html)), ("id", &others[0])])
            .await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("そのセッションはすでに終了しています。"));

    // Withdraw the consent: the refresh token stops working and the next sign-in asks again.
    let res =
        post(&live, &one, "/account/apps/revoke", &[("csrf_token", &csrf_of(&html)), ("client_id", APP)])
            .await;
    assert_eq!(res.status(), 303);
    let (status, body) =
        post_as(&live, "/token", APP, &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)])
            .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (_, html) = page(&live, &one).await;
    assert!(html.contains("連携しているサービスはありません。"), "{html}");
    let res =
        post(&live, &one, "/account/apps/revoke", &[("csrf_token", &csrf_of(&html)), ("client_id", APP)])
            .await;
    assert_eq!(res.status(), 404);

    // Signing out here ends this session too.
    let (_, html) = page(&live, &one).await;
    let id = session_ids(&html).0.unwrap();
    let res =
        post(&live, &one, "/account/sessions/end", &[("csrf_token", &csrf_of(&html)), ("id", &id)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(page(&live, &one).await.0, 401);

    let audit = idp::audit::verify(&live.env.db.db).await.unwrap();
    assert!(audit.broken.is_none(), "{audit:?}");
    let events: Vec<String> = sqlx::query_scalar("SELECT event FROM audit_log ORDER BY seq")
        .fetch_all(live.env.db.db.pool())
        .await
        .unwrap();
    assert_eq!(events.iter().filter(|e| *e == "session.end").count(), 2, "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "consent.revoke").count(), 1, "{events:?}");
}

async fn account_page_needs_a_session(env: TestEnv) {
    let live = Live::start(env).await;
    let b = browser();
    let (status, html) = page(&live, &b).await;
    assert_eq!(status, 401);
    assert!(html.contains("このページを見るには、医師資格証でログインしてください。"), "{html}");
    // A form post without a session (and without a CSRF token) is refused.
    let res = post(&live, &b, "/account/apps/revoke", &[("client_id", "x")]).await;
    assert_eq!(res.status(), 403);
}
