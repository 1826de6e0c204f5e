//! Templates, languages and security headers.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use web::{Lang, Templates};

use crate::{TestApp, body_text};

#[test]
fn every_template_parses_and_renders_in_every_language() {
    let templates = Templates::load().expect("all templates parse");
    let names: Vec<String> = templates.names().map(str::to_owned).collect();
    for expected in [
        "shared/base.html",
        "shared/error.html",
        "idp/home.html",
        "portal/home.html",
        "portal/history.html",
        "portal/registration.html",
        "portal/organizer_links.html",
        "portal/documents.html",
        "portal/organizer_events.html",
        "portal/organizer_event.html",
        "portal/organizer_event_form.html",
        "portal/organizer_import.html",
        "portal/kiosk.html",
        "portal/qr.html",
        "portal/attend.html",
        "portal/shares.html",
        "portal/verify_share.html",
        "portal/account.html",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    let mut ctx = tera::Context::new();
    ctx.insert("status", &404);
    ctx.insert("title", "x");
    ctx.insert("message", "y");
    ctx.insert("error_id", &None::<String>);
    // Variables the pages expect from their handlers.
    ctx.insert("client_name", "地域医療連携ネットワーク");
    ctx.insert("account_name", "日本　太郎");
    ctx.insert("scopes", &["profile", "hpki"]);
    ctx.insert("request", "r");
    ctx.insert("csrf_token", "c");
    ctx.insert("demo_cards", &[serde_json::json!({ "id": "d", "label": "日本　太郎" })]);
    ctx.insert("params", &serde_json::json!({ "state": "s" }));
    // portal/verify.html: a document that did not verify (no content, no JWS).
    ctx.insert("id", "AAAAAAAAAAAAAAAAAAAAAA");
    ctx.insert("content", &None::<()>);
    ctx.insert("jws", &None::<String>);
    ctx.insert(
        "sessions",
        &[serde_json::json!({ "id": "h", "started": "2026-11-30 09:00", "expires": "2026-11-30 21:00", "method": "account_method_card", "current": true })],
    );
    ctx.insert(
        "apps",
        &[serde_json::json!({ "client_id": "c", "name": "地域医療連携ネットワーク", "scopes": ["openid"], "granted": "2026-11-30 09:00" })],
    );
    // idp/account.html: cards, passkeys, latest sign-ins, emergency sign-ins.
    ctx.insert(
        "cards",
        &[serde_json::json!({ "issuer": "C=JP, O=JMA", "serial": "1a", "not_after": "2030-01-01 00:00", "expired": false, "last_used": "2026-11-30 09:00" })],
    );
    ctx.insert("passkeys_enabled", &true);
    ctx.insert(
        "passkeys",
        &[serde_json::json!({ "id": "p", "name": "診察室のPC", "created": "2026-11-30 09:00", "last_used": null, "synced": true })],
    );
    ctx.insert("may_register_passkey", &true);
    ctx.insert("is_staff", &false);
    ctx.insert(
        "sign_ins",
        &[serde_json::json!({ "at": "2026-11-30 09:00", "method": "account_method_passkey", "ip": "192.0.2.1", "client": null })],
    );
    ctx.insert(
        "emergency",
        &[serde_json::json!({ "issued": "2026-11-30 09:00", "reason": "card lost", "issued_by": "op", "used": null, "expired": true })],
    );
    // idp/login.html: a request that needs the card, and passkey sign-in.
    ctx.insert("card_required", &true);
    ctx.insert("passkey_login", &true);
    ctx.insert("certificate_login", &true);
    ctx.insert("code", "cert_revoked");
    ctx.insert(
        "session",
        &serde_json::json!({ "sub": "x", "name": "日本　太郎", "hc_roles": ["Medical Doctor"], "roles": ["organizer"] }),
    );
    // Portal: registration link and the organizer's review (the history page renders its
    // "link first" branch here; portal tests render the rest).
    ctx.insert("link", &serde_json::json!({ "status": "pending", "status_label": "確認待ち", "registration_number": "123456" }));
    ctx.insert("entered", "12a");
    ctx.insert("field_error", "registration_error_digits");
    ctx.insert("notice", &serde_json::json!({ "key": "links_done_confirmed", "count": "2" }));
    ctx.insert("form_error", "links_error_none");
    ctx.insert(
        "rows",
        &[serde_json::json!({ "sub": "s", "registration_number": "123456", "claimed_name": "日本　太郎",
            "registry_name": null, "registry_kana": "ニホン　タロウ", "in_registry": true, "entered_at": "2026-11-30 09:00",
            // Organizer events list and event page.
            "id": "E1", "title": "講習会", "organizer": "東京都医師会", "dates": "2026-06-01", "venue": "東京",
            "online": true, "provisional": 1, "confirmed": 2, "rejected": 0, "doctor_name": "日本　太郎",
            "date": "2026-06-01", "status": "provisional", "status_key": "events_status_provisional", "credits": "jma_cme:76=1",
            "checked_in": "09:58", "checked_out": null })],
    );
    ctx.insert("q", "講習");
    ctx.insert("year", "20x6");
    ctx.insert("year_error", &true);
    ctx.insert("event_id", "E1");
    ctx.insert("organizer", "東京都医師会");
    ctx.insert("dates", "2026-06-01");
    ctx.insert("venue", "東京");
    ctx.insert("online", &false);
    ctx.insert("event_credits", "jma_cme:76=1");
    ctx.insert("has_provisional", &true);
    ctx.insert("has_times", &true);
    // QR check-in: the organizer's code page and the doctor's confirmation.
    ctx.insert("url", "http://127.0.0.1:8081/attend/E1?c=x");
    ctx.insert("qr_svg", "<svg></svg>");
    ctx.insert("refresh", &12);
    ctx.insert("today", &true);
    ctx.insert("proof", "p");
    ctx.insert("name", "日本　太郎");
    ctx.insert("linked", &true);
    ctx.insert("done", &false);
    ctx.insert("again", &false);
    ctx.insert("editing", "E1");
    ctx.insert("values", &serde_json::json!({ "id": "E1", "title": "講習会", "online": "1" }));
    ctx.insert("errors", &serde_json::json!({ "credits": "event_form_error_credits", "ends_on": "event_form_error_end_before_start" }));
    ctx.insert("credits_detail", "unknown credit system `x`");
    ctx.insert("csv", "registration_number,event_id,date");
    ctx.insert("dry_run", &true);
    ctx.insert("file_error", "line 1: missing column `date`");
    ctx.insert("summary", &serde_json::json!({ "dry_run": true, "rows": "3", "inserted": "2", "unchanged": "0", "rejected": "1", "encoding": "UTF-8", "shown": "1" }));
    // The organizer's import job page (its other states: portal tests).
    ctx.insert("max_mib", "32");
    ctx.insert("error_id", "0badc0de");
    ctx.insert(
        "job",
        &serde_json::json!({ "id": "00112233445566778899aabbccddeeff", "file_name": "出席.csv", "dry_run": true,
            "state": "finished", "percent": 100, "done_kib": "3", "total_kib": "3" }),
    );
    ctx.insert(
        "row_errors",
        &[serde_json::json!({ "line": 3, "column": "date", "reason": "`x` is not a date (YYYY-MM-DD)" })],
    );
    // The verifier's page of a share (a refusal; portal tests render the other stages), the
    // doctor's account page.
    ctx.insert("stage", "refused");
    ctx.insert("refused", "expired");
    ctx.insert("refused_title", "期限切れ");
    ctx.insert("refused_detail", "x");
    ctx.insert("sub", "s");
    for name in &names {
        for lang in Lang::ALL {
            let html =
                templates.render(name, lang, &ctx).unwrap_or_else(|e| panic!("{name} in {lang:?}: {e:?}"));
            // Partials (`_name.html`) render inside the pages that include them.
            let partial = name.rsplit('/').next().is_some_and(|f| f.starts_with('_'));
            assert!(partial || html.contains(&format!("lang=\"{}\"", lang.code())), "{name}");
        }
    }
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn locales_have_the_same_keys_and_templates_use_only_those() {
    let templates = Templates::load().unwrap();
    let ja = keys(templates.texts(Lang::Ja));
    assert_eq!(ja, keys(templates.texts(Lang::En)), "ja.toml and en.toml differ");
    let mut used = BTreeSet::new();
    for (path, body) in Templates::sources() {
        if !path.ends_with(".html") {
            continue;
        }
        for (i, _) in body.match_indices("t.") {
            let before = body[..i].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' {
                continue;
            }
            let key: String =
                body[i + 2..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !key.is_empty() {
                used.insert((path.clone(), key));
            }
        }
    }
    assert!(!used.is_empty());
    for (path, key) in used {
        assert!(ja.contains(&key), "{path} uses t.{key}, missing from the locales");
    }
}

#[tokio::test]
async fn lang_param_sets_a_cookie_and_wins_over_accept_language() {
    let app = TestApp::new(Router::new(), "http://127.0.0.1:1").await;
    let res = app
        .send(
            Request::get("/x?lang=en")
                .header("accept", "text/html")
                .header("accept-language", "ja")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.headers()["content-language"], "en");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("lang=en; Path=/;"), "{cookie}");
    assert!(body_text(res).await.contains("Page not found"));

    let res = app
        .send(
            Request::get("/x")
                .header("accept", "text/html")
                .header("cookie", "lang=en")
                .header("accept-language", "ja")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(body_text(res).await.contains("Page not found"), "the cookie wins over the header");

    let res = app
        .send(
            Request::get("/x")
                .header("accept", "text/html")
                .header("accept-language", "en-GB,en;q=0.8")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(body_text(res).await.contains("Page not found"));
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = TestApp::new(Router::new(), "http://127.0.0.1:1").await;
    let res = app.send(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["content-security-policy"], web::headers::CSP);
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert!(h.get("strict-transport-security").is_none(), "no HSTS over plain HTTP");

    let app = TestApp::new(Router::new(), "https://id.example.jp").await;
    let res = app.send(Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(res.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
    assert_eq!(res.headers()["x-frame-options"], "DENY", "error responses too");
}

#[tokio::test]
async fn pages_are_never_cached_static_files_may_be() {
    let app = TestApp::new(Router::new(), "http://127.0.0.1:1").await;
    let page = Request::get("/nope").header("accept", "text/html").body(Body::empty()).unwrap();
    let res = app.send(page).await;
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = app.send(Request::get("/static/shikaku.css").body(Body::empty()).unwrap()).await;
    assert_ne!(res.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
}

#[tokio::test]
async fn static_files_are_served() {
    let app = TestApp::new(Router::new(), "http://127.0.0.1:1").await;
    let res = app.send(Request::get("/static/shikaku.css").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    let res = app.send(Request::get("/static/../Cargo.toml").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
