//! CSRF protection of forms and JSON POSTs.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::{Form, Router};
use web::Site;
use web::csrf::{self, CsrfToken};

use crate::{TestApp, body_text};

const URL: &str = "http://127.0.0.1:8080";

#[derive(serde::Deserialize)]
struct Note {
    note: String,
}

async fn app() -> TestApp {
    let routes = Router::new()
        .route("/form", get(|t: CsrfToken| async move { t.0 }))
        .route("/form", post(|Form(n): Form<Note>| async move { format!("saved {}", n.note) }))
        .route("/api", post(|| async { "ok" }))
        .layer(from_fn_with_state(Site::new("test", URL), csrf::protect));
    TestApp::new(routes, URL).await
}

/// GETs the form; returns (cookie header, token).
async fn token(app: &TestApp) -> (String, String) {
    let res = app.send(Request::get("/form").body(Body::empty()).unwrap()).await;
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("test_csrf="), "{set}");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    (cookie, body_text(res).await)
}

fn form(cookie: &str, body: String) -> Request<Body> {
    Request::post("/form")
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", URL)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn form_with_matching_token_passes_and_keeps_its_body() {
    let app = app().await;
    let (cookie, token) = token(&app).await;
    assert_eq!(token.len(), 43);
    let res = app.send(form(&cookie, format!("note=%E5%8D%98%E4%BD%8D&csrf_token={token}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "saved 単位");
}

#[tokio::test]
async fn form_without_or_with_wrong_token_is_refused_with_a_page() {
    let app = app().await;
    let (cookie, token) = token(&app).await;
    let res = app.send(form(&cookie, "note=x".into())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(body_text(res).await.contains("送信を受け付けられませんでした"));

    // The same token with its last character changed (to one it is not).
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let other = format!("{}{last}", &token[..42]);
    let res = app.send(form(&cookie, format!("note=x&csrf_token={other}"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app.send(form("test_csrf=", format!("note=x&csrf_token={token}"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no cookie, no pass");
}

#[tokio::test]
async fn json_post_needs_the_header() {
    let app = app().await;
    let (cookie, token) = token(&app).await;
    let json = |tok: Option<&str>| {
        let mut b =
            Request::post("/api").header("cookie", &cookie).header("content-type", "application/json");
        if let Some(t) = tok {
            b = b.header("x-csrf-token", t);
        }
        b.body(Body::from("{}")).unwrap()
    };
    assert_eq!(app.send(json(Some(&token))).await.status(), StatusCode::OK);
    let res = app.send(json(None)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    insta::assert_snapshot!(body_text(res).await, @r#"{"type":"/problems/csrf","title":"CSRF check failed","status":403,"detail":"CSRF token missing: send the csrf_token form field or X-CSRF-Token header"}"#);
}

/// A form post with a valid token and the given `Sec-Fetch-Site` and `Origin` (None: not sent).
async fn post_with(app: &TestApp, fetch_site: Option<&str>, origin: Option<&str>) -> StatusCode {
    let (cookie, token) = token(app).await;
    let mut req = form(&cookie, format!("note=x&csrf_token={token}"));
    req.headers_mut().remove("origin");
    if let Some(v) = fetch_site {
        req.headers_mut().insert("sec-fetch-site", v.parse().unwrap());
    }
    if let Some(v) = origin {
        req.headers_mut().insert("origin", v.parse().unwrap());
    }
    app.send(req).await.status()
}

#[tokio::test]
async fn cross_site_requests_are_refused_even_with_the_token() {
    let app = app().await;
    assert_eq!(post_with(&app, None, Some("https://evil.example")).await, StatusCode::FORBIDDEN);
    assert_eq!(post_with(&app, Some("cross-site"), None).await, StatusCode::FORBIDDEN);
    assert_eq!(
        post_with(&app, Some("cross-site"), Some("https://evil.example")).await,
        StatusCode::FORBIDDEN
    );
    // Sec-Fetch-Site is the first signal: a matching Origin does not outvote it.
    assert_eq!(post_with(&app, Some("cross-site"), Some(URL)).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn same_site_requests_are_refused() {
    // A sibling subdomain (same registrable domain, another origin) is not our origin.
    let app = app().await;
    assert_eq!(post_with(&app, Some("same-site"), None).await, StatusCode::FORBIDDEN);
    assert_eq!(post_with(&app, Some("same-site"), Some(URL)).await, StatusCode::FORBIDDEN);
    assert_eq!(post_with(&app, Some("some-future-value"), Some(URL)).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn origin_null_passes_when_sec_fetch_site_says_same_origin() {
    // What Chromium sends for a same-origin form post under `Referrer-Policy: no-referrer`.
    let app = app().await;
    assert_eq!(post_with(&app, Some("same-origin"), Some("null")).await, StatusCode::OK);
    assert_eq!(post_with(&app, Some("same-origin"), Some(URL)).await, StatusCode::OK);
    assert_eq!(post_with(&app, Some("same-origin"), None).await, StatusCode::OK);
    // `none`: the person started the request (typed address, bookmark).
    assert_eq!(post_with(&app, Some("none"), None).await, StatusCode::OK);
}

#[tokio::test]
async fn without_sec_fetch_site_origin_decides() {
    let app = app().await;
    assert_eq!(post_with(&app, None, Some("null")).await, StatusCode::FORBIDDEN, "Origin: null alone");
    assert_eq!(post_with(&app, None, Some("http://127.0.0.1:8081")).await, StatusCode::FORBIDDEN);
    assert_eq!(post_with(&app, None, Some(URL)).await, StatusCode::OK);
    assert_eq!(post_with(&app, None, None).await, StatusCode::OK, "no Origin: the token decides");
}

#[tokio::test]
async fn passing_the_origin_check_still_needs_the_token() {
    let app = app().await;
    let (cookie, _) = token(&app).await;
    for (fetch_site, origin) in [(Some("same-origin"), Some("null")), (Some("none"), None), (None, None)] {
        let mut req = form(&cookie, "note=x".into());
        req.headers_mut().remove("origin");
        if let Some(v) = fetch_site {
            req.headers_mut().insert("sec-fetch-site", v.parse().unwrap());
        }
        if let Some(v) = origin {
            req.headers_mut().insert("origin", v.parse().unwrap());
        }
        assert_eq!(app.send(req).await.status(), StatusCode::FORBIDDEN, "{fetch_site:?} {origin:?}");
    }
}

#[tokio::test]
async fn secure_sites_use_a_host_prefixed_secure_cookie() {
    let url = "https://portal.example.jp";
    let routes = Router::new()
        .route("/form", get(|t: CsrfToken| async move { t.0 }))
        .layer(from_fn_with_state(Site::new("test", url), csrf::protect));
    let app = TestApp::new(routes, url).await;
    let res = app.send(Request::get("/form").body(Body::empty()).unwrap()).await;
    let set = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("__Host-test_csrf=") && set.contains("; Secure") && set.contains("Path=/"),
        "{set}"
    );
}
