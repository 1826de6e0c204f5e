//! Refusals before a handler runs (extractor rejections, body limits) in each surface's format:
//! the localized page for people, problem+json for scripts, RFC 6749 JSON on OAuth endpoints.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{Request, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use web::csrf::{self, CsrfToken};
use web::{OAuthForm, Site};

use crate::{TestApp, body_text};

const URL: &str = "http://127.0.0.1:8080";

#[derive(serde::Deserialize)]
struct Search {
    #[expect(dead_code, reason = "only parsed, to have something to refuse")]
    q: String,
}

async fn app() -> TestApp {
    let browser = Router::new()
        .route("/token-page", get(|t: CsrfToken| async move { t.0 }))
        .route("/search", get(|Query(_): Query<Search>| async { "found" }))
        .route("/v/{id}", get(|Path(id): Path<String>| async move { id }))
        .route(
            "/form",
            post(|Form(f): Form<HashMap<String, String>>| async move { format!("{} fields", f.len()) }),
        )
        .route("/json", post(|Json(v): Json<serde_json::Value>| async move { v.to_string() }))
        .layer(from_fn_with_state(Site::new("test", URL), csrf::protect));
    let oauth = Router::new()
        .route(
            "/token",
            post(|OAuthForm(f): OAuthForm<HashMap<String, String>>| async move { format!("{}", f.len()) }),
        )
        .route("/introspect", post(|Form(_): Form<Search>| async { "ok" }))
        .layer(from_fn(web::surface::oauth));
    TestApp::new(browser.merge(oauth), URL).await
}

fn get_req(path: &str, html: bool) -> Request<Body> {
    let mut b = Request::get(path);
    if html {
        b = b.header("accept", "text/html,application/xhtml+xml");
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn query_and_path_rejections_are_pages_for_people_and_problems_for_scripts() {
    let app = app().await;
    for path in ["/search?q=a&q=b", "/search", "/v/%FF%FE"] {
        let res = app.send(get_req(path, true)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8", "{path}");
        let page = body_text(res).await;
        assert!(page.contains("リクエストを読み取れませんでした"), "{path}: {page}");
        assert!(!page.contains("Failed to deserialize"), "{path}");
    }
    let res = app.send(get_req("/search?q=a&q=b", false)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    insta::assert_snapshot!(body_text(res).await, @r#"{"type":"/problems/bad-request","title":"The request could not be read","status":400,"detail":"Failed to deserialize query string: duplicate field `q`"}"#);
    // English for a browser that asks for it.
    let mut req = get_req("/v/%FF%FE", true);
    req.headers_mut().insert("accept-language", "en".parse().unwrap());
    assert!(body_text(app.send(req).await).await.contains("The request could not be read"));
    // What handlers answer themselves passes untouched.
    assert_eq!(body_text(app.send(get_req("/search?q=a", true)).await).await, "found");
}

/// GETs a page for its CSRF cookie and token.
async fn csrf(app: &TestApp) -> (String, String) {
    let res = app.send(get_req("/token-page", true)).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    (cookie, body_text(res).await)
}

fn form_post(path: &str, cookie: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header("cookie", cookie)
        .header("origin", URL)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// A urlencoded form of about `len` bytes with the CSRF token first.
fn big_form(token: &str, len: usize) -> Vec<u8> {
    let mut body = format!("csrf_token={token}&csv=").into_bytes();
    body.resize(len, b'a');
    body
}

#[tokio::test]
async fn oversized_forms_are_413_pages_not_csrf_failures() {
    let app = app().await;
    let (cookie, token) = csrf(&app).await;
    // Under the route's limit (axum's 2 MB), past what the CSRF layer once read (1 MiB): passes.
    let res = app.send(form_post("/form", &cookie, big_form(&token, 1_500_000))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "2 fields");
    // Over the route's limit: the extractor's refusal, as the 413 page.
    for len in [3_000_000, 33 << 20] {
        let res = app.send(form_post("/form", &cookie, big_form(&token, len))).await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{len}");
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        let page = body_text(res).await;
        assert!(page.contains("送信内容が大きすぎます"), "{len}: {page}");
        assert!(page.contains("ファイルを分けて"), "advice a person can follow: {page}");
    }
    // A script's JSON over the limit: problem+json 413.
    let mut body = b"{\"csv\":\"".to_vec();
    body.resize(3_000_000, b'a');
    body.extend_from_slice(b"\"}");
    let req = Request::post("/json")
        .header("cookie", &cookie)
        .header("origin", URL)
        .header("x-csrf-token", &token)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    insta::assert_snapshot!(body_text(res).await, @r#"{"type":"/problems/too-large","title":"Request body too large","status":413,"detail":"the request body is larger than this endpoint accepts"}"#);
    // Invalid JSON is a problem too, not plain text.
    let req = Request::post("/json")
        .header("cookie", &cookie)
        .header("x-csrf-token", &token)
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn the_csrf_token_is_not_taken_from_the_query_string() {
    let app = app().await;
    let (cookie, token) = csrf(&app).await;
    let res = app.send(form_post(&format!("/form?csrf_token={token}"), &cookie, b"note=x".to_vec())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(body_text(res).await.contains("送信を受け付けられませんでした"));
    let res = app.send(form_post("/form", &cookie, format!("note=x&csrf_token={token}").into_bytes())).await;
    assert_eq!(res.status(), StatusCode::OK);
}

fn oauth_post(path: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn oauth_endpoints_refuse_in_rfc_6749_json() {
    let app = app().await;
    let mut big = b"grant_type=".to_vec();
    big.resize(3_000_000, b'a');
    for path in ["/token", "/introspect"] {
        let res = app.send(oauth_post(path, big.clone())).await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let text = body_text(res).await;
        insta::allow_duplicates! {
            insta::assert_snapshot!(text, @r#"{"error":"invalid_request","error_description":"the request body is larger than this endpoint accepts"}"#);
        }
    }
    let res = app.send(oauth_post("/introspect", b"q=a&q=b".to_vec())).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    insta::assert_snapshot!(body_text(res).await, @r#"{"error":"invalid_request","error_description":"Failed to deserialize form body: duplicate field `q`"}"#);
    let res = app.send(oauth_post("/token", b"a=1&b=2".to_vec())).await;
    assert_eq!((res.status(), body_text(res).await.as_str()), (StatusCode::OK, "2"));
}
