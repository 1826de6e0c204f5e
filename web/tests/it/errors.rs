//! The exact bodies of the three error types.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use web::{ApiError, OAuthError, OAuthErrorCode, PageError};

use crate::{TestApp, body_text};

#[tokio::test]
async fn oauth_error_body_and_headers() {
    let res =
        OAuthError::new(OAuthErrorCode::InvalidGrant, "authorization code already used").into_response();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["content-type"], "application/json");
    insta::assert_snapshot!(body_text(res).await, @r#"{"error":"invalid_grant","error_description":"authorization code already used"}"#);
}

#[tokio::test]
async fn invalid_client_is_401_with_www_authenticate() {
    let res = OAuthError::new(OAuthErrorCode::InvalidClient, "client authentication failed").into_response();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"shikaku\"");
    insta::assert_snapshot!(body_text(res).await, @r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
}

#[tokio::test]
async fn unmet_authentication_requirements_code() {
    let res = OAuthError::new(OAuthErrorCode::UnmetAuthenticationRequirements, "acr phrh cannot be met")
        .into_response();
    insta::assert_snapshot!(body_text(res).await, @r#"{"error":"unmet_authentication_requirements","error_description":"acr phrh cannot be met"}"#);
}

#[tokio::test]
async fn problem_json_body() {
    let res =
        ApiError::status(StatusCode::UNPROCESSABLE_ENTITY, "units must be a multiple of 0.5").into_response();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    insta::assert_snapshot!(body_text(res).await, @r#"{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"units must be a multiple of 0.5"}"#);
}

#[tokio::test]
async fn internal_errors_hide_the_cause() {
    let res = ApiError::internal("connection to 10.0.0.5 refused: password=hunter2").into_response();
    let body = body_text(res).await;
    assert!(!body.contains("hunter2") && !body.contains("10.0.0.5"), "{body}");
    assert!(body.contains("internal error (id "), "{body}");
    let res = OAuthError::internal("secret detail").into_response();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body_text(res).await.contains("secret"));
}

async fn broken() -> PageError {
    PageError::internal("disk on fire")
}

#[tokio::test]
async fn page_errors_render_the_localized_page() {
    let app = TestApp::new(Router::new().route("/broken", get(broken)), "http://127.0.0.1:1").await;
    let res =
        app.send(Request::get("/broken").header("accept-language", "en").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = body_text(res).await;
    assert!(html.contains("<h1 id=\"error-title\">Something went wrong</h1>"), "{html}");
    assert!(html.contains("<html lang=\"en\">"));
    assert!(!html.contains("disk on fire"));
    let res = app.send(Request::get("/broken").body(Body::empty()).unwrap()).await;
    let html = body_text(res).await;
    assert!(html.contains("システムエラーが発生しました"), "Japanese by default: {html}");
}

#[tokio::test]
async fn unknown_route_is_a_page_for_browsers_and_problem_json_otherwise() {
    let app = TestApp::new(Router::new(), "http://127.0.0.1:1").await;
    let res = app
        .send(
            Request::get("/nope")
                .header("accept", "text/html,application/xhtml+xml")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = body_text(res).await;
    assert!(html.contains("ページが見つかりません"), "{html}");

    let res = app
        .send(Request::get("/api/nope").header("accept", "application/json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    insta::assert_snapshot!(body_text(res).await, @r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no resource at /api/nope"}"#);
}
